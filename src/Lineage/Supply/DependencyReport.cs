using Lineage.Security;

namespace Lineage.Supply;

/// <summary>A resolved package (JSON fields: name, version, ecosystem, purl, source_file; plus file, line, origin…).</summary>
public sealed record PackageEntry
{
    public required string Name { get; init; }

    /// <summary>The exact version (a lock's or the installed one wins over a manifest range); null when nothing pins one.</summary>
    public string? Version { get; init; }

    public required string Ecosystem { get; init; }

    public required string Purl { get; init; }

    /// <summary>The file the version comes from (lock file first, then installed metadata, then the manifest).</summary>
    public required string SourceFile { get; init; }

    public int? Line { get; init; }

    public required string Format { get; init; }

    public required DependencyOrigin Origin { get; init; }

    /// <summary>The range a manifest asks for, when one does.</summary>
    public string? Specifier { get; init; }

    public IReadOnlyList<string> Hashes { get; init; } = [];

    public string? Group { get; init; }

    /// <summary>True when a manifest names the package (a direct dependency); false for lock-only (transitive) and installed ones.</summary>
    public bool Direct { get; init; }
}

/// <summary>A dependency file that was read, and what it is.</summary>
public sealed record DependencyFile(string Path, DependencyFileKind Kind, int Dependencies);

/// <summary>A file that could not be read or parsed: the run fails closed on it.</summary>
public sealed record DependencyError(string File, string Message);

/// <summary>Everything one dependency audit found.</summary>
public sealed class DependencyReport
{
    public required IReadOnlyList<string> Paths { get; init; }

    public required IReadOnlyList<DependencyFile> Files { get; init; }

    public required IReadOnlyList<PackageEntry> Packages { get; init; }

    public required IReadOnlyList<DependencyFinding> Findings { get; init; }

    public required IReadOnlyList<DependencyError> Errors { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The advisory database consulted, or null when advisories were not checked.</summary>
    public string? AdvisoryDatabase { get; init; }

    /// <summary>Advisories in the database at the time of the run (0 when not checked).</summary>
    public int AdvisoryCount { get; init; }

    public bool AdvisoriesChecked => AdvisoryDatabase is not null;

    /// <summary>
    /// The verdict at <paramref name="failOn"/>, in the scanner's order: findings at or above the threshold decide
    /// first, then any unreadable file (fail closed), then "nothing scannable" when no dependency file was found.
    /// </summary>
    public ScanOutcome Outcome(Severity failOn)
    {
        if (Findings.Any(f => f.Severity >= failOn)) return ScanOutcome.Findings;
        if (Errors.Count > 0) return ScanOutcome.Error;
        if (Files.Count == 0) return ScanOutcome.NothingScannable;
        return ScanOutcome.Clean;
    }

    public IReadOnlyDictionary<Severity, int> CountBySeverity()
    {
        var counts = Enum.GetValues<Severity>().ToDictionary(s => s, _ => 0);
        foreach (var f in Findings) counts[f.Severity]++;
        return counts;
    }
}
