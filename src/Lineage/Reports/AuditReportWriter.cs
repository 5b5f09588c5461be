using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lineage.Audit;
using Lineage.Security;

namespace Lineage.Reports;

/// <summary>Text and JSON renderings of an <see cref="AuditReport"/> (the JSON field names are part of the CLI contract).</summary>
public static class AuditReportWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>pass | fail | error | nothing_scannable.</summary>
    public static string VerdictName(ScanOutcome outcome) => outcome switch
    {
        ScanOutcome.Clean => "pass",
        ScanOutcome.Findings => "fail",
        ScanOutcome.Error => "error",
        _ => "nothing_scannable",
    };

    public static void WriteJson(Stream output, AuditReport report, Severity failOn)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var outcome = report.Outcome(failOn);
        var all = report.AllFindings.ToList();
        var rules = report.Rules.ToDictionary(r => r.Id, StringComparer.Ordinal);
        w.WriteStartObject();
        w.WriteString("path", report.Path);
        w.WriteStartObject("tool");
        w.WriteString("name", "lineage");
        w.WriteString("version", report.ToolVersion);
        w.WriteEndObject();
        w.WriteString("verdict", VerdictName(outcome));
        w.WriteString("outcome", ScanReportWriter.OutcomeName(outcome));
        w.WriteString("fail_on", ScanReportWriter.SeverityName(failOn));

        w.WriteStartObject("summary");
        w.WriteNumber("files", report.Files.Count);
        w.WriteNumber("bytes", report.Files.Sum(f => f.Size));
        w.WriteStartObject("findings");
        foreach (var s in Enum.GetValues<Severity>().Reverse()) w.WriteNumber(ScanReportWriter.SeverityName(s), all.Count(f => f.Finding.Severity == s));
        w.WriteEndObject();
        if (all.Count > 0) w.WriteString("highest_severity", ScanReportWriter.SeverityName(all.Max(f => f.Finding.Severity)));
        else w.WriteNull("highest_severity");
        w.WriteEndObject();

        w.WritePropertyName("model");
        WriteModel(w, report.Model);

        w.WriteStartArray("files");
        foreach (var f in report.Files)
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteNumber("size", f.Size);
            if (f.Sha256 is not null) w.WriteString("sha256", f.Sha256);
            else w.WriteNull("sha256");
            if (f.GitBlobSha1 is not null) w.WriteString("git_blob_sha1", f.GitBlobSha1);
            w.WriteString("format", f.Format);
            if (f.LinkTarget is not null) w.WriteString("link_target", f.LinkTarget);
            if (f.Pointer is { } p)
            {
                w.WriteStartObject("lfs_pointer");
                w.WriteString("sha256", p.Sha256);
                w.WriteNumber("size", p.Size);
                w.WriteEndObject();
            }
            if (f.Error is not null) w.WriteString("error", f.Error);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        if (report.Manifest is { } m)
        {
            w.WriteStartObject("manifest");
            w.WriteString("source", m.Source);
            w.WriteString("kind", m.Kind);
            w.WriteNumber("entries", m.Entries);
            w.WriteNumber("verified", m.Verified);
            WriteStrings(w, "mismatched", m.Mismatched);
            WriteStrings(w, "missing", m.Missing);
            WriteStrings(w, "unexpected", m.Unexpected);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("manifest");
        }

        WriteLineage(w, report.Lineage);
        WriteDependencies(w, report.Dependencies);

        w.WriteStartArray("findings");
        var auditFindings = report.Findings.Select(f => f.Finding).ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var (path, f) in all.OrderByDescending(x => x.Finding.Severity))
        {
            w.WriteStartObject();
            w.WriteString("path", path);
            w.WriteString("severity", ScanReportWriter.SeverityName(f.Severity));
            w.WriteString("rule", f.Rule);
            if (rules.TryGetValue(f.Rule, out var rule)) w.WriteString("rule_name", rule.Name);
            w.WriteString("message", f.Message);
            if (f.Offset is not null) w.WriteNumber("offset", f.Offset.Value);
            if (f.Entry is not null) w.WriteString("entry", f.Entry);
            if (f.Evidence is not null) w.WriteString("evidence", f.Evidence);
            w.WriteString("source", auditFindings.Contains(f) ? "audit" : "scan");
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WritePropertyName("scan");
        using (var scan = new MemoryStream())
        {
            ScanReportWriter.WriteJson(scan, report.Scan, failOn);
            using var doc = JsonDocument.Parse(scan.ToArray());
            doc.RootElement.WriteTo(w);
        }
        w.WriteEndObject();
        w.Flush();
    }

    private static void WriteModel(Utf8JsonWriter w, AuditModel? m)
    {
        if (m is null)
        {
            w.WriteNullValue();
            return;
        }
        w.WriteStartObject();
        w.WriteString("format", m.Format);
        w.WriteNumber("parameters", m.Parameters);
        w.WriteNumber("tensors", m.TensorCount);
        w.WriteStartObject("dtypes");
        foreach (var (k, v) in m.Dtypes) w.WriteNumber(k, v);
        w.WriteEndObject();
        if (m.Config?.Architecture is { } arch) w.WriteString("architecture", arch);
        if (m.Config?.ModelType is { } type) w.WriteString("model_type", type);
        if (m.Config is { } c)
        {
            if (c.HiddenSize is { } h) w.WriteNumber("hidden_size", h);
            if (c.NumLayers is { } l) w.WriteNumber("layers", l);
            if (c.VocabSize is { } v) w.WriteNumber("vocab_size", v);
        }
        if (m.Tokenizer is { } t)
        {
            w.WriteStartObject("tokenizer");
            w.WriteString("kind", t.Kind);
            w.WriteNumber("vocab_size", t.VocabSize);
            w.WriteString("source", t.Source);
            if (t.Family is not null) w.WriteString("family", t.Family);
            w.WriteEndObject();
        }
        WriteStrings(w, "weight_files", m.WeightFiles);
        w.WriteEndObject();
    }

    /// <summary>"dependencies": the files read, the packages resolved (name, version, ecosystem, purl, source_file) and the advisories consulted.</summary>
    private static void WriteDependencies(Utf8JsonWriter w, Supply.DependencyReport? d)
    {
        if (d is null)
        {
            w.WriteNull("dependencies");
            return;
        }
        w.WriteStartObject("dependencies");
        Supply.DependencyReportWriter.WriteFiles(w, d.Files);
        w.WriteStartArray("packages");
        foreach (var p in d.Packages)
        {
            w.WriteStartObject();
            Supply.DependencyReportWriter.WritePackageIdentity(w, p);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteBoolean("advisories_checked", d.AdvisoriesChecked);
        w.WriteNumber("advisories", d.AdvisoryCount);
        w.WriteEndObject();
    }

    private static void WriteLineage(Utf8JsonWriter w, LineageCheck l)
    {
        w.WriteStartObject("lineage");
        w.WriteStartArray("claims");
        foreach (var c in l.Claims)
        {
            w.WriteStartObject();
            w.WriteString("file", c.Claim.File);
            w.WriteString("field", c.Claim.Field);
            w.WriteString("value", c.Claim.Value);
            if (c.Claim.Relation is not null) w.WriteString("relation", c.Claim.Relation);
            w.WriteString("status", c.Status);
            if (c.DatabaseId is not null) w.WriteString("database_id", c.DatabaseId);
            if (c.Score is { } s) w.WriteNumber("score", Math.Round(s, 6));
            w.WriteString("detail", c.Detail);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("detected");
        foreach (var d in l.Detected)
        {
            w.WriteStartObject();
            w.WriteString("model_id", d.ModelId);
            if (d.Family is not null) w.WriteString("family", d.Family);
            w.WriteString("verdict", d.Verdict);
            if (d.Related is { } r) w.WriteBoolean("related", r);
            else w.WriteNull("related");
            w.WriteNumber("score", Math.Round(d.Score, 6));
            w.WriteNumber("log10_p_value", Math.Round(d.Log10PValue, 3));
            WriteStrings(w, "transformations", d.Transformations);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteStrings(w, "catalog_families", l.CatalogFamilies);
        WriteStrings(w, "catalog_evidence", l.CatalogLines);
        if (l.Expected is { } e)
        {
            w.WriteStartObject("expected");
            w.WriteString("id", e.Id);
            w.WriteString("resolved_as", e.ResolvedAs);
            w.WriteString("outcome", e.Outcome);
            if (e.Verdict is not null) w.WriteString("verdict", e.Verdict);
            if (e.Related is { } r) w.WriteBoolean("related", r);
            if (e.Score is { } s) w.WriteNumber("score", Math.Round(s, 6));
            w.WriteString("detail", e.Detail);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("expected");
        }
        if (l.Database is not null) w.WriteString("database", l.Database);
        else w.WriteNull("database");
        w.WriteNumber("database_entries", l.DatabaseEntries);
        if (l.Error is not null) w.WriteString("error", l.Error);
        w.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    public static void WriteText(TextWriter w, AuditReport report, Severity failOn)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(report);
        var outcome = report.Outcome(failOn);
        w.WriteLine($"audit: {report.Path}");
        if (report.Model is { } m)
        {
            string arch = m.Config?.Architecture ?? m.Config?.ModelType ?? "unknown architecture";
            string tok = m.Tokenizer is { } t ? string.Create(Inv, $"; tokenizer {t.Kind} ({t.VocabSize:N0} tokens{(t.Family is null ? "" : ", " + t.Family)})") : "";
            w.WriteLine(string.Create(Inv, $"model: {arch}, {m.Format}, {m.Parameters:N0} parameters in {m.TensorCount} tensors ({string.Join(", ", m.Dtypes.Keys)}){tok}"));
        }
        else
        {
            w.WriteLine($"model: not loaded ({report.Lineage.Error ?? "no weights"})");
        }

        w.WriteLine(string.Create(Inv, $"files: {report.Files.Count} ({report.Files.Sum(f => f.Size):N0} bytes), SHA-256:"));
        foreach (var f in report.Files)
        {
            string extra = f.Pointer is not null ? "  (Git LFS pointer)" : f.LinkTarget is not null ? $"  (-> {f.LinkTarget})" : f.Error is not null ? $"  ({f.Error})" : "";
            w.WriteLine(string.Create(Inv, $"  {f.Sha256 ?? new string('?', 64)}  {f.Path}  {f.Size:N0} B  {f.Format}{extra}"));
        }

        if (report.Manifest is { } man)
            w.WriteLine($"manifest: {man.Source} ({man.Kind}, {man.Entries} entries): {man.Verified} verified, {man.Mismatched.Count} mismatched, {man.Missing.Count} missing, {man.Unexpected.Count} unexpected");

        var summary = report.Scan.Summary;
        w.WriteLine($"scan: {summary.Files} files: {summary.Scanned} scanned, {summary.Unanalyzed} unanalyzed, {summary.Errors} errors, {summary.Skipped} skipped; {report.Scan.Files.Sum(f => f.Findings.Count)} findings");

        if (report.Dependencies is { } deps)
            w.WriteLine(deps.Files.Count == 0
                ? "dependencies: no dependency files"
                : string.Create(Inv, $"dependencies: {deps.Files.Count} files, {deps.Packages.Count} packages ({deps.Packages.Count(p => p.Version is null)} without an exact version); advisories: {(deps.AdvisoriesChecked ? deps.AdvisoryCount.ToString(Inv) + " checked" : "not checked")}"));

        var l = report.Lineage;
        w.WriteLine("lineage:");
        if (l.Claims.Count == 0) w.WriteLine("  claimed: nothing (no config _name_or_path, model-card base_model or adapter base)");
        foreach (var c in l.Claims) w.WriteLine($"  claimed: {c.Claim.Value} ({c.Claim.File} {c.Claim.Field}) -> {c.Status}: {c.Detail}");
        if (l.Detected.Count > 0)
            foreach (var d in l.Detected) w.WriteLine(string.Create(Inv, $"  detected: {d.ModelId} ({d.Verdict}, score {d.Score:F3}, log10 p {d.Log10PValue:F1}{(d.Transformations.Count > 0 ? "; " + string.Join(", ", d.Transformations) : "")})"));
        else if (l.Error is not null) w.WriteLine($"  detected: unknown ({l.Error})");
        else w.WriteLine(l.Database is null
            ? "  detected: no fingerprint database (--db) to search; reference catalog only"
            : $"  detected: no related model among {l.DatabaseEntries} entries of {l.Database}");
        if (l.CatalogFamilies.Count > 0) w.WriteLine($"  catalog (metadata only): {string.Join(", ", l.CatalogFamilies)}");
        if (l.Expected is { } e) w.WriteLine($"  expected base {e.Id}: {e.Outcome.ToUpperInvariant()} ({e.Detail})");

        var all = report.AllFindings.OrderByDescending(f => f.Finding.Severity).ToList();
        w.WriteLine($"findings: {all.Count}");
        foreach (var (path, f) in all)
        {
            string where = (f.Entry is null ? "" : $" [{f.Entry}]") + (f.Offset is { } o ? string.Create(Inv, $" @{o}") : "");
            w.WriteLine($"  {ScanReportWriter.SeverityName(f.Severity).ToUpperInvariant(),-8} {f.Rule,-13} {path}{where}: {f.Message}");
        }
        string result = outcome switch
        {
            ScanOutcome.Clean => $"PASS (no findings at or above {ScanReportWriter.SeverityName(failOn)})",
            ScanOutcome.Findings => $"FAIL (findings at or above {ScanReportWriter.SeverityName(failOn)})",
            ScanOutcome.Error => "ERROR (something could not be read, parsed or analysed: not verified)",
            _ => "NOTHING SCANNABLE",
        };
        w.WriteLine($"result: {result}");
    }
}
