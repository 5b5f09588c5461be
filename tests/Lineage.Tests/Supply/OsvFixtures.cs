using System.Text.Json;

namespace Lineage.Tests.Supply;

/// <summary>OSV records written in test code (the schema's shapes, no real advisories copied).</summary>
internal static class OsvFixtures
{
    public static string Record(string id, string ecosystem, string package, object[]? ranges = null, string[]? versions = null,
        string modified = "2025-01-01T00:00:00Z", string? withdrawn = null, string[]? aliases = null, string? summary = null,
        string? cvss = null, object? databaseSpecific = null)
    {
        var affected = new Dictionary<string, object?>
        {
            ["package"] = new { ecosystem, name = package },
        };
        if (ranges is not null) affected["ranges"] = ranges;
        if (versions is not null) affected["versions"] = versions;
        var record = new Dictionary<string, object?>
        {
            ["schema_version"] = "1.6.0",
            ["id"] = id,
            ["modified"] = modified,
            ["published"] = "2024-06-01T00:00:00Z",
            ["aliases"] = aliases ?? [],
            ["summary"] = summary ?? $"Test advisory {id}",
            ["affected"] = new[] { affected },
        };
        if (withdrawn is not null) record["withdrawn"] = withdrawn;
        if (cvss is not null) record["severity"] = new[] { new { type = cvss.StartsWith("CVSS:4", StringComparison.Ordinal) ? "CVSS_V4" : "CVSS_V3", score = cvss } };
        if (databaseSpecific is not null) record["database_specific"] = databaseSpecific;
        return JsonSerializer.Serialize(record);
    }

    public static object Range(string type, params (string Kind, string Version)[] events) =>
        new { type, events = events.Select(e => new Dictionary<string, string> { [e.Kind] = e.Version }).ToArray() };

    public static object Ecosystem(params (string Kind, string Version)[] events) => Range("ECOSYSTEM", events);
}
