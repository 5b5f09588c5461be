using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Models.Canonical;

namespace Lineage.Provenance;

/// <summary>
/// Versioned, content-addressed fingerprint files: the magic "LNFP", a little-endian u32 version and a u32
/// length, a JSON document ("format": "lineage-fingerprint") describing everything, then the numeric arrays
/// as raw little-endian blobs that the JSON points at ({"$blob": i}). Signatures are stored as int8 with a
/// power-of-two scale per row (cosines survive to ~1e-3, and re-serialising a read fingerprint gives the
/// same bytes). The id is the SHA-256 of the bytes, so equal fingerprints have equal ids on every machine.
/// </summary>
public static class FingerprintSerializer
{
    public const string FormatName = "lineage-fingerprint";
    private const long MaxFileBytes = 512L << 20;
    private static readonly byte[] Magic = "LNFP"u8.ToArray();

    public static byte[] Serialize(Fingerprint f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var blobs = new BlobWriter();
        var root = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = f.Version,
            ["source"] = f.Source,
            ["facts"] = JsonSerializer.SerializeToNode(f.Facts, JsonOptions),
            ["has_tokenizer"] = f.HasTokenizer,
            ["vocabulary_hash"] = f.VocabularyHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
            ["vocabulary_sketch"] = blobs.U64(f.VocabularySketch),
            ["vocabulary_head"] = blobs.U64(f.VocabularyHead),
            ["anchor_keys"] = blobs.U64([.. f.Anchors.Select(a => a.TextKey)]),
            ["anchor_ids"] = blobs.I32([.. f.Anchors.Select(a => a.Id)]),
            ["embedding"] = f.Embedding is null ? null : Group(f.Embedding, f.Anchors.Length, blobs),
            ["lm_head"] = f.LmHead is null ? null : Group(f.LmHead, f.Anchors.Length, blobs),
            ["groups"] = new JsonArray([.. f.Groups.Select(g => (JsonNode)Group(g, f.Anchors.Length, blobs))]),
            ["norms"] = new JsonArray([.. f.Norms.Select(n => (JsonNode)new JsonObject
            {
                ["stack"] = n.Stack, ["layer"] = n.Layer, ["kind"] = n.Kind, ["values"] = blobs.F32(n.Values),
            })]),
            ["samples"] = new JsonArray([.. f.Samples.Select(s => (JsonNode)new JsonObject
            {
                ["key"] = s.Key, ["elements"] = s.Elements, ["values"] = blobs.F32(s.Values),
                ["transposed_store"] = s.TransposedStore is null ? null : blobs.F32(s.TransposedStore),
            })]),
            ["bytes_read"] = f.BytesRead,
            ["model_bytes"] = f.ModelBytes,
        };
        byte[] json = Encoding.UTF8.GetBytes(root.ToJsonString());
        using var ms = new MemoryStream();
        ms.Write(Magic);
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)f.Version);
        ms.Write(word);
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)json.Length);
        ms.Write(word);
        ms.Write(json);
        blobs.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>Content address: SHA-256 of the serialized bytes, hex.</summary>
    public static string Id(byte[] serialized) => Convert.ToHexStringLower(SHA256.HashData(serialized));

    public static bool LooksLikeFingerprint(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            Span<byte> head = stackalloc byte[4];
            return s.Read(head) == 4 && head.SequenceEqual(Magic);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static Fingerprint Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new LineageException("no such file", path);
        if (info.Length > MaxFileBytes) throw new LineageException($"fingerprint of {info.Length} bytes exceeds the {MaxFileBytes}-byte limit", path);
        return Deserialize(File.ReadAllBytes(path), path);
    }

    public static Fingerprint Deserialize(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual(Magic)) throw new LineageException("not a Lineage fingerprint (no LNFP magic)", name, 0);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        if (version != Fingerprint.CurrentVersion)
            throw new LineageException($"fingerprint version {version} is not supported (this build reads version {Fingerprint.CurrentVersion}); recompute it", name, 4);
        uint jsonLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (jsonLength > bytes.Length - 12) throw new LineageException($"header length {jsonLength} runs past the end of the file", name, 8);
        var blobs = new BlobReader(bytes[(12 + (int)jsonLength)..].ToArray(), name, 12 + jsonLength);
        try
        {
            var root = JsonNode.Parse(bytes.Slice(12, (int)jsonLength)) as JsonObject ?? throw new LineageException("fingerprint header is not a JSON object", name, 12);
            if (root["format"]?.GetValue<string>() != FormatName) throw new LineageException("not a Lineage fingerprint", name, 12);
            var keys = blobs.U64(root["anchor_keys"]);
            var ids = blobs.I32(root["anchor_ids"]);
            if (keys.Length != ids.Length) throw new LineageException("anchor arrays differ in length", name, 12);
            int anchors = keys.Length;
            return new Fingerprint
            {
                Version = (int)version,
                Source = root["source"]?.GetValue<string>() ?? "",
                Facts = root["facts"].Deserialize<ModelFacts>(JsonOptions) ?? throw new LineageException("fingerprint has no facts", name, 12),
                HasTokenizer = root["has_tokenizer"]?.GetValue<bool>() ?? false,
                VocabularyHash = ulong.Parse(root["vocabulary_hash"]!.GetValue<string>(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture),
                VocabularySketch = blobs.U64(root["vocabulary_sketch"]),
                VocabularyHead = blobs.U64(root["vocabulary_head"]),
                Anchors = [.. keys.Zip(ids, (k, i) => new Anchor(k, i))],
                Embedding = root["embedding"] is JsonObject e ? ReadGroup(e, anchors, blobs, name) : null,
                LmHead = root["lm_head"] is JsonObject l ? ReadGroup(l, anchors, blobs, name) : null,
                Groups = [.. (root["groups"] as JsonArray ?? []).Select(g => ReadGroup(g as JsonObject ?? throw new LineageException("bad group", name, 12), anchors, blobs, name))],
                Norms = [.. (root["norms"] as JsonArray ?? []).Select(n => new NormVector(n!["stack"]!.GetValue<string>(), n["layer"]!.GetValue<int>(), n["kind"]!.GetValue<string>(), blobs.F32(n["values"])))],
                Samples = [.. (root["samples"] as JsonArray ?? []).Select(s => new TensorSample
                {
                    Key = s!["key"]!.GetValue<string>(),
                    Elements = s["elements"]!.GetValue<long>(),
                    Values = blobs.F32(s["values"]),
                    TransposedStore = s["transposed_store"] is null ? null : blobs.F32(s["transposed_store"]),
                })],
                BytesRead = root["bytes_read"]?.GetValue<long>() ?? 0,
                ModelBytes = root["model_bytes"]?.GetValue<long>() ?? 0,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException or KeyNotFoundException or OverflowException or ArgumentException)
        {
            throw new LineageException($"malformed fingerprint: {e.Message}", name, 12);
        }
    }

    /// <summary>
    /// Rounds signatures to the stored precision (int8 with a power-of-two scale per row), so a fingerprint
    /// compared fresh and the same fingerprint read back from a file give the same answer.
    /// </summary>
    internal static void RoundToStoredPrecision(float[] signatures, int anchors)
    {
        if (anchors == 0) return;
        var q = new sbyte[anchors];
        for (int r = 0; r < signatures.Length / anchors; r++)
        {
            var row = signatures.AsSpan(r * anchors, anchors);
            int exponent = QuantizeRow(row, q);
            for (int i = 0; i < anchors; i++) row[i] = q[i] * MathF.ScaleB(1f, exponent);
        }
    }

    /// <summary>int8 with scale 2^e, the smallest e that keeps every |v|/2^e within 127.</summary>
    private static int QuantizeRow(ReadOnlySpan<float> row, Span<sbyte> q)
    {
        float max = 0;
        foreach (var v in row) max = Math.Max(max, Math.Abs(v));
        int exponent = max == 0 ? 0 : (int)Math.Ceiling(Math.Log2(max / 127.0));
        while (max / MathF.ScaleB(1f, exponent) > 127f) exponent++;
        float inverse = MathF.ScaleB(1f, -exponent);
        for (int i = 0; i < row.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(row[i] * inverse), -127, 127);
        return exponent;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private static JsonObject Group(RowGroup g, int anchors, BlobWriter blobs) => new()
    {
        ["stack"] = g.Stack,
        ["layer"] = g.Layer,
        ["role"] = g.Role.ToString(),
        ["expert"] = g.Expert,
        ["total_rows"] = g.TotalRows,
        ["rows"] = blobs.I32(g.RowIndices),
        ["signatures"] = blobs.Signatures(g.Signatures, anchors),
    };

    private static RowGroup ReadGroup(JsonObject o, int anchors, BlobReader blobs, string name)
    {
        var rows = blobs.I32(o["rows"]);
        var sig = blobs.Signatures(o["signatures"], rows.Length, anchors);
        return new RowGroup
        {
            Stack = o["stack"]!.GetValue<string>(),
            Layer = o["layer"]!.GetValue<int>(),
            Role = Enum.Parse<TensorRole>(o["role"]!.GetValue<string>()),
            Expert = o["expert"]!.GetValue<int>(),
            TotalRows = o["total_rows"]!.GetValue<int>(),
            RowIndices = rows,
            Signatures = sig,
        };
    }

    /// <summary>Collects numeric arrays into one blob section; JSON holds {"$blob": index}.</summary>
    private sealed class BlobWriter
    {
        private readonly MemoryStream _data = new();
        private readonly List<(long Offset, long Length)> _table = [];

        private JsonObject Add(ReadOnlySpan<byte> bytes, string type)
        {
            _table.Add((_data.Length, bytes.Length));
            _data.Write(bytes);
            return new JsonObject { ["$blob"] = _table.Count - 1, ["type"] = type, ["offset"] = _table[^1].Offset, ["length"] = bytes.Length };
        }

        public JsonObject U64(ulong[] v)
        {
            var b = new byte[v.Length * 8];
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(i * 8), v[i]);
            return Add(b, "u64");
        }

        public JsonObject I32(int[] v)
        {
            var b = new byte[v.Length * 4];
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(i * 4), v[i]);
            return Add(b, "i32");
        }

        public JsonObject F32(float[] v)
        {
            var b = new byte[v.Length * 4];
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]);
            return Add(b, "f32");
        }

        /// <summary>Per row: one signed byte exponent, then the int8 values.</summary>
        public JsonObject Signatures(float[] v, int anchors)
        {
            int rows = anchors == 0 ? 0 : v.Length / anchors;
            var b = new byte[rows * (anchors + 1)];
            var q = new sbyte[anchors];
            for (int r = 0; r < rows; r++)
            {
                int exponent = QuantizeRow(v.AsSpan(r * anchors, anchors), q);
                b[r * (anchors + 1)] = (byte)(sbyte)Math.Clamp(exponent, -127, 127);
                for (int i = 0; i < anchors; i++) b[r * (anchors + 1) + 1 + i] = (byte)q[i];
            }
            return Add(b, "q8");
        }

        public void CopyTo(Stream stream) => _data.WriteTo(stream);
    }

    private sealed class BlobReader(byte[] data, string name, long baseOffset)
    {
        private ReadOnlySpan<byte> Slice(JsonNode? node, int unit)
        {
            if (node is not JsonObject o || o["offset"] is null || o["length"] is null) throw new FormatException("array reference missing");
            long offset = o["offset"]!.GetValue<long>(), length = o["length"]!.GetValue<long>();
            if (offset < 0 || length < 0 || offset > data.Length || length > data.Length - offset)
                throw new LineageException($"array of {length} bytes at {offset} runs past the end of the fingerprint", name, baseOffset + Math.Max(0, offset));
            if (length % unit != 0) throw new LineageException("array length is not a whole number of elements", name, baseOffset + offset);
            return data.AsSpan((int)offset, (int)length);
        }

        public ulong[] U64(JsonNode? node)
        {
            var b = Slice(node, 8);
            var r = new ulong[b.Length / 8];
            for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadUInt64LittleEndian(b[(i * 8)..]);
            return r;
        }

        public int[] I32(JsonNode? node)
        {
            var b = Slice(node, 4);
            var r = new int[b.Length / 4];
            for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadInt32LittleEndian(b[(i * 4)..]);
            return r;
        }

        public float[] F32(JsonNode? node)
        {
            var b = Slice(node, 4);
            var r = new float[b.Length / 4];
            for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadSingleLittleEndian(b[(i * 4)..]);
            return r;
        }

        public float[] Signatures(JsonNode? node, int rows, int anchors)
        {
            var b = Slice(node, 1);
            if (b.Length != (long)rows * (anchors + 1)) throw new LineageException("signature block does not match rows × anchors", name, baseOffset);
            var r = new float[rows * anchors];
            for (int row = 0; row < rows; row++)
            {
                float scale = MathF.ScaleB(1f, (sbyte)b[row * (anchors + 1)]);
                for (int i = 0; i < anchors; i++) r[row * anchors + i] = (sbyte)b[row * (anchors + 1) + 1 + i] * scale;
            }
            return r;
        }
    }
}
