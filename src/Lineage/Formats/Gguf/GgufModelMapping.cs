using System.Text.Json.Nodes;
using Lineage.Models;

namespace Lineage.Formats.Gguf;

/// <summary>
/// Turns GGUF metadata into Lineage's <see cref="ModelConfig"/> and <see cref="Tokenizer"/>. Architecture facts
/// live under the "{general.architecture}." prefix; the vocabulary under "tokenizer.ggml.".
/// </summary>
internal static class GgufModelMapping
{
    public static ModelConfig? BuildConfig(GgufFile file)
    {
        string? arch = file.Architecture;
        if (arch is null) return null;
        string p = arch + ".";
        int? hidden = Int(file, p + "embedding_length");
        int? heads = Int(file, p + "attention.head_count");
        int? vocab = Int(file, p + "vocab_size") ?? file.Find("tokenizer.ggml.tokens")?.AsStrings()?.Count;
        var raw = new JsonObject();
        foreach (var kv in file.Metadata)
            raw[kv.Key] = kv.Value.ToJson();
        bool hasEmbedding = file.Tensors.Any(t => t.Name == "token_embd.weight");
        return new ModelConfig
        {
            ModelType = arch,
            Architecture = arch,
            HiddenSize = hidden,
            NumLayers = Int(file, p + "block_count"),
            NumHeads = heads,
            NumKeyValueHeads = Int(file, p + "attention.head_count_kv"),
            HeadDim = Int(file, p + "attention.key_length") ?? (hidden is int h && heads is int n && n > 0 ? h / n : null),
            IntermediateSize = Int(file, p + "feed_forward_length"),
            VocabSize = vocab,
            MaxPositions = Int(file, p + "context_length"),
            RopeTheta = Double(file, p + "rope.freq_base"),
            NormEpsilon = Double(file, p + "attention.layer_norm_rms_epsilon") ?? Double(file, p + "attention.layer_norm_epsilon"),
            // llama.cpp omits output.weight when the output projection reuses token_embd.weight.
            TieWordEmbeddings = hasEmbedding ? !file.Tensors.Any(t => t.Name == "output.weight") : null,
            NumExperts = Int(file, p + "expert_count"),
            NumExpertsPerToken = Int(file, p + "expert_used_count"),
            Source = "gguf",
            Raw = raw,
        };
    }

    public static Tokenizer? BuildTokenizer(GgufFile file, List<Diagnostic> diagnostics)
    {
        string? model = file.Find("tokenizer.ggml.model")?.AsString();
        var tokensValue = file.Find("tokenizer.ggml.tokens");
        var tokens = tokensValue?.AsStrings();
        if (tokens is null)
        {
            if (tokensValue is not null || model is not null and not ("none" or "no_vocab"))
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.tokenizer",
                    "tokenizer.ggml.tokens is missing or not a string array; no vocabulary read", file.Name, tokensValue?.Offset));
            return null;
        }

        var scores = file.Find("tokenizer.ggml.scores") is { } scoresValue ? Aligned(scoresValue.AsFloats(), scoresValue, "tokenizer.ggml.scores", tokens.Count, file, diagnostics) : null;
        IReadOnlyList<TokenType>? types = null;
        if (file.Find("tokenizer.ggml.token_type") is { } typesValue)
        {
            long[]? ids = typesValue.TryGetInt64Array(out var values) ? values : null;
            if (Aligned(ids, typesValue, "tokenizer.ggml.token_type", tokens.Count, file, diagnostics) is { } ok)
                types = Array.ConvertAll(ok, v => (TokenType)(int)Math.Clamp(v, int.MinValue, int.MaxValue));
        }
        var mergesValue = file.Find("tokenizer.ggml.merges");
        var merges = mergesValue?.AsStrings();
        if (mergesValue is not null && merges is null)
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.tokenizer", "tokenizer.ggml.merges is not a string array; ignored", file.Name, mergesValue.Offset));

        var added = new List<string>();
        if (types is not null)
            for (int i = 0; i < types.Count; i++)
                if (types[i] is TokenType.Control or TokenType.UserDefined) added.Add(tokens[i]);

        return new Tokenizer
        {
            Kind = model switch
            {
                "llama" => TokenizerKind.SentencePieceBpe,
                "gpt2" => TokenizerKind.ByteLevelBpe,
                "bert" => TokenizerKind.WordPiece,
                "t5" => TokenizerKind.SentencePieceUnigram,
                _ => TokenizerKind.Unknown,
            },
            Tokens = tokens,
            Scores = scores,
            TokenTypes = types,
            Merges = merges,
            SpecialTokens = SpecialTokens(file, tokens.Count, diagnostics),
            AddedTokens = added,
            ChatTemplate = file.Find("tokenizer.chat_template")?.AsString(),
            Source = Path.GetFileName(file.Name) + " (gguf)",
            Family = file.Find("tokenizer.ggml.pre")?.AsString(),
        };
    }

    private static T[]? Aligned<T>(IReadOnlyList<T>? values, GgufValue value, string key, int tokenCount, GgufFile file, List<Diagnostic> diagnostics)
    {
        if (values is not null && values.Count == tokenCount) return [.. values];
        diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.tokenizer",
            values is null ? $"{key} has an unexpected type; ignored" : $"{key} has {values.Count} entries for {tokenCount} tokens; ignored",
            file.Name, value.Offset));
        return null;
    }

    /// <summary>
    /// Every "tokenizer.ggml.{role}_token_id" key, by role. GGUF spells a few roles long ("unknown", "padding",
    /// and llama.cpp's historical "seperator"); they are folded to the short names other readers use.
    /// </summary>
    private static Dictionary<string, int> SpecialTokens(GgufFile file, int tokenCount, List<Diagnostic> diagnostics)
    {
        const string prefix = "tokenizer.ggml.";
        const string suffix = "_token_id";
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var kv in file.Metadata)
        {
            if (!kv.Key.StartsWith(prefix, StringComparison.Ordinal) || !kv.Key.EndsWith(suffix, StringComparison.Ordinal)
                || kv.Key.Length <= prefix.Length + suffix.Length) continue;
            string role = kv.Key[prefix.Length..^suffix.Length] switch
            {
                "unknown" => "unk",
                "padding" => "pad",
                "seperator" or "separator" => "sep",
                var other => other,
            };
            if (!kv.Value.TryGetInt64(out long id) || id < 0 || id >= tokenCount)
            {
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.special-token",
                    $"{kv.Key} = {kv.Value} is not a token id below {tokenCount}; ignored", file.Name, kv.Value.Offset));
                continue;
            }
            result[role] = (int)id;
        }
        return result;
    }

    /// <summary>An integer key, or the largest entry of a per-layer integer array (some architectures vary heads by layer).</summary>
    private static int? Int(GgufFile file, string key)
    {
        var value = file.Find(key);
        if (value is null) return null;
        long result;
        if (value.TryGetInt64(out long scalar))
            result = scalar;
        else if (value.TryGetInt64Array(out var values) && values.Length > 0)
            result = values.Max();
        else
            return null;
        return result is >= int.MinValue and <= int.MaxValue ? (int)result : null;
    }

    private static double? Double(GgufFile file, string key) =>
        file.Find(key) is { } value && value.TryGetDouble(out double d) ? d : null;
}
