namespace Lineage.IO;

/// <summary>
/// Random-access bytes of one file: a local file read with positioned reads, an archive member, or a remote object read
/// with HTTP range requests. Readers parse headers through this interface and read tensor data on demand, so
/// the same code path works for a 1 MB test file and a 400 GB checkpoint.
/// </summary>
public interface IByteSource : IDisposable
{
    /// <summary>Path or URL, used in error messages.</summary>
    string Name { get; }

    long Length { get; }

    /// <summary>Total bytes handed out so far (for benchmarks: the fraction of a model a signal touched).</summary>
    long BytesRead { get; }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; throws <see cref="LineageException"/> past the end.</summary>
    void ReadExactly(long offset, Span<byte> destination);

    /// <summary>
    /// Announces ranges that are about to be read. Remote sources fetch the missing ones in parallel so that a
    /// batch of scattered row reads costs one round trip instead of one per row; local sources ignore it.
    /// </summary>
    void Prefetch(IReadOnlyList<ByteRange> ranges)
    {
    }
}

public static class ByteSourceExtensions
{
    /// <summary>Reads a bounded block into a new array, after checking it lies inside the source.</summary>
    public static byte[] ReadBytes(this IByteSource source, long offset, long count, long maxCount = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (count < 0 || count > maxCount)
            throw new LineageException($"block of {count} bytes exceeds the limit of {maxCount}", source.Name, offset);
        if (offset < 0 || offset > source.Length || count > source.Length - offset)
            throw new LineageException($"block of {count} bytes runs past the end of the file ({source.Length} bytes)", source.Name, offset);
        var buffer = new byte[count];
        source.ReadExactly(offset, buffer);
        return buffer;
    }

    internal static void CheckRange(this IByteSource source, long offset, long count)
    {
        if (offset < 0 || count < 0 || offset > source.Length || count > source.Length - offset)
            throw new LineageException($"read of {count} bytes runs past the end of the file ({source.Length} bytes)", source.Name, offset);
    }
}
