using Microsoft.Win32.SafeHandles;

namespace Lineage.IO;

/// <summary>
/// A local file read with positioned reads (pread) and the random-access hint: every reader, the scanner and the
/// fingerprint extractor use it. Signals sample scattered rows of huge files and the scanner touches headers and the
/// first bytes of archive members; through a memory mapping the kernel faults in whole folios and its read-ahead
/// window (megabytes) around every touched page, so the resident set grows far past the bytes asked for. Positioned
/// reads into pooled buffers fetch only what is asked.
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
