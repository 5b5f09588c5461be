using System.IO.MemoryMappedFiles;

namespace Lineage.IO;

/// <summary>
/// A read-only memory-mapped file. Pages are touched only when a reader asks for their bytes, so opening a
/// huge checkpoint costs nothing until a tensor is read. Empty files are supported without a mapping.
/// </summary>
public sealed unsafe class MappedFile : IByteSource
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private long _bytesRead;
    private bool _disposed;

    private MappedFile(string path, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr)
    {
        Name = path;
        Length = length;
        _map = map;
        _view = view;
        _base = basePtr;
    }

    public string Name { get; }

    public long Length { get; }

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public static MappedFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new LineageException($"cannot open: {e.Message}", path, inner: e);
        }

        using (stream)
        {
            long length = stream.Length;
            if (length == 0)
                return new MappedFile(path, 0, null, null, null);
            try
            {
                var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
                var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                byte* ptr = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
                NativeMethods.AdviseRandomAccess(ptr, view.PointerOffset + length);
                ptr += view.PointerOffset;
                return new MappedFile(path, length, map, view, ptr);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LineageException($"cannot map: {e.Message}", path, inner: e);
            }
        }
    }

    /// <summary>Zero-copy view of a range (at most 2 GiB at a time).</summary>
    public ReadOnlySpan<byte> GetSpan(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        this.CheckRange(offset, length);
        Interlocked.Add(ref _bytesRead, length);
        return length == 0 ? [] : new ReadOnlySpan<byte>(_base + offset, length);
    }

    public void ReadExactly(long offset, Span<byte> destination) => GetSpan(offset, destination.Length).CopyTo(destination);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

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

/// <summary>
/// Tells the kernel that a mapping is read at random: signals sample rows scattered through huge files, and
/// without this hint Linux faults in whole read-around windows per touched page, which inflates both the
/// bytes read from disk and the resident set far beyond what was asked for.
/// </summary>
internal static unsafe partial class NativeMethods
{
    private const int MadvRandom = 1;

    public static void AdviseRandomAccess(byte* address, long length)
    {
        if (!OperatingSystem.IsLinux() || address == null || length <= 0) return;
        try
        {
            _ = Madvise((nint)address, (nuint)length, MadvRandom);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Advice only: without it reads are still correct.
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
