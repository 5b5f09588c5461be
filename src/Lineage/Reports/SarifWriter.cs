using System.Text.Json;
using Lineage.Security;

namespace Lineage.Reports;

/// <summary>
/// SARIF 2.1.0 for code-scanning dashboards: one run, the tool driver with every rule the scanner knows
/// (id, name, descriptions, default level, security-severity), one result per finding (ruleId, ruleIndex, level,
/// message, physical location with the artifact URI and the byte offset region when known). Archive members are
/// nested artifacts (parentIndex) so an offset inside a member points at the member, not the archive.
/// Files that could not be analysed are also reported as tool execution notifications.
/// </summary>
public static class SarifWriter
{
    public const string SchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";

    public static string Level(Severity s) => s switch
    {
        Severity.Critical or Severity.High => "error",
        Severity.Medium => "warning",
        _ => "note",
    };

    /// <summary>GitHub code scanning's numeric security-severity (0–10).</summary>
    public static string SecuritySeverity(Severity s) => s switch
    {
        Severity.Critical => "9.5",
        Severity.High => "8.0",
        Severity.Medium => "5.5",
        Severity.Low => "3.0",
        _ => "0.0",
    };

    public static void Write(Stream output, ScanReport report, string toolVersion = "0.1.0", string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        string root = SarifLog.Root(baseDirectory);

        var rules = report.Rules.ToList();
        foreach (var id in report.Files.SelectMany(f => f.Findings).Select(f => f.Rule).Distinct())
            if (rules.All(r => r.Id != id)) rules.Add(new RuleDescriptor(id, id.ToLowerInvariant(), Severity.High, id, id));
        var ruleIndex = rules.Select((r, i) => (r.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);

        // Artifacts: each file, then each archive member under it.
        var artifacts = new List<(string Uri, bool Relative, int? Parent, FileReport File, string? Entry)>();
        var fileIndex = new Dictionary<FileReport, int>(ReferenceEqualityComparer.Instance);
        var entryIndex = new Dictionary<(FileReport, string), int>();
        foreach (var f in report.Files)
        {
            var (uri, relative) = SarifLog.ToUri(f.Path, root);
            fileIndex[f] = artifacts.Count;
            artifacts.Add((uri, relative, null, f, null));
            foreach (var entry in f.Findings.Select(x => x.Entry).OfType<string>().Distinct(StringComparer.Ordinal))
            {
                entryIndex[(f, entry)] = artifacts.Count;
                artifacts.Add((Uri.EscapeDataString(entry).Replace("%2F", "/", StringComparison.Ordinal), true, fileIndex[f], f, entry));
            }
        }

        using var w = SarifLog.Start(output);
        SarifLog.StartDriver(w, "Lineage serialization-security scanner", toolVersion, semanticVersion: true);
        foreach (var r in rules)
        {
            SarifLog.WriteRule(w, r.Id, SarifLog.RuleName(r.Name), r.Summary, fullDescription: r.Help, r.Help, r.DefaultSeverity,
                severityName: true, r.Integrity ? "scan-integrity" : "serialization");
        }
        SarifLog.EndDriver(w);
        SarifLog.WriteSourceRoot(w, root);

        w.WriteStartArray("invocations");
        w.WriteStartObject();
        bool complete = report.Files.All(f => f.Status is FileStatus.Scanned or FileStatus.Skipped);
        w.WriteBoolean("executionSuccessful", complete);
        w.WriteStartArray("toolExecutionNotifications");
        foreach (var f in report.Files.Where(f => f.Status is FileStatus.Error or FileStatus.Unanalyzed))
        {
            w.WriteStartObject();
            w.WriteString("level", f.Status == FileStatus.Error ? "error" : "warning");
            w.WriteStartObject("message");
            w.WriteString("text", $"{f.Path}: {f.Error ?? f.Note ?? "not analysed"}");
            w.WriteEndObject();
            w.WriteStartArray("locations");
            WriteLocation(w, artifacts[fileIndex[f]], fileIndex[f], null);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();

        w.WriteStartArray("artifacts");
        foreach (var a in artifacts)
        {
            w.WriteStartObject();
            w.WriteStartObject("location");
            w.WriteString("uri", a.Uri);
            if (a.Relative && a.Parent is null) w.WriteString("uriBaseId", "SRCROOT");
            w.WriteEndObject();
            if (a.Parent is { } parent) w.WriteNumber("parentIndex", parent);
            else if (a.File.Size is { } size) w.WriteNumber("length", size);
            w.WriteStartObject("properties");
            w.WriteString("format", a.Entry is null ? a.File.Format : "member");
            if (a.Entry is null) w.WriteString("status", ScanReportWriter.StatusName(a.File.Status));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("results");
        foreach (var f in report.Files)
        {
            foreach (var finding in f.Findings)
            {
                w.WriteStartObject();
                w.WriteString("ruleId", finding.Rule);
                w.WriteNumber("ruleIndex", ruleIndex[finding.Rule]);
                w.WriteString("level", Level(finding.Severity));
                w.WriteStartObject("message");
                w.WriteString("text", finding.Message);
                w.WriteEndObject();
                int index = finding.Entry is null ? fileIndex[f] : entryIndex[(f, finding.Entry)];
                w.WriteStartArray("locations");
                WriteLocation(w, artifacts[index], index, finding);
                w.WriteEndArray();
                w.WriteStartObject("properties");
                w.WriteString("severity", ScanReportWriter.SeverityName(finding.Severity));
                w.WriteString("security-severity", SecuritySeverity(finding.Severity));
                if (finding.Evidence is not null) w.WriteString("evidence", finding.Evidence);
                if (finding.Entry is not null) w.WriteString("entry", finding.Entry);
                w.WriteString("file", f.Path);
                w.WriteEndObject();
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();

        SarifLog.End(w);
    }

    private static void WriteLocation(Utf8JsonWriter w, (string Uri, bool Relative, int? Parent, FileReport File, string? Entry) artifact, int index, Finding? finding)
    {
        w.WriteStartObject();
        w.WriteStartObject("physicalLocation");
        SarifLog.WriteArtifactLocation(w, artifact.Uri, artifact.Relative && artifact.Parent is null, index);
        if (finding?.Offset is { } offset)
        {
            w.WriteStartObject("region");
            w.WriteNumber("byteOffset", offset);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        if (finding?.Entry is { } entry)
        {
            w.WriteStartArray("logicalLocations");
            w.WriteStartObject();
            w.WriteString("fullyQualifiedName", entry);
            w.WriteString("kind", "member");
            w.WriteEndObject();
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }
}
