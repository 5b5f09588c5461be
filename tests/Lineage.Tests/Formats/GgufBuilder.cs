using System.Buffers.Binary;
using System.Text;

namespace Lineage.Tests.Formats;

/// <summary>
/// Writes GGUF bytes for tests: well-formed files by default, with knobs for the hostile variants the reader
/// must refuse (explicit offsets, raw values, odd versions). Values are written exactly as llama.cpp's
/// gguf writer lays them out: u64-length strings, u32 type tags, tensor data padded to the alignment.
/// </summary>
internal sealed class GgufBuilder
{
    private readonly List<(string Key, uint Type, byte[] Payload)> _metadata = [];
    private readonly List<TensorSpec> _tensors = [];

    public uint Version { get; set; } = 3;

    /// <summary>Alignment used to place data; written as general.alignment only through <see cref="UInt32"/>.</summary>
    public int Alignment { get; set; } = 32;

    public sealed record TensorSpec(string Name, uint GgmlType, long[] Dims, byte[] Data, ulong? Offset);

    public GgufBuilder Raw(string key, uint type, byte[] payload)
    {
        _metadata.Add((key, type, payload));
        return this;
    }

    public GgufBuilder UInt32(string key, uint value) => Raw(key, 4, Le(value));

    public GgufBuilder Int32(string key, int value) => Raw(key, 5, Le((uint)value));

    public GgufBuilder Float32(string key, float value) => Raw(key, 6, BitConverter.GetBytes(value));

    public GgufBuilder Bool(string key, bool value) => Raw(key, 7, [value ? (byte)1 : (byte)0]);

    public GgufBuilder String(string key, string value) => Raw(key, 8, Str(value));

    public GgufBuilder UInt64(string key, ulong value) => Raw(key, 10, Le(value));

    public GgufBuilder Strings(string key, IEnumerable<string> values) => Raw(key, 9, ArrayPayload(8, values.Select(Str).ToList()));

    public GgufBuilder Floats(string key, IEnumerable<float> values) => Raw(key, 9, ArrayPayload(6, values.Select(BitConverter.GetBytes).ToList()));

    public GgufBuilder Int32s(string key, IEnumerable<int> values) => Raw(key, 9, ArrayPayload(5, values.Select(v => Le((uint)v)).ToList()));

    public GgufBuilder Tensor(string name, uint ggmlType, long[] dims, byte[] data, ulong? offset = null)
    {
        _tensors.Add(new TensorSpec(name, ggmlType, dims, data, offset));
        return this;
    }

    /// <summary>A float32 tensor (ggml type 0) with GGUF dims (ne[0] innermost).</summary>
    public GgufBuilder F32(string name, long[] dims, float[] values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        return Tensor(name, 0, dims, data);
    }

    public static byte[] ArrayPayload(uint elementType, IReadOnlyList<byte[]> elements)
    {
        using var ms = new MemoryStream();
        ms.Write(Le(elementType));
        ms.Write(Le((ulong)elements.Count));
        foreach (var e in elements) ms.Write(e);
        return ms.ToArray();
    }

    public static byte[] Str(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        return [.. Le((ulong)bytes.Length), .. bytes];
    }

    public static byte[] Le(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    public static byte[] Le(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    /// <summary>Offset of the first tensor info (right after the metadata), for tests that patch infos.</summary>
    public long TensorInfosOffset { get; private set; }

    /// <summary>File positions of each tensor info's u64 offset field, filled by <see cref="Build"/>.</summary>
    public List<long> OffsetFields { get; } = [];

    public byte[] Build()
    {
        using var ms = new MemoryStream();
        ms.Write("GGUF"u8);
        ms.Write(Le(Version));
        ms.Write(Le((ulong)_tensors.Count));
        ms.Write(Le((ulong)_metadata.Count));
        foreach (var (key, type, payload) in _metadata)
        {
            ms.Write(Str(key));
            ms.Write(Le(type));
            ms.Write(payload);
        }
        TensorInfosOffset = ms.Position;
        var offsets = new ulong[_tensors.Count];
        ulong next = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = _tensors[i].Offset ?? next;
            next = Align(Math.Max(next, offsets[i] + (ulong)_tensors[i].Data.Length));
        }
        OffsetFields.Clear();
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            ms.Write(Str(t.Name));
            ms.Write(Le((uint)t.Dims.Length));
            foreach (long d in t.Dims) ms.Write(Le((ulong)d));
            ms.Write(Le(t.GgmlType));
            OffsetFields.Add(ms.Position);
            ms.Write(Le(offsets[i]));
        }
        long dataStart = (long)Align((ulong)ms.Position);
        var data = new byte[_tensors.Count == 0 ? 0 : (long)next];
        for (int i = 0; i < _tensors.Count; i++)
            if (offsets[i] + (ulong)_tensors[i].Data.Length <= (ulong)data.Length)
                _tensors[i].Data.CopyTo(data, (long)offsets[i]);
        if (_tensors.Count > 0)
        {
            ms.Write(new byte[dataStart - ms.Position]);
            ms.Write(data);
        }
        return ms.ToArray();
    }

    private ulong Align(ulong v) => (v + (ulong)Alignment - 1) / (ulong)Alignment * (ulong)Alignment;
}
