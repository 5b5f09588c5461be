using System.Globalization;
using Lineage.Models;
using Lineage.Provenance;

namespace Lineage.Catalog;

/// <summary>Builds catalog records from loaded artifacts (any <see cref="Tokenizer"/>, whatever file it came from).</summary>
public static class CatalogBuilder
{
    /// <summary>Sketch size kept per catalog tokenizer: Jaccard estimates to about ±0.03.</summary>
    public const int DefaultSketchSize = 256;

    /// <summary>
    /// A tokenizer's catalog fingerprint. The vocabulary hash and sketch use the same token-text keys and
    /// formulas as <see cref="FingerprintExtractor"/>, so a model's fingerprint can be looked up directly.
    /// </summary>
    public static CatalogTokenizer FromTokenizer(Tokenizer tokenizer, string id, string family, string name, string source, int sketchSize = DefaultSketchSize)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var keys = TokenKeys.ForVocabulary(tokenizer);
        return new CatalogTokenizer
        {
            Id = id,
            Family = family,
            Name = name,
            Source = source,
            Kind = tokenizer.Kind.ToString(),
            VocabSize = tokenizer.VocabSize,
            VocabularyHash = VocabularyHash(keys).ToString("x16", CultureInfo.InvariantCulture),
            Sketch = [.. keys.Distinct().Order().Take(sketchSize)],
        };
    }

    /// <summary>Order-sensitive hash of a vocabulary's text keys (the fingerprint's <see cref="Fingerprint.VocabularyHash"/>).</summary>
    public static ulong VocabularyHash(IEnumerable<ulong> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ulong h = 0xCBF29CE484222325UL;
        foreach (ulong k in keys) h = TokenKeys.Mix(h ^ k);
        return h;
    }
}

/// <summary>Estimates relations between vocabularies from bottom-k sketches of their token-text keys.</summary>
public static class TokenizerSimilarity
{
    public static TokenizerMatch? Relate(ulong vocabularyHash, IReadOnlyList<ulong> sketch, int vocabSize, CatalogTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(sketch);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (ulong.TryParse(tokenizer.VocabularyHash, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong hash) && hash == vocabularyHash)
            return new TokenizerMatch(tokenizer, "identical to", 0, 1, 1, $"same {tokenizer.VocabSize} tokens in the same order");
        if (sketch.Count == 0 || tokenizer.Sketch.Length == 0) return null;
        var (jaccard, inQuery, inCatalog) = Estimate(sketch, tokenizer.Sketch);
        string sizes = string.Create(CultureInfo.InvariantCulture, $"Jaccard ≈ {jaccard:F3}; {vocabSize} vs {tokenizer.VocabSize} tokens");
        // inQuery: share of the catalog tokenizer's tokens found in the query; inCatalog: the reverse.
        // Extension and truncation keep most of a vocabulary (Jaccard ≥ 0.5): a small tokenizer trained on
        // English is always nearly contained in a large one, which says nothing about lineage.
        if (vocabSize > tokenizer.VocabSize && inQuery >= 0.97 && jaccard >= 0.5)
            return new TokenizerMatch(tokenizer, "extends", 2, jaccard, inQuery, string.Create(CultureInfo.InvariantCulture, $"keeps ~{inQuery:P0} of its tokens and adds {vocabSize - tokenizer.VocabSize}; {sizes}"));
        if (vocabSize < tokenizer.VocabSize && inCatalog >= 0.97 && jaccard >= 0.5)
            return new TokenizerMatch(tokenizer, "is a subset of", 2, jaccard, inCatalog, string.Create(CultureInfo.InvariantCulture, $"~{inCatalog:P0} of its tokens are in it, {tokenizer.VocabSize - vocabSize} fewer; {sizes}"));
        if (jaccard >= 0.97)
            return new TokenizerMatch(tokenizer, "has the same tokens as", 1, jaccard, Math.Min(inQuery, inCatalog), sizes + "; order or special tokens differ");
        if (jaccard >= 0.5)
            return new TokenizerMatch(tokenizer, "overlaps", 3, jaccard, Math.Min(inQuery, inCatalog), sizes);
        return null;
    }

    /// <summary>
    /// Jaccard and both containments from two bottom-k sketches of one hash: below the smaller of the two
    /// sketches' largest keys, both sketches hold every key of their sets, so the counts there are exact
    /// samples of the whole vocabularies.
    /// </summary>
    /// <summary>Returns (Jaccard, share of b in a, share of a in b).</summary>
    private static (double Jaccard, double BInA, double AInB) Estimate(IReadOnlyList<ulong> a, IReadOnlyList<ulong> b)
    {
        ulong limit = Math.Min(a[^1], b[^1]);
        int i = 0, j = 0, both = 0, onlyA = 0, onlyB = 0;
        while (i < a.Count && a[i] <= limit || j < b.Count && b[j] <= limit)
        {
            ulong x = i < a.Count && a[i] <= limit ? a[i] : ulong.MaxValue;
            ulong y = j < b.Count && b[j] <= limit ? b[j] : ulong.MaxValue;
            if (x == y) { both++; i++; j++; }
            else if (x < y) { onlyA++; i++; }
            else { onlyB++; j++; }
        }
        int union = both + onlyA + onlyB;
        if (union == 0) return (0, 0, 0);
        return ((double)both / union, (double)both / Math.Max(1, both + onlyB), (double)both / Math.Max(1, both + onlyA));
    }
}

/// <summary>Spelling rules shared by the catalog builder and lookups.</summary>
public static class CatalogNames
{
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["gptneox"] = "gpt_neox",
        ["gpt-neox"] = "gpt_neox",
        ["xlm-roberta"] = "xlm_roberta",
        ["qwen2moe"] = "qwen2_moe",
        ["command-r"] = "cohere",
        ["gpt_bigcode"] = "gpt_bigcode",
        ["starcoder"] = "gpt_bigcode",
        ["gemma3_text"] = "gemma3",
        ["mpt"] = "mpt",
    };

    /// <summary>Lower-case model type with GGUF and Hugging Face spellings unified.</summary>
    public static string NormalizeModelType(string modelType)
    {
        ArgumentNullException.ThrowIfNull(modelType);
        string key = modelType.Trim().ToLowerInvariant();
        return Aliases.TryGetValue(key, out var alias) ? alias : key.Replace('-', '_');
    }
}
