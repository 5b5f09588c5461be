using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lineage.Security;

namespace Lineage.Reports;

/// <summary>Text and JSON renderings of a <see cref="ScanReport"/>. Field names of the JSON are part of the CLI contract.</summary>
public static class ScanReportWriter
{
    public static string SeverityName(Severity s) => s.ToString().ToLowerInvariant();

    public static string StatusName(FileStatus s) => s.ToString().ToLowerInvariant();

    public static string OutcomeName(ScanOutcome o) => o switch
    {
        ScanOutcome.NothingScannable => "nothing_scannable",
        _ => o.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// JSON: <c>files</c> ([{path, format, status, error?, note?, size?, findings: [{severity, rule, rule_name,
    /// message, offset?, entry?, evidence?}]}]) and <c>summary</c> (counts, highest severity, threshold, outcome).
    /// </summary>
    public static void WriteJson(Stream output, ScanReport report, Severity failOn)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var summary = report.Summary;
        var outcome = report.Outcome(failOn);
        w.WriteStartObject();
        w.WriteStartArray("files");
        foreach (var f in report.Files)
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteString("format", f.Format);
            w.WriteString("status", StatusName(f.Status));
            if (f.Error is not null) w.WriteString("error", f.Error);
            if (f.Note is not null) w.WriteString("note", f.Note);
            if (f.Size is not null) w.WriteNumber("size", f.Size.Value);
            w.WriteStartArray("findings");
            foreach (var finding in f.Findings)
            {
                w.WriteStartObject();
                w.WriteString("severity", SeverityName(finding.Severity));
                w.WriteString("rule", finding.Rule);
                if (report.Rules.FirstOrDefault(r => r.Id == finding.Rule) is { } rule) w.WriteString("rule_name", rule.Name);
                w.WriteString("message", finding.Message);
                if (finding.Offset is not null) w.WriteNumber("offset", finding.Offset.Value);
                if (finding.Entry is not null) w.WriteString("entry", finding.Entry);
                if (finding.Evidence is not null) w.WriteString("evidence", finding.Evidence);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("summary");
        w.WriteNumber("files", summary.Files);
        w.WriteNumber("scanned", summary.Scanned);
        w.WriteNumber("errors", summary.Errors);
        w.WriteNumber("unanalyzed", summary.Unanalyzed);
        w.WriteNumber("skipped", summary.Skipped);
        w.WriteStartObject("findings");
        foreach (var s in Enum.GetValues<Severity>().Reverse()) w.WriteNumber(SeverityName(s), summary.FindingsBySeverity[s]);
        w.WriteEndObject();
        if (summary.HighestSeverity is { } highest) w.WriteString("highest_severity", SeverityName(highest));
        else w.WriteNull("highest_severity");
        w.WriteString("fail_on", SeverityName(failOn));
        w.WriteString("outcome", OutcomeName(outcome));
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>
    /// Human-readable report: findings grouped by file, worst first; errors and unanalysed files; a summary line.
    /// <paramref name="explain"/> adds every file's status and an explanation of each rule that fired.
    /// </summary>
    public static void WriteText(TextWriter w, ScanReport report, Severity failOn, bool explain = false, bool color = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(report);
        string Paint(string text, string code) => color ? $"\u001b[{code}m{text}\u001b[0m" : text;
        string SeverityLabel(Severity s) => Paint(s.ToString().ToUpperInvariant().PadRight(8), s switch
        {
            Severity.Critical => "1;31",
            Severity.High => "31",
            Severity.Medium => "33",
            Severity.Low => "36",
            _ => "2",
        });

        foreach (var f in report.Files)
        {
            bool interesting = f.Findings.Count > 0 || f.Status is FileStatus.Error or FileStatus.Unanalyzed;
            if (!interesting && !explain) continue;
            string status = f.Status switch
            {
                FileStatus.Scanned => f.Findings.Count == 0 ? Paint("clean", "32") : "scanned",
                FileStatus.Error => Paint("ERROR", "1;31"),
                FileStatus.Unanalyzed => Paint("UNANALYZED", "1;33"),
                _ => "skipped",
            };
            w.WriteLine($"{f.Path}  [{f.Format}, {status}]");
            if (f.Error is not null) w.WriteLine($"  error: {f.Error}");
            if (f.Note is not null && (explain || f.Status == FileStatus.Unanalyzed)) w.WriteLine($"  note: {f.Note}");
            foreach (var finding in f.Findings.OrderByDescending(x => x.Severity))
            {
                var where = new List<string>();
                if (finding.Entry is not null) where.Add($"entry '{finding.Entry}'");
                if (finding.Offset is not null) where.Add(string.Create(CultureInfo.InvariantCulture, $"byte {finding.Offset}"));
                string location = where.Count > 0 ? $" ({string.Join(", ", where)})" : "";
                w.WriteLine($"  {SeverityLabel(finding.Severity)} {finding.Rule}  {finding.Message}{location}");
                if (finding.Evidence is not null) w.WriteLine($"           evidence: {finding.Evidence}");
            }
            if (!explain) continue;
            foreach (var program in f.Programs)
            {
                string where = program.Entry is null ? "" : $"entry '{program.Entry}', ";
                w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  decompiled pickle ({where}byte {program.Offset}):"));
                foreach (var line in program.Text.TrimEnd('\n').Split('\n')) w.WriteLine($"    | {line}");
            }
        }

        if (explain)
        {
            var fired = report.Files.SelectMany(f => f.Findings).Select(f => f.Rule).Distinct().Order(StringComparer.Ordinal).ToList();
            if (fired.Count > 0)
            {
                w.WriteLine();
                w.WriteLine("rules:");
                foreach (var id in fired)
                {
                    var rule = report.Rules.FirstOrDefault(r => r.Id == id);
                    if (rule is null) continue;
                    w.WriteLine($"  {rule.Id} {rule.Name} ({SeverityName(rule.DefaultSeverity)}): {rule.Summary}");
                    w.WriteLine($"    {rule.Help}");
                }
            }
        }

        var s = report.Summary;
        var outcome = report.Outcome(failOn);
        var counts = Enum.GetValues<Severity>().Reverse().Where(x => s.FindingsBySeverity[x] > 0).Select(x => $"{s.FindingsBySeverity[x]} {SeverityName(x)}").ToList();
        int total = s.FindingsBySeverity.Values.Sum();
        if (report.Files.Count > 0 && (explain || report.Files.Any(f => f.Findings.Count > 0 || f.Status is FileStatus.Error or FileStatus.Unanalyzed))) w.WriteLine();
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{s.Files} files: {s.Scanned} scanned, {s.Unanalyzed} unanalyzed, {s.Errors} errors, {s.Skipped} skipped; {total} findings{(counts.Count > 0 ? $" ({string.Join(", ", counts)})" : "")}"));
        string verdict = outcome switch
        {
            ScanOutcome.Clean => Paint("result: clean", "32") + $" (no findings at or above {SeverityName(failOn)})",
            ScanOutcome.Findings => Paint("result: FAIL", "1;31") + $" (findings at or above {SeverityName(failOn)})",
            ScanOutcome.Error => Paint("result: ERROR", "1;31") + " (some files could not be read, parsed or analysed: not verified)",
            _ => Paint("result: nothing scannable", "33"),
        };
        w.WriteLine(verdict);
    }
}
