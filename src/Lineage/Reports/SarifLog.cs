using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lineage.Security;

namespace Lineage.Reports;

/// <summary>
/// The SARIF 2.1.0 plumbing every Lineage SARIF writer shares (scan, audit, dependencies): the log and run
/// envelope, the tool driver, rule descriptors, the SRCROOT base and artifact URIs relative to it.
/// </summary>
internal static class SarifLog
{
    /// <summary>The full base directory with a trailing separator (the current directory when none is given).</summary>
    public static string Root(string? baseDirectory)
    {
        string root = Path.GetFullPath(baseDirectory ?? Directory.GetCurrentDirectory());
        if (!root.EndsWith(Path.DirectorySeparatorChar)) root += Path.DirectorySeparatorChar;
        return root;
    }

    /// <summary>A relative URI (with SRCROOT) for paths under the base directory, else an absolute file URI.</summary>
    public static (string Uri, bool Relative) ToUri(string path, string root)
    {
        string full = Path.GetFullPath(path);
        if (full.StartsWith(root, StringComparison.Ordinal))
        {
            string rel = full[root.Length..].Replace(Path.DirectorySeparatorChar, '/');
            return (string.Join('/', rel.Split('/').Select(Uri.EscapeDataString)), true);
        }
        return (new Uri(full).AbsoluteUri, false);
    }

    /// <summary>A kebab-case rule id or name as SARIF's PascalCase rule name.</summary>
    public static string RuleName(string kebab) =>
        string.Concat(kebab.Split('-', StringSplitOptions.RemoveEmptyEntries).Select(p => char.ToUpper(p[0], CultureInfo.InvariantCulture) + p[1..]));

    /// <summary>Opens the log and its single run; close both with <see cref="End"/>.</summary>
    public static Utf8JsonWriter Start(Stream output)
    {
        var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("$schema", SarifWriter.SchemaUri);
        w.WriteString("version", "2.1.0");
        w.WriteStartArray("runs");
        w.WriteStartObject();
        return w;
    }

    /// <summary>Closes the run and the log and flushes.</summary>
    public static void End(Utf8JsonWriter w)
    {
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }

    /// <summary>Opens tool.driver and its rules array; close with <see cref="EndDriver"/>.</summary>
    public static void StartDriver(Utf8JsonWriter w, string fullName, string toolVersion, bool semanticVersion)
    {
        w.WriteStartObject("tool");
        w.WriteStartObject("driver");
        w.WriteString("name", "lineage");
        w.WriteString("fullName", fullName);
        w.WriteString("version", toolVersion);
        if (semanticVersion) w.WriteString("semanticVersion", toolVersion);
        w.WriteStartArray("rules");
    }

    public static void EndDriver(Utf8JsonWriter w)
    {
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// One reportingDescriptor. <paramref name="fullDescription"/> and the severity name property are written
    /// only when given (the scan's rules carry them, the dependency rules do not).
    /// </summary>
    public static void WriteRule(Utf8JsonWriter w, string id, string name, string summary, string? fullDescription, string help,
        Severity defaultSeverity, bool severityName, string tag)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("name", name);
        w.WriteStartObject("shortDescription");
        w.WriteString("text", summary);
        w.WriteEndObject();
        if (fullDescription is not null)
        {
            w.WriteStartObject("fullDescription");
            w.WriteString("text", fullDescription);
            w.WriteEndObject();
        }
        w.WriteStartObject("help");
        w.WriteString("text", help);
        w.WriteEndObject();
        w.WriteStartObject("defaultConfiguration");
        w.WriteString("level", SarifWriter.Level(defaultSeverity));
        w.WriteEndObject();
        w.WriteStartObject("properties");
        w.WriteString("security-severity", SarifWriter.SecuritySeverity(defaultSeverity));
        if (severityName) w.WriteString("severity", ScanReportWriter.SeverityName(defaultSeverity));
        w.WriteStartArray("tags");
        w.WriteStringValue("security");
        w.WriteStringValue(tag);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>originalUriBaseIds: SRCROOT, the base directory relative URIs resolve against.</summary>
    public static void WriteSourceRoot(Utf8JsonWriter w, string root)
    {
        w.WriteStartObject("originalUriBaseIds");
        w.WriteStartObject("SRCROOT");
        w.WriteString("uri", new Uri(root).AbsoluteUri);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>An artifactLocation: the URI, SRCROOT when <paramref name="underRoot"/>, the artifact index when known.</summary>
    public static void WriteArtifactLocation(Utf8JsonWriter w, string uri, bool underRoot, int? index)
    {
        w.WriteStartObject("artifactLocation");
        w.WriteString("uri", uri);
        if (underRoot) w.WriteString("uriBaseId", "SRCROOT");
        if (index is { } i) w.WriteNumber("index", i);
        w.WriteEndObject();
    }
}
