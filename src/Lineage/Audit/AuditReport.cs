using Lineage.Inspection;
using Lineage.Models;
using Lineage.Provenance;
using Lineage.Security;

namespace Lineage.Audit;

/// <summary>An audit finding and the file it is about (relative to the audited folder; "." for the model as a whole).</summary>
public sealed record AuditFinding(string Path, Finding Finding);

/// <summary>What the weights say about the model: format, size, architecture, tokenizer.</summary>
public sealed record AuditModel(
    string Format,
    long Parameters,
    int TensorCount,
    IReadOnlyDictionary<string, long> Dtypes,
    ModelConfig? Config,
    TokenizerSummary? Tokenizer,
    IReadOnlyList<string> WeightFiles)
{
    /// <summary>The name the weights give themselves (GGUF general.name), else null.</summary>
    public string? Name { get; init; }

    /// <summary>The version the weights state (GGUF general.version), else null.</summary>
    public string? Version { get; init; }
}

/// <summary>A related entry of the fingerprint database (weight evidence, from <see cref="Identify.Identifier"/>).</summary>
public sealed record DetectedBase(string ModelId, string? Family, string Verdict, bool? Related, double Score, double Log10PValue, IReadOnlyList<string> Transformations);

/// <summary>How a claim fared against the weights: confirmed, contradicted, inconclusive, or unverified (not in the database).</summary>
public sealed record ClaimCheck(BaseClaim Claim, string Status, string? DatabaseId, double? Score, string Detail);

/// <summary>The outcome of <c>--expect-base</c>: confirmed, differs or unverified, with the comparison behind it.</summary>
public sealed record ExpectedBaseCheck(string Id, string ResolvedAs, string Outcome, string? Verdict, bool? Related, double? Score, string Detail);

/// <summary>Claimed versus detected lineage.</summary>
public sealed record LineageCheck
{
    public IReadOnlyList<ClaimCheck> Claims { get; init; } = [];

    /// <summary>Related database entries, strongest first.</summary>
    public IReadOnlyList<DetectedBase> Detected { get; init; } = [];

    /// <summary>Families the reference catalog names from tokenizer and configuration (metadata, never a verdict).</summary>
    public IReadOnlyList<string> CatalogFamilies { get; init; } = [];

    public IReadOnlyList<string> CatalogLines { get; init; } = [];

    public ExpectedBaseCheck? Expected { get; init; }

    /// <summary>Fingerprint database searched (null: none; the catalog only).</summary>
    public string? Database { get; init; }

    public int DatabaseEntries { get; init; }

    /// <summary>Why the lineage could not be established (model unreadable, no fingerprintable weights), else null.</summary>
    public string? Error { get; init; }

    /// <summary>The comparison that decides the lineage shown to a reviewer (expected base, else the best match), for reports.</summary>
    public ComparisonResult? Comparison { get; init; }
}

/// <summary>Everything one <c>lineage audit</c> established about a model folder.</summary>
public sealed class AuditReport
{
    public required string Path { get; init; }

    public required string ToolVersion { get; init; }

    /// <summary>Every file with its size, format and SHA-256.</summary>
    public required IReadOnlyList<InventoryFile> Files { get; init; }

    public ManifestCheck? Manifest { get; init; }

    public required ScanReport Scan { get; init; }

    public AuditModel? Model { get; init; }

    public required LineageCheck Lineage { get; init; }

    /// <summary>Audit findings (manifest, lineage, format risks); the scanner's findings are in <see cref="Scan"/>.</summary>
    public required IReadOnlyList<AuditFinding> Findings { get; init; }

    /// <summary>Every rule either part can report (scanner rules and <see cref="AuditRules.All"/>).</summary>
    public IReadOnlyList<RuleDescriptor> Rules => [.. Scan.Rules.Concat(AuditRules.All).DistinctBy(r => r.Id)];

    /// <summary>Scanner and audit findings together, each with the file it is about (scanner paths as the scanner printed them).</summary>
    public IEnumerable<(string Path, Finding Finding)> AllFindings =>
        Scan.Files.SelectMany(f => f.Findings.Select(x => (f.Path, x))).Concat(Findings.Select(f => (DisplayPath(f.Path), f.Finding)));

    /// <summary>The path of an inventory-relative file as reports show it (under the audited path).</summary>
    public string DisplayPath(string relative)
    {
        if (relative == ".") return Path;
        if (File.Exists(Path) && !Directory.Exists(Path))
            return System.IO.Path.GetFileName(Path) == relative ? Path : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path) ?? "", relative);
        return System.IO.Path.Combine(Path, relative.Replace('/', System.IO.Path.DirectorySeparatorChar));
    }

    /// <summary>
    /// Findings at or above <paramref name="failOn"/> decide first (exit 1); then anything that could not be read,
    /// parsed or analysed, by the scanner or the audit (exit 2, never clean); then "nothing scannable" (exit 3).
    /// </summary>
    public ScanOutcome Outcome(Severity failOn)
    {
        var integrity = Rules.Where(r => r.Integrity).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        if (AllFindings.Any(f => f.Finding.Severity >= failOn && !integrity.Contains(f.Finding.Rule))) return ScanOutcome.Findings;
        // The scan's own verdict without its findings (a threshold above critical): error, nothing scannable or clean.
        var scan = Scan.Outcome(Severity.Critical + 1);
        if (scan == ScanOutcome.Error || Findings.Any(f => integrity.Contains(f.Finding.Rule))) return ScanOutcome.Error;
        if (scan == ScanOutcome.NothingScannable && Model is null) return ScanOutcome.NothingScannable;
        return ScanOutcome.Clean;
    }

    /// <summary>
    /// The scanner's report with the audit findings merged into the files they are about (new file entries for paths
    /// the scanner did not list, such as missing files and the model folder), for SARIF and other scan renderers.
    /// </summary>
    public ScanReport ToScanReport()
    {
        var files = new List<FileReport>();
        var byFullPath = new Dictionary<string, FileReport>(StringComparer.Ordinal);
        foreach (var f in Scan.Files)
        {
            var copy = new FileReport(f.Path, f.Format) { Status = f.Status, Error = f.Error, Note = f.Note, Size = f.Size };
            copy.Findings.AddRange(f.Findings);
            files.Add(copy);
            byFullPath.TryAdd(System.IO.Path.GetFullPath(f.Path), copy);
        }
        foreach (var group in Findings.GroupBy(f => f.Path, StringComparer.Ordinal))
        {
            string display = DisplayPath(group.Key);
            if (!byFullPath.TryGetValue(System.IO.Path.GetFullPath(display), out var report))
            {
                var inventory = Files.FirstOrDefault(f => f.Path == group.Key);
                report = new FileReport(display, group.Key == "." ? "directory" : inventory?.Format ?? "missing") { Status = FileStatus.Scanned, Size = inventory?.Size };
                files.Add(report);
                byFullPath[System.IO.Path.GetFullPath(display)] = report;
            }
            report.Findings.AddRange(group.Select(g => g.Finding));
            report.SortFindings();
        }
        return new ScanReport(files, Rules);
    }
}
