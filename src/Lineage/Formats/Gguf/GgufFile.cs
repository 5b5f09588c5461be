using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.Gguf;

/// <summary>One metadata entry; <see cref="Offset"/> is where its key begins in the file.</summary>
public sealed record GgufKeyValue(string Key, GgufValue Value, long Offset);

/// <summary>
/// One tensor info of a GGUF file. <see cref="Dimensions"/> is in GGUF order (ne[0] innermost first);
/// <see cref="Shape"/> is the row-major, outermost-first order the rest of Lineage uses.
/// </summary>
public sealed record GgufTensorInfo(
    string Name,
    long[] Dimensions,
    uint GgmlType,
    DType DType,
    long RelativeOffset,
    long DataOffset,
    long ByteLength,
    long InfoOffset)
{
    public long[] Shape => [.. Dimensions.Reverse()];

    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);

    /// <summary>Element type as ggml names it ("Q4_K"), or "ggml type N" when Lineage does not know the id.</summary>
    public string TypeName => DType == DType.Unknown ? $"ggml type {GgmlType}" : DType.DisplayName();
}

/// <summary>
/// A validated GGUF header: version, alignment, typed metadata in file order, tensor infos with absolute data
/// offsets, and recoverable oddities. Tensor bytes are not read; <see cref="GgufReader"/> turns this into tensors.
/// </summary>
public sealed class GgufFile
{
    private readonly Dictionary<string, GgufKeyValue> _byKey;

    internal GgufFile(string name, long length, int version, int alignment, long dataOffset,
        IReadOnlyList<GgufKeyValue> metadata, IReadOnlyList<GgufTensorInfo> tensors, IReadOnlyList<Diagnostic> diagnostics)
    {
        Name = name;
        Length = length;
        Version = version;
        Alignment = alignment;
        DataOffset = dataOffset;
        Metadata = metadata;
        Tensors = tensors;
        Diagnostics = diagnostics;
        _byKey = metadata.ToDictionary(kv => kv.Key, StringComparer.Ordinal);
    }

    /// <summary>The source's name (path) for messages.</summary>
    public string Name { get; }

    public long Length { get; }

    /// <summary>2 or 3 (version 1 and big-endian files are refused).</summary>
    public int Version { get; }

    /// <summary>general.alignment, or the default 32.</summary>
    public int Alignment { get; }

    /// <summary>Absolute offset of the data section (the aligned end of the tensor infos); may lie past the end of a file without tensors (vocabulary-only files end right after the infos).</summary>
    public long DataOffset { get; }

    public IReadOnlyList<GgufKeyValue> Metadata { get; }

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>general.architecture, when present as a string.</summary>
    public string? Architecture => Find("general.architecture")?.AsString();

    public GgufValue? Find(string key) => _byKey.TryGetValue(key, out var kv) ? kv.Value : null;

    public GgufKeyValue? FindEntry(string key) => _byKey.GetValueOrDefault(key);
}
