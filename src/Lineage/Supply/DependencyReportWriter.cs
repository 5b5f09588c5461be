using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lineage.Reports;
using Lineage.Security;

namespace Lineage.Supply;

/// <summary>Renders a <see cref="DependencyReport"/>: text for people, JSON, SARIF 2.1.0 and CycloneDX 1.6.</summary>
public static class DependencyReportWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static JsonWriterOptions WriterOptions => new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string SeverityName(Severity s) => ScanReportWriter.SeverityName(s);

    public static string OutcomeName(ScanOutcome o) => o switch
    {
        ScanOutcome.Clean => "clean",
        ScanOutcome.Findings => "findings",
        ScanOutcome.Error => "error",
        _ => "nothing-scannable",
    };

    public static void WriteText(TextWriter w, DependencyReport report, Severity failOn)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(report);
        w.WriteLine(string.Create(Inv, $"dependency files: {report.Files.Count}; packages: {report.Packages.Count} ({report.Packages.Count(p => p.Version is null)} without an exact version)"));
        foreach (var f in report.Files) w.WriteLine(string.Create(Inv, $"  {f.Path} ({KindName(f.Kind)}, {f.Dependencies} entries)"));
        w.WriteLine(report.AdvisoriesChecked
            ? string.Create(Inv, $"advisories: {report.AdvisoryCount} in {report.AdvisoryDatabase}")
            : "advisories: not checked (no advisory database)");
        foreach (var e in report.Errors) w.WriteLine($"error: {e.Message}");
        if (report.Findings.Count == 0) w.WriteLine("findings: none");
        foreach (var f in report.Findings)
        {
            string where = f.File is null ? "" : f.Line is { } l ? string.Create(Inv, $" ({f.File}:{l})") : $" ({f.File})";
            string ids = f.Ids.Count > 0 ? $" [{string.Join(", ", f.Ids)}]" : "";
            string fix = f.FixedIn is null ? "" : $"; fixed in {f.FixedIn}";
            w.WriteLine($"{SeverityName(f.Severity).ToUpperInvariant(),-8} {f.Rule,-16} {f.Ecosystem}/{f.Package}{(f.Version is null ? "" : " " + f.Version)}{ids}: {f.Summary}{fix}{where}");
        }
        var outcome = report.Outcome(failOn);
        w.WriteLine($"result: {OutcomeName(outcome)} (fail-on {SeverityName(failOn)})");
    }

    public static string KindName(DependencyFileKind k) => k switch
    {
        DependencyFileKind.Requirements => "requirements",
        DependencyFileKind.Constraints => "constraints",
        DependencyFileKind.Pyproject => "pyproject.toml",
        DependencyFileKind.Pipfile => "Pipfile",
        DependencyFileKind.PipfileLock => "Pipfile.lock",
        DependencyFileKind.UvLock => "uv.lock",
        DependencyFileKind.PoetryLock => "poetry.lock",
        DependencyFileKind.PythonDistribution => "installed python distribution",
        DependencyFileKind.PackageJson => "package.json",
        DependencyFileKind.PackageLock => "package-lock.json",
        DependencyFileKind.YarnLock => "yarn.lock",
        _ => "installed npm package",
    };

    /// <summary>JSON: findings [{rule, severity, package, version, ecosystem, ids, summary, file, line, fixed_in}],
    /// packages [{name, version, ecosystem, purl, source_file, …}], files, errors, advisories, summary.</summary>
    public static void WriteJson(Stream output, DependencyReport report, Severity failOn)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        using var w = new Utf8JsonWriter(output, WriterOptions);
        w.WriteStartObject();
        w.WriteStartArray("paths");
        foreach (var p in report.Paths) w.WriteStringValue(p);
        w.WriteEndArray();
        w.WriteStartArray("findings");
        foreach (var f in report.Findings) WriteFinding(w, f);
        w.WriteEndArray();
        w.WriteStartArray("packages");
        foreach (var p in report.Packages)
        {
            w.WriteStartObject();
            WritePackageIdentity(w, p);
            w.WriteString("file", p.SourceFile);
            if (p.Line is { } line) w.WriteNumber("line", line);
            w.WriteString("source", p.Format);
            w.WriteBoolean("direct", p.Direct);
            if (p.Specifier is not null) w.WriteString("specifier", p.Specifier);
            if (p.Group is not null) w.WriteString("group", p.Group);
            if (p.Hashes.Count > 0)
            {
                w.WriteStartArray("hashes");
                foreach (var h in p.Hashes) w.WriteStringValue(h);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteFiles(w, report.Files);
        w.WriteStartArray("errors");
        foreach (var e in report.Errors)
        {
            w.WriteStartObject();
            w.WriteString("file", e.File);
            w.WriteString("message", e.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("notes");
        foreach (var n in report.Notes) w.WriteStringValue(n);
        w.WriteEndArray();
        w.WriteStartObject("advisories");
        w.WriteBoolean("checked", report.AdvisoriesChecked);
        if (report.AdvisoryDatabase is not null) w.WriteString("database", report.AdvisoryDatabase);
        w.WriteNumber("count", report.AdvisoryCount);
        w.WriteEndObject();
        w.WriteStartObject("summary");
        w.WriteNumber("files", report.Files.Count);
        w.WriteNumber("packages", report.Packages.Count);
        w.WriteNumber("errors", report.Errors.Count);
        var counts = report.CountBySeverity();
        w.WriteStartObject("findings");
        foreach (var s in Enum.GetValues<Severity>().Reverse()) w.WriteNumber(SeverityName(s), counts[s]);
        w.WriteEndObject();
        w.WriteString("fail_on", SeverityName(failOn));
        w.WriteString("outcome", OutcomeName(report.Outcome(failOn)));
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>"files": [{path, kind, entries}] (also the audit report's dependencies.files).</summary>
    internal static void WriteFiles(Utf8JsonWriter w, IEnumerable<DependencyFile> files)
    {
        w.WriteStartArray("files");
        foreach (var f in files)
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteString("kind", KindName(f.Kind));
            w.WriteNumber("entries", f.Dependencies);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>A package's name, version (null when not exact), ecosystem, purl and source_file (also the audit report's).</summary>
    internal static void WritePackageIdentity(Utf8JsonWriter w, PackageEntry p)
    {
        w.WriteString("name", p.Name);
        if (p.Version is null) w.WriteNull("version");
        else w.WriteString("version", p.Version);
        w.WriteString("ecosystem", p.Ecosystem);
        w.WriteString("purl", p.Purl);
        w.WriteString("source_file", p.SourceFile);
    }

    private static void WriteFinding(Utf8JsonWriter w, DependencyFinding f)
    {
        w.WriteStartObject();
        w.WriteString("rule", f.Rule);
        w.WriteString("severity", SeverityName(f.Severity));
        w.WriteString("package", f.Package);
        if (f.Version is null) w.WriteNull("version");
        else w.WriteString("version", f.Version);
        w.WriteString("ecosystem", f.Ecosystem);
        w.WriteStartArray("ids");
        foreach (var id in f.Ids) w.WriteStringValue(id);
        w.WriteEndArray();
        w.WriteString("summary", f.Summary);
        if (f.File is null) w.WriteNull("file");
        else w.WriteString("file", f.File);
        if (f.Line is { } line) w.WriteNumber("line", line);
        else w.WriteNull("line");
        if (f.FixedIn is null) w.WriteNull("fixed_in");
        else w.WriteString("fixed_in", f.FixedIn);
        if (f.Detail is not null) w.WriteString("detail", f.Detail);
        w.WriteEndObject();
    }

    /// <summary>SARIF 2.1.0: the dependency rules, one result per finding located at the file and line (rule
    /// levels and security-severity as <see cref="SarifWriter"/> maps them), unreadable files as notifications.</summary>
    public static void WriteSarif(Stream output, DependencyReport report, string toolVersion = "0.1.0", string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        string root = SarifLog.Root(baseDirectory);
        var rules = DependencyRules.All;
        using var w = SarifLog.Start(output);
        SarifLog.StartDriver(w, "Lineage dependency audit", toolVersion, semanticVersion: false);
        foreach (var r in rules)
        {
            SarifLog.WriteRule(w, r.Id, SarifLog.RuleName(r.Id), r.Summary, fullDescription: null, r.Help, r.DefaultSeverity,
                severityName: false, "dependencies");
        }
        SarifLog.EndDriver(w);
        SarifLog.WriteSourceRoot(w, root);
        w.WriteStartArray("invocations");
        w.WriteStartObject();
        w.WriteBoolean("executionSuccessful", report.Errors.Count == 0);
        w.WriteStartArray("toolExecutionNotifications");
        foreach (var e in report.Errors)
        {
            w.WriteStartObject();
            w.WriteString("level", "error");
            w.WriteStartObject("message");
            w.WriteString("text", e.Message);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteStartArray("results");
        foreach (var f in report.Findings)
        {
            w.WriteStartObject();
            w.WriteString("ruleId", f.Rule);
            int index = rules.ToList().FindIndex(r => r.Id == f.Rule);
            if (index >= 0) w.WriteNumber("ruleIndex", index);
            w.WriteString("level", SarifWriter.Level(f.Severity));
            w.WriteStartObject("message");
            string ids = f.Ids.Count > 0 ? $" ({string.Join(", ", f.Ids)})" : "";
            w.WriteString("text", $"{f.Ecosystem}/{f.Package}{(f.Version is null ? "" : " " + f.Version)}: {f.Summary}{ids}{(f.FixedIn is null ? "" : "; fixed in " + f.FixedIn)}");
            w.WriteEndObject();
            if (f.File is not null)
            {
                var (uri, relative) = SarifLog.ToUri(f.File, root);
                w.WriteStartArray("locations");
                w.WriteStartObject();
                w.WriteStartObject("physicalLocation");
                SarifLog.WriteArtifactLocation(w, uri, relative, index: null);
                if (f.Line is { } line)
                {
                    w.WriteStartObject("region");
                    w.WriteNumber("startLine", line);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndArray();
            }
            w.WriteStartObject("partialFingerprints");
            w.WriteString("lineage/v1", $"{f.Rule}:{f.Ecosystem}:{f.Package}:{f.Version}:{string.Join(',', f.Ids.Take(1))}");
            w.WriteEndObject();
            w.WriteStartObject("properties");
            w.WriteString("severity", SeverityName(f.Severity));
            w.WriteString("security-severity", SarifWriter.SecuritySeverity(f.Severity));
            w.WriteString("package", f.Package);
            w.WriteString("ecosystem", f.Ecosystem);
            if (f.Version is not null) w.WriteString("version", f.Version);
            if (f.FixedIn is not null) w.WriteString("fixed_in", f.FixedIn);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        SarifLog.End(w);
    }

    /// <summary>
    /// CycloneDX 1.6 (JSON): one <c>library</c> component per package (purl, version, hashes the lock pins,
    /// the source file as a property) and a <c>vulnerabilities</c> section with one entry per advisory finding
    /// (id, source, ratings with the CVSS vector when known, affects → the component's bom-ref, recommendation).
    /// </summary>
    public static void WriteCycloneDx(Stream output, DependencyReport report, Guid? serialNumber = null, DateTimeOffset? timestamp = null, string toolVersion = "0.1.0")
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        using var w = new Utf8JsonWriter(output, WriterOptions);
        w.WriteStartObject();
        w.WriteString("$schema", "http://cyclonedx.org/schema/bom-1.6.schema.json");
        w.WriteString("bomFormat", "CycloneDX");
        w.WriteString("specVersion", "1.6");
        w.WriteString("serialNumber", "urn:uuid:" + (serialNumber ?? Guid.NewGuid()).ToString("D"));
        w.WriteNumber("version", 1);
        w.WriteStartObject("metadata");
        w.WriteString("timestamp", (timestamp ?? DateTimeOffset.UtcNow).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv));
        w.WriteStartObject("tools");
        w.WriteStartArray("components");
        w.WriteStartObject();
        w.WriteString("type", "application");
        w.WriteString("name", "lineage");
        w.WriteString("version", toolVersion);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartArray("components");
        var refs = new Dictionary<(string, string, string?), string>();
        foreach (var p in report.Packages)
        {
            string bomRef = p.Purl;
            refs[(p.Ecosystem, Ecosystems.NormalizeName(p.Ecosystem, p.Name), p.Version)] = bomRef;
            BomComponents.Write(w, new BomComponent
            {
                BomRef = bomRef, Name = p.Name, Version = p.Version, Purl = p.Purl, Hashes = p.Hashes, Scope = p.Group is "dev" ? "optional" : null,
                Properties = [("lineage:source-file", p.SourceFile), ("lineage:source-format", p.Format), ("lineage:direct", p.Direct ? "true" : "false")],
            });
        }
        w.WriteEndArray();
        w.WriteStartArray("vulnerabilities");
        foreach (var f in report.Findings.Where(f => f.Rule is "known-vulnerable" or "known-malicious"))
        {
            w.WriteStartObject();
            string id = f.Ids.Count > 0 ? f.Ids[0] : f.Rule;
            w.WriteString("bom-ref", $"vuln:{id}:{f.Ecosystem}:{f.Package}:{f.Version}");
            w.WriteString("id", id);
            w.WriteStartObject("source");
            w.WriteString("name", "OSV");
            w.WriteString("url", $"https://osv.dev/vulnerability/{Uri.EscapeDataString(id)}");
            w.WriteEndObject();
            if (f.Ids.Count > 1)
            {
                w.WriteStartArray("references");
                foreach (var alias in f.Ids.Skip(1))
                {
                    w.WriteStartObject();
                    w.WriteString("id", alias);
                    w.WriteStartObject("source");
                    w.WriteString("name", alias.StartsWith("CVE-", StringComparison.Ordinal) ? "NVD" : alias.StartsWith("GHSA-", StringComparison.Ordinal) ? "GitHub" : "OSV");
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteStartArray("ratings");
            w.WriteStartObject();
            w.WriteString("severity", SeverityName(f.Severity) == "info" ? "info" : SeverityName(f.Severity));
            w.WriteString("method", "other");
            if (f.Detail is not null) w.WriteString("justification", f.Detail);
            w.WriteEndObject();
            w.WriteEndArray();
            if (f.Rule == "known-malicious")
            {
                w.WriteStartArray("cwes");
                w.WriteNumberValue(506);
                w.WriteEndArray();
            }
            w.WriteString("description", f.Summary);
            if (f.FixedIn is not null) w.WriteString("recommendation", $"Upgrade {f.Package} to {f.FixedIn} or later");
            w.WriteStartArray("affects");
            w.WriteStartObject();
            w.WriteString("ref", refs.GetValueOrDefault((f.Ecosystem, Ecosystems.NormalizeName(f.Ecosystem, f.Package), f.Version)) ?? Ecosystems.Purl(f.Ecosystem, f.Package, f.Version));
            if (f.Version is not null)
            {
                w.WriteStartArray("versions");
                w.WriteStartObject();
                w.WriteString("version", f.Version);
                w.WriteString("status", "affected");
                w.WriteEndObject();
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }
}
