namespace Lineage.Provenance;

/// <summary>One piece of evidence: a calibrated statistic with its p-value under "independently trained".</summary>
public sealed record Signal(string Name, double Value, double? PValue, string Detail);

/// <summary>Which layer of B best matches each layer of A, and how strongly (fraction of rows matched).</summary>
public sealed record LayerCorrespondence(IReadOnlyList<string> LayersA, IReadOnlyList<string> LayersB, double[][] Similarity, IReadOnlyList<LayerPair> Best);

public sealed record LayerPair(string A, string B, double Similarity);

/// <summary>Stage-1 facts: reported as context, never as a verdict.</summary>
public sealed record ComparisonContext(string ArchitectureRelation, IReadOnlyList<string> ConfigDifferences, string TokenizerRelation, string AnchorAlignment, int SharedAnchors);

public sealed record ComparisonResult
{
    /// <summary>true, false, or null when inconclusive.</summary>
    public bool? Related { get; init; }

    /// <summary>identical | derived | unrelated | inconclusive.</summary>
    public required string Verdict { get; init; }

    /// <summary>0..1, higher = more likely related; 0.5 at the decision threshold.</summary>
    public double Score { get; init; }

    /// <summary>log10 of the combined p-value under the independence hypothesis.</summary>
    public double Log10PValue { get; init; }

    /// <summary>The nominal false-positive rate of the decision rule (the p-value threshold).</summary>
    public double FalsePositiveRate { get; init; }

    public required IReadOnlyList<Signal> Signals { get; init; }

    public required IReadOnlyList<string> Evidence { get; init; }

    public required IReadOnlyList<string> Transformations { get; init; }

    public LayerCorrespondence? LayerMap { get; init; }

    public required ComparisonContext Context { get; init; }

    public string A { get; init; } = "";

    public string B { get; init; } = "";
}
