using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lineage.Catalog;
using Lineage.Formats;
using Lineage.Formats.HuggingFace;
using Lineage.Models;

namespace Lineage.Cli.Catalog;

/// <summary>
/// Compiles the built-in reference catalog (src/Lineage/Catalog/reference-catalog.json) from the shared corpus:
/// Cisco's Model Provenance Kit seed bundles, mlc-llm config presets, ollama's GGUF metadata and the real
/// tokenizers. Only derived facts and hashes are kept (nothing is copied verbatim but names and numbers),
/// with each source's license recorded. Deterministic: the same corpus gives the same bytes, which a test
/// checks. Known upstream defects are fixed and each fix is noted on the record it touched.
/// </summary>
internal static partial class ReferenceCatalogImport
{
    /// <summary>A real tokenizer to fingerprint. Enabled ones load with this build; the others wait for their loader.</summary>
    internal sealed record TokenizerSource(string RelativePath, string Id, string Family, string Name, bool Enabled);

    internal static readonly TokenizerSource[] TokenizerSources =
    [
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-llama-spm.gguf", "llama-spm", "metallama--llama", "Llama / Llama 2 SentencePiece BPE (32000)", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-phi-3.gguf", "phi-3", "microsoft--phi", "Phi-3 (Llama SentencePiece + 64 tokens)", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-baichuan.gguf", "baichuan", "baichuan--baichuan", "Baichuan SentencePiece", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-bert-bge.gguf", "bert-bge", "googlebert--bert", "BERT WordPiece (as used by BAAI BGE)", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-gpt-2.gguf", "gpt-2", "openaicommunity--gpt", "GPT-2 byte-level BPE", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-gpt-neox.gguf", "gpt-neox", "eleutherai--gpt", "GPT-NeoX-20B byte-level BPE (Pythia, RedPajama)", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-mpt.gguf", "mpt", "mosaicml--mpt", "MPT (the GPT-NeoX tokenizer)", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-stablelm.gguf", "stablelm", "stabilityai--stablelm", "StableLM (GPT-NeoX tokenizer, first 50304)", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-starcoder.gguf", "starcoder", "bigcode--starcoder", "StarCoder byte-level BPE", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-refact.gguf", "refact", "smallcloud--refact", "Refact byte-level BPE", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-deepseek-coder.gguf", "deepseek-coder", "deepseekai--deepseek", "DeepSeek Coder byte-level BPE", true),
        new("real/tokenizers/llamacpp-vocab/ggml-vocab-falcon.gguf", "falcon", "tiiuae--falcon", "Falcon byte-level BPE", true),
        // Need the SentencePiece / tokenizer.json / tiktoken loaders (being merged): enable, regenerate, commit.
        new("real/tokenizers/llama2-spm/tokenizer.model", "llama2-spm", "metallama--llama", "Llama 2 SentencePiece model", true),
        new("real/tokenizers/llama3-tiktoken/tokenizer.model", "llama3-tiktoken", "metallama--llama", "Llama 3 tiktoken (128k)", true),
        new("real/tokenizers/mistral-spm/tokenizer.model.v1", "mistral-v1", "mistralai--mistral", "Mistral SentencePiece v1", true),
        new("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240216.model.v2", "mistral-v2", "mistralai--mistral", "Mistral SentencePiece v2", true),
        new("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_240323.model.v3", "mistral-v3", "mistralai--mistral", "Mistral SentencePiece v3", true),
        new("real/tokenizers/mistral-spm/mistral_instruct_tokenizer_241114.model.v7", "mistral-v7", "mistralai--mistral", "Mistral SentencePiece v7", true),
        new("real/tokenizers/ortx/llama2/tokenizer.json", "llama2-hf", "metallama--llama", "Llama 2 tokenizer.json", true),
        new("real/tokenizers/ortx/phi-2/tokenizer.json", "phi-2", "microsoft--phi", "Phi-2 tokenizer.json", true),
        new("real/tokenizers/ortx/phi-3-mini/tokenizer.json", "phi-3-mini", "microsoft--phi", "Phi-3-mini tokenizer.json", true),
        new("real/tokenizers/ortx/falcon-tokenizer/tokenizer.json", "falcon-hf", "tiiuae--falcon", "Falcon tokenizer.json", true),
        new("real/tokenizers/ortx/roberta-base/tokenizer.json", "roberta-base", "facebookai--roberta", "RoBERTa byte-level BPE", true),
        new("real/tokenizers/ortx/t5-small/tokenizer.json", "t5-small", "google--t5", "T5 SentencePiece unigram", true),
        new("real/tokenizers/ortx/bert.vocab", "bert-vocab", "googlebert--bert", "BERT WordPiece vocab.txt", true),
        new("real/tokenizers/ortx/cl100k_base.tiktoken", "cl100k", "openai--cl100k", "OpenAI cl100k_base (tiktoken)", true),
    ];

    /// <summary>Families not in Cisco's catalog, and the names of model types' originators.</summary>
    private static readonly CatalogFamily[] ExtraFamilies =
    [
        new("baichuan--baichuan", "Baichuan", "baichuan-inc"),
        new("mosaicml--mpt", "MPT", "mosaicml"),
        new("smallcloud--refact", "Refact", "smallcloudai"),
        new("google--t5", "T5", "google"),
        new("openai--cl100k", "OpenAI cl100k tokenizer", "openai"),
        new("coherelabs--command", "Command R", "CohereLabs"),
        new("llava--llava", "LLaVA", "llava-hf"),
        new("orionstar--orion", "Orion", "OrionStarAI"),
        new("rwkv--rwkv", "RWKV", "RWKV"),
        new("snowflake--arctic", "Snowflake Arctic Embed", "Snowflake"),
        new("tinyllama--tinyllama", "TinyLlama", "TinyLlama"),
        new("sentence-transformers--minilm", "MiniLM (sentence-transformers)", "sentence-transformers"),
        new("bigscience--bloom", "BLOOM", "bigscience"),
    ];

    /// <summary>Model types → the family that introduced the architecture (curated; others reuse them).</summary>
    private static readonly (string ModelType, string Family, string Note)[] ArchitectureOrigins =
    [
        ("llama", "metallama--llama", "also used by Yi, DeepSeek, SmolLM, Falcon 3, TinyLlama, CodeLlama and many fine-tunes"),
        ("mistral", "mistralai--mistral", "also used by Zephyr and other Mistral fine-tunes"),
        ("mixtral", "mistralai--mistral", "sparse mixture of experts"),
        ("gpt2", "openaicommunity--gpt", ""),
        ("gpt_neox", "eleutherai--gpt", "also used by Pythia, RedPajama-INCITE, StableLM-alpha"),
        ("gptj", "eleutherai--gpt", ""),
        ("gpt_bigcode", "bigcode--starcoder", "StarCoder (v1)"),
        ("starcoder2", "bigcode--starcoder", ""),
        ("bert", "googlebert--bert", "also used by BGE, MiniLM and most sentence encoders"),
        ("roberta", "facebookai--roberta", ""),
        ("xlm_roberta", "facebookai--xlm_roberta", ""),
        ("t5", "google--t5", "also used by Flan-T5 and Aya-101"),
        ("gemma", "google--gemma", ""),
        ("gemma2", "google--gemma", ""),
        ("gemma3", "google--gemma", ""),
        ("qwen", "qwen--qwen", ""),
        ("qwen2", "qwen--qwen", "also used by DeepSeek-R1-Distill-Qwen, NextCoder, AceReason"),
        ("qwen2_moe", "qwen--qwen", ""),
        ("qwen3", "qwen--qwen", ""),
        ("qwen3_5", "qwen--qwen", ""),
        ("phi", "microsoft--phi", ""),
        ("phi3", "microsoft--phi", ""),
        ("falcon", "tiiuae--falcon", ""),
        ("bloom", "bigscience--bloom", ""),
        ("mpt", "mosaicml--mpt", ""),
        ("baichuan", "baichuan--baichuan", ""),
        ("chatglm", "thudm--glm", ""),
        ("glm4", "zaiorg--glm", ""),
        ("internlm", "internlm--internlm", ""),
        ("internlm2", "internlm--internlm", ""),
        ("olmo", "allenai--olmo", ""),
        ("olmo2", "allenai--olmo", ""),
        ("stablelm", "stabilityai--stablelm", ""),
        ("cohere", "coherelabs--command", "Command R; also Aya 23"),
        ("minicpm", "openbmb--minicpm", ""),
        ("deepseek_v2", "deepseekai--deepseek", ""),
        ("granite", "ibmgranite--granite", ""),
        ("rwkv5", "rwkv--rwkv", ""),
    ];

    /// <summary>Name rules for records that carry no family (mlc-llm preset keys, ollama file names), first match wins.</summary>
    private static readonly (string Pattern, string Family)[] NameRules =
    [
        ("^mixtral", "mistralai--mistral"), ("^aya", "coherelabs--aya"), ("^baichuan", "baichuan--baichuan"), ("^chatglm", "thudm--glm"),
        ("^codellama", "codellama--codellama"), ("^deepseek", "deepseekai--deepseek"), ("^gemma", "google--gemma"), ("^gpt2", "openaicommunity--gpt"),
        ("^gpt_bigcode", "bigcode--starcoder"), ("^gpt_j", "eleutherai--gpt"), ("^internlm", "internlm--internlm"), ("^(meta-)?llama", "metallama--llama"),
        ("^llava", "llava--llava"), ("^minicpm", "openbmb--minicpm"), ("^ministral", "mistralai--ministral"), ("^mistral", "mistralai--mistral"),
        ("^olmo", "allenai--olmo"), ("^orion", "orionstar--orion"), ("^phi", "microsoft--phi"), ("^qwen", "qwen--qwen"),
        ("^redpajama", "togethercomputer--redpajama"), ("^rwkv", "rwkv--rwkv"), ("^smollm", "huggingfacetb--smollm"), ("^snowflake", "snowflake--arctic"),
        ("^stablelm", "stabilityai--stablelm"), ("^starcoder", "bigcode--starcoder"), ("^tinyllama", "tinyllama--tinyllama"),
        ("^c4ai-command", "coherelabs--command"), ("^all-minilm", "sentence-transformers--minilm"),
    ];

    public static ReferenceCatalog Build(string corpusRoot, Func<string, Tokenizer?>? loadTokenizer = null)
    {
        loadTokenizer ??= LoadTokenizer;
        string reference = Path.Combine(corpusRoot, "reference");
        var families = new Dictionary<string, CatalogFamily>(StringComparer.Ordinal);
        var models = new List<CatalogModel>();
        var relations = new List<CatalogRelation>();

        string cisco = Path.Combine(reference, "cisco-kit", "src", "provenancekit", "data", "database");
        foreach (var shard in Directory.GetFiles(Path.Combine(cisco, "catalog", "by-family"), "*.json").Order(StringComparer.Ordinal))
        {
            var family = Json(shard)["family"] as JsonObject ?? throw new LineageException("catalog shard has no family", shard);
            string id = family["family_id"]!.GetValue<string>();
            families[id] = new CatalogFamily(id, family["display_name"]?.GetValue<string>() ?? id, family["publisher"]?.GetValue<string>());
        }
        foreach (var f in ExtraFamilies) families.TryAdd(f.Id, f);
        foreach (var bundle in Directory.GetFiles(Path.Combine(cisco, "features", "base", "by-family"), "*_features.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            models.Add(FromCiscoBundle(Json(bundle), bundle));

        foreach (var (key, node) in Json(Path.Combine(reference, "configs", "mlc_llm_presets.json")).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (node is not JsonObject config) continue;
            var m = FromConfig(config, key, "mlc-llm", FamilyByName(key));
            if (m is not null) models.Add(m);
        }
        foreach (var file in Directory.GetFiles(Path.Combine(reference, "configs", "ollama-gguf-kv"), "*.json").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            var m = FromGgufKv(Json(file), name, FamilyByName(name));
            if (m is not null) models.Add(m);
        }
        FillLayersFromOtherSources(models);

        var bench = Json(Path.Combine(reference, "cisco-kit", "benchmarks", "Benchmark_All.json"));
        foreach (var (label, related) in new[] { ("similar", true), ("dissimilar", false) })
        {
            foreach (var pair in bench[label] as JsonArray ?? [])
            {
                var names = pair!["pair"] as JsonArray;
                if (names is null || names.Count != 2) continue;
                string a = names[0]!.GetValue<string>(), b = names[1]!.GetValue<string>();
                string provenance = pair["provenance"]?.GetValue<string>() ?? "";
                bool isRelated = related;
                string note = "";
                // Defect: Pythia vs Pythia-deduped is listed as similar, but its own note says they were trained
                // independently (same seed, different data): a shared initialisation, not a weight lineage.
                // (Its other "similar" pairs with provenance "none" are siblings of one parent: related, as in our ladder.)
                if (related && IsPythiaDeduped(a, b))
                {
                    isRelated = false;
                    note = "fixed: listed as similar upstream, but the two were trained independently from the same initialisation seed on different data (the Pile vs the deduplicated Pile): shared initialisation, not a weight lineage";
                }
                relations.Add(new CatalogRelation(a, b, isRelated, provenance, note));
            }
        }

        var tokenizers = new List<CatalogTokenizer>();
        foreach (var t in TokenizerSources.Where(t => t.Enabled))
        {
            string path = Path.Combine(corpusRoot, t.RelativePath);
            var tokenizer = loadTokenizer(path) ?? throw new LineageException("no tokenizer could be read", path);
            tokenizers.Add(CatalogBuilder.FromTokenizer(tokenizer, t.Id, t.Family, t.Name, "llama.cpp vocab files (" + Path.GetFileName(t.RelativePath) + ")"));
        }

        var usedFamilies = models.Select(m => m.Family).Concat(tokenizers.Select(t => t.Family)).Concat(ArchitectureOrigins.Select(a => a.Family)).ToHashSet(StringComparer.Ordinal);
        return new ReferenceCatalog
        {
            Note = "Compiled by 'lineage dev build-catalog' (tools/build-catalog.sh) from the shared corpus. Facts and hashes computed by Lineage; "
                + "names and numbers from the sources below, under their licenses. Metadata-level evidence only.",
            Sources =
            [
                new("cisco-kit", "Cisco Model Provenance Kit seed database (152 base models, 39 families) and its benchmark pair list", "Apache-2.0",
                    "reference/cisco-kit (LICENSE there)", "architecture facts from each bundle's model-feature block; fixed: rope_theta null in most bundles (taken from rope_scaling, position encoding corrected to rope), Pythia vs Pythia-deduped relabelled unrelated"),
                new("mlc-llm", "mlc-llm model config presets (67 Hugging Face config.json objects)", "Apache-2.0", "reference/configs/mlc_llm_presets.json", "architecture facts of each preset"),
                new("ollama", "ollama test fixtures: GGUF metadata of converted models", "MIT", "reference/configs/ollama-gguf-kv", "architecture facts from GGUF keys; tensor hashes not kept"),
                new("llama.cpp", "llama.cpp vocab-only GGUF files", "MIT", "real/tokenizers/llamacpp-vocab", "tokenizer fingerprints computed by Lineage (vocabulary hash, size, bottom-k sketch of token-text keys)"),
            ],
            Families = [.. families.Values.Where(f => usedFamilies.Contains(f.Id)).OrderBy(f => f.Id, StringComparer.Ordinal)],
            Architectures = [.. ArchitectureOrigins.Select(a => new CatalogArchitecture(a.ModelType, a.Family, a.Note)).OrderBy(a => a.ModelType, StringComparer.Ordinal)],
            Models = [.. models.OrderBy(m => m.Family, StringComparer.Ordinal).ThenBy(m => m.Id, StringComparer.Ordinal).ThenBy(m => m.Source, StringComparer.Ordinal)],
            Tokenizers = [.. tokenizers.OrderBy(t => t.Id, StringComparer.Ordinal)],
            Relations = [.. relations],
        };
    }

    private static bool IsPythiaDeduped(string a, string b) =>
        a.Contains("pythia", StringComparison.OrdinalIgnoreCase) && b.Contains("pythia", StringComparison.OrdinalIgnoreCase)
        && (a.EndsWith("-deduped", StringComparison.Ordinal) ^ b.EndsWith("-deduped", StringComparison.Ordinal));

    internal static Tokenizer? LoadTokenizer(string path)
    {
        using var model = ModelLoader.Open(path);
        return model.Tokenizer;
    }

    private static JsonObject Json(string path) => HfConfigReader.ReadJsonObject(path, 512L << 20);

    private static string FamilyByName(string name)
    {
        string lower = name.ToLowerInvariant();
        foreach (var (pattern, family) in NameRules)
            if (Regex.IsMatch(lower, pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))) return family;
        return "unknown";
    }

    private static CatalogModel FromCiscoBundle(JsonObject bundle, string path)
    {
        var mfi = bundle["mfi"] as JsonObject ?? throw new LineageException("bundle has no mfi block", path);
        var config = HfConfigReader.FromJson(mfi, path);
        var fixes = new List<string>();
        double? rope = mfi["rope_theta"] is JsonValue v && v.TryGetValue(out double d) ? d : null;
        string? position = mfi["pos_encoding"]?.GetValue<string>();
        var scaling = mfi["rope_scaling"] as JsonObject;
        if (rope is null)
        {
            rope = NestedRopeTheta(scaling);
            if (rope is not null) fixes.Add("rope_theta was null; taken from rope_scaling");
        }
        if (scaling is not null && position is "absolute")
        {
            position = "rope";
            fixes.Add("position encoding was 'absolute' (derived from the null rope_theta); the config has RoPE parameters");
        }
        string? norm = mfi["norm_type"]?.GetValue<string>() switch
        {
            "RMSNorm" => "rms",
            "LayerNorm" => "layernorm",
            _ => null,
        };
        int? tokenizerVocab = (bundle["tfv"] as JsonObject)?["vocab_size"] is JsonValue tv && tv.TryGetValue(out int n) ? n : null;
        return Model(config, bundle["model_id"]!.GetValue<string>(), bundle["family_id"]!.GetValue<string>(), "cisco-kit") with
        {
            RopeTheta = rope,
            PositionEncoding = position is "RoPE" or "rope" or "rope_gptj" ? "rope" : position,
            Norm = norm,
            TokenizerVocab = tokenizerVocab,
            Fixes = fixes,
        };
    }

    private static double? NestedRopeTheta(JsonObject? scaling)
    {
        if (scaling is null) return null;
        if (scaling["rope_theta"] is JsonValue v && v.TryGetValue(out double d)) return d;
        foreach (var key in new[] { "full_attention", "sliding_attention" })
            if (scaling[key] is JsonObject o && o["rope_theta"] is JsonValue w && w.TryGetValue(out double e)) return e;
        return null;
    }

    private static CatalogModel? FromConfig(JsonObject json, string id, string source, string family)
    {
        var config = HfConfigReader.FromJson(json, id);
        if (config.HiddenSize is null || config.NumLayers is null) return null;
        string? norm = json.ContainsKey("rms_norm_eps") ? "rms"
            : json.ContainsKey("layer_norm_eps") || json.ContainsKey("layer_norm_epsilon") || json.ContainsKey("layernorm_epsilon") ? "layernorm" : null;
        return Model(config, id, family, source) with
        {
            Norm = norm,
            PositionEncoding = config.RopeTheta is not null || json.ContainsKey("rope_scaling") ? "rope" : null,
        };
    }

    private static CatalogModel? FromGgufKv(JsonObject kv, string id, string family)
    {
        string? arch = kv["general.architecture"]?.GetValue<string>();
        if (arch is null) return null;
        int? Int(string key) => kv[$"{arch}.{key}"]?.GetValue<string>() is { } s && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;
        double? Dbl(string key) => kv[$"{arch}.{key}"]?.GetValue<string>() is { } s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : null;
        int? hidden = Int("embedding_length"), layers = Int("block_count");
        if (hidden is null || layers is null) return null;
        return new CatalogModel
        {
            Id = id,
            Family = family,
            Source = "ollama",
            ModelType = CatalogNames.NormalizeModelType(arch),
            Hidden = hidden.Value,
            Layers = layers.Value,
            Heads = Int("attention.head_count"),
            KeyValueHeads = Int("attention.head_count_kv"),
            Intermediate = Int("feed_forward_length"),
            Vocab = Int("vocab_size") ?? 0,
            Experts = Int("expert_count"),
            Norm = kv.ContainsKey($"{arch}.attention.layer_norm_rms_epsilon") ? "rms" : kv.ContainsKey($"{arch}.attention.layer_norm_epsilon") ? "layernorm" : null,
            RopeTheta = Dbl("rope.freq_base"),
            PositionEncoding = kv.ContainsKey($"{arch}.rope.dimension_count") || kv.ContainsKey($"{arch}.rope.freq_base") ? "rope" : null,
        };
    }

    private static CatalogModel Model(ModelConfig c, string id, string family, string source) => new()
    {
        Id = id,
        Family = family,
        Source = source,
        ModelType = c.ModelType is null ? null : CatalogNames.NormalizeModelType(c.ModelType),
        Architecture = c.Architecture,
        Hidden = c.HiddenSize ?? 0,
        Layers = c.NumLayers ?? 0,
        Heads = c.NumHeads,
        KeyValueHeads = c.NumKeyValueHeads ?? c.NumHeads,
        Intermediate = c.IntermediateSize,
        Vocab = c.VocabSize ?? 0,
        Experts = c.NumExperts,
        RopeTheta = c.RopeTheta,
        TieEmbeddings = c.TieWordEmbeddings,
    };

    /// <summary>
    /// Defect: some bundles state 0 layers and 0 MLP width (ChatGLM's config calls them num_layers and
    /// ffn_hidden_size); take them from another source's record of the same family and shape.
    /// </summary>
    private static void FillLayersFromOtherSources(List<CatalogModel> models)
    {
        for (int i = 0; i < models.Count; i++)
        {
            var m = models[i];
            if (m.Layers > 0) continue;
            var donor = models.FirstOrDefault(o => o.Layers > 0 && o.Family == m.Family && o.Hidden == m.Hidden && o.Vocab == m.Vocab
                && (m.Intermediate is null or 0 || o.Intermediate == m.Intermediate));
            if (donor is null) continue;
            var fixes = new List<string>(m.Fixes) { $"layers was 0; taken from {donor.Source} '{donor.Id}' (same family, width and vocabulary)" };
            int? intermediate = m.Intermediate;
            if (m.Intermediate is null or 0 && donor.Intermediate is > 0)
            {
                intermediate = donor.Intermediate;
                fixes.Add($"intermediate size was 0; taken from {donor.Source} '{donor.Id}'");
            }
            models[i] = m with { Layers = donor.Layers, Intermediate = intermediate, Fixes = fixes };
        }
    }
}
