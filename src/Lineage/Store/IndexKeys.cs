using System.Globalization;
using Lineage.Models.Canonical;
using Lineage.Provenance;

namespace Lineage.Store;

/// <summary>
/// The compact, indexed keys a store prunes candidates with, derived from a fingerprint so that every backend
/// computes the same keys. Tokenizer keys (the order-sensitive vocabulary hash and the few smallest keys of
/// the vocabulary's bottom-k sketch) survive vocabulary extension and re-export; architecture keys (hidden
/// size, depth, model type, norm kind, vocabulary size) survive casts, quantization and fine-tuning. Pruning
/// keeps an entry when either family of keys agrees, so a derivative that changed one of them (pruned
/// layers, an extended vocabulary, another file format) is still a candidate.
/// </summary>
public sealed record IndexKeys
{
    /// <summary>How many of the smallest vocabulary-sketch keys are indexed per entry.</summary>
    public const int VocabularyKeyCount = 8;

    /// <summary>An entry sharing at least this many of the query's indexed vocabulary keys is a candidate.</summary>
    public const int MinimumSharedVocabularyKeys = 2;

    /// <summary>Order-sensitive hash of the whole vocabulary; null when the model had no tokenizer.</summary>
    public ulong? VocabularyHash { get; init; }

    /// <summary>The smallest text keys of the vocabulary (ascending, at most <see cref="VocabularyKeyCount"/>).</summary>
    public IReadOnlyList<ulong> VocabularyKeys { get; init; } = [];

    public int VocabSize { get; init; }

    public int Hidden { get; init; }

    public int Layers { get; init; }

    /// <summary>Lower-case model type ("llama", "gpt2", …) or null.</summary>
    public string? ModelType { get; init; }

    public NormKind NormKind { get; init; }

    /// <summary>Hash of (hidden, layers, model type, norm kind): equal for the same architecture shape.</summary>
    public ulong ArchitectureKey { get; init; }

    public static IndexKeys From(Fingerprint fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var facts = fingerprint.Facts;
        string? type = string.IsNullOrWhiteSpace(facts.ModelType) ? null : facts.ModelType.Trim().ToLowerInvariant();
        return new IndexKeys
        {
            VocabularyHash = fingerprint.HasTokenizer ? fingerprint.VocabularyHash : null,
            VocabularyKeys = fingerprint.HasTokenizer ? [.. fingerprint.VocabularySketch.Order().Take(VocabularyKeyCount)] : [],
            VocabSize = facts.Vocab,
            Hidden = facts.Hidden,
            Layers = facts.Layers,
            ModelType = type,
            NormKind = facts.NormKind,
            ArchitectureKey = TokenKeys.ForText(string.Create(CultureInfo.InvariantCulture, $"{facts.Hidden}|{facts.Layers}|{type}|{facts.NormKind}")),
        };
    }

    /// <summary>
    /// How strongly the keys of an entry agree with the query's (higher first): the order in which a store
    /// returns candidates when it must cut the list. Context for ranking only, never evidence of lineage.
    /// </summary>
    public int Affinity(IndexKeys entry, int sharedVocabularyKeys)
    {
        ArgumentNullException.ThrowIfNull(entry);
        int score = sharedVocabularyKeys;
        if (VocabularyHash is not null && VocabularyHash == entry.VocabularyHash) score += 8;
        if (Hidden > 0 && Hidden == entry.Hidden) score += 4;
        if (Layers > 0 && Layers == entry.Layers) score += 2;
        if (ModelType is not null && ModelType == entry.ModelType) score += 1;
        if (VocabSize > 0 && VocabSize == entry.VocabSize) score += 1;
        return score;
    }

    /// <summary>The pruning rule every backend implements (the SQL of a backend is this predicate).</summary>
    public bool IsCandidate(IndexKeys entry, int sharedVocabularyKeys)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (VocabularyHash is not null && VocabularyHash == entry.VocabularyHash) return true;
        if (sharedVocabularyKeys >= MinimumSharedVocabularyKeys) return true;
        if (Hidden > 0) return Hidden == entry.Hidden;
        return VocabSize > 0 && VocabSize == entry.VocabSize;
    }
}
