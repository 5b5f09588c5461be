using Microsoft.Win32.SafeHandles;

namespace Lineage.IO;

/// <summary>
/// A file read with positioned reads (pread) and the random-access hint, for consumers that touch small scattered
/// pieces of a large file: the scanner reads headers, pickles and the first bytes of members. A memory mapping
/// would fault in the kernel's whole read-ahead window (megabytes) for every member header it touches; positioned
/// reads fetch only the bytes asked for, so scanning a checkpoint costs what its pickle and headers cost.
/// </summary>
public sealed class RandomAccessFile : IByteSource
{
    private readonly SafeFileHandle _handle;
    private long _bytesRead;

    private RandomAccessFile(string path, SafeFileHandle handle, long length)
    {
        Name = path;
        _handle = handle;
        Length = length;
    }

    public string Name { get; }

    public long Length { get; }

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public static RandomAccessFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            return new RandomAccessFile(path, handle, RandomAccess.GetLength(handle));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new LineageException($"cannot open: {e.Message}", path, inner: e);
        }
    }

    public void ReadExactly(long offset, Span<byte> destination)
    {
        this.CheckRange(offset, destination.Length);
        int done = 0;
        while (done < destination.Length)
        {
            int n;
            try
            {
                n = RandomAccess.Read(_handle, destination[done..], offset + done);
            }
            catch (IOException e)
            {
                throw new LineageException($"read failed: {e.Message}", Name, offset + done, inner: e);
            }
            if (n <= 0) throw new LineageException($"the file ended early (it changed while being read?)", Name, offset + done);
            done += n;
        }
        Interlocked.Add(ref _bytesRead, destination.Length);
    }

    public void Dispose() => _handle.Dispose();
}
