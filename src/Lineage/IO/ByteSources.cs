namespace Lineage.IO;

/// <summary>Bytes held in memory: decompressed archive members, synthetic test inputs.</summary>
public sealed class MemoryByteSource(string name, ReadOnlyMemory<byte> data) : IByteSource
{
    private long _bytesRead;

    public string Name { get; } = name;

    public long Length => data.Length;

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public ReadOnlyMemory<byte> Data => data;

    public void ReadExactly(long offset, Span<byte> destination)
    {
        this.CheckRange(offset, destination.Length);
        Interlocked.Add(ref _bytesRead, destination.Length);
        data.Span.Slice((int)offset, destination.Length).CopyTo(destination);
    }

    public void Dispose()
    {
    }
}

/// <summary>A window of another source (a stored zip member, a tensor blob): offsets are relative to the window.</summary>
public sealed class SliceByteSource(IByteSource inner, long start, long length, string? name = null) : IByteSource
{
    public string Name { get; } = name ?? inner.Name;

    public long Length { get; } = length;

    public long BytesRead => inner.BytesRead;

    public long Start => start;

    public IByteSource Inner => inner;

    public void ReadExactly(long offset, Span<byte> destination)
    {
        this.CheckRange(offset, destination.Length);
        inner.ReadExactly(start + offset, destination);
    }

    public void Prefetch(IReadOnlyList<ByteRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var shifted = new List<ByteRange>(ranges.Count);
        foreach (var r in ranges)
            if (r.Offset >= 0 && r.Length >= 0 && r.Offset <= Length && r.Length <= Length - r.Offset)
                shifted.Add(new ByteRange(start + r.Offset, r.Length));
        inner.Prefetch(shifted);
    }

    public void Dispose()
    {
    }
}
