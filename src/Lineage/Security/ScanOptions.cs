using Lineage.Security.Policy;

namespace Lineage.Security;

/// <summary>Knobs of a scan. Defaults are the safe ones; limits keep hostile inputs bounded.</summary>
public sealed record ScanOptions
{
    /// <summary>The allow-list policy for pickle callables and config references (all safe profiles by default).</summary>
    public CallablePolicy Policy { get; init; } = CallablePolicy.Default;

    /// <summary>Analyzers in dispatch order; null means <see cref="Scanner.DefaultAnalyzers"/>.</summary>
    public IReadOnlyList<IFormatAnalyzer>? Analyzers { get; init; }

    /// <summary>How deep archives may nest inside archives before the member is refused.</summary>
    public int MaxNestingDepth { get; init; } = 8;

    /// <summary>How deep folders are walked.</summary>
    public int MaxDirectoryDepth { get; init; } = 64;

    /// <summary>How many files one run reports before refusing the rest (fail closed).</summary>
    public int MaxFiles { get; init; } = 200_000;

    /// <summary>Largest JSON / YAML / template text analysed (bytes); larger text files fail closed.</summary>
    public long MaxTextBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Largest chat template analysed in full (characters).</summary>
    public int MaxTemplateChars { get; init; } = 1024 * 1024;

    /// <summary>Bytes one compressed member or stream may expand to (it is held in memory while it is scanned).</summary>
    public long MaxExpandedBytes { get; init; } = 1L << 30;

    /// <summary>Bytes all compressed members of one file may expand to together (nested archives included).</summary>
    public long MaxExpandedBytesPerFile { get; init; } = 4L << 30;

    /// <summary>Expansion ratio allowed once a member has expanded past <see cref="RatioGraceBytes"/> (zip bombs).</summary>
    public double MaxCompressionRatio { get; init; } = 250;

    /// <summary>Output below which any compression ratio is accepted (all-zero tensors compress ~1000:1).</summary>
    public long RatioGraceBytes { get; init; } = 16L << 20;

    /// <summary>Operation, depth and size limits of the symbolic pickle machine (exceeding them is LIN-SCAN-006).</summary>
    public Formats.Pickle.PickleLimits PickleLimits { get; init; } = Formats.Pickle.PickleLimits.Default;

    /// <summary>Pickles scanned back to back in one stream before the rest is refused (legacy torch files have five).</summary>
    public int MaxPickleStreams { get; init; } = 64;

    /// <summary>Pickles embedded in one pickle (as data or loader arguments) that are decoded and scanned.</summary>
    public int MaxEmbeddedPickles { get; init; } = 256;

    /// <summary>Keep each pickle's decompiled program in the report (<see cref="FileReport.Programs"/>; the CLI's --explain).</summary>
    public bool KeepDecompiled { get; init; }
}
