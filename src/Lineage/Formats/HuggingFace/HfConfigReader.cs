using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Models;

namespace Lineage.Formats.HuggingFace;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> into <see cref="ModelConfig"/>, folding the per-family spellings
/// (GPT-2's n_embd/n_layer, T5's d_model/num_layers, multimodal nested text_config …) into one vocabulary.
/// </summary>
public static class HfConfigReader
{
    private const long MaxConfigBytes = 16 << 20;

    public static JsonObject ReadJsonObject(string path, long maxBytes = MaxConfigBytes)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new LineageException("file not found", path);
        if (info.Length > maxBytes) throw new LineageException($"JSON file of {info.Length} bytes exceeds the {maxBytes}-byte limit", path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new LineageException($"cannot read: {e.Message}", path, inner: e);
        }
        return ParseJsonObject(bytes, path);
    }

    public static JsonObject ParseJsonObject(ReadOnlySpan<byte> bytes, string path)
    {
        try
        {
            var node = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 });
            return node as JsonObject ?? throw new LineageException("expected a JSON object", path, 0);
        }
        catch (JsonException e)
        {
            throw new LineageException($"invalid JSON (line {e.LineNumber + 1}): {e.Message}", path, e.BytePositionInLine);
        }
    }

    public static ModelConfig Read(string path) => FromJson(ReadJsonObject(path), path);

    public static ModelConfig FromJson(JsonObject root, string source = "config.json")
    {
        ArgumentNullException.ThrowIfNull(root);
        // Multimodal wrappers keep the language model's facts in text_config (or llm_config / language_config).
        JsonObject cfg = root;
        foreach (var key in new[] { "text_config", "llm_config", "language_config" })
            if (root[key] is JsonObject nested) { cfg = Merge(root, nested); break; }

        string? archs = (cfg["architectures"] as JsonArray)?.FirstOrDefault()?.ToString();
        int? hidden = Int(cfg, "hidden_size", "n_embd", "d_model", "dim", "model_dim", "embed_dim");
        int? heads = Int(cfg, "num_attention_heads", "n_head", "num_heads", "n_heads");
        int? experts = Int(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts");
        return new ModelConfig
        {
            ModelType = Str(cfg, "model_type"),
            Architecture = archs,
            HiddenSize = hidden,
            NumLayers = Int(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers"),
            NumHeads = heads,
            NumKeyValueHeads = Int(cfg, "num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num") ?? (Bool(cfg, "multi_query") == true ? 1 : null),
            HeadDim = Int(cfg, "head_dim", "d_kv", "kv_channels") ?? (hidden is int h && heads is int n && n > 0 ? h / n : null),
            IntermediateSize = Int(cfg, "intermediate_size", "n_inner", "d_ff", "ffn_dim", "ffn_hidden_size", "hidden_dim"),
            VocabSize = Int(cfg, "vocab_size", "n_vocab", "padded_vocab_size"),
            MaxPositions = Int(cfg, "max_position_embeddings", "n_positions", "n_ctx", "seq_length", "max_seq_len"),
            RopeTheta = Double(cfg, "rope_theta", "rotary_emb_base") ?? Double(cfg["rope_scaling"] as JsonObject, "rope_theta"),
            NormEpsilon = Double(cfg, "rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps", "layernorm_epsilon", "norm_eps"),
            TieWordEmbeddings = Bool(cfg, "tie_word_embeddings"),
            NumExperts = experts,
            NumExpertsPerToken = Int(cfg, "num_experts_per_tok", "moe_top_k", "num_selected_experts"),
            TorchDType = Str(cfg, "torch_dtype") ?? Str(cfg, "dtype"),
            Source = source,
            Raw = root,
        };
    }

    private static JsonObject Merge(JsonObject outer, JsonObject inner)
    {
        var merged = new JsonObject();
        foreach (var (k, v) in outer)
            if (v is not JsonObject) merged[k] = v?.DeepClone();
        foreach (var (k, v) in inner)
            merged[k] = v?.DeepClone();
        return merged;
    }

    private static string? Str(JsonObject? o, string key) =>
        o?[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static int? Int(JsonObject? o, params string[] keys)
    {
        if (o is null) return null;
        foreach (var k in keys)
        {
            if (o[k] is not JsonValue v) continue;
            if (v.TryGetValue(out int i)) return i;
            if (v.TryGetValue(out long l) && l is >= int.MinValue and <= int.MaxValue) return (int)l;
            if (v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
        }
        return null;
    }

    private static double? Double(JsonObject? o, params string[] keys)
    {
        if (o is null) return null;
        foreach (var k in keys)
            if (o[k] is JsonValue v && v.TryGetValue(out double d)) return d;
        return null;
    }

    private static bool? Bool(JsonObject? o, string key) =>
        o?[key] is JsonValue v && v.TryGetValue(out bool b) ? b : null;
}
