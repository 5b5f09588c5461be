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

    public static OsvAffected Deserialize(string json)
    {
        var dto = JsonSerializer.Deserialize<Dto>(json, Options) ?? throw new LineageException("corrupt affected entry in the advisory database");
        return new OsvAffected
        {
            Ecosystem = dto.Ecosystem,
            Name = dto.Name,
            Ranges = dto.Ranges?.Select(r => new OsvRange(r.Type, r.Events.Select(e => new OsvEvent(e.Kind, e.Version)).ToList())).ToList() ?? [],
            Versions = dto.Versions ?? [],
            MarkedMalicious = dto.Malicious,
        };
    }
}
