using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lineage.Formats;
using Lineage.IO;
using Lineage.Models;
using Lineage.Tests.Support;
using Lineage.Tokenizers;

namespace Lineage.Tests.Tokenizers;

public class TokenizerFilesTests
{
    // ---- independent oracles: vocabulary sizes computed without the library's readers -----------------------

    /// <summary>Number of top-level field-1 (piece) entries of a SentencePiece ModelProto.</summary>
    private static int CountPieces(string path) =>
        IndependentProto.Fields(File.ReadAllBytes(path)).Count(f => f.Field == 1);

    /// <summary>Highest id + 1 over model.vocab (map or list) and added_tokens of a tokenizer.json.</summary>
    private static int TokenizerJsonSize(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var model = doc.RootElement.GetProperty("model");
        var vocab = model.GetProperty("vocab");
        int max = vocab.ValueKind == JsonValueKind.Array
            ? vocab.GetArrayLength() - 1
            : vocab.EnumerateObject().Max(p => p.Value.GetInt32());
        if (doc.RootElement.TryGetProperty("added_tokens", out var added))
            foreach (var a in added.EnumerateArray()) max = Math.Max(max, a.GetProperty("id").GetInt32());
        return max + 1;
    }

    private static int CountLines(string path) => File.ReadAllLines(path).Count(l => l.Length > 0);

    private static int JsonMapSize(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.EnumerateObject().Count();
    }

    public static TheoryData<string, string, TokenizerKind> CorpusTokenizers() => new()
    {
        { "real/tokenizers/llama2-spm/tokenizer.model", "spm", TokenizerKind.SentencePieceBpe },
        { "real/tokenizers/mistral-spm/tokenizer.model.v1", "spm", TokenizerKind.SentencePieceBpe },
        { "real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240216.model.v2", "spm", TokenizerKind.SentencePieceBpe },
        { "real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240323.model.v3", "spm", TokenizerKind.SentencePieceBpe },
        { "real/tokenizers/mistral-spm/mistral_instruct_tokenizer_241114.model.v7", "spm", TokenizerKind.SentencePieceBpe },
        { "real/weights/ort-tiny-t5/spiece.model", "spm", TokenizerKind.SentencePieceUnigram },
        { "real/tokenizers/llama3-tiktoken/tokenizer.model", "lines", TokenizerKind.Tiktoken },
        { "real/tokenizers/ortx/cl100k_base.tiktoken", "lines", TokenizerKind.Tiktoken },
        { "real/tokenizers/ortx/bert.vocab", "map", TokenizerKind.WordPiece },
        { "real/weights/lmbuddy/bert_tiniest_vocab.txt", "lines", TokenizerKind.WordPiece },
        { "real/tokenizers/ortx/llama2/tokenizer.json", "json", TokenizerKind.SentencePieceBpe },
        { "real/tokenizers/ortx/phi-2/tokenizer.json", "json", TokenizerKind.ByteLevelBpe },
        { "real/tokenizers/ortx/phi-3-mini/tokenizer.json", "json", TokenizerKind.SentencePieceBpe },
        { "real/tokenizers/ortx/roberta-base/tokenizer.json", "json", TokenizerKind.ByteLevelBpe },
        { "real/tokenizers/ortx/t5-small/tokenizer.json", "json", TokenizerKind.SentencePieceUnigram },
        { "real/tokenizers/ortx/falcon-tokenizer/tokenizer.json", "json", TokenizerKind.ByteLevelBpe },
    };

    [Theory]
    [MemberData(nameof(CorpusTokenizers))]
    public void Every_corpus_tokenizer_file_opens_alone_with_its_true_vocabulary_size(string relative, string oracle, TokenizerKind kind)
    {
        string path = Corpus.Path(relative);
        int expected = oracle switch
        {
            "spm" => CountPieces(path),
            "json" => TokenizerJsonSize(path),
            "map" => JsonMapSize(path),
            _ => CountLines(path),
        };
        using var model = ModelLoader.Open(path);
        Assert.Equal("tokenizer-only", model.Format);
        Assert.Empty(model.Tensors);
        Assert.NotNull(model.Tokenizer);
        Assert.Equal(expected, model.Tokenizer.VocabSize);
        Assert.Equal(kind, model.Tokenizer.Kind);
        Assert.DoesNotContain(model.Tokenizer.Tokens, t => t.Length == 0);
        Assert.Equal("tokenizer", Assert.Single(model.Files).Role);
    }

    [Theory]
    [InlineData("real/tokenizers/llama2-spm/tokenizer.model", 32000)]
    [InlineData("real/tokenizers/mistral-spm/tokenizer.model.v1", 32000)]
    [InlineData("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240216.model.v2", 32768)]
    [InlineData("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240323.model.v3", 32768)]
    [InlineData("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_241114.model.v7", 32768)]
    [InlineData("real/tokenizers/llama3-tiktoken/tokenizer.model", 128000)]
    [InlineData("real/tokenizers/ortx/cl100k_base.tiktoken", 100256)]
    [InlineData("real/tokenizers/ortx/llama2", 32000)]
    [InlineData("real/tokenizers/ortx/phi-2", 50295)]
    [InlineData("real/weights/lmbuddy/bert_tiniest_vocab.txt", 30522)]
    public void Well_known_vocabulary_sizes(string relative, int size)
    {
        // Llama 2 and Mistral v1: 32000; Mistral v2+: 32768; Llama 3: 128000 ranks (+256 specials defined in code);
        // cl100k_base: 100256 ranks; GPT-2 (phi-2): 50257 + 38 added tokens; BERT base uncased: 30522.
        using var model = ModelLoader.Open(Corpus.Path(relative));
        Assert.Equal(size, model.Tokenizer!.VocabSize);
    }

    [Fact]
    public void Llama2_sentencepiece_details()
    {
        using var source = RandomAccessFile.Open(Corpus.Path("real/tokenizers/llama2-spm/tokenizer.model"));
        var spm = SentencePieceReader.Read(source);
        Assert.Equal(SentencePieceModelType.Bpe, spm.ModelType);
        Assert.True(spm.ByteFallback);
        Assert.Equal("identity", spm.NormalizerName);
        Assert.Equal(32000, spm.TrainerVocabSize);
        Assert.Equal(256, spm.Pieces.Count(p => p.Type == TokenType.Byte));
        Assert.Equal("<0x0A>", spm.Pieces[3 + 0x0A].Piece);
        var tokenizer = SentencePieceReader.ToTokenizer(spm, source.Name);
        Assert.Equal(0, tokenizer.SpecialTokens["unk"]);
        Assert.Equal(1, tokenizer.SpecialTokens["bos"]);
        Assert.Equal(2, tokenizer.SpecialTokens["eos"]);
        Assert.Equal("<s>", tokenizer.Tokens[1]);
        Assert.True(tokenizer.ByteFallback);
    }

    [Fact]
    public void Ladder_tokenizer_models_match_the_readme()
    {
        string ladder = Corpus.Path("ladder");
        string readme = File.ReadAllText(Path.Combine(ladder, "README.md"));
        // README: T1 = SentencePiece bpe 1024 (byte_fallback), T2 = unigram 1024 (no byte fallback), T3 = bpe 1280.
        (string Folder, TokenizerKind Kind, bool ByteFallback)[] bases =
            [("A", TokenizerKind.SentencePieceBpe, true), ("B", TokenizerKind.SentencePieceUnigram, false), ("D", TokenizerKind.SentencePieceBpe, true)];
        foreach (var (folder, kind, byteFallback) in bases)
        {
            var t = LoadFolder(Path.Combine(ladder, folder));
            Assert.Equal(kind, t.Kind);
            Assert.Equal(byteFallback, t.ByteFallback);
        }
        // Every HF-style row: vocabulary size = the V of its d/L/H/KV/ff/V column.
        var rows = Regex.Matches(readme, @"^\| [^|]+ \| `([^`]+)` \| \w+ \| \d+/\d+/\d+/\d+/\d+/(\d+) \|", RegexOptions.Multiline);
        int checkedFolders = 0;
        foreach (Match row in rows)
        {
            string dir = Path.Combine(ladder, row.Groups[1].Value);
            if (!Directory.Exists(dir)) continue;
            var t = LoadFolder(dir);
            Assert.Equal(int.Parse(row.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), t.VocabSize);
            checkedFolders++;
        }
        Assert.True(checkedFolders >= 40, $"only {checkedFolders} ladder folders checked");
        Assert.Equal(128, LoadFolder(Path.Combine(ladder, "A-vocab-extend")).TokenTypes!.Count(x => x == TokenType.UserDefined));
    }

    private static Tokenizer LoadFolder(string dir)
    {
        var files = new List<ModelFile>();
        var tokenizer = TokenizerFiles.LoadFromFolder(dir, files, []);
        Assert.NotNull(tokenizer);
        Assert.Contains(files, f => f.Role == "tokenizer");
        return tokenizer;
    }

    [Fact]
    public void Hugging_face_folder_merges_config_special_tokens_and_chat_template()
    {
        using var phi3 = ModelLoader.Open(Corpus.Path("real/tokenizers/ortx/phi-3-mini"));
        var t = phi3.Tokenizer!;
        Assert.Equal("tokenizer-only", phi3.Format);
        Assert.StartsWith("{% for message in messages %}", t.ChatTemplate, StringComparison.Ordinal);
        Assert.Equal(32000, t.SpecialTokens["eos"]); // <|endoftext|>
        Assert.Equal("<|endoftext|>", t.Tokens[32000]);
        Assert.Equal(1, t.SpecialTokens["bos"]);
        Assert.Equal(TokenType.Control, t.TokenTypes![32000]);
        Assert.Equal(2, phi3.Files.Count(f => f.Role == "tokenizer"));

        // Llama 2: bos/eos/unk written as AddedToken objects.
        using var llama = ModelLoader.Open(Corpus.Path("real/tokenizers/ortx/llama2"));
        Assert.Equal(1, llama.Tokenizer!.SpecialTokens["bos"]);
        Assert.Equal(2, llama.Tokenizer.SpecialTokens["eos"]);
        Assert.Equal(0, llama.Tokenizer.SpecialTokens["unk"]);
        Assert.True(llama.Tokenizer.ByteFallback);
        Assert.Equal(61249, llama.Tokenizer.Merges!.Count);
    }

    [Fact]
    public void Folders_prefer_tokenizer_json_then_sentencepiece_then_vocab_txt_then_tiktoken()
    {
        using var dir = new TempDir();
        var tiktoken = Encoding.ASCII.GetBytes("YQ== 0\nYg== 1\nYWI= 2\n");
        dir.Write("x.tiktoken", tiktoken);
        Assert.Equal(TokenizerKind.Tiktoken, LoadFolder(dir.Path).Kind);
        dir.Write("vocab.txt", "[PAD]\n[UNK]\nhello\n##lo\n");
        Assert.Equal(TokenizerKind.WordPiece, LoadFolder(dir.Path).Kind);
        Assert.Equal(4, LoadFolder(dir.Path).VocabSize);
        dir.Write("spiece.model", SyntheticSentencePiece(["<unk>", "<s>", "</s>", "\u2581a"], modelType: 1));
        Assert.Equal(TokenizerKind.SentencePieceUnigram, LoadFolder(dir.Path).Kind);
        dir.Write("tokenizer.json", """{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"pre_tokenizer":{"type":"ByteLevel"}}""");
        var t = LoadFolder(dir.Path);
        Assert.Equal(TokenizerKind.ByteLevelBpe, t.Kind);
        Assert.Equal(["a b"], t.Merges);
    }

    [Fact]
    public void Tokenizer_config_variants_are_understood()
    {
        using var dir = new TempDir();
        dir.Write("tokenizer.json", """
            {"model":{"vocab":{"<s>":0,"</s>":1,"a":2,"b":3,"ab":4},"merges":["a b"]},
             "added_tokens":[{"id":5,"content":"<|im_end|>","special":true},{"id":6,"content":"<tool>","special":false}]}
            """);
        dir.Write("tokenizer_config.json", """
            {"bos_token":{"__type":"AddedToken","content":"<s>"},"eos_token":"<|im_end|>","pad_token":null,
             "chat_template":[{"name":"default","template":"{{ messages }}"},{"name":"tool_use","template":"{{ tools }}"}],
             "added_tokens_decoder":{"7":{"content":"<extra>","special":true}}}
            """);
        var t = LoadFolder(dir.Path);
        Assert.Equal(8, t.VocabSize);
        Assert.Equal("{{ messages }}", t.ChatTemplate);
        Assert.Equal("{{ tools }}", t.ChatTemplates["tool_use"]);
        Assert.Equal(0, t.SpecialTokens["bos"]);
        Assert.Equal(5, t.SpecialTokens["eos"]);
        Assert.Equal(TokenType.Control, t.TokenTypes![5]);
        Assert.Equal(TokenType.UserDefined, t.TokenTypes[6]);
        Assert.Contains("<extra>", t.AddedTokens);
        Assert.Equal("BPE", t.Family); // inferred from the merges when model.type is absent
    }

    [Fact]
    public void Added_tokens_json_extends_a_vocab_txt_and_far_ids_are_ignored()
    {
        using var dir = new TempDir();
        dir.Write("vocab.txt", "[PAD]\n[UNK]\nhello\n##lo\n");
        dir.Write("added_tokens.json", """{"[NEW]": 4, "<far>": 900000}""");
        var diagnostics = new List<Diagnostic>();
        var t = TokenizerFiles.LoadFromFolder(dir.Path, [], diagnostics)!;
        Assert.Equal(5, t.VocabSize);
        Assert.Equal("[NEW]", t.Tokens[4]);
        Assert.Contains(diagnostics, d => d.Code == "tokenizer.added-token-out-of-range");
    }

    [Theory]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":10000000}}}""", "ids reach")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":-1}}}""", "outside")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":2000000000}}}""", "outside")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":"x"}}}""", "not an integer")]
    [InlineData("""{"model":{"type":"BPE","vocab":{"a":0},"merges":[1]}}""", "merge 0")]
    [InlineData("""{"model":{"type":"Unigram","vocab":[["a",0.0],[1,2]]}}""", "model.vocab[1]")]
    [InlineData("{\n\"model\": {\"vocab\": {\"a\": 0,,}}}", "JSON")]
    public void Hostile_tokenizer_json_is_a_lineage_exception(string json, string expected)
    {
        using var dir = new TempDir();
        dir.Write("tokenizer.json", json);
        var e = Assert.Throws<LineageException>(() => TokenizerFiles.LoadFromFolder(dir.Path, [], []));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.EndsWith("tokenizer.json", e.File, StringComparison.Ordinal);
        if (expected == "JSON") Assert.NotNull(e.Offset);
    }

    [Fact]
    public void Weights_and_configs_are_not_mistaken_for_tokenizers()
    {
        using var model = ModelLoader.Open(Corpus.Path("ladder/A/model.safetensors"));
        Assert.Equal("safetensors", model.Format);
        var config = Corpus.Path("ladder/A/config.json");
        Assert.Null(TokenizerFiles.TryLoadFile(config, [], out _));
        Assert.Null(TokenizerFiles.TryLoadFile(Corpus.Path("real/weights/ort-tiny-gpt2/tiny_gpt2_fp16.onnx"), [], out _));
    }

    /// <summary>A SentencePiece ModelProto with the given pieces (first is UNKNOWN, the next two CONTROL).</summary>
    internal static byte[] SyntheticSentencePiece(string[] pieces, int modelType = 2, bool byteFallback = false)
    {
        var w = new ProtoWriter();
        for (int i = 0; i < pieces.Length; i++)
        {
            int type = i == 0 ? 2 : i < 3 ? 3 : 1;
            w.Message(1, p => p.String(1, pieces[i]).Float(2, -i).Varint(3, type));
        }
        w.Message(2, t => t.Varint(3, modelType).Varint(4, pieces.Length).Varint(35, byteFallback ? 1 : 0));
        w.Message(3, n => n.String(1, "identity"));
        return w.ToArray();
    }

    [Fact]
    public void Synthetic_sentencepiece_round_trip_and_limits()
    {
        var bytes = SyntheticSentencePiece(["<unk>", "<s>", "</s>", "\u2581hi", "<0x41>"], modelType: 2, byteFallback: true);
        using var source = new MemoryByteSource("s.model", bytes);
        var spm = SentencePieceReader.Read(source);
        Assert.Equal(5, spm.Pieces.Count);
        Assert.Equal(-3f, spm.Pieces[3].Score);
        Assert.Equal(SentencePieceModelType.Bpe, spm.ModelType);
        Assert.True(SentencePieceReader.LooksLike(bytes));

        // A piece whose score has the wrong wire type, and a model without pieces.
        var bad = new ProtoWriter().Message(1, p => p.String(1, "a").Varint(2, 3)).ToArray();
        using var badSource = new MemoryByteSource("bad.model", bad);
        var e = Assert.Throws<LineageException>(() => SentencePieceReader.Read(badSource));
        Assert.Contains("score", e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Offset);
        using var empty = new MemoryByteSource("empty.model", new ProtoWriter().Message(3, n => n.String(1, "x")).ToArray());
        Assert.Contains("no pieces", Assert.Throws<LineageException>(() => SentencePieceReader.Read(empty)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_and_bit_flipped_sentencepiece_models_only_raise_lineage_exceptions()
    {
        var original = File.ReadAllBytes(Corpus.Path("ladder/A/tokenizer.model"));
        void Read(IByteSource s) => SentencePieceReader.ToTokenizer(SentencePieceReader.Read(s), s.Name);
        foreach (var bytes in Hostile.Truncations(original, 60, seed: 5))
            Hostile.OnlyLineageExceptions("cut.model", bytes, Read);
        foreach (var bytes in Hostile.BitFlips(original, 400, seed: 6))
            Hostile.OnlyLineageExceptions("flip.model", bytes, Read);
        foreach (var bytes in Hostile.BitFlips(original, 200, seed: 7, focusPrefix: 2048))
            Hostile.OnlyLineageExceptions("flip.model", bytes, Read);
    }

    [Fact]
    public void Hostile_text_vocabularies_only_raise_lineage_exceptions()
    {
        using var dir = new TempDir();
        var tiktoken = File.ReadAllBytes(Corpus.Path("real/tokenizers/ortx/cl100k_base.tiktoken"))[..4096];
        int n = 0;
        foreach (var bytes in Hostile.BitFlips(tiktoken, 150, seed: 8).Concat(Hostile.Truncations(tiktoken, 20, seed: 9)))
        {
            string path = dir.Write($"t{n++}.tiktoken", bytes);
            try
            {
                TokenizerFiles.TryLoadFile(path, [], out _);
                TokenizerFiles.LoadFromFolder(dir.Path, [], []);
            }
            catch (LineageException e)
            {
                Assert.NotNull(e.File);
            }
            File.Delete(path);
        }
        var json = File.ReadAllBytes(Corpus.Path("real/tokenizers/ortx/roberta-base/tokenizer.json"))[..8192];
        foreach (var bytes in Hostile.BitFlips(json, 100, seed: 10).Concat(Hostile.Truncations(json, 20, seed: 11)))
        {
            dir.Write("tokenizer.json", bytes);
            try
            {
                TokenizerFiles.LoadFromFolder(dir.Path, [], []);
            }
            catch (LineageException e)
            {
                Assert.NotNull(e.File);
            }
        }
    }
}
