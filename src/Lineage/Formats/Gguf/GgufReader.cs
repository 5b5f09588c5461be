using System.Numerics;
using System.Text;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.Gguf;

/// <summary>
/// Strict reader for GGUF v2/v3 (llama.cpp's single-file format): magic "GGUF", u32 version, u64 tensor and
/// key/value counts, typed metadata, tensor infos, then an aligned data section. Every count and length is
/// checked against the bytes that remain before anything is allocated; duplicate keys or tensor names,
/// misaligned, out-of-range or overlapping tensors are errors naming the byte offset. Tensors of ggml types
/// Lineage does not know are listed but cannot be decoded.
/// </summary>
public static class GgufReader
{
    public const int DefaultAlignment = 32;

    /// <summary>GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    /// <summary>Arrays of arrays deeper than this are refused (the spec allows nesting; real files do not use it).</summary>
    public const int MaxArrayDepth = 8;

    /// <summary>Longest metadata string (chat templates are kilobytes; 64 MiB leaves room for odd tools).</summary>
    public const long MaxStringBytes = 64L << 20;

    public const long MaxKeyBytes = 64 << 10;

    public const long MaxTensorNameBytes = 64 << 10;

    public const long MaxTensors = 1 << 20;

    public const long MaxKeyValues = 1 << 20;

    /// <summary>Largest numeric metadata array (token scores of a 256k vocabulary take 1 MiB).</summary>
    public const long MaxArrayBytes = 256L << 20;

    /// <summary>Strings and nested arrays inside metadata arrays, summed over the file (vocabularies have ~10^5–10^6).</summary>
    public const long MaxArrayObjects = 1L << 25;

    /// <summary>llama.cpp refuses tensor names of GGML_MAX_NAME (64) bytes or more.</summary>
    private const int LlamaCppMaxName = 64;

    private const int HeaderBytes = 24;

    private const int MinKeyValueBytes = 8 + 4 + 1;

    private const int MinTensorInfoBytes = 8 + 4 + 4 + 8;

    public static bool IsMatch(ReadOnlySpan<byte> head) => head.StartsWith("GGUF"u8);

    /// <summary>Parses and validates the header, metadata and tensor infos (tensor data is not read).</summary>
    public static GgufFile ReadHeader(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var cursor = new GgufCursor(source);
        var diagnostics = new List<Diagnostic>();
        if (source.Length < 4)
            throw cursor.Error($"file of {source.Length} bytes is too short for a GGUF header", 0);
        Span<byte> magic = stackalloc byte[4];
        source.ReadExactly(0, magic);
        if (!IsMatch(magic))
            throw cursor.Error("not a GGUF file (magic is not \"GGUF\")", 0);
        cursor.Seek(4);
        uint version = cursor.ReadUInt32("the GGUF version");
        // Big-endian GGUF keeps the ASCII magic but writes the version byte-swapped, so its low half is zero.
        if (version != 0 && (version & 0xFFFF) == 0)
            throw cursor.Error($"big-endian GGUF (version field reads 0x{version:X8}); only little-endian GGUF is supported", 4);
        if (version == 1)
            throw cursor.Error("GGUF version 1 (32-bit counts, 2023) is not supported; convert the file to version 3", 4);
        if (version is not (2 or 3))
            throw cursor.Error($"unsupported GGUF version {version} (supported: 2 and 3)", 4);
        if (source.Length < HeaderBytes)
            throw cursor.Error($"file of {source.Length} bytes is too short for a GGUF header ({HeaderBytes} bytes)", source.Length);

        ulong tensorCount = cursor.ReadUInt64("the tensor count");
        ulong kvCount = cursor.ReadUInt64("the metadata count");
        if (tensorCount > MaxTensors)
            throw cursor.Error($"tensor count {tensorCount} exceeds the limit of {MaxTensors}", 8);
        if (kvCount > MaxKeyValues)
            throw cursor.Error($"metadata count {kvCount} exceeds the limit of {MaxKeyValues}", 16);
        if (kvCount * MinKeyValueBytes + tensorCount * MinTensorInfoBytes > (ulong)cursor.Remaining)
            throw cursor.Error($"{kvCount} metadata entries and {tensorCount} tensor infos cannot fit in the {cursor.Remaining} bytes that remain", 8);

        var state = new ParseState(cursor);
        var metadata = new List<GgufKeyValue>((int)kvCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            long at = cursor.Position;
            string key = cursor.ReadString($"metadata key #{i}", MaxKeyBytes);
            if (!keys.Add(key))
                throw cursor.Error($"duplicate metadata key '{key}'", at);
            long typeAt = cursor.Position;
            uint type = cursor.ReadUInt32($"the value type of '{key}'");
            if (type > (uint)GgufValueType.Float64)
                throw cursor.Error($"metadata '{key}' has unknown value type {type}", typeAt);
            metadata.Add(new GgufKeyValue(key, state.ReadValue((GgufValueType)type, key, 0), at));
        }

        int alignment = ReadAlignment(metadata, cursor);

        var infos = new List<RawTensorInfo>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
            infos.Add(ReadTensorInfo(cursor, i, names, diagnostics));

        long infosEnd = cursor.Position;
        long dataOffset = AlignUp(infosEnd, alignment);
        var tensors = ValidateTensors(infos, source, alignment, dataOffset, infosEnd, diagnostics);
        return new GgufFile(source.Name, source.Length, (int)version, alignment, dataOffset, metadata, tensors, diagnostics);
    }

    private static int ReadAlignment(List<GgufKeyValue> metadata, GgufCursor cursor)
    {
        var entry = metadata.Find(kv => kv.Key == "general.alignment");
        if (entry is null) return DefaultAlignment;
        // llama.cpp reads general.alignment as u32 only; another type is a file it would refuse.
        if (entry.Value.Type != GgufValueType.UInt32 || !entry.Value.TryGetInt64(out long value))
            throw cursor.Error($"general.alignment must be uint32, found {GgufValue.TypeName(entry.Value.Type)}", entry.Value.Offset);
        if (value == 0 || !BitOperations.IsPow2(value))
            throw cursor.Error($"general.alignment {value} is not a power of two", entry.Value.Offset);
        if (value > 1 << 30)
            throw cursor.Error($"general.alignment {value} exceeds 1 GiB", entry.Value.Offset);
        return (int)value;
    }

    private static RawTensorInfo ReadTensorInfo(GgufCursor cursor, ulong index, HashSet<string> names, List<Diagnostic> diagnostics)
    {
        long at = cursor.Position;
        string name = cursor.ReadString($"the name of tensor #{index}", MaxTensorNameBytes);
        if (!names.Add(name))
            throw cursor.Error($"duplicate tensor name '{name}'", at);
        if (Encoding.UTF8.GetByteCount(name) >= LlamaCppMaxName)
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.long-name",
                $"tensor name '{name}' is {LlamaCppMaxName} bytes or longer; llama.cpp refuses such files", cursor.Source.Name, at));
        long dimsAt = cursor.Position;
        uint nDims = cursor.ReadUInt32($"the dimension count of tensor '{name}'");
        if (nDims > MaxDimensions)
            throw cursor.Error($"tensor '{name}' has {nDims} dimensions (at most {MaxDimensions})", dimsAt);
        var dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++)
        {
            long dimAt = cursor.Position;
            ulong dim = cursor.ReadUInt64($"dimension {d} of tensor '{name}'");
            if (dim > long.MaxValue)
                throw cursor.Error($"tensor '{name}': dimension {d} is {dim}, beyond the signed 64-bit range", dimAt);
            dims[d] = (long)dim;
            if (dims[d] != 0 && elements > long.MaxValue / dims[d])
                throw cursor.Error($"tensor '{name}': element count overflows 64 bits", dimAt);
            elements *= dims[d];
        }
        long typeAt = cursor.Position;
        uint ggmlType = cursor.ReadUInt32($"the type of tensor '{name}'");
        long offsetAt = cursor.Position;
        ulong offset = cursor.ReadUInt64($"the offset of tensor '{name}'");
        return new RawTensorInfo(name, dims, elements, ggmlType, GgmlTypes.ToDType(ggmlType), offset, at, typeAt, offsetAt);
    }

    private static List<GgufTensorInfo> ValidateTensors(List<RawTensorInfo> infos, IByteSource source, int alignment, long dataOffset,
        long infosEnd, List<Diagnostic> diagnostics)
    {
        string file = source.Name;
        long dataLength = Math.Max(0, source.Length - dataOffset);
        var sizes = new long[infos.Count];
        for (int i = 0; i < infos.Count; i++)
        {
            var t = infos[i];
            if (t.Offset % (ulong)alignment != 0)
                throw new LineageException($"tensor '{t.Name}': offset {t.Offset} is not a multiple of the alignment {alignment}", file, t.OffsetAt);
            if (t.Offset > (ulong)dataLength)
                throw new LineageException($"tensor '{t.Name}': offset {t.Offset} is past the end of the data section ({dataLength} bytes from byte {dataOffset})", file, t.OffsetAt);
            if (t.DType == DType.Unknown)
            {
                sizes[i] = -1;
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.unknown-type",
                    $"tensor '{t.Name}' has ggml type {t.GgmlType}, which Lineage cannot decode", file, t.TypeAt));
                continue;
            }
            var info = t.DType.Info();
            long rowLength = t.Dims.Length == 0 ? 1 : t.Dims[0];
            if (rowLength % info.BlockSize != 0)
                throw new LineageException($"tensor '{t.Name}': row length {rowLength} is not a multiple of the {info.Name} block size {info.BlockSize}", file, t.TypeAt);
            long bytes = t.DType.ByteCount(t.Elements);
            if (bytes < 0)
                throw new LineageException($"tensor '{t.Name}': byte size of {t.Elements} {info.Name} elements overflows", file, t.At);
            if (bytes > dataLength - (long)t.Offset)
                throw new LineageException($"tensor '{t.Name}': {bytes} bytes at data offset {t.Offset} run past the end of the file ({dataLength} data bytes from byte {dataOffset})", file, t.OffsetAt);
            sizes[i] = bytes;
        }

        // Overlaps: in offset order each tensor must start at or after the previous one's end. A tensor of
        // unknown type is given the bytes up to the next tensor (or the end of the data), so it cannot overlap.
        var order = Enumerable.Range(0, infos.Count).OrderBy(i => infos[i].Offset).ThenBy(i => sizes[i]).ToArray();
        long previousEnd = 0;
        int previous = -1;
        for (int k = 0; k < order.Length; k++)
        {
            int i = order[k];
            long start = (long)infos[i].Offset;
            if (start < previousEnd)
                throw new LineageException($"tensor '{infos[i].Name}' (data bytes {start}..{start + sizes[i]}) overlaps tensor '{infos[previous].Name}' (ends at {previousEnd})", file, infos[i].OffsetAt);
            if (sizes[i] < 0)
                sizes[i] = (k + 1 < order.Length ? (long)infos[order[k + 1]].Offset : dataLength) - start;
            previousEnd = start + sizes[i];
            previous = i;
        }

        CheckPackedLayout(infos, sizes, alignment, source, diagnostics);
        long usedEnd = infos.Count == 0 ? infosEnd : dataOffset + AlignUp(previousEnd, alignment);
        long trailing = source.Length - AlignUp(usedEnd, alignment);
        if (trailing > 0 && !infos.Any(t => t.DType == DType.Unknown))
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "gguf.trailing-bytes",
                $"{trailing} bytes follow the last tensor", file, AlignUp(usedEnd, alignment)));

        var result = new List<GgufTensorInfo>(infos.Count);
        for (int i = 0; i < infos.Count; i++)
        {
            var t = infos[i];
            result.Add(new GgufTensorInfo(t.Name, t.Dims, t.GgmlType, t.DType, (long)t.Offset, dataOffset + (long)t.Offset, sizes[i], t.At));
        }
        return result;
    }

    /// <summary>
    /// llama.cpp's loader requires tensors packed in declaration order, each padded to the alignment. Other
    /// layouts are valid for us but a file llama.cpp would refuse is worth a note (and a scanner finding).
    /// </summary>
    private static void CheckPackedLayout(List<RawTensorInfo> infos, long[] sizes, int alignment, IByteSource source, List<Diagnostic> diagnostics)
    {
        long expected = 0;
        for (int i = 0; i < infos.Count; i++)
        {
            if (infos[i].DType == DType.Unknown) return;
            if ((long)infos[i].Offset != expected)
            {
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "gguf.layout",
                    $"tensor '{infos[i].Name}' is at data offset {infos[i].Offset} where llama.cpp expects {expected} (tensors not packed in declaration order)",
                    source.Name, infos[i].OffsetAt));
                return;
            }
            expected += AlignUp(sizes[i], alignment);
        }
    }

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>Reads a GGUF file into tensors (shape reversed to row-major; data left in the source), metadata, config and tokenizer.</summary>
    internal static ModelPart Read(IByteSource source)
    {
        var file = ReadHeader(source);
        var part = new ModelPart("gguf");
        foreach (var t in file.Tensors)
            part.Tensors.Add(new Tensor(t.Name, t.DType, t.Shape, new TensorLocation(source, t.DataOffset, t.ByteLength)));
        foreach (var kv in file.Metadata)
            part.Metadata[kv.Key] = kv.Value.ToJson();
        part.Diagnostics.AddRange(file.Diagnostics);
        part.Config = GgufModelMapping.BuildConfig(file);
        part.Tokenizer = GgufModelMapping.BuildTokenizer(file, part.Diagnostics);
        return part;
    }

    private sealed record RawTensorInfo(string Name, long[] Dims, long Elements, uint GgmlType, DType DType, ulong Offset, long At, long TypeAt, long OffsetAt);

    /// <summary>Metadata value parsing with the array-object budget shared across the file.</summary>
    private sealed class ParseState(GgufCursor cursor)
    {
        private long _arrayObjects;

        public GgufValue ReadValue(GgufValueType type, string key, int depth)
        {
            long at = cursor.Position;
            return type switch
            {
                GgufValueType.UInt8 => new GgufValue(type, cursor.ReadUInt8(key), at),
                GgufValueType.Int8 => new GgufValue(type, unchecked((sbyte)cursor.ReadUInt8(key)), at),
                GgufValueType.UInt16 => new GgufValue(type, cursor.ReadUInt16(key), at),
                GgufValueType.Int16 => new GgufValue(type, unchecked((short)cursor.ReadUInt16(key)), at),
                GgufValueType.UInt32 => new GgufValue(type, cursor.ReadUInt32(key), at),
                GgufValueType.Int32 => new GgufValue(type, unchecked((int)cursor.ReadUInt32(key)), at),
                GgufValueType.Float32 => new GgufValue(type, cursor.ReadSingle(key), at),
                GgufValueType.Bool => new GgufValue(type, cursor.ReadUInt8(key) != 0, at),
                GgufValueType.String => new GgufValue(type, cursor.ReadString($"metadata '{key}'", MaxStringBytes), at),
                GgufValueType.UInt64 => new GgufValue(type, cursor.ReadUInt64(key), at),
                GgufValueType.Int64 => new GgufValue(type, unchecked((long)cursor.ReadUInt64(key)), at),
                GgufValueType.Float64 => new GgufValue(type, cursor.ReadDouble(key), at),
                GgufValueType.Array => ReadArray(key, depth, at),
                _ => throw cursor.Error($"metadata '{key}' has unknown value type {(uint)type}", at),
            };
        }

        private GgufValue ReadArray(string key, int depth, long at)
        {
            if (depth >= MaxArrayDepth)
                throw cursor.Error($"metadata '{key}': arrays nested deeper than {MaxArrayDepth}", at);
            uint elementTag = cursor.ReadUInt32($"the element type of '{key}'");
            if (elementTag > (uint)GgufValueType.Float64)
                throw cursor.Error($"metadata '{key}': unknown array element type {elementTag}", at);
            var elementType = (GgufValueType)elementTag;
            long countAt = cursor.Position;
            ulong count = cursor.ReadUInt64($"the length of '{key}'");
            int minBytes = MinEncodedBytes(elementType);
            if (count > (ulong)(cursor.Remaining / minBytes))
                throw cursor.Error($"metadata '{key}': {count} {GgufValue.TypeName(elementType)} elements cannot fit in the {cursor.Remaining} bytes that remain", countAt);
            if (count > (ulong)Array.MaxLength || (elementType is not (GgufValueType.String or GgufValueType.Array) && count * (ulong)minBytes > MaxArrayBytes))
                throw cursor.Error($"metadata '{key}': array of {count} {GgufValue.TypeName(elementType)} elements exceeds the limit of {MaxArrayBytes} bytes", countAt);
            int n = (int)count;
            object items = elementType switch
            {
                GgufValueType.UInt8 => ReadNumbers<byte>(n, key),
                GgufValueType.Int8 => ReadNumbers<sbyte>(n, key),
                GgufValueType.UInt16 => ReadNumbers<ushort>(n, key),
                GgufValueType.Int16 => ReadNumbers<short>(n, key),
                GgufValueType.UInt32 => ReadNumbers<uint>(n, key),
                GgufValueType.Int32 => ReadNumbers<int>(n, key),
                GgufValueType.Float32 => ReadNumbers<float>(n, key),
                GgufValueType.UInt64 => ReadNumbers<ulong>(n, key),
                GgufValueType.Int64 => ReadNumbers<long>(n, key),
                GgufValueType.Float64 => ReadNumbers<double>(n, key),
                GgufValueType.Bool => Array.ConvertAll(ReadNumbers<byte>(n, key), b => b != 0),
                GgufValueType.String => ReadStrings(n, key, countAt),
                _ => ReadNested(n, key, depth, countAt),
            };
            return new GgufValue(GgufValueType.Array, items, at, elementType);
        }

        private T[] ReadNumbers<T>(int n, string key) where T : unmanaged
        {
            var values = new T[n];
            cursor.ReadArray<T>(values, $"metadata '{key}'");
            return values;
        }

        private string[] ReadStrings(int n, string key, long countAt)
        {
            Charge(n, key, countAt);
            var values = new string[n];
            for (int i = 0; i < n; i++)
                values[i] = cursor.ReadString($"element {i} of '{key}'", MaxStringBytes);
            return values;
        }

        private GgufValue[] ReadNested(int n, string key, int depth, long countAt)
        {
            Charge(n, key, countAt);
            var values = new GgufValue[n];
            for (int i = 0; i < n; i++)
                values[i] = ReadArray(key, depth + 1, cursor.Position);
            return values;
        }

        private void Charge(int n, string key, long countAt)
        {
            _arrayObjects += n;
            if (_arrayObjects > MaxArrayObjects)
                throw cursor.Error($"metadata '{key}': more than {MaxArrayObjects} strings and arrays inside metadata arrays", countAt);
        }

        private static int MinEncodedBytes(GgufValueType type) => type switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => 8,
        };
    }
}
