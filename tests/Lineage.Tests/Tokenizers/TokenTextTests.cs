using System.Text;
using System.Text.Json;
using Lineage.Formats;
using Lineage.Models;
using Lineage.Tests.Support;
using Lineage.Tokenizers;

namespace Lineage.Tests.Tokenizers;

public class TokenTextTests
{
    private static Tokenizer Load(string relative)
    {
        using var model = ModelLoader.Open(Corpus.Path(relative));
        return model.Tokenizer!;
    }

    [Fact]
    public void Byte_level_alphabet_is_gpt2s()
    {
        Assert.Equal('Ġ', ByteLevelAlphabet.Encode((byte)' '));
        Assert.Equal('Ċ', ByteLevelAlphabet.Encode((byte)'\n'));
        Assert.Equal('Ā', ByteLevelAlphabet.Encode(0));
        Assert.Equal('a', ByteLevelAlphabet.Encode((byte)'a'));
        Assert.Equal('Ń', ByteLevelAlphabet.Encode(0xAD)); // soft hyphen is the last non-printable byte: U+0100 + 67
        Assert.Equal('ł', ByteLevelAlphabet.Encode(0xA0)); // NBSP
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        Assert.Equal(256, ByteLevelAlphabet.Encode(all).Distinct().Count());
        Assert.Equal(all, ByteLevelAlphabet.Decode(ByteLevelAlphabet.Encode(all)));
    }

    [Theory]
    [InlineData("\u2581the", TokenizerKind.SentencePieceBpe, " the")]
    [InlineData("Ġthe", TokenizerKind.ByteLevelBpe, " the")]
    [InlineData("Ġthe", TokenizerKind.Tiktoken, " the")]
    [InlineData("the", TokenizerKind.WordPiece, " the")]
    [InlineData("##the", TokenizerKind.WordPiece, "the")]
    [InlineData("[CLS]", TokenizerKind.WordPiece, "[CLS]")]
    [InlineData("<0x0A>", TokenizerKind.SentencePieceUnigram, "\n")]
    [InlineData("Ċ", TokenizerKind.ByteLevelBpe, "\n")]
    [InlineData("<s>", TokenizerKind.SentencePieceBpe, "<s>")]
    [InlineData("<|endoftext|>", TokenizerKind.ByteLevelBpe, "<|endoftext|>")]
    [InlineData("\u2581\u2581", TokenizerKind.SentencePieceBpe, "  ")]
    public void Spellings_map_to_the_bytes_they_stand_for(string token, TokenizerKind kind, string text)
    {
        Assert.Equal(Encoding.UTF8.GetBytes(text), TokenText.ToBytes(token, kind));
        Assert.Equal(ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(text)), TokenText.Key(token, kind));
    }

    [Fact]
    public void Byte_tokens_spell_non_utf8_bytes()
    {
        Assert.Equal([0xE2], TokenText.ToBytes("<0xE2>", TokenizerKind.SentencePieceBpe));
        Assert.Equal([0xE2], TokenText.ToBytes("â", TokenizerKind.ByteLevelBpe));
        Assert.Equal(TokenText.Key("<0xE2>", TokenizerKind.SentencePieceBpe), TokenText.Key("â", TokenizerKind.ByteLevelBpe));
        Assert.False(TokenText.TryParseByteToken("<0xZZ>", out _));
        Assert.False(TokenText.TryParseByteToken("<0x0A", out _));
    }

    [Fact]
    public void Llama2_sentencepiece_and_its_tokenizer_json_spell_every_token_alike()
    {
        var spm = Load("real/tokenizers/llama2-spm/tokenizer.model");
        var json = Load("real/tokenizers/ortx/llama2");
        Assert.Equal(spm.VocabSize, json.VocabSize);
        // The published tokenizer.json turned the no-break spaces of four pieces into plain spaces; every other
        // piece is spelled identically.
        var differing = TokenText.Keys(spm).Zip(TokenText.Keys(json)).Select((p, id) => (p, id)).Where(x => x.p.First != x.p.Second).Select(x => x.id).ToList();
        Assert.Equal(4, differing.Count);
        Assert.All(differing, id => Assert.Contains('\u00A0', spm.Tokens[id]));
        Assert.All(differing, id => Assert.Equal(spm.Tokens[id].Replace('\u00A0', ' '), json.Tokens[id]));
        // Mistral v1 was trained separately: the same spelling, a different vocabulary.
        var mistral = Load("real/tokenizers/mistral-spm/tokenizer.model.v1");
        int same = TokenText.Keys(spm).Zip(TokenText.Keys(mistral)).Count(p => p.First == p.Second);
        Assert.InRange(same, 259, spm.VocabSize - 1000);
    }

    [Fact]
    public void Mistral_versions_extend_one_lineage()
    {
        var v1 = TokenText.Keys(Load("real/tokenizers/mistral-spm/tokenizer.model.v1"));
        var v3 = TokenText.Keys(Load("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240323.model.v3"));
        var v3Set = v3.ToHashSet(StringComparer.Ordinal);
        // v2+ insert control tokens and grow to 32768; nearly every v1 token survives by spelling.
        Assert.True(v1.Count(v3Set.Contains) > v1.Length * 0.99);
    }

    [Fact]
    public void Sentencepiece_byte_level_tiktoken_and_wordpiece_align_by_bytes()
    {
        var llama = Load("real/tokenizers/llama2-spm/tokenizer.model");
        var gpt2 = Load("real/tokenizers/ortx/phi-2");
        var cl100k = Load("real/tokenizers/ortx/cl100k_base.tiktoken");
        var bert = Load("real/tokenizers/ortx/bert.vocab");

        // Independent facts: GPT-2's "Ġthe" is id 262 (read from the JSON here); cl100k's " the" is rank 279
        // (base64 "IHRoZQ==" in the ranks file).
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(Corpus.Path("real/tokenizers/ortx/phi-2/tokenizer.json"))))
            Assert.Equal(262, doc.RootElement.GetProperty("model").GetProperty("vocab").GetProperty("Ġthe").GetInt32());
        Assert.Contains("IHRoZQ== 279", File.ReadAllLines(Corpus.Path("real/tokenizers/ortx/cl100k_base.tiktoken")));

        var llamaKeys = TokenText.Keys(llama);
        var gpt2Keys = TokenText.Keys(gpt2);
        var clKeys = TokenText.Keys(cl100k);
        var bertKeys = TokenText.Keys(bert);
        string the = TokenText.Key(" the", TokenSpelling.Text);
        Assert.Equal(the, gpt2Keys[262]);
        Assert.Equal(the, clKeys[279]);
        Assert.Equal(the, llamaKeys[Array.IndexOf(llama.Tokens.ToArray(), "\u2581the")]);
        Assert.Equal(the, bertKeys[Array.IndexOf(bert.Tokens.ToArray(), "the")]);
        Assert.Equal(TokenText.Key("ing", TokenSpelling.Text), bertKeys[Array.IndexOf(bert.Tokens.ToArray(), "##ing")]);
        Assert.Contains(TokenText.Key("ing", TokenSpelling.Text), llamaKeys);
        // Newline: SentencePiece's <0x0A> byte token, GPT-2's Ċ and tiktoken's raw 0x0A are one key.
        string newline = TokenText.Key("\n", TokenSpelling.Text);
        Assert.Equal(newline, llamaKeys[3 + 0x0A]);
        Assert.Contains(newline, gpt2Keys);
        Assert.Contains(newline, clKeys);

        // Most GPT-2 tokens are also cl100k tokens, and many Llama word pieces are GPT-2 tokens.
        var clSet = clKeys.ToHashSet(StringComparer.Ordinal);
        Assert.True(gpt2Keys.Take(50257).Count(clSet.Contains) > 50257 * 8 / 10);
        var gptSet = gpt2Keys.ToHashSet(StringComparer.Ordinal);
        Assert.True(llamaKeys.Count(gptSet.Contains) > 10000);
    }

    [Fact]
    public void Llama3_ranks_begin_with_cl100k()
    {
        // Llama 3 kept tiktoken's 100256 cl100k ranks and appended 27744 of its own.
        var llama3 = Load("real/tokenizers/llama3-tiktoken/tokenizer.model");
        var cl100k = Load("real/tokenizers/ortx/cl100k_base.tiktoken");
        Assert.Equal(cl100k.Tokens, llama3.Tokens.Take(cl100k.VocabSize));
    }

    [Fact]
    public void Gguf_style_bert_vocabularies_are_recognised_as_sentencepiece_spelled()
    {
        // llama.cpp stores BERT vocabularies with a '▁' phantom space and without "##".
        var gguf = new Tokenizer { Kind = TokenizerKind.WordPiece, Tokens = ["[PAD]", "\u2581the", "ing"], Source = "test" };
        Assert.Equal(TokenSpelling.SentencePiece, TokenText.SpellingOf(gguf));
        var hf = new Tokenizer { Kind = TokenizerKind.WordPiece, Tokens = ["[PAD]", "the", "##ing"], Source = "test" };
        Assert.Equal(TokenSpelling.WordPiece, TokenText.SpellingOf(hf));
        Assert.Equal(TokenText.Keys(gguf), TokenText.Keys(hf));
    }
}
