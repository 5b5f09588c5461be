using System.Text.Json.Nodes;
using Lineage.Models.Canonical;
using Lineage.Provenance;

namespace Lineage.Benchmarks;

/// <summary>
/// Generates synthetic fingerprint entries for the identify benchmark: realistic keys, small payloads (~3 KB).
/// Architectures are drawn from the 2,980 real Hugging Face configs of the shared corpus
/// (reference/configs/gpu_poor_all_configs.json; a built-in list without it), vocabularies from 60 synthetic
/// tokenizer families with size-matched variants (extended, truncated), and embeddings from random
/// geometry. A share of the entries is a deliberately hard cluster: the exact keys of a given real model
/// (same width, depth, type, vocabulary size, token-id anchors), so key pruning keeps all of them and the
/// weight sketch has to rule them out.
/// </summary>
public static class SyntheticFingerprints
{
    private sealed record Arch(string Type, int Hidden, int Layers, int Vocab, int Heads, int Intermediate);

    private static readonly Arch[] BuiltIn =
    [
        new("llama", 4096, 32, 32000, 32, 11008), new("llama", 5120, 40, 32000, 40, 13824), new("mistral", 4096, 32, 32000, 32, 14336),
        new("qwen2", 3584, 28, 152064, 28, 18944), new("gpt2", 768, 12, 50257, 12, 3072), new("gpt_neox", 2048, 24, 50304, 16, 8192),
        new("phi3", 3072, 32, 32064, 32, 8192), new("gemma", 2048, 18, 256000, 8, 16384), new("llama", 2048, 22, 32000, 32, 5632),
    ];

    /// <summary>Anchors per synthetic fingerprint: more than the weight sketch keeps (32), few enough to stay ~3 KB.</summary>
    public const int Anchors = 40;

    /// <summary>
    /// Yields <paramref name="count"/> entries; <paramref name="hardShare"/> of them copy <paramref name="hardKeys"/>'s
    /// keys. Entry i depends only on (seed, i), so chunks are generated in parallel and the output is the same
    /// on every run.
    /// </summary>
    public static IEnumerable<(string Id, string Family, Fingerprint Fingerprint)> Generate(int count, string? corpus, Fingerprint? hardKeys, double hardShare, int seed = 1)
    {
        var archs = LoadArchitectures(corpus);
        const int families = 60;
        var familySketches = Enumerable.Range(0, families).Select(FamilySketch).ToArray();
        var idAnchors = new System.Collections.Concurrent.ConcurrentDictionary<int, int[]>();
        // The hard cluster takes the real model's anchors that the id-keyed sketch picks (smallest id keys).
        int[] hardAnchors = hardKeys is null ? [] : [.. hardKeys.Anchors.Select(a => a.Id).OrderBy(id => TokenKeys.ForId(id)).Take(Anchors).Order()];
        for (int start = 0; start < count; start += 4096)
        {
            var chunk = Enumerable.Range(start, Math.Min(4096, count - start)).AsParallel().AsOrdered()
                .Select(i => One(i, seed, archs, familySketches, idAnchors, hardKeys, hardAnchors, hardShare)).ToList();
            foreach (var e in chunk) yield return e;
        }
    }

    private static (string Id, string Family, Fingerprint Fingerprint) One(int i, int seed, List<Arch> archs, ulong[][] familySketches,
        System.Collections.Concurrent.ConcurrentDictionary<int, int[]> idAnchors, Fingerprint? hardKeys, int[] hardAnchors, double hardShare)
    {
        var rng = new Random(HashCode.Combine(seed, i, 0x5EED));
        bool hard = hardKeys is not null && rng.NextDouble() < hardShare;
        if (hard) return ($"hard-{i:D7}", "hard-cluster", Make(rng, hardKeys!.Facts, hardAnchors, null, 0, $"hard-{i}"));
        var arch = archs[rng.Next(archs.Count)];
        int family = rng.Next(familySketches.Length);
        // Vocabularies are represented by what the store sees: the bottom-k sketch and the hash. A family's
        // sketch is fixed; a third of the entries extend or truncate it (fine-tunes, re-exports).
        var sketch = familySketches[family];
        int vocabSize = arch.Vocab;
        ulong variant = 0;
        double roll = rng.NextDouble();
        if (roll < 0.15)
        {
            int added = 1 + rng.Next(256);
            vocabSize += added;
            variant = (ulong)i;
            var extra = Enumerable.Range(0, 1 + added * SketchKeys / Math.Max(SketchKeys, vocabSize)).Select(k => TokenKeys.ForText($"added:{i}:{k}"));
            sketch = [.. sketch.Concat(extra).Distinct().Order().Take(SketchKeys)];
        }
        else if (roll < 0.3)
        {
            vocabSize = Math.Max(256, vocabSize - rng.Next(1, 128));
            variant = (ulong)i;
        }
        var facts = new ModelFacts
        {
            ModelType = arch.Type, Hidden = arch.Hidden, Layers = arch.Layers, Heads = arch.Heads, Intermediate = arch.Intermediate,
            Vocab = vocabSize, NormKind = arch.Type is "gpt2" or "gpt_neox" ? NormKind.LayerNorm : NormKind.Rms, Format = "synthetic",
            TokenizerVocab = vocabSize, TokenizerKind = "SentencePieceBpe",
        };
        ulong hash = TokenKeys.ForText($"vocab:{family}:{vocabSize}:{variant}");
        var ids = idAnchors.GetOrAdd(vocabSize, v => IdAnchors(v, Anchors));
        return ($"synthetic-{i:D7}", $"family-{family:D2}", Make(rng, facts, ids, sketch, hash, $"synthetic-{i}"));
    }

    /// <summary>Vocabulary-sketch keys kept per synthetic fingerprint (the store indexes the 8 smallest).</summary>
    private const int SketchKeys = 64;

    private static int[] IdAnchors(int vocab, int count)
    {
        // The extractor's id anchors: the ids with the smallest id keys (a heap keeps this cheap for big vocabularies).
        var heap = new PriorityQueue<int, ulong>(Comparer<ulong>.Create((x, y) => y.CompareTo(x)));
        for (int t = 0; t < vocab; t++)
        {
            ulong k = TokenKeys.ForId(t);
            if (heap.Count < count) heap.Enqueue(t, k);
            else if (heap.TryPeek(out _, out ulong top) && k < top) heap.DequeueEnqueue(t, k);
        }
        return [.. heap.UnorderedItems.Select(x => x.Element).Order()];
    }

    private static ulong[] FamilySketch(int family)
    {
        // Uniform keys below a family-specific scale, as the smallest keys of a ~100k-token vocabulary would be.
        var r = new Random(family * 7919 + 13);
        return [.. Enumerable.Range(0, SketchKeys).Select(_ => (ulong)r.NextInt64(1, long.MaxValue / 800_000)).Distinct().Order()];
    }

    private static Fingerprint Make(Random rng, ModelFacts facts, int[] anchorIds, ulong[]? sketch, ulong hash, string source)
    {
        int n = anchorIds.Length;
        var anchors = anchorIds.Select((id, k) => new Anchor(sketch is not null && k < sketch.Length ? sketch[k] : 0, id)).ToArray();
        const int dims = 16;
        var e = new float[n * dims];
        for (int i = 0; i < e.Length; i++) e[i] = (float)(rng.NextDouble() * 2 - 1);
        var gram = new float[n * n];
        for (int i = 0; i < n; i++)
        {
            double norm = 0;
            for (int j = 0; j < n; j++)
            {
                float dot = 0;
                for (int k = 0; k < dims; k++) dot += e[i * dims + k] * e[j * dims + k];
                gram[i * n + j] = dot;
                norm += dot * dot;
            }
            for (int j = 0; j < n; j++) gram[i * n + j] /= (float)Math.Sqrt(norm);
        }
        var rows = Enumerable.Range(0, 4).ToArray();
        var groups = Enumerable.Range(0, 1).Select(layer => new RowGroup
        {
            Stack = "", Layer = layer, Role = TensorRole.Up, TotalRows = 4 * facts.Hidden, RowIndices = rows,
            Signatures = [.. Enumerable.Range(0, rows.Length * n).Select(_ => (float)(rng.NextDouble() * 2 - 1) / MathF.Sqrt(n))],
        }).ToList();
        return new Fingerprint
        {
            Source = source,
            Facts = facts,
            HasTokenizer = sketch is not null,
            VocabularyHash = hash,
            VocabularySketch = sketch ?? [],
            VocabularyHead = [],
            Anchors = anchors,
            Embedding = new RowGroup { Stack = "", Layer = -1, Role = TensorRole.TokenEmbedding, TotalRows = facts.Vocab, RowIndices = anchorIds, Signatures = gram },
            Groups = groups,
            Norms = [],
        };
    }

    private static List<Arch> LoadArchitectures(string? corpus)
    {
        string? path = corpus is null ? null : Path.Combine(corpus, "reference", "configs", "gpu_poor_all_configs.json");
        if (path is null || !File.Exists(path)) return [.. BuiltIn];
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var result = new List<Arch>();
        foreach (var (_, node) in root.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (node is not JsonObject c) continue;
            int? Int(params string[] keys) => keys.Select(k => c[k] is JsonValue v && v.TryGetValue(out int x) ? x : (int?)null).FirstOrDefault(x => x is not null);
            int? hidden = Int("hidden_size", "n_embd", "d_model"), layers = Int("num_hidden_layers", "n_layer", "num_layers"), vocab = Int("vocab_size");
            if (hidden is not > 0 || layers is not > 0 || vocab is not (> 0 and < 400_000)) continue;
            string type = (c["architectures"] as JsonArray)?.FirstOrDefault()?.GetValue<string>().ToLowerInvariant().Replace("forcausallm", "", StringComparison.Ordinal) ?? "unknown";
            result.Add(new Arch(type, hidden.Value, layers.Value, vocab.Value, Int("num_attention_heads", "n_head", "num_heads") ?? 0, Int("intermediate_size", "n_inner", "d_ff") ?? 0));
        }
        return result.Count > 0 ? result : [.. BuiltIn];
    }
}
