using System.Buffers.Binary;
using System.Text;

namespace Lineage.IO;

/// <summary>
/// Little-endian cursor over a span. Every read is bounds-checked and a failure names the file and the
/// absolute byte offset (<see cref="BaseOffset"/> + position), never an IndexOutOfRangeException.
/// </summary>
public ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _data;

    public SpanReader(ReadOnlySpan<byte> data, string? file = null, long baseOffset = 0, string? entry = null)
    {
        _data = data;
        File = file;
        BaseOffset = baseOffset;
        Entry = entry;
        Position = 0;
    }

    public string? File { get; }

    public string? Entry { get; }

    /// <summary>Offset of <c>data[0]</c> in the file, so errors report absolute positions.</summary>
    public long BaseOffset { get; }

    public int Position { get; set; }

    public readonly int Length => _data.Length;

    public readonly int Remaining => _data.Length - Position;

    public readonly bool End => Position >= _data.Length;

    public readonly long AbsolutePosition => BaseOffset + Position;

    public readonly ReadOnlySpan<byte> Data => _data;

    public readonly LineageException Error(string message) => new(message, File, AbsolutePosition, Entry);

    public readonly LineageException Error(string message, int position) => new(message, File, BaseOffset + position, Entry);

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count < 0 || count > Remaining)
            throw Error($"need {count} bytes, only {Remaining} remain");
        var slice = _data.Slice(Position, count);
        Position += count;
        return slice;
    }

    /// <summary>Reads a length that must fit in what remains (a hostile length never triggers an allocation).</summary>
    public ReadOnlySpan<byte> ReadBytes(ulong count)
    {
        if (count > (ulong)Remaining)
            throw Error($"length {count} exceeds the {Remaining} bytes that remain");
        return ReadBytes((int)count);
    }

    public void Skip(int count) => ReadBytes(count);

    public byte ReadByte()
    {
        if (Position >= _data.Length)
            throw Error("unexpected end of data");
        return _data[Position++];
    }

    public sbyte ReadSByte() => unchecked((sbyte)ReadByte());

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2));

    public short ReadInt16() => BinaryPrimitives.ReadInt16LittleEndian(ReadBytes(2));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8));

    public float ReadSingle() => BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4));

    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8));

    /// <summary>Protobuf base-128 varint (at most 10 bytes).</summary>
    public ulong ReadVarint()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            byte b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return result;
        }
        throw Error("varint longer than 10 bytes");
    }

    public string ReadUtf8(int count)
    {
        var bytes = ReadBytes(count);
        return Encoding.UTF8.GetString(bytes);
    }
}
