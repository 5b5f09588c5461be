using Lineage.Models.Canonical;
using Lineage.Provenance;

namespace Lineage.Tests.Store;

/// <summary>Small fingerprints built in code (no corpus): enough structure for the store, keys and sketches.</summary>
internal static class SyntheticFingerprints
{
    public static Fingerprint Make(int seed, int hidden = 64, int layers = 2, int vocab = 1000, ulong[]? vocabulary = null,
        bool tokenizer = true, int anchors = 48, string modelType = "llama", double noise = 0, int noiseSeed = 0)
    {
        var rng = new Random(seed);
        vocabulary ??= [.. Enumerable.Range(0, vocab).Select(i => TokenKeys.ForText($"tok{seed}:{i}"))];
        var anchorList = Enumerable.Range(0, anchors).Select(i => new Anchor(tokenizer ? vocabulary[i * (vocabulary.Length / anchors)] : 0, i * (vocab / anchors))).ToArray();
        const int dims = 12;
        var vectors = new double[anchors * dims];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = rng.NextDouble() * 2 - 1;
        // A relative: the same geometry with independent noise (a fine-tune of the same base).
        var perturb = new Random(noiseSeed);
        if (noise > 0)
            for (int i = 0; i < vectors.Length; i++) vectors[i] += noise * (perturb.NextDouble() * 2 - 1);
        var sig = new float[anchors * anchors];
        for (int i = 0; i < anchors; i++)
        {
            double norm = 0;
            for (int j = 0; j < anchors; j++)
            {
                double dot = 0;
                for (int k = 0; k < dims; k++) dot += vectors[i * dims + k] * vectors[j * dims + k];
                sig[i * anchors + j] = (float)dot;
                norm += dot * dot;
            }
            for (int j = 0; j < anchors; j++) sig[i * anchors + j] /= (float)Math.Sqrt(norm);
        }
        return new Fingerprint
        {
            Source = $"synthetic-{seed}",
            Facts = new ModelFacts { ModelType = modelType, Hidden = hidden, Layers = layers, Vocab = vocab, NormKind = NormKind.Rms, Format = "synthetic", TokenizerVocab = tokenizer ? vocab : 0 },
            HasTokenizer = tokenizer,
            VocabularyHash = tokenizer ? Lineage.Catalog.CatalogBuilder.VocabularyHash(vocabulary) : 0,
            VocabularySketch = tokenizer ? [.. vocabulary.Distinct().Order().Take(256)] : [],
            Anchors = anchorList,
            Embedding = new RowGroup { Stack = "", Layer = -1, Role = TensorRole.TokenEmbedding, TotalRows = vocab, RowIndices = [.. anchorList.Select(a => a.Id)], Signatures = sig },
            Groups = [],
            Norms = [new NormVector("", -1, "final", [.. Enumerable.Range(0, hidden).Select(_ => (float)rng.NextDouble())])],
        };
    }

    public static Lineage.Store.NewEntry Entry(string id, Fingerprint fp, string? family = null) =>
        new() { ModelId = id, Family = family, Fingerprint = fp, Serialized = FingerprintSerializer.Serialize(fp) };
}
