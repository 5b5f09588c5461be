using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Conversion;

/// <summary>
/// Writes a safetensors file tensor by tensor without holding the data in memory: the header (names, dtypes,
/// shapes, data offsets, <c>__metadata__</c>) is computed from the shapes first, padded with spaces to a multiple
/// of 8 bytes as the reference writer does, then each tensor's row-major bytes are streamed after it.
/// </summary>
internal static class SafetensorsStreamWriter
{
    /// <summary>The safetensors dtype name, or null when safetensors has none for this type.</summary>
    public static string? DTypeName(DType type) => type switch
    {
        DType.F64 => "F64",
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.F8E4M3 => "F8_E4M3",
        DType.F8E5M2 => "F8_E5M2",
        DType.I64 => "I64",
        DType.I32 => "I32",
        DType.I16 => "I16",
        DType.I8 => "I8",
        DType.U64 => "U64",
        DType.U32 => "U32",
        DType.U16 => "U16",
        DType.U8 => "U8",
        DType.Bool => "BOOL",
        DType.Complex64 => "C64",
        _ => null,
    };

    public static void Write(Stream output, IReadOnlyList<Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject();
        var meta = new JsonObject();
        foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var t in tensors)
        {
            string dtype = DTypeName(t.DType)
                ?? throw new LineageException($"tensor '{t.Name}': {t.DType.DisplayName()} has no safetensors dtype", t.Location.Source.Name, t.Location.Offset, t.Location.Entry);
            long length = TensorBytes.Length(t);
            header[t.Name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray([.. t.Shape.Select(s => (JsonNode)JsonValue.Create(s))]),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + length)),
            };
            offset += length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        output.Write(prefix);
        output.Write(json);
        for (int i = json.Length; i < padded; i++) output.WriteByte((byte)' ');
        foreach (var t in tensors) TensorBytes.Copy(t, output.Write);
    }
}
