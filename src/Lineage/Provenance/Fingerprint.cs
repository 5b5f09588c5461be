using Lineage.Models.Canonical;

namespace Lineage.Provenance;

/// <summary>A vocabulary anchor: a token chosen by a bottom-k sketch, known by its text key and its id.</summary>
public readonly record struct Anchor(ulong TextKey, int Id);

/// <summary>
/// Token-space signatures of sampled rows of one weight matrix. A row w that reads the residual stream is
/// summarised as s = normalize(Ê · (w ⊙ γ)) over the anchor tokens, where Ê holds the model's own
/// normalised anchor embeddings and γ the norm gain that feeds the matrix. The residual basis cancels, so
/// signatures survive residual permutations, orthogonal rotations and gains folded into weights.
/// </summary>
public sealed class RowGroup
{
    public required string Stack { get; init; }

    public required int Layer { get; init; }

    public required TensorRole Role { get; init; }

    public int Expert { get; init; } = -1;

    /// <summary>Rows in the whole matrix.</summary>
    public required int TotalRows { get; init; }

    /// <summary>Which rows were sampled (canonical row indices).</summary>
    public required int[] RowIndices { get; init; }

    /// <summary>Row-major [RowIndices.Length × anchors] unit-norm signatures.</summary>
    public required float[] Signatures { get; init; }

    public int Count => RowIndices.Length;

    public string Label => (Stack.Length == 0 ? $"L{Layer}" : $"{Stack[0]}{Layer}") + "." + Role.ShortName() + (Expert >= 0 ? $"[e{Expert}]" : "");
}

/// <summary>
/// Raw values of one tensor at fixed sampled positions (canonical coordinates), compared index-to-index:
/// the direct evidence for casts, quantizations and fine-tunes that kept the layout. For matrices small
/// enough to read whole, <see cref="TransposedStore"/> holds the values a reader would see if the file had
/// stored the matrix transposed under the same shape (llama2.c exports and some ONNX MatMul weights do).
/// </summary>
public sealed class TensorSample
{
    public required string Key { get; init; }

    public required long Elements { get; init; }

    public required float[] Values { get; init; }

    public float[]? TransposedStore { get; init; }
}

/// <summary>A norm gain vector (kept raw: it is small and identifies exact copies across layouts).</summary>
public sealed record NormVector(string Stack, int Layer, string Kind, float[] Values);

/// <summary>Architecture and tokenizer facts: stage-1 context, never a verdict.</summary>
public sealed record ModelFacts
{
    public string? ModelType { get; init; }

    public string? Architecture { get; init; }

    public int Hidden { get; init; }

    public int Layers { get; init; }

    public int? Heads { get; init; }

    public int? KeyValueHeads { get; init; }

    public int? Intermediate { get; init; }

    public int Vocab { get; init; }

    public int? Experts { get; init; }

    public NormKind NormKind { get; init; }

    public long Parameters { get; init; }

    public string Format { get; init; } = "";

    public bool TiedEmbeddings { get; init; }

    public string? TokenizerKind { get; init; }

    public int TokenizerVocab { get; init; }

    /// <summary>The element type holding most parameters (F32, BF16, Q8_0, …): a lower precision suggests the derived copy.</summary>
    public string? DType { get; init; }

    /// <summary>Bits per weight of <see cref="DType"/> (block types included), 0 when unknown.</summary>
    public double BitsPerWeight { get; init; }
}

/// <summary>
/// Everything compare needs from a model's weights, tokenizer and config, in kilobytes to a few megabytes.
/// </summary>
public sealed class Fingerprint
{
    public const int CurrentVersion = 2;

    public int Version { get; init; } = CurrentVersion;

    public required string Source { get; init; }

    public required ModelFacts Facts { get; init; }

    /// <summary>Text keys of the whole vocabulary's bottom-k sketch (for tokenizer relations), ascending.</summary>
    public ulong[] VocabularySketch { get; init; } = [];

    /// <summary>Order-sensitive hash of the full vocabulary's text keys (equal = identical vocabulary).</summary>
    public ulong VocabularyHash { get; init; }

    /// <summary>Text keys of the first and last 64 tokens (prefix/suffix relations: extension, truncation).</summary>
    public ulong[] VocabularyHead { get; init; } = [];

    public bool HasTokenizer { get; init; }

    public required Anchor[] Anchors { get; init; }

    /// <summary>Signatures of the anchor tokens' own embeddings (their normalised Gram rows).</summary>
    public RowGroup? Embedding { get; init; }

    /// <summary>Signatures of the untied output projection's rows at the anchor tokens.</summary>
    public RowGroup? LmHead { get; init; }

    public required IReadOnlyList<RowGroup> Groups { get; init; }

    public required IReadOnlyList<NormVector> Norms { get; init; }

    public IReadOnlyList<TensorSample> Samples { get; init; } = [];

    /// <summary>Bytes of tensor data read to compute this fingerprint, and the model's total.</summary>
    public long BytesRead { get; init; }

    public long ModelBytes { get; init; }

    /// <summary>The same fingerprint under another source name (a local and a remote copy of one model differ only there).</summary>
    public Fingerprint WithSource(string source) => new()
    {
        Version = Version,
        Source = source,
        Facts = Facts,
        VocabularySketch = VocabularySketch,
        VocabularyHash = VocabularyHash,
        VocabularyHead = VocabularyHead,
        HasTokenizer = HasTokenizer,
        Anchors = Anchors,
        Embedding = Embedding,
        LmHead = LmHead,
        Groups = Groups,
        Norms = Norms,
        Samples = Samples,
        BytesRead = BytesRead,
        ModelBytes = ModelBytes,
    };
}
