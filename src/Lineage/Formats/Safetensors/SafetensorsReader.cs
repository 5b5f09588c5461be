using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.Safetensors;

/// <summary>One tensor entry of a safetensors header; offsets are relative to the data section.</summary>
public sealed record SafetensorsEntry(string Name, DType DType, string DTypeName, long[] Shape, long Begin, long End);

/// <summary>A validated safetensors header.</summary>
public sealed record SafetensorsHeader(long HeaderLength, long DataStart, IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Strict safetensors reader: an 8-byte little-endian header length, a JSON header, then the data section.
/// Validation follows the reference implementation and adds what it leaves to the user: header length cap,
/// duplicate keys, dtype × shape equal to the byte span, offsets in range, no overlaps, no holes and no
/// trailing bytes. Anything else is a <see cref="LineageException"/> naming the byte offset.
/// </summary>
public static class SafetensorsReader
{
    /// <summary>The reference implementation refuses headers above 100 MB; so do we.</summary>
    public const long MaxHeaderLength = 100_000_000;

    public static bool IsMatch(ReadOnlySpan<byte> head, long length) =>
        FormatDetector.Detect(head, length) == ContainerFormat.Safetensors;

    public static SafetensorsHeader ReadHeader(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        string file = source.Name;
        if (source.Length < 8)
            throw new LineageException("file too short for a safetensors header length", file, source.Length);
        Span<byte> lengthBytes = stackalloc byte[8];
        source.ReadExactly(0, lengthBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (n > MaxHeaderLength)
            throw new LineageException($"header length {n} exceeds the {MaxHeaderLength}-byte cap", file, 0);
        if (n > (ulong)(source.Length - 8))
            throw new LineageException($"header length {n} runs past the end of the file ({source.Length} bytes)", file, 0);
        if (n < 2)
            throw new LineageException($"header length {n} is too short for a JSON object", file, 0);
        byte[] json = source.ReadBytes(8, (long)n);
        long dataStart = 8 + (long)n;
        long dataLength = source.Length - dataStart;

        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        ParseHeaderJson(json, file, entries, metadata);

        // Offsets: each entry's span must match dtype x shape, lie in the data section, and the spans must
        // tile the data section exactly (no overlap, no hole, no trailing bytes).
        foreach (var e in entries)
        {
            if (e.Begin < 0 || e.End < e.Begin)
                throw new LineageException($"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] are not ordered", file, 8);
            if (e.End > dataLength)
                throw new LineageException($"tensor '{e.Name}': data_offsets end {e.End} past the data section ({dataLength} bytes)", file, dataStart + Math.Min(e.Begin, dataLength));
            long elements = 1;
            foreach (long d in e.Shape)
                elements = d == 0 || elements == 0 ? 0 : (elements > long.MaxValue / d ? -1 : elements * d);
            long bytes = elements < 0 ? -1 : e.DType.ByteCount(elements);
            if (bytes != e.End - e.Begin)
                throw new LineageException($"tensor '{e.Name}': {e.DTypeName} x [{string.Join(", ", e.Shape)}] needs {bytes} bytes but data_offsets span {e.End - e.Begin}", file, dataStart + e.Begin);
        }
        var ordered = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long cursor = 0;
        foreach (var e in ordered)
        {
            if (e.Begin < cursor)
                throw new LineageException($"tensor '{e.Name}' overlaps the previous tensor (begins at {e.Begin}, previous ends at {cursor})", file, dataStart + e.Begin);
            if (e.Begin > cursor)
                throw new LineageException($"hole of {e.Begin - cursor} bytes before tensor '{e.Name}'", file, dataStart + cursor);
            cursor = e.End;
        }
        if (cursor != dataLength)
            throw new LineageException($"{dataLength - cursor} trailing bytes after the last tensor", file, dataStart + cursor);

        return new SafetensorsHeader((long)n, dataStart, entries, metadata);
    }

    private static void ParseHeaderJson(byte[] json, string file, List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        const long jsonBase = 8;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, file);
            while (true)
            {
                Read(ref reader, file);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                if (reader.TokenType != JsonTokenType.PropertyName)
                    throw new LineageException("expected a tensor name in the header", file, jsonBase + reader.TokenStartIndex);
                long keyOffset = jsonBase + reader.TokenStartIndex;
                string key = reader.GetString()!;
                if (!seen.Add(key))
                    throw new LineageException($"duplicate header key '{key}'", file, keyOffset);
                if (key == "__metadata__")
                {
                    Expect(ref reader, JsonTokenType.StartObject, file);
                    while (true)
                    {
                        Read(ref reader, file);
                        if (reader.TokenType == JsonTokenType.EndObject) break;
                        string mkey = reader.GetString()!;
                        Read(ref reader, file);
                        if (reader.TokenType != JsonTokenType.String)
                            throw new LineageException($"__metadata__ value '{mkey}' is not a string", file, jsonBase + reader.TokenStartIndex);
                        if (!metadata.TryAdd(mkey, reader.GetString()!))
                            throw new LineageException($"duplicate __metadata__ key '{mkey}'", file, jsonBase + reader.TokenStartIndex);
                    }
                    continue;
                }
                entries.Add(ParseEntry(ref reader, key, file, keyOffset));
            }
            // Only padding whitespace may follow the object.
            int tail = (int)reader.BytesConsumed;
            for (int i = tail; i < json.Length; i++)
                if (json[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0))
                    throw new LineageException("unexpected bytes after the header JSON object", file, jsonBase + i);
        }
        catch (JsonException e)
        {
            throw new LineageException($"header is not valid JSON: {e.Message}", file, jsonBase + (e.BytePositionInLine ?? 0));
        }
        catch (InvalidOperationException e)
        {
            throw new LineageException($"header JSON has an unexpected value type: {e.Message}", file, jsonBase + reader.TokenStartIndex);
        }
    }

    private static SafetensorsEntry ParseEntry(ref Utf8JsonReader reader, string name, string file, long keyOffset)
    {
        Expect(ref reader, JsonTokenType.StartObject, file);
        string? dtypeName = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (true)
        {
            Read(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string field = reader.GetString()!;
            switch (field)
            {
                case "dtype":
                    Expect(ref reader, JsonTokenType.String, file);
                    dtypeName = reader.GetString();
                    break;
                case "shape":
                    shape = ReadIntArray(ref reader, file, 64);
                    break;
                case "data_offsets":
                    offsets = ReadIntArray(ref reader, file, 2);
                    break;
                default:
                    throw new LineageException($"tensor '{name}': unknown field '{field}'", file, 8 + reader.TokenStartIndex);
            }
        }
        if (dtypeName is null || shape is null || offsets is null || offsets.Length != 2)
            throw new LineageException($"tensor '{name}': needs dtype, shape and two data_offsets", file, keyOffset);
        var dtype = DTypes.FromSafetensorsName(dtypeName);
        if (dtype == DType.Unknown)
            throw new LineageException($"tensor '{name}': unknown dtype '{dtypeName}'", file, keyOffset);
        return new SafetensorsEntry(name, dtype, dtypeName, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadIntArray(ref Utf8JsonReader reader, string file, int maxCount)
    {
        Expect(ref reader, JsonTokenType.StartArray, file);
        var values = new List<long>();
        while (true)
        {
            Read(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndArray) break;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                throw new LineageException("expected a non-negative integer", file, 8 + reader.TokenStartIndex);
            if (values.Count == maxCount)
                throw new LineageException($"array longer than {maxCount}", file, 8 + reader.TokenStartIndex);
            values.Add(v);
        }
        return [.. values];
    }

    private static void Read(ref Utf8JsonReader reader, string file)
    {
        if (!reader.Read())
            throw new LineageException("header JSON ends early", file, 8 + reader.BytesConsumed);
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string file)
    {
        Read(ref reader, file);
        if (reader.TokenType != type)
            throw new LineageException($"expected {type} in the header, found {reader.TokenType}", file, 8 + reader.TokenStartIndex);
    }

    internal static ModelPart Read(IByteSource source)
    {
        var header = ReadHeader(source);
        var part = new ModelPart("safetensors");
        foreach (var e in header.Entries.OrderBy(e => e.Begin))
            part.Tensors.Add(new Tensor(e.Name, e.DType, e.Shape, new TensorLocation(source, header.DataStart + e.Begin, e.End - e.Begin)));
        foreach (var (k, v) in header.Metadata)
            part.Metadata[k] = JsonValue.Create(v);
        return part;
    }

    /// <summary>Serializes tensors to safetensors bytes (used by conversion and by tests that build hostile variants).</summary>
    public static byte[] Write(IEnumerable<(string Name, string DType, long[] Shape, byte[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var m = new JsonObject();
            foreach (var (k, v) in metadata) m[k] = v;
            header["__metadata__"] = m;
        }
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, dtype, shape, data) in tensors)
        {
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray([.. shape.Select(s => (JsonNode)JsonValue.Create(s))]),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + data.Length)),
            };
            offset += data.Length;
            blobs.Add(data);
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var ms = new MemoryStream();
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        ms.Write(len);
        ms.Write(json);
        for (int i = json.Length; i < padded; i++) ms.WriteByte((byte)' ');
        foreach (var b in blobs) ms.Write(b);
        return ms.ToArray();
    }
}
