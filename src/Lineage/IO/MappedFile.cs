using System.IO.MemoryMappedFiles;

namespace Lineage.IO;

/// <summary>
/// A read-only file for random access. <see cref="ReadExactly"/> uses positioned reads (pread), which fetch
/// exactly the requested bytes without mapping anything into the process; <see cref="GetSpan"/> maps the
/// file on first use for zero-copy views. Positioned reads are the default because signals sample scattered
/// rows of huge files: through a mapping the kernel maps whole folios around every touched page, and the
/// resident set grows far past the bytes asked for.
/// </summary>
public sealed unsafe class MappedFile : IByteSource
{
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;
    private readonly Lock _mapLock = new();
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private byte* _base;
    private long _bytesRead;
    private bool _disposed;

    private MappedFile(string path, long length, Microsoft.Win32.SafeHandles.SafeFileHandle? handle)
    {
        Name = path;
        Length = length;
        _handle = handle;
    }

    public string Name { get; }

    public long Length { get; }

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public static MappedFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            long length = RandomAccess.GetLength(handle);
            return new MappedFile(path, length, handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new LineageException($"cannot open: {e.Message}", path, inner: e);
        }
    }

    /// <summary>Zero-copy view of a range (at most 2 GiB at a time); maps the file on first use.</summary>
    public ReadOnlySpan<byte> GetSpan(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        this.CheckRange(offset, length);
        Interlocked.Add(ref _bytesRead, length);
        if (length == 0) return [];
        EnsureMapped();
        return new ReadOnlySpan<byte>(_base + offset, length);
    }

    public void ReadExactly(long offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        this.CheckRange(offset, destination.Length);
        Interlocked.Add(ref _bytesRead, destination.Length);
        int done = 0;
        try
        {
            while (done < destination.Length)
            {
                int n = RandomAccess.Read(_handle!, destination[done..], offset + done);
                if (n <= 0) throw new LineageException("file ended early (was it truncated while being read?)", Name, offset + done);
                done += n;
            }
        }
        catch (IOException e)
        {
            throw new LineageException($"read failed: {e.Message}", Name, offset + done, inner: e);
        }
    }

    private void EnsureMapped()
    {
        if (_base != null) return;
        lock (_mapLock)
        {
            if (_base != null) return;
            try
            {
                _map = MemoryMappedFile.CreateFromFile(_handle!, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
                _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                byte* ptr = null;
                _view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
                NativeMethods.AdviseRandomAccess(ptr, _view.PointerOffset + Length);
                _base = ptr + _view.PointerOffset;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LineageException($"cannot map: {e.Message}", Name, inner: e);
            }
        }
    }

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
        _handle?.Dispose();
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

    [System.Runtime.InteropServices.LibraryImport("libc.so.6", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
