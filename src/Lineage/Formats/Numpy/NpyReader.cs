using System.Buffers.Binary;
using System.Text;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.Numpy;

/// <summary>A parsed .npy header. <see cref="DType"/> is Unknown and <see cref="Unsupported"/> says why when the array holds no plain numbers.</summary>
public sealed record NpyHeader(
    int Major,
    int Minor,
    long DataOffset,
    string Descr,
    bool FortranOrder,
    long[] Shape,
    DType DType,
    int ItemSize,
    bool BigEndian,
    long ElementCount,
    string? Unsupported)
{
    /// <summary>Bytes of array data (elements × item size), or -1 when unknown (object arrays) or overflowing.</summary>
    public long DataLength => ItemSize <= 0 || ElementCount > long.MaxValue / ItemSize ? -1 : ElementCount * ItemSize;

    /// <summary>True for object arrays ('|O'): their data is a pickle, never loaded here.</summary>
    public bool IsObjectArray => Descr.Length >= 2 && Descr[1] == 'O';
}

/// <summary>
/// NumPy .npy (format versions 1–3) and .npz (a zip of .npy members) reader. The header dict is parsed with a
/// tiny literal parser, never evaluated. Object arrays are reported, never unpickled; big-endian arrays are
/// converted into an in-memory little-endian copy with a diagnostic saying so.
/// </summary>
public static class NpyReader
{
    /// <summary>numpy itself refuses headers above 10,000 bytes by default; we allow more but bound it.</summary>
    public const int MaxHeaderLength = 1 << 20;

    /// <summary>Big-endian arrays up to this size are byte-swapped into memory; larger ones are reported and skipped.</summary>
    public const long MaxConvertedBytes = 256L << 20;

    /// <summary>0x93 'NUMPY' (a u8 string literal would encode U+0093 as two bytes).</summary>
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyHeader ReadHeader(IByteSource source, string? entry = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        string file = source.Name;
        if (source.Length < 10)
            throw new LineageException($"file of {source.Length} bytes is too short for a .npy header", file, 0, entry);
        byte[] head = source.ReadBytes(0, Math.Min(12, source.Length));
        if (!head.AsSpan().StartsWith(Magic))
            throw new LineageException("missing the \\x93NUMPY magic", file, 0, entry);
        int major = head[6], minor = head[7];
        long headerLength;
        int prefix;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(8));
                prefix = 10;
                break;
            case 2 or 3:
                if (head.Length < 12)
                    throw new LineageException("file too short for a version 2 header length", file, 8, entry);
                headerLength = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(8));
                prefix = 12;
                break;
            default:
                throw new LineageException($"unsupported .npy format version {major}.{minor}", file, 6, entry);
        }
        if (headerLength > MaxHeaderLength)
            throw new LineageException($"header length {headerLength} exceeds the {MaxHeaderLength}-byte cap", file, 8, entry);
        if (headerLength > source.Length - prefix)
            throw new LineageException($"header length {headerLength} runs past the end of the file ({source.Length} bytes)", file, 8, entry);
        byte[] raw = source.ReadBytes(prefix, headerLength);
        string text = major == 3 ? DecodeUtf8(raw, file, prefix, entry) : Encoding.Latin1.GetString(raw);
        var dict = PythonLiteral.ParseDict(text.TrimEnd('\n', ' ', '\0'),
            (message, at) => new LineageException($".npy header: {message}", file, prefix + at, entry));

        if (!dict.TryGetValue("descr", out var descrValue) || !dict.TryGetValue("fortran_order", out var fortranValue) || !dict.TryGetValue("shape", out var shapeValue))
            throw new LineageException(".npy header lacks one of 'descr', 'fortran_order', 'shape'", file, prefix, entry);
        if (fortranValue is not bool fortran)
            throw new LineageException("'fortran_order' is not True or False", file, prefix, entry);
        if (shapeValue is not List<object?> shapeItems)
            throw new LineageException("'shape' is not a tuple", file, prefix, entry);
        if (shapeItems.Count > 64)
            throw new LineageException($"'shape' has {shapeItems.Count} dimensions", file, prefix, entry);
        var shape = new long[shapeItems.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shapeItems[i] is not long d || d < 0)
                throw new LineageException($"'shape' item {i} is not a non-negative integer", file, prefix, entry);
            shape[i] = d;
            count = d == 0 || count == 0 ? 0 : count > long.MaxValue / d ? throw new LineageException("'shape' has too many elements", file, prefix, entry) : count * d;
        }

        long dataOffset = prefix + headerLength;
        if (descrValue is not string descr)
            return new NpyHeader(major, minor, dataOffset, descrValue is null ? "None" : "<structured>", fortran, shape, DType.Unknown, 0, false, count,
                "structured (record) dtype");
        var (dtype, itemSize, bigEndian, unsupported) = ParseDescr(descr);
        return new NpyHeader(major, minor, dataOffset, descr, fortran, shape, dtype, itemSize, bigEndian, count, unsupported);
    }

    private static string DecodeUtf8(byte[] raw, string file, long at, string? entry)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(raw);
        }
        catch (DecoderFallbackException)
        {
            throw new LineageException("version 3 header is not valid UTF-8", file, at, entry);
        }
    }

    /// <summary>Parses an array-protocol type string such as '&lt;f4', '|u1', '&gt;i8'.</summary>
    internal static (DType DType, int ItemSize, bool BigEndian, string? Unsupported) ParseDescr(string descr)
    {
        if (descr.Length < 2)
            return (DType.Unknown, 0, false, $"dtype '{descr}'");
        char order = descr[0];
        char kind = descr[1];
        if (order is not ('<' or '>' or '|' or '='))
            return (DType.Unknown, 0, false, $"dtype '{descr}' has no byte-order mark");
        if (kind == 'O')
            return (DType.Unknown, 0, false, "object array (its data is a pickle)");
        if (!int.TryParse(descr.AsSpan(2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int size) || size <= 0)
            return (DType.Unknown, 0, false, $"dtype '{descr}'");
        DType dtype = (kind, size) switch
        {
            ('f', 2) => DType.F16,
            ('f', 4) => DType.F32,
            ('f', 8) => DType.F64,
            ('i', 1) => DType.I8,
            ('i', 2) => DType.I16,
            ('i', 4) => DType.I32,
            ('i', 8) => DType.I64,
            ('u', 1) => DType.U8,
            ('u', 2) => DType.U16,
            ('u', 4) => DType.U32,
            ('u', 8) => DType.U64,
            ('b', 1) => DType.Bool,
            ('c', 8) => DType.Complex64,
            _ => DType.Unknown,
        };
        if (dtype == DType.Unknown)
            return (DType.Unknown, size, false, $"dtype '{descr}' is not a supported numeric type");
        return (dtype, size, order == '>' && size > 1, null);
    }

    /// <summary>Reads a single .npy file as a one-tensor part named after the file.</summary>
    internal static ModelPart Read(IByteSource source)
    {
        var part = new ModelPart("npy");
        string name = Path.GetFileNameWithoutExtension(source.Name);
        AddTensor(part, source, string.IsNullOrEmpty(name) ? "array" : name, null);
        return part;
    }

    /// <summary>Reads every '*.npy' member of an .npz archive; tensor names drop the '.npy'.</summary>
    internal static ModelPart ReadNpz(ZipReader zip)
    {
        var part = new ModelPart("npz");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in zip.Entries)
        {
            if (entry.IsDirectory) continue;
            if (!entry.Name.EndsWith(".npy", StringComparison.Ordinal))
            {
                part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "npz.other-member", $"member '{entry.Name}' is not an array and was ignored", zip.Source.Name, entry.LocalHeaderOffset));
                continue;
            }
            string name = entry.Name[..^4];
            if (!names.Add(name))
                throw new LineageException($"array '{name}' appears twice in the archive", zip.Source.Name, entry.LocalHeaderOffset, entry.Name);
            var member = zip.OpenEntry(entry);
            AddTensor(part, member, name, entry.Name);
        }
        return part;
    }

    private static void AddTensor(ModelPart part, IByteSource source, string name, string? entry)
    {
        var h = ReadHeader(source, entry);
        string file = source.Name;
        if (h.Unsupported is not null)
        {
            string code = h.IsObjectArray ? "npy.object-array" : "npy.unsupported-dtype";
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, code,
                $"array '{name}' ({h.Descr}) was not loaded: {h.Unsupported}", file, h.DataOffset));
            return;
        }
        long bytes = h.DataLength;
        long available = source.Length - h.DataOffset;
        if (bytes < 0 || bytes > available)
            throw new LineageException($"array '{name}': {h.Descr} x [{string.Join(", ", h.Shape)}] needs {bytes} bytes but {available} follow the header", file, h.DataOffset, entry);
        if (bytes < available)
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "npy.trailing-bytes", $"array '{name}': {available - bytes} bytes follow the array data", file, h.DataOffset + bytes));

        IByteSource data = source;
        long offset = h.DataOffset;
        if (h.BigEndian)
        {
            if (bytes > MaxConvertedBytes)
            {
                part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "npy.big-endian",
                    $"array '{name}' is big-endian ({h.Descr}) and larger than {MaxConvertedBytes} bytes; not loaded", file, h.DataOffset));
                return;
            }
            byte[] swapped = source.ReadBytes(h.DataOffset, bytes);
            // Complex numbers are two floats, each swapped on its own.
            int unit = h.DType == DType.Complex64 ? h.ItemSize / 2 : h.ItemSize;
            for (long i = 0; i < bytes; i += unit) swapped.AsSpan((int)i, unit).Reverse();
            data = new MemoryByteSource(file, swapped);
            offset = 0;
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "npy.big-endian-converted",
                $"array '{name}' is big-endian ({h.Descr}); converted to little-endian in memory", file, h.DataOffset));
        }
        long[]? strides = h.FortranOrder && h.Shape.Length > 1 ? ColumnMajorStrides(h.Shape) : null;
        part.Tensors.Add(new Tensor(name, h.DType, h.Shape, new TensorLocation(data, offset, bytes, strides, entry)));
    }

    private static long[] ColumnMajorStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            strides[d] = s;
            s *= Math.Max(1, shape[d]);
        }
        return strides;
    }
}
