using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lineage.Supply.Advisories;

/// <summary>The stored form of one affected entry: only what matching needs, as compact JSON.</summary>
internal static class AffectedCodec
{
    private sealed record Dto(
        [property: JsonPropertyName("e")] string Ecosystem,
        [property: JsonPropertyName("n")] string Name,
        [property: JsonPropertyName("r")] RangeDto[]? Ranges,
        [property: JsonPropertyName("v")] string[]? Versions,
        [property: JsonPropertyName("m")] bool Malicious);

    private sealed record RangeDto(
        [property: JsonPropertyName("t")] string Type,
        [property: JsonPropertyName("ev")] EventDto[] Events);

    private sealed record EventDto(
        [property: JsonPropertyName("k")] OsvEventKind Kind,
        [property: JsonPropertyName("v")] string Version);

    private static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(OsvAffected a) => JsonSerializer.Serialize(new Dto(
        a.Ecosystem, a.Name,
        a.Ranges.Count == 0 ? null : [.. a.Ranges.Select(r => new RangeDto(r.Type, [.. r.Events.Select(e => new EventDto(e.Kind, e.Version))]))],
        a.Versions.Count == 0 ? null : [.. a.Versions],
        a.MarkedMalicious), Options);

    /// <summary>Reads the stored form with a DOM walk (matching reads thousands of these per run; no reflection).</summary>
    public static OsvAffected Deserialize(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var ranges = new List<OsvRange>();
            if (root.TryGetProperty("r", out var rs))
            {
                foreach (var r in rs.EnumerateArray())
                {
                    var events = new List<OsvEvent>();
                    foreach (var e in r.GetProperty("ev").EnumerateArray())
                        events.Add(new OsvEvent((OsvEventKind)e.GetProperty("k").GetInt32(), e.GetProperty("v").GetString()!));
                    ranges.Add(new OsvRange(r.GetProperty("t").GetString()!, events));
                }
            }
            var versions = new List<string>();
            if (root.TryGetProperty("v", out var vs))
                foreach (var v in vs.EnumerateArray()) versions.Add(v.GetString()!);
            return new OsvAffected
            {
                Ecosystem = root.GetProperty("e").GetString()!,
                Name = root.GetProperty("n").GetString()!,
                Ranges = ranges,
                Versions = versions,
                MarkedMalicious = root.TryGetProperty("m", out var m) && m.ValueKind == JsonValueKind.True,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new LineageException($"corrupt affected entry in the advisory database: {e.Message}", inner: e);
        }
    }
}
