using System.Buffers;
using Lineage.IO;
using Lineage.Numerics;

namespace Lineage.Models;

/// <summary>
/// Where a tensor's elements live: a byte source, the offset of element 0, and optional element strides
/// (PyTorch views may be non-contiguous). Quantized tensors are always contiguous rows of whole blocks.
/// </summary>
public sealed record TensorLocation(IByteSource Source, long Offset, long ByteLength, long[]? Strides = null, string? Entry = null);

/// <summary>
/// A named tensor of any stored format. Shape is row-major, outermost dimension first (GGUF's reversed
/// dimension order is undone by its reader). Elements are read on demand, by rows or whole, as float.
/// </summary>
public sealed class Tensor
{
    private const long MaxWholeRead = 1L << 30;

    public Tensor(string name, DType dtype, long[] shape, TensorLocation location)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(location);
        Name = name;
        DType = dtype;
        Shape = shape;
        Location = location;
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new LineageException($"tensor '{name}' has negative dimension {d}", location.Source.Name, location.Offset, location.Entry);
            count = d == 0 ? 0 : (count > long.MaxValue / d ? throw new LineageException($"tensor '{name}' has too many elements", location.Source.Name) : count * d);
        }
        ElementCount = count;
        RowLength = shape.Length == 0 ? 1 : shape[^1];
        RowCount = RowLength == 0 ? 0 : count / RowLength;
    }

    public string Name { get; }

    public DType DType { get; }

    public long[] Shape { get; }

    public TensorLocation Location { get; }

    /// <summary>
    /// True when the format says a 2-D weight is stored [in, out] (y = x·W), as ONNX MatMul operands are;
    /// the canonical layer then transposes it instead of guessing from the shape.
    /// </summary>
    public bool InputMajor { get; init; }

    /// <summary>A module name recovered from the graph for an anonymous tensor (e.g. ONNX "onnx::MatMul_12"), else null.</summary>
    public string? ModuleName { get; init; }

    public long ElementCount { get; }

    /// <summary>Product of all dimensions but the last.</summary>
    public long RowCount { get; }

    /// <summary>The last (innermost) dimension.</summary>
    public long RowLength { get; }

    public int Rank => Shape.Length;

    public bool IsContiguous => Location.Strides is null || IsRowMajor(Shape, Location.Strides);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    public override string ToString() => $"{Name} {DType.DisplayName()} {ShapeText}";

    /// <summary>Reads <paramref name="rowCount"/> rows starting at <paramref name="firstRow"/> into <paramref name="destination"/>.</summary>
    public void ReadRows(long firstRow, int rowCount, Span<float> destination)
    {
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > RowCount)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"rows {firstRow}..{firstRow + rowCount} outside {RowCount}");
        long elements = rowCount * RowLength;
        if (destination.Length < elements)
            throw new ArgumentException("destination too small", nameof(destination));
        ReadElements(firstRow * RowLength, destination[..(int)elements]);
    }

    /// <summary>
    /// The stored bytes of rows [<paramref name="firstRow"/>, +<paramref name="rowCount"/>) of a contiguous tensor,
    /// for announcing reads to a remote source (<see cref="IByteSource.Prefetch"/>).
    /// </summary>
    internal bool TryGetRowBytes(long firstRow, long rowCount, out ByteRange range)
    {
        range = default;
        var info = DType.Info();
        if (!IsContiguous || !info.CanDecode || firstRow < 0 || rowCount <= 0 || firstRow > RowCount - rowCount || RowLength % info.BlockSize != 0)
            return false;
        long skip = DType.ByteCount(firstRow * RowLength), length = DType.ByteCount(rowCount * RowLength);
        if (skip < 0 || length < 0) return false;
        range = new ByteRange(Location.Offset + skip, length);
        return true;
    }

    /// <summary>Reads the whole tensor (guarded against absurd sizes).</summary>
    public float[] ReadAll()
    {
        if (ElementCount > MaxWholeRead)
            throw new LineageException($"tensor '{Name}' has {ElementCount} elements; read it by rows", Location.Source.Name, Location.Offset, Location.Entry);
        var result = new float[ElementCount];
        ReadElements(0, result);
        return result;
    }

    /// <summary>Reads a flat range of elements in row-major order. For quantized types the range must be block-aligned.</summary>
    public void ReadElements(long start, Span<float> destination)
    {
        if (start < 0 || start + destination.Length > ElementCount)
            throw new ArgumentOutOfRangeException(nameof(start));
        if (destination.Length == 0) return;
        if (!DType.Info().CanDecode)
            throw new LineageException($"tensor '{Name}': element type {DType.DisplayName()} cannot be decoded", Location.Source.Name, Location.Offset, Location.Entry);
        if (IsContiguous)
            ReadContiguous(start, destination);
        else
            ReadStrided(start, destination);
    }

    private void ReadContiguous(long start, Span<float> destination)
    {
        var info = DType.Info();
        if (start % info.BlockSize != 0 || destination.Length % info.BlockSize != 0)
            throw new ArgumentException($"range of a {DType.DisplayName()} tensor must be aligned to {info.BlockSize} elements");
        long byteOffset = start / info.BlockSize * info.BlockBytes;
        long byteCount = DType.ByteCount(destination.Length);
        const int chunkElements = 1 << 20;
        int chunk = Math.Max(info.BlockSize, chunkElements / info.BlockSize * info.BlockSize);
        byte[] rented = ArrayPool<byte>.Shared.Rent((int)Math.Min(byteCount, DType.ByteCount(chunk)));
        try
        {
            for (int done = 0; done < destination.Length; done += chunk)
            {
                int n = Math.Min(chunk, destination.Length - done);
                int bytes = (int)DType.ByteCount(n);
                var buffer = rented.AsSpan(0, bytes);
                Location.Source.ReadExactly(Location.Offset + byteOffset + DType.ByteCount(done), buffer);
                ElementDecoder.Decode(DType, buffer, destination.Slice(done, n));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void ReadStrided(long start, Span<float> destination)
    {
        // Non-contiguous views are rare (transposed saves); gather element by element through the strides.
        long[] strides = Location.Strides!;
        int elementBytes = DType.Info().BlockBytes;
        Span<byte> one = stackalloc byte[8];
        Span<float> value = stackalloc float[1];
        var index = new long[Shape.Length];
        long flat = start;
        for (int d = Shape.Length - 1; d >= 0; d--)
        {
            index[d] = Shape[d] == 0 ? 0 : flat % Shape[d];
            flat = Shape[d] == 0 ? 0 : flat / Shape[d];
        }
        for (int i = 0; i < destination.Length; i++)
        {
            long elementOffset = 0;
            for (int d = 0; d < Shape.Length; d++) elementOffset += index[d] * strides[d];
            Location.Source.ReadExactly(Location.Offset + elementOffset * elementBytes, one[..elementBytes]);
            ElementDecoder.Decode(DType, one[..elementBytes], value);
            destination[i] = value[0];
            for (int d = Shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < Shape[d]) break;
                index[d] = 0;
            }
        }
    }

    internal static bool IsRowMajor(long[] shape, long[] strides)
    {
        if (shape.Length != strides.Length) return false;
        long expected = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] != 1 && strides[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }
}
