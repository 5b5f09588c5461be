using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Lineage.IO;

namespace Lineage.Formats.Gguf;

/// <summary>
/// Sequential little-endian reader over a byte source for the GGUF header, which can be megabytes long
/// (vocabularies) and sits in front of gigabytes of tensor data. Reads go through a small window so the
/// header is parsed without mapping or copying the file; every failure names the absolute offset.
/// </summary>
internal sealed class GgufCursor(IByteSource source)
{
    private const int WindowBytes = 1 << 16;

    private readonly byte[] _window = new byte[WindowBytes];
    private long _windowStart;
    private int _windowLength;

    public IByteSource Source { get; } = source;

    public long Position { get; private set; }

    public long Remaining => Source.Length - Position;

    public LineageException Error(string message, long offset) => new(message, Source.Name, offset);

    /// <summary>A view of the next <paramref name="count"/> bytes (count ≤ window size), advancing past them.</summary>
    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > Remaining)
            throw Error($"file ends inside {what} (needs {count} bytes, {Remaining} remain)", Position);
        long end = Position + count;
        if (Position < _windowStart || end > _windowStart + _windowLength)
        {
            _windowStart = Position;
            _windowLength = (int)Math.Min(WindowBytes, Source.Length - Position);
            Source.ReadExactly(_windowStart, _window.AsSpan(0, _windowLength));
        }
        var span = _window.AsSpan((int)(Position - _windowStart), count);
        Position = end;
        return span;
    }

    public byte ReadUInt8(string what) => Take(1, what)[0];

    public ushort ReadUInt16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));

    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));

    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    public float ReadSingle(string what) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, what));

    public double ReadDouble(string what) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));

    /// <summary>
    /// A u64 byte length followed by UTF-8 text. The length is checked against the bytes that remain and
    /// against <paramref name="maxBytes"/> before anything is allocated. Invalid UTF-8 becomes U+FFFD, as a
    /// lenient loader would see it; the scanner gets the same text the loader would.
    /// </summary>
    public string ReadString(string what, long maxBytes)
    {
        long at = Position;
        ulong length = ReadUInt64($"the length of {what}");
        if (length > (ulong)Remaining)
            throw Error($"{what}: length {length} exceeds the {Remaining} bytes that remain", at);
        if (length > (ulong)maxBytes)
            throw Error($"{what}: length {length} exceeds the limit of {maxBytes} bytes", at);
        int n = (int)length;
        if (n == 0) return string.Empty;
        if (n <= WindowBytes) return Encoding.UTF8.GetString(Take(n, what));
        var bytes = new byte[n];
        Source.ReadExactly(Position, bytes);
        Position += n;
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Fills <paramref name="values"/> with little-endian elements (the caller has checked the count against <see cref="Remaining"/>).</summary>
    public void ReadArray<T>(Span<T> values, string what) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        if (bytes.Length > Remaining)
            throw Error($"file ends inside {what}", Position);
        if (!BitConverter.IsLittleEndian)
            throw Error("GGUF arrays can only be read on little-endian machines", Position);
        for (int done = 0; done < bytes.Length;)
        {
            int n = Math.Min(WindowBytes, bytes.Length - done);
            Take(n, what).CopyTo(bytes[done..]);
            done += n;
        }
    }

    public void Seek(long position) => Position = position;
}
