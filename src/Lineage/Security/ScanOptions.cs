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
}
