using System.Text.Json;
using Lineage.Formats;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

/// <summary>
/// Real GGUF files: the ladder's Q8_0 / F16 conversions (checked against the safetensors models they came
/// from), ollama's tiny random Llama 2, and llama.cpp's vocabulary-only files of twelve tokenizer families.
/// </summary>
public class GgufCorpusTests
{
    /// <summary>llama.cpp tensor names and row-major shapes of a Llama model with the given dimensions.</summary>
    private static Dictionary<string, long[]> LlamaShapes(int d, int layers, int heads, int kvHeads, int ff, int vocab)
    {
        int kv = d / heads * kvHeads;
        var shapes = new Dictionary<string, long[]>
        {
            ["token_embd.weight"] = [vocab, d],
            ["output_norm.weight"] = [d],
            ["output.weight"] = [vocab, d],
        };
        for (int l = 0; l < layers; l++)
        {
            shapes[$"blk.{l}.attn_norm.weight"] = [d];
            shapes[$"blk.{l}.ffn_norm.weight"] = [d];
            shapes[$"blk.{l}.attn_q.weight"] = [d, d];
            shapes[$"blk.{l}.attn_k.weight"] = [kv, d];
            shapes[$"blk.{l}.attn_v.weight"] = [kv, d];
            shapes[$"blk.{l}.attn_output.weight"] = [d, d];
            shapes[$"blk.{l}.ffn_gate.weight"] = [ff, d];
            shapes[$"blk.{l}.ffn_up.weight"] = [ff, d];
            shapes[$"blk.{l}.ffn_down.weight"] = [d, ff];
        }
        return shapes;
    }

    private static void AssertLlamaModel(Model model, (int D, int L, int H, int Kv, int Ff, int V) dims, DType matrices, long parameters)
    {
        var expected = LlamaShapes(dims.D, dims.L, dims.H, dims.Kv, dims.Ff, dims.V);
        Assert.Equal("gguf", model.Format);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), model.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var t in model.Tensors)
        {
            Assert.Equal(expected[t.Name], t.Shape);
            Assert.Equal(t.Rank == 1 ? DType.F32 : matrices, t.DType);
        }
        Assert.Equal(parameters, model.ParameterCount);
        var c = model.Config!;
        Assert.Equal("gguf", c.Source);
        Assert.Equal("llama", c.ModelType);
        Assert.Equal((dims.D, dims.L, dims.H, dims.Kv, dims.Ff, dims.V), (c.HiddenSize!.Value, c.NumLayers!.Value, c.NumHeads!.Value, c.NumKeyValueHeads!.Value, c.IntermediateSize!.Value, c.VocabSize!.Value));
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal(1e-5, c.NormEpsilon);
        var tok = model.Tokenizer!;
        Assert.Equal(TokenizerKind.SentencePieceBpe, tok.Kind);
        Assert.Equal(dims.V, tok.VocabSize);
        Assert.Equal(1, tok.SpecialTokens["bos"]);
        Assert.Equal(2, tok.SpecialTokens["eos"]);
        Assert.Equal(0, tok.SpecialTokens["unk"]);
        Assert.Equal(["<unk>", "<s>", "</s>"], tok.Tokens.Take(3));
        Assert.Equal(TokenType.Unknown, tok.TokenTypes![0]);
        Assert.Equal(TokenType.Control, tok.TokenTypes[1]);
        Assert.Empty(model.Diagnostics);
    }

    [Fact]
    public void Ladder_gguf_files_have_the_expected_tensors_config_and_vocabulary()
    {
        using (var a = ModelLoader.Open(Corpus.Path("ladder/A-quant-q8.gguf")))
            AssertLlamaModel(a, (64, 3, 4, 2, 192, 1024), DType.Q8_0, 278976);
        using (var b = ModelLoader.Open(Corpus.Path("ladder/B-quant-q8.gguf")))
            AssertLlamaModel(b, (128, 2, 4, 4, 192, 1024), DType.Q8_0, 541312);
        using (var c = ModelLoader.Open(Corpus.Path("ladder/C-quant-q8.gguf")))
            AssertLlamaModel(c, (96, 2, 4, 1, 160, 1024), DType.Q8_0, 335328);
        using (var cp = ModelLoader.Open(Corpus.Path("ladder/C-prune-depth.gguf")))
            AssertLlamaModel(cp, (96, 1, 4, 1, 160, 1024), DType.F16, 266016);
        using (var ad = ModelLoader.Open(Corpus.Path("ladder/A-distill.gguf")))
            AssertLlamaModel(ad, (64, 3, 4, 2, 192, 1024), DType.F16, 278976);
    }

    [Fact]
    public void Ladder_models_sharing_a_tokenizer_share_the_gguf_vocabulary()
    {
        using var a = ModelLoader.Open(Corpus.Path("ladder/A-quant-q8.gguf"));
        using var c = ModelLoader.Open(Corpus.Path("ladder/C-quant-q8.gguf"));
        using var b = ModelLoader.Open(Corpus.Path("ladder/B-quant-q8.gguf"));
        Assert.Equal(a.Tokenizer!.Tokens, c.Tokenizer!.Tokens);          // both T1 (bpe on prose1)
        Assert.NotEqual(a.Tokenizer.Tokens, b.Tokenizer!.Tokens);         // B uses T2 (unigram)
        Assert.Equal("▁the", b.Tokenizer.Tokens[4]);
    }

    /// <summary>
    /// llama.cpp's converter reorders attn_q / attn_k rows within each head from [first halves…, second halves…]
    /// to interleaved pairs (for its rotary embedding); this maps a GGUF row back to the Hugging Face row.
    /// </summary>
    private static int HfRow(int ggufRow, int headDim)
    {
        int head = ggufRow / headDim, within = ggufRow % headDim;
        return head * headDim + within % 2 * (headDim / 2) + within / 2;
    }

    private static readonly (string Gguf, string Hf)[] LayerNames =
    [
        ("attn_norm", "input_layernorm"), ("ffn_norm", "post_attention_layernorm"), ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj"),
        ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj"),
    ];

    [Theory]
    [InlineData("A", 3, 16)]
    [InlineData("B", 2, 32)]
    public void Q8_0_tensors_match_the_safetensors_parent_within_quantization_error(string parent, int layers, int headDim)
    {
        using var gguf = ModelLoader.Open(Corpus.Path($"ladder/{parent}-quant-q8.gguf"));
        using var hf = ModelLoader.Open(Corpus.Path($"ladder/{parent}"));
        var pairs = new List<(string, string)> { ("token_embd.weight", "model.embed_tokens.weight"), ("output.weight", "lm_head.weight"), ("output_norm.weight", "model.norm.weight") };
        for (int l = 0; l < layers; l++)
            pairs.AddRange(LayerNames.Select(n => ($"blk.{l}.{n.Gguf}.weight", $"model.layers.{l}.{n.Hf}.weight")));

        foreach (var (ggufName, hfName) in pairs)
        {
            var q = gguf.FindTensor(ggufName)!;
            var f = hf.FindTensor(hfName)!;
            Assert.Equal(f.Shape, q.Shape);
            var decoded = q.ReadAll();
            var original = f.ReadAll();
            if (q.DType == DType.F32)
            {
                Assert.Equal(original, decoded);
                continue;
            }
            bool permuted = ggufName.Contains("attn_q", StringComparison.Ordinal) || ggufName.Contains("attn_k", StringComparison.Ordinal);
            int rowLength = (int)q.RowLength;
            for (int row = 0; row < q.RowCount; row++)
            {
                int hfRow = permuted ? HfRow(row, headDim) : row;
                for (int block = 0; block < rowLength; block += 32)
                {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.Max(amax, Math.Abs(original[hfRow * rowLength + block + i]));
                    float bound = amax / 254 + amax / 1024 + 1e-12f;
                    for (int i = 0; i < 32; i++)
                    {
                        float err = Math.Abs(decoded[row * rowLength + block + i] - original[hfRow * rowLength + block + i]);
                        Assert.True(err <= bound, $"{ggufName} row {row} element {block + i}: error {err} > {bound}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Ollama_tiny_random_llama2_has_the_full_llama2_vocabulary()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/ollama-llama2-tiny-random/llama-2-tiny-random.gguf"));
        var expected = LlamaShapes(8, 1, 2, 2, 32, 32000);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), model.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var t in model.Tensors)
        {
            Assert.Equal(expected[t.Name], t.Shape);
            Assert.Equal(t.Rank == 1 ? DType.F32 : DType.F16, t.DType);
            Assert.All(t.ReadAll(), v => Assert.True(float.IsFinite(v)));
        }
        Assert.Equal(32000, model.Config!.VocabSize);
        Assert.Equal(4096, model.Config.MaxPositions);
        Assert.Equal(32000, model.Tokenizer!.VocabSize);
        Assert.Equal("▁the", model.Tokenizer.Tokens[278]);
        Assert.Equal("<0x0A>", model.Tokenizer.Tokens[13]);
        Assert.Equal(TokenType.Byte, model.Tokenizer.TokenTypes![13]);
        Assert.Equal("LLaMA v2", model.Metadata["general.name"]!.GetValue<string>());
    }

    public static TheoryData<string, int, TokenizerKind, string?, int> VocabFiles => new()
    {
        { "baichuan", 64000, TokenizerKind.SentencePieceBpe, null, 0 },
        { "bert-bge", 30522, TokenizerKind.WordPiece, "bert-bge", 0 },
        { "deepseek-coder", 32256, TokenizerKind.ByteLevelBpe, "deepseek-coder", 31757 },
        { "falcon", 65024, TokenizerKind.ByteLevelBpe, "falcon", 64784 },
        { "gpt-2", 50257, TokenizerKind.ByteLevelBpe, "gpt-2", 50000 },
        { "gpt-neox", 50432, TokenizerKind.ByteLevelBpe, null, 50009 },
        { "llama-spm", 32000, TokenizerKind.SentencePieceBpe, "default", 0 },
        { "mpt", 50432, TokenizerKind.ByteLevelBpe, "mpt", 50009 },
        { "phi-3", 32064, TokenizerKind.SentencePieceBpe, "default", 0 },
        { "refact", 49216, TokenizerKind.ByteLevelBpe, "refact", 48891 },
        { "stablelm", 50304, TokenizerKind.ByteLevelBpe, null, 50009 },
        { "starcoder", 49152, TokenizerKind.ByteLevelBpe, "starcoder", 48872 },
    };

    private static Model Vocab(string family) => ModelLoader.Open(Corpus.Path($"real/tokenizers/llamacpp-vocab/ggml-vocab-{family}.gguf"));

    [Theory]
    [MemberData(nameof(VocabFiles))]
    public void Vocabulary_only_files_load_as_tokenizers(string family, int vocab, TokenizerKind kind, string? pre, int merges)
    {
        using var model = Vocab(family);
        Assert.Equal("gguf", model.Format);
        Assert.Empty(model.Tensors);
        var tok = model.Tokenizer!;
        Assert.Equal(vocab, tok.VocabSize);
        Assert.Equal(kind, tok.Kind);
        Assert.Equal(pre, tok.Family);
        Assert.Equal(merges, tok.Merges?.Count ?? 0);
        Assert.Equal(vocab, tok.TokenTypes!.Count);
        Assert.Equal(vocab, model.Config!.VocabSize);
        Assert.Equal($"ggml-vocab-{family}.gguf (gguf)", tok.Source);
        Assert.All(tok.SpecialTokens.Values, id => Assert.InRange(id, 0, vocab - 1));
        Assert.Empty(model.Diagnostics);
    }

    [Fact]
    public void Special_tokens_and_chat_template_are_read()
    {
        using (var bert = Vocab("bert-bge"))
        {
            var s = bert.Tokenizer!.SpecialTokens;
            Assert.Equal((100, 102, 0, 101, 103), (s["unk"], s["sep"], s["pad"], s["cls"], s["mask"]));
            Assert.Equal("[PAD]", bert.Tokenizer.Tokens[0]);
        }
        using (var phi3 = Vocab("phi-3"))
        {
            Assert.StartsWith("{{ bos_token }}", phi3.Tokenizer!.ChatTemplate, StringComparison.Ordinal);
            Assert.Equal(32000, phi3.Tokenizer.SpecialTokens["eos"]);
            Assert.Equal("<|endoftext|>", phi3.Tokenizer.Tokens[32000]);
            Assert.Equal(2u, phi3.Metadata["general.quantization_version"]!.GetValue<uint>());
        }
        using var gpt2 = Vocab("gpt-2");
        Assert.Equal(50256, gpt2.Tokenizer!.SpecialTokens["eos"]);
        Assert.Equal("Ġ t", gpt2.Tokenizer.Merges![0]);
        Assert.Null(gpt2.Tokenizer.ChatTemplate);
    }

    [Fact]
    public void Known_vocabulary_relations_hold()
    {
        using var llama = Vocab("llama-spm");
        using var phi3 = Vocab("phi-3");
        Assert.Equal(llama.Tokenizer!.VocabSize + 64, phi3.Tokenizer!.VocabSize);
        Assert.Equal(llama.Tokenizer.Tokens, phi3.Tokenizer.Tokens.Take(llama.Tokenizer.VocabSize));

        using var neox = Vocab("gpt-neox");
        using var stablelm = Vocab("stablelm");
        using var mpt = Vocab("mpt");
        Assert.Equal(50304, stablelm.Tokenizer!.VocabSize);
        Assert.Equal(neox.Tokenizer!.Tokens.Take(50304), stablelm.Tokenizer.Tokens);
        Assert.Equal(neox.Tokenizer.Tokens, mpt.Tokenizer!.Tokens);
        Assert.Equal(neox.Tokenizer.Merges, stablelm.Tokenizer.Merges);

        using var gpt2 = Vocab("gpt-2");
        Assert.NotEqual(gpt2.Tokenizer!.Tokens.Take(1000), neox.Tokenizer.Tokens.Take(1000));
    }

    [Fact]
    public void Inspect_reads_a_gguf_file()
    {
        var result = CliRunner.Run("inspect", Corpus.Path("ladder/A-quant-q8.gguf"), "--format", "json", "--no-hash");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.Equal("gguf", root.GetProperty("format").GetString());
        Assert.Equal(278976, root.GetProperty("parameters").GetInt64());
        Assert.Equal(30, root.GetProperty("tensor_count").GetInt32());
        Assert.Equal(64, root.GetProperty("config").GetProperty("hidden_size").GetInt32());
        Assert.Equal(1024, root.GetProperty("tokenizer").GetProperty("vocab_size").GetInt32());
        var embed = root.GetProperty("tensors").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "token_embd.weight");
        Assert.Equal("Q8_0", embed.GetProperty("dtype").GetString());
        Assert.Equal([1024, 64], embed.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("\"llama\"", root.GetProperty("metadata").GetProperty("general.architecture").GetString()); // JSON text of the value

        var text = CliRunner.Run("inspect", Corpus.Path("ladder/A-quant-q8.gguf"), "--no-hash");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("format:     gguf", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("Q8_0", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_of_a_broken_gguf_is_a_one_line_error()
    {
        using var dir = new TempDir();
        var original = File.ReadAllBytes(Corpus.Path("ladder/A-quant-q8.gguf"));
        string path = dir.Write("broken.gguf", original[..5000]);
        var result = CliRunner.Run("inspect", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("broken.gguf", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("byte", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }
}
