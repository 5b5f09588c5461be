using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Conversion;

/// <summary>
/// A tensor's stored elements in row-major order, as bytes. Contiguous tensors stream straight from their source;
/// strided views (transposed saves, Fortran-order arrays, expanded dimensions) are gathered through their strides.
/// Two independent gatherers exist on purpose: <see cref="Copy"/> (fast, copies innermost runs) writes the
/// converted file, <see cref="CopyElementwise"/> (one element at a time, no shortcuts) re-reads the source when
/// the result is verified, so a bug in one cannot hide in the other.
/// </summary>
internal static class TensorBytes
{
    /// <summary>A strided tensor's whole span is read into memory up to this size; larger spans are gathered by rows.</summary>
    private const long MaxSpanInMemory = 256L << 20;

    private const int ChunkBytes = 4 << 20;

    /// <summary>Bytes per element, or throws for block-quantized types (never produced by PyTorch or NumPy).</summary>
    public static int ElementBytes(Tensor tensor)
    {
        var info = tensor.DType.Info();
        if (info.BlockSize != 1 || info.BlockBytes <= 0)
            throw new LineageException($"tensor '{tensor.Name}': {tensor.DType.DisplayName()} is not a per-element type", tensor.Location.Source.Name, tensor.Location.Offset, tensor.Location.Entry);
        return info.BlockBytes;
    }

    /// <summary>Bytes of the tensor in row-major order.</summary>
    public static long Length(Tensor tensor) => tensor.ElementCount * ElementBytes(tensor);

    /// <summary>Streams the row-major bytes of <paramref name="tensor"/> to <paramref name="sink"/> in chunks.</summary>
    public static void Copy(Tensor tensor, Action<ReadOnlySpan<byte>> sink)
    {
        int eb = ElementBytes(tensor);
        long total = tensor.ElementCount * eb;
        if (total == 0) return;
        var loc = tensor.Location;
        if (tensor.IsContiguous)
        {
            var buffer = new byte[(int)Math.Min(total, ChunkBytes)];
            for (long done = 0; done < total;)
            {
                int n = (int)Math.Min(buffer.Length, total - done);
                loc.Source.ReadExactly(loc.Offset + done, buffer.AsSpan(0, n));
                sink(buffer.AsSpan(0, n));
                done += n;
            }
            return;
        }

        long[] shape = tensor.Shape, strides = loc.Strides!;
        int rank = shape.Length;
        long inner = shape[rank - 1], innerStride = strides[rank - 1];
        if (inner * eb > MaxSpanInMemory)
        {
            // A single row larger than the in-memory bound: the element-wise gatherer streams it in fixed chunks.
            CopyElementwise(tensor, sink);
            return;
        }
        long rows = tensor.ElementCount / inner;
        var row = new byte[checked((int)(inner * eb))];
        byte[]? span = loc.ByteLength <= MaxSpanInMemory ? ReadSpan(tensor) : null;
        var index = new long[rank];
        var output = new byte[Math.Max(row.Length, ChunkBytes)];
        int filled = 0;
        for (long r = 0; r < rows; r++)
        {
            long start = 0;
            for (int d = 0; d < rank - 1; d++) start += index[d] * strides[d];
            if (innerStride == 1)
            {
                if (span is not null) span.AsSpan((int)(start * eb), row.Length).CopyTo(row);
                else loc.Source.ReadExactly(loc.Offset + start * eb, row);
            }
            else
            {
                for (long i = 0; i < inner; i++)
                {
                    long at = (start + i * innerStride) * eb;
                    var dst = row.AsSpan((int)(i * eb), eb);
                    if (span is not null) span.AsSpan((int)at, eb).CopyTo(dst);
                    else loc.Source.ReadExactly(loc.Offset + at, dst);
                }
            }
            if (filled + row.Length > output.Length)
            {
                sink(output.AsSpan(0, filled));
                filled = 0;
            }
            row.CopyTo(output.AsSpan(filled));
            filled += row.Length;
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        if (filled > 0) sink(output.AsSpan(0, filled));
    }

    /// <summary>
    /// The same bytes as <see cref="Copy"/>, gathered one element at a time from the flat row-major index
    /// (decomposed into a multi-index, dotted with the strides): slow, simple, and shares no logic with the fast path.
    /// </summary>
    public static void CopyElementwise(Tensor tensor, Action<ReadOnlySpan<byte>> sink)
    {
        int eb = ElementBytes(tensor);
        long count = tensor.ElementCount;
        if (count == 0) return;
        var loc = tensor.Location;
        long[] shape = tensor.Shape;
        long[] strides = loc.Strides ?? RowMajorStrides(shape);
        byte[]? span = loc.ByteLength <= MaxSpanInMemory ? ReadSpan(tensor) : null;
        var output = new byte[(int)Math.Min(count * eb, ChunkBytes / eb * eb)];
        int filled = 0;
        for (long flat = 0; flat < count; flat++)
        {
            long rest = flat, element = 0;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                element += rest % shape[d] * strides[d];
                rest /= shape[d];
            }
            var dst = output.AsSpan(filled, eb);
            if (span is not null) span.AsSpan((int)(element * eb), eb).CopyTo(dst);
            else loc.Source.ReadExactly(loc.Offset + element * eb, dst);
            filled += eb;
            if (filled == output.Length)
            {
                sink(output.AsSpan(0, filled));
                filled = 0;
            }
        }
        if (filled > 0) sink(output.AsSpan(0, filled));
    }

    private static byte[] ReadSpan(Tensor tensor)
    {
        var loc = tensor.Location;
        var bytes = new byte[loc.ByteLength];
        loc.Source.ReadExactly(loc.Offset, bytes);
        return bytes;
    }

    internal static long[] RowMajorStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= Math.Max(1, shape[d]);
        }
        return strides;
    }
}
