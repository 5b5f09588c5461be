namespace Lineage.Security;

/// <summary>How bad a finding is. Ordered: a comparison against <c>--fail-on</c> is a plain <c>&gt;=</c>.</summary>
public enum Severity
{
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// <summary>
/// One thing the scanner noticed. <see cref="Rule"/> is a stable id from <see cref="ScanRules"/>;
/// <see cref="Offset"/> is a byte offset in the file, or in <see cref="Entry"/> when the finding lies inside an
/// archive member; <see cref="Evidence"/> carries the decompiled call chain, the offending expression or the
/// decoded payload excerpt that lets a reviewer check the claim without re-running the tool.
/// </summary>
public sealed record Finding(Severity Severity, string Rule, string Message)
{
    public long? Offset { get; init; }

    public string? Entry { get; init; }

    public string? Evidence { get; init; }

    /// <summary>A finding from a rule's default severity.</summary>
    public static Finding Of(RuleDescriptor rule, string message, long? offset = null, string? entry = null, string? evidence = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return new Finding(rule.DefaultSeverity, rule.Id, message) { Offset = offset, Entry = entry, Evidence = evidence };
    }
}

/// <summary>The Python-like program a pickle would run, for review (<c>--explain</c>).</summary>
/// <param name="Entry">Archive member or embedded-pickle path, or null for the file itself.</param>
/// <param name="Offset">Byte offset of the pickle's first opcode.</param>
/// <param name="Text">The decompiled statements (bounded in size).</param>
public sealed record DecompiledProgram(string? Entry, long Offset, string Text);

/// <summary>What the scanner could do with one file.</summary>
public enum FileStatus
{
    /// <summary>An analyzer read the whole file; its findings (possibly none) are the verdict.</summary>
    Scanned,

    /// <summary>The file could not be read or parsed. Never "clean": the run exits 2 unless findings decide first.</summary>
    Error,

    /// <summary>
    /// The format was recognised but no analyzer for it is registered yet (or a nested member's format is not).
    /// Not clean: treated like an error for the exit code, so an unverified file can never pass.
    /// </summary>
    Unanalyzed,

    /// <summary>Nothing to scan: empty files, plain text and data files, symlinks that were not followed.</summary>
    Skipped,
}

/// <summary>The result for one file (or one path argument that held nothing scannable).</summary>
public sealed class FileReport(string path, string format)
{
    public string Path { get; } = path;

    /// <summary>Format decided from content: safetensors, gguf, zip, pickle, hdf5, json, jinja, yaml, text, …</summary>
    public string Format { get; internal set; } = format;

    public FileStatus Status { get; internal set; } = FileStatus.Scanned;

    /// <summary>Why the file is <see cref="FileStatus.Error"/> (the first problem met), else null.</summary>
    public string? Error { get; internal set; }

    /// <summary>Why the file is <see cref="FileStatus.Unanalyzed"/> or <see cref="FileStatus.Skipped"/>, else null.</summary>
    public string? Note { get; internal set; }

    public long? Size { get; internal set; }

    public List<Finding> Findings { get; } = [];

    /// <summary>Decompiled pickles of this file (kept when <see cref="ScanOptions.KeepDecompiled"/> is set).</summary>
    public List<DecompiledProgram> Programs { get; } = [];

    public Severity? HighestSeverity => Findings.Count == 0 ? null : Findings.Max(f => f.Severity);

    /// <summary>Orders findings worst first (stable: analyzer order within a severity).</summary>
    internal void SortFindings()
    {
        var ordered = Findings.OrderByDescending(f => f.Severity).ToList();
        Findings.Clear();
        Findings.AddRange(ordered);
    }
}

/// <summary>How a whole run ends; the CLI maps it to the exit codes of the brief.</summary>
public enum ScanOutcome
{
    /// <summary>Every scannable file was analysed and nothing reached the threshold.</summary>
    Clean,

    /// <summary>At least one finding at or above the threshold (exit 1).</summary>
    Findings,

    /// <summary>Some file could not be read, parsed or analysed, and no finding decided first (exit 2).</summary>
    Error,

    /// <summary>No path held anything scannable (exit 3).</summary>
    NothingScannable,
}

/// <summary>Counts over a run.</summary>
public sealed record ScanSummary(
    int Files,
    int Scanned,
    int Errors,
    int Unanalyzed,
    int Skipped,
    IReadOnlyDictionary<Severity, int> FindingsBySeverity,
    Severity? HighestSeverity);

/// <summary>Everything one scan found.</summary>
public sealed class ScanReport(IReadOnlyList<FileReport> files, IReadOnlyList<RuleDescriptor>? rules = null)
{
    public IReadOnlyList<FileReport> Files { get; } = files;

    /// <summary>Every rule the scanner that produced this report could raise (for SARIF's rule table).</summary>
    public IReadOnlyList<RuleDescriptor> Rules { get; } = rules ?? ScanRules.All;

    public ScanSummary Summary
    {
        get
        {
            var counts = Enum.GetValues<Severity>().ToDictionary(s => s, _ => 0);
            foreach (var f in Files.SelectMany(f => f.Findings)) counts[f.Severity]++;
            var all = Files.SelectMany(f => f.Findings).ToList();
            return new ScanSummary(
                Files.Count,
                Files.Count(f => f.Status == FileStatus.Scanned),
                Files.Count(f => f.Status == FileStatus.Error),
                Files.Count(f => f.Status == FileStatus.Unanalyzed),
                Files.Count(f => f.Status == FileStatus.Skipped),
                counts,
                all.Count == 0 ? null : all.Max(f => f.Severity));
        }
    }

    /// <summary>
    /// The verdict at threshold <paramref name="failOn"/>: findings decide first (a known-bad file is the most
    /// useful answer), then any error or unanalysed file (fail closed), then "nothing scannable", else clean.
    /// Findings of the scan-integrity rules (unparseable, unanalysed…) never count as findings here: they
    /// produce <see cref="ScanOutcome.Error"/> through the file status, whatever the threshold.
    /// </summary>
    public ScanOutcome Outcome(Severity failOn)
    {
        var integrity = Rules.Where(r => r.Integrity).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        bool findings = Files.SelectMany(f => f.Findings).Any(f => f.Severity >= failOn && !integrity.Contains(f.Rule));
        if (findings) return ScanOutcome.Findings;
        if (Files.Any(f => f.Status is FileStatus.Error or FileStatus.Unanalyzed)) return ScanOutcome.Error;
        if (!Files.Any(f => f.Status == FileStatus.Scanned)) return ScanOutcome.NothingScannable;
        return ScanOutcome.Clean;
    }
}
