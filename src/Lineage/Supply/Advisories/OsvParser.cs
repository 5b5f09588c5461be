using System.Globalization;
using System.Text.Json;

namespace Lineage.Supply.Advisories;

/// <summary>
/// Reads OSV JSON: one record, an array of records, or an API-style {"vulns": [...]} object. Strict about the
/// fields matching depends on (id, modified, affected packages, range types and events, versions): a record that
/// breaks the schema there is an error naming the file and the record, never silently skipped, because a skipped
/// record is an unreported vulnerability. Unknown fields are ignored, as the schema asks.
/// </summary>
public static class OsvParser
{
    /// <summary>Bytes one OSV JSON file may have (real records are kilobytes; a few list thousands of versions).</summary>
    public const int MaxFileBytes = 32 << 20;

    private const int MaxItems = 200_000;
    private const int MaxIdLength = 256;

    public static IReadOnlyList<OsvRecord> Parse(ReadOnlyMemory<byte> utf8, string file)
    {
        if (utf8.Length > MaxFileBytes) throw new LineageException($"OSV file is {utf8.Length} bytes, over the limit of {MaxFileBytes}", file);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, OsvRecord.DocumentOptions);
        }
        catch (JsonException e)
        {
            long line = e.LineNumber ?? 0;
            throw new LineageException($"line {line + 1}: not valid JSON: {FirstSentence(e.Message)}", file, LineStart(utf8.Span, line) + (e.BytePositionInLine ?? 0), inner: e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            var records = new List<OsvRecord>();
            switch (root.ValueKind)
            {
                case JsonValueKind.Object when root.TryGetProperty("vulns", out var vulns) && !root.TryGetProperty("id", out _):
                    ReadArray(vulns, file, records);
                    break;
                case JsonValueKind.Object:
                    records.Add(ReadRecord(root, file, "$"));
                    break;
                case JsonValueKind.Array:
                    ReadArray(root, file, records);
                    break;
                default:
                    throw new LineageException("not an OSV record: the JSON root is neither an object nor an array", file);
            }
            return records;
        }
    }

    private static void ReadArray(JsonElement array, string file, List<OsvRecord> records)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new LineageException("'vulns' is not an array", file);
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object) throw new LineageException($"record [{i}] is not a JSON object", file);
            records.Add(ReadRecord(item, file, $"[{i}]"));
            i++;
        }
    }

    private static OsvRecord ReadRecord(JsonElement e, string file, string where)
    {
        string id = RequiredString(e, "id", file, where);
        if (id.Length > MaxIdLength || id.Any(char.IsControl) || id.Any(char.IsWhiteSpace))
            throw new LineageException($"record {where}: id '{Clip(id)}' is too long or has spaces or control characters", file);
        string at = $"advisory '{id}'";
        var modified = RequiredTime(e, "modified", file, at) ?? throw new LineageException($"{at}: 'modified' is required", file);
        var aliases = StringArray(e, "aliases", file, at);
        var severity = Severities(e, file, at);
        var affected = new List<OsvAffected>();
        if (e.TryGetProperty("affected", out var aff) && aff.ValueKind != JsonValueKind.Null)
        {
            if (aff.ValueKind != JsonValueKind.Array) throw new LineageException($"{at}: 'affected' is not an array", file);
            int i = 0;
            foreach (var a in aff.EnumerateArray())
            {
                if (++i > MaxItems) throw new LineageException($"{at}: more than {MaxItems} affected entries", file);
                var entry = ReadAffected(a, file, $"{at}: affected[{i - 1}]");
                if (entry is not null) affected.Add(entry);
            }
        }
        string? dbSeverity = null;
        bool maliciousMarker = false;
        if (e.TryGetProperty("database_specific", out var dbs) && dbs.ValueKind == JsonValueKind.Object)
        {
            if (dbs.TryGetProperty("severity", out var s) && s.ValueKind == JsonValueKind.String) dbSeverity = s.GetString();
            maliciousMarker = dbs.TryGetProperty("malicious-packages-origins", out _);
        }
        bool malicious = id.StartsWith("MAL-", StringComparison.Ordinal)
            || aliases.Any(a => a.StartsWith("MAL-", StringComparison.Ordinal))
            || maliciousMarker
            || affected.Any(a => a.MarkedMalicious);
        return new OsvRecord
        {
            Id = id,
            Modified = modified,
            Published = RequiredTime(e, "published", file, at),
            Withdrawn = RequiredTime(e, "withdrawn", file, at),
            Aliases = aliases,
            Summary = OptionalString(e, "summary", file, at),
            Details = OptionalString(e, "details", file, at),
            Severity = severity,
            Affected = affected,
            DatabaseSeverity = dbSeverity,
            IsMalicious = malicious,
            Json = e.GetRawText(),
        };
    }

    private static OsvAffected? ReadAffected(JsonElement a, string file, string at)
    {
        if (a.ValueKind != JsonValueKind.Object) throw new LineageException($"{at} is not an object", file);
        string? ecosystem = null, name = null, purl = null;
        if (a.TryGetProperty("package", out var pkg) && pkg.ValueKind == JsonValueKind.Object)
        {
            ecosystem = OptionalString(pkg, "ecosystem", file, at);
            name = OptionalString(pkg, "name", file, at);
            purl = OptionalString(pkg, "purl", file, at);
        }
        var ranges = new List<OsvRange>();
        if (a.TryGetProperty("ranges", out var rs) && rs.ValueKind != JsonValueKind.Null)
        {
            if (rs.ValueKind != JsonValueKind.Array) throw new LineageException($"{at}: 'ranges' is not an array", file);
            int r = 0;
            foreach (var range in rs.EnumerateArray())
            {
                string rat = $"{at}.ranges[{r++}]";
                if (range.ValueKind != JsonValueKind.Object) throw new LineageException($"{rat} is not an object", file);
                string type = RequiredString(range, "type", file, rat);
                if (!range.TryGetProperty("events", out var evs) || evs.ValueKind != JsonValueKind.Array)
                    throw new LineageException($"{rat}: 'events' is missing or not an array", file);
                var events = new List<OsvEvent>();
                foreach (var ev in evs.EnumerateArray())
                {
                    if (events.Count >= MaxItems) throw new LineageException($"{rat}: more than {MaxItems} events", file);
                    if (ev.ValueKind != JsonValueKind.Object) throw new LineageException($"{rat}: an event is not an object", file);
                    OsvEvent? parsed = null;
                    foreach (var prop in ev.EnumerateObject())
                    {
                        OsvEventKind? kind = prop.Name switch
                        {
                            "introduced" => OsvEventKind.Introduced,
                            "fixed" => OsvEventKind.Fixed,
                            "last_affected" => OsvEventKind.LastAffected,
                            "limit" => OsvEventKind.Limit,
                            _ => null,
                        };
                        if (kind is null) continue;
                        if (parsed is not null) throw new LineageException($"{rat}: an event has more than one of introduced/fixed/last_affected/limit", file);
                        if (prop.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(prop.Value.GetString()))
                            throw new LineageException($"{rat}: event '{prop.Name}' is not a non-empty string", file);
                        parsed = new OsvEvent(kind.Value, prop.Value.GetString()!.Trim());
                    }
                    if (parsed is null) throw new LineageException($"{rat}: an event has none of introduced/fixed/last_affected/limit", file);
                    events.Add(parsed);
                }
                ranges.Add(new OsvRange(type.ToUpperInvariant(), events));
            }
        }
        var versions = StringArray(a, "versions", file, at);
        if (ecosystem is null || name is null)
        {
            // The schema allows affected entries without a package (e.g. a GIT range on a repository): nothing a
            // package name can match.
            if (ecosystem is null && name is null) return null;
            throw new LineageException($"{at}: 'package' needs both 'ecosystem' and 'name'", file);
        }
        bool marked = HasMaliciousMarker(a, "database_specific") || HasMaliciousMarker(a, "ecosystem_specific");
        return new OsvAffected
        {
            Ecosystem = ecosystem, Name = name, Purl = purl, Ranges = ranges, Versions = versions,
            Severity = Severities(a, file, at), MarkedMalicious = marked,
        };
    }

    private static bool HasMaliciousMarker(JsonElement a, string property) =>
        a.TryGetProperty(property, out var d) && d.ValueKind == JsonValueKind.Object
        && (d.TryGetProperty("malicious-packages-origins", out _)
            || (d.TryGetProperty("malicious", out var m) && m.ValueKind == JsonValueKind.True));

    private static List<OsvSeverity> Severities(JsonElement e, string file, string at)
    {
        var list = new List<OsvSeverity>();
        if (!e.TryGetProperty("severity", out var sev) || sev.ValueKind == JsonValueKind.Null) return list;
        if (sev.ValueKind != JsonValueKind.Array) throw new LineageException($"{at}: 'severity' is not an array", file);
        foreach (var s in sev.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Object) throw new LineageException($"{at}: a severity entry is not an object", file);
            string? type = OptionalString(s, "type", file, at);
            string? score = OptionalString(s, "score", file, at);
            if (type is not null && score is not null) list.Add(new OsvSeverity(type, score));
        }
        return list;
    }

    private static string RequiredString(JsonElement e, string name, string file, string at) =>
        OptionalString(e, name, file, at) is { Length: > 0 } s ? s : throw new LineageException($"{at}: '{name}' is required and must be a non-empty string", file);

    private static string? OptionalString(JsonElement e, string name, string file, string at)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw new LineageException($"{at}: '{name}' is not a string", file);
        return v.GetString();
    }

    private static List<string> StringArray(JsonElement e, string name, string file, string at)
    {
        var list = new List<string>();
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return list;
        if (v.ValueKind != JsonValueKind.Array) throw new LineageException($"{at}: '{name}' is not an array", file);
        foreach (var item in v.EnumerateArray())
        {
            if (list.Count >= MaxItems) throw new LineageException($"{at}: '{name}' has more than {MaxItems} items", file);
            if (item.ValueKind != JsonValueKind.String) throw new LineageException($"{at}: '{name}' has an item that is not a string", file);
            list.Add(item.GetString()!);
        }
        return list;
    }

    private static DateTimeOffset? RequiredTime(JsonElement e, string name, string file, string at)
    {
        string? s = OptionalString(e, name, file, at);
        if (s is null) return null;
        if (!DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            throw new LineageException($"{at}: '{name}' is not an RFC 3339 timestamp: '{Clip(s)}'", file);
        return t;
    }

    private static string Clip(string s) => s.Length <= 80 ? s : s[..80] + "…";

    private static string FirstSentence(string message)
    {
        foreach (var marker in new[] { " LineNumber:", " Path:" })
        {
            int i = message.IndexOf(marker, StringComparison.Ordinal);
            if (i > 0) message = message[..i];
        }
        return message.TrimEnd();
    }

    /// <summary>The byte offset where 0-based line <paramref name="line"/> starts.</summary>
    private static long LineStart(ReadOnlySpan<byte> utf8, long line)
    {
        int index = 0;
        for (long l = 0; l < line; l++)
        {
            int next = utf8[index..].IndexOf((byte)'\n');
            if (next < 0) return utf8.Length;
            index += next + 1;
        }
        return index;
    }
}
