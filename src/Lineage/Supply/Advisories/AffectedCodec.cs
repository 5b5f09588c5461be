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

    /// <summary>
    /// Reads the stored form with a forward-only reader: an audit decodes thousands of these in a cold process,
    /// where a reflection-based or DOM decode costs several times more.
    /// </summary>
    public static OsvAffected Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
            ReadExpecting(ref reader, JsonTokenType.StartObject);
            string? ecosystem = null, name = null;
            var ranges = new List<OsvRange>();
            var versions = new List<string>();
            bool malicious = false;
            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                string property = reader.GetString()!;
                reader.Read();
                switch (property)
                {
                    case "e": ecosystem = String(ref reader); break;
                    case "n": name = String(ref reader); break;
                    case "m": malicious = reader.TokenType == JsonTokenType.True; break;
                    case "v":
                        Expect(reader, JsonTokenType.StartArray);
                        while (Next(ref reader) != JsonTokenType.EndArray) versions.Add(String(ref reader));
                        break;
                    case "r":
                        Expect(reader, JsonTokenType.StartArray);
                        while (Next(ref reader) != JsonTokenType.EndArray) ranges.Add(Range(ref reader));
                        break;
                    default: reader.Skip(); break;
                }
            }
            return new OsvAffected
            {
                Ecosystem = ecosystem ?? throw new JsonException("no 'e' (ecosystem)"),
                Name = name ?? throw new JsonException("no 'n' (name)"),
                Ranges = ranges,
                Versions = versions,
                MarkedMalicious = malicious,
            };
        }
        catch (JsonException e)
        {
            throw new LineageException($"corrupt affected entry in the advisory database: {e.Message}", inner: e);
        }
    }

    private static OsvRange Range(ref Utf8JsonReader reader)
    {
        Expect(reader, JsonTokenType.StartObject);
        string? type = null;
        var events = new List<OsvEvent>();
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            string property = reader.GetString()!;
            reader.Read();
            if (property == "t")
            {
                type = String(ref reader);
            }
            else if (property == "ev")
            {
                Expect(reader, JsonTokenType.StartArray);
                while (Next(ref reader) != JsonTokenType.EndArray) events.Add(Event(ref reader));
            }
            else
            {
                reader.Skip();
            }
        }
        return new OsvRange(type ?? throw new JsonException("range without 't' (type)"), events);
    }

    private static OsvEvent Event(ref Utf8JsonReader reader)
    {
        Expect(reader, JsonTokenType.StartObject);
        int? kind = null;
        string? version = null;
        while (Next(ref reader) == JsonTokenType.PropertyName)
        {
            string property = reader.GetString()!;
            reader.Read();
            if (property == "k") kind = reader.TokenType == JsonTokenType.Number ? reader.GetInt32() : throw new JsonException("event kind is not a number");
            else if (property == "v") version = String(ref reader);
            else reader.Skip();
        }
        return new OsvEvent((OsvEventKind)(kind ?? throw new JsonException("event without 'k'")), version ?? throw new JsonException("event without 'v'"));
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new JsonException("unexpected end of data");

    private static void ReadExpecting(ref Utf8JsonReader reader, JsonTokenType type)
    {
        Next(ref reader);
        Expect(reader, type);
    }

    private static void Expect(in Utf8JsonReader reader, JsonTokenType type)
    {
        if (reader.TokenType != type) throw new JsonException($"expected {type}, found {reader.TokenType}");
    }

    private static string String(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException($"expected a string, found {reader.TokenType}");
}
