using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Models.Canonical;

namespace Lineage.Provenance;

/// <summary>
/// Versioned, content-addressed fingerprint files: one JSON document ("format": "lineage-fingerprint"),
/// arrays as base64 (signatures in float16, which keeps cosines to ~1e-3). The id is the SHA-256 of the
/// canonical bytes, so equal fingerprints have equal ids on every machine.
/// </summary>
public static class FingerprintSerializer
{
    public const string FormatName = "lineage-fingerprint";
    private const long MaxFileBytes = 512L << 20;

    public static byte[] Serialize(Fingerprint f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var root = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = f.Version,
            ["source"] = f.Source,
            ["facts"] = JsonSerializer.SerializeToNode(f.Facts, JsonOptions),
            ["has_tokenizer"] = f.HasTokenizer,
            ["vocabulary_hash"] = f.VocabularyHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture),
            ["vocabulary_sketch"] = U64(f.VocabularySketch),
            ["vocabulary_head"] = U64(f.VocabularyHead),
            ["anchor_keys"] = U64(f.Anchors.Select(a => a.TextKey).ToArray()),
            ["anchor_ids"] = I32(f.Anchors.Select(a => a.Id).ToArray()),
            ["embedding"] = f.Embedding is null ? null : Group(f.Embedding),
            ["lm_head"] = f.LmHead is null ? null : Group(f.LmHead),
            ["groups"] = new JsonArray([.. f.Groups.Select(g => (JsonNode)Group(g))]),
            ["norms"] = new JsonArray([.. f.Norms.Select(n => (JsonNode)new JsonObject
            {
                ["stack"] = n.Stack, ["layer"] = n.Layer, ["kind"] = n.Kind, ["values"] = F32(n.Values),
            })]),
            ["samples"] = new JsonArray([.. f.Samples.Select(s => (JsonNode)new JsonObject
            {
                ["key"] = s.Key, ["elements"] = s.Elements, ["values"] = F32(s.Values),
                ["transposed_store"] = s.TransposedStore is null ? null : F32(s.TransposedStore),
            })]),
            ["bytes_read"] = f.BytesRead,
            ["model_bytes"] = f.ModelBytes,
        };
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>Content address: SHA-256 of the serialized bytes, hex.</summary>
    public static string Id(byte[] serialized) => Convert.ToHexStringLower(SHA256.HashData(serialized));

    public static bool LooksLikeFingerprint(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            var head = new byte[64];
            int n = s.Read(head);
            return Encoding.UTF8.GetString(head, 0, n).Contains("\"format\":\"" + FormatName + "\"", StringComparison.Ordinal);
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
        try
        {
            var root = JsonNode.Parse(bytes) as JsonObject ?? throw new LineageException("fingerprint is not a JSON object", name, 0);
            if (root["format"]?.GetValue<string>() != FormatName) throw new LineageException("not a Lineage fingerprint", name, 0);
            int version = root["version"]!.GetValue<int>();
            if (version != Fingerprint.CurrentVersion)
                throw new LineageException($"fingerprint version {version} is not supported (this build reads version {Fingerprint.CurrentVersion}); recompute it", name, 0);
            var keys = ReadU64(root["anchor_keys"]);
            var ids = ReadI32(root["anchor_ids"]);
            if (keys.Length != ids.Length) throw new LineageException("anchor arrays differ in length", name, 0);
            int anchors = keys.Length;
            return new Fingerprint
            {
                Version = version,
                Source = root["source"]?.GetValue<string>() ?? "",
                Facts = root["facts"].Deserialize<ModelFacts>(JsonOptions) ?? throw new LineageException("fingerprint has no facts", name, 0),
                HasTokenizer = root["has_tokenizer"]?.GetValue<bool>() ?? false,
                VocabularyHash = ulong.Parse(root["vocabulary_hash"]!.GetValue<string>(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture),
                VocabularySketch = ReadU64(root["vocabulary_sketch"]),
                VocabularyHead = ReadU64(root["vocabulary_head"]),
                Anchors = [.. keys.Zip(ids, (k, i) => new Anchor(k, i))],
                Embedding = root["embedding"] is JsonObject e ? ReadGroup(e, anchors, name) : null,
                LmHead = root["lm_head"] is JsonObject l ? ReadGroup(l, anchors, name) : null,
                Groups = [.. (root["groups"] as JsonArray ?? []).Select(g => ReadGroup(g as JsonObject ?? throw new LineageException("bad group", name, 0), anchors, name))],
                Norms = [.. (root["norms"] as JsonArray ?? []).Select(n => new NormVector(n!["stack"]!.GetValue<string>(), n["layer"]!.GetValue<int>(), n["kind"]!.GetValue<string>(), ReadF32(n["values"])))],
                Samples = [.. (root["samples"] as JsonArray ?? []).Select(s => new TensorSample
                {
                    Key = s!["key"]!.GetValue<string>(),
                    Elements = s["elements"]!.GetValue<long>(),
                    Values = ReadF32(s["values"]),
                    TransposedStore = s["transposed_store"] is null ? null : ReadF32(s["transposed_store"]),
                })],
                BytesRead = root["bytes_read"]?.GetValue<long>() ?? 0,
                ModelBytes = root["model_bytes"]?.GetValue<long>() ?? 0,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException or KeyNotFoundException or OverflowException)
        {
            throw new LineageException($"malformed fingerprint: {e.Message}", name, 0);
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private static JsonObject Group(RowGroup g) => new()
    {
        ["stack"] = g.Stack,
        ["layer"] = g.Layer,
        ["role"] = g.Role.ToString(),
        ["expert"] = g.Expert,
        ["total_rows"] = g.TotalRows,
        ["rows"] = I32(g.RowIndices),
        ["signatures"] = F16(g.Signatures),
    };

    private static RowGroup ReadGroup(JsonObject o, int anchors, string name)
    {
        var rows = ReadI32(o["rows"]);
        var sig = ReadF16(o["signatures"]);
        if (sig.Length != (long)rows.Length * anchors) throw new LineageException("signature block does not match rows × anchors", name, 0);
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

    private static string U64(ulong[] v)
    {
        var b = new byte[v.Length * 8];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(i * 8), v[i]);
        return Convert.ToBase64String(b);
    }

    private static string I32(int[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(i * 4), v[i]);
        return Convert.ToBase64String(b);
    }

    private static string F32(float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]);
        return Convert.ToBase64String(b);
    }

    private static string F16(float[] v)
    {
        var b = new byte[v.Length * 2];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(i * 2), (Half)v[i]);
        return Convert.ToBase64String(b);
    }

    private static byte[] Bytes(JsonNode? node, int unit)
    {
        var b = Convert.FromBase64String(node?.GetValue<string>() ?? "");
        if (b.Length % unit != 0) throw new FormatException("array length is not a whole number of elements");
        return b;
    }

    private static ulong[] ReadU64(JsonNode? node)
    {
        var b = Bytes(node, 8);
        var r = new ulong[b.Length / 8];
        for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(i * 8));
        return r;
    }

    private static int[] ReadI32(JsonNode? node)
    {
        var b = Bytes(node, 4);
        var r = new int[b.Length / 4];
        for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(i * 4));
        return r;
    }

    private static float[] ReadF32(JsonNode? node)
    {
        var b = Bytes(node, 4);
        var r = new float[b.Length / 4];
        for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(i * 4));
        return r;
    }

    private static float[] ReadF16(JsonNode? node)
    {
        var b = Bytes(node, 2);
        var r = new float[b.Length / 2];
        for (int i = 0; i < r.Length; i++) r[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(b.AsSpan(i * 2));
        return r;
    }
}
