using System.Buffers.Binary;
using Lineage.IO;

namespace Lineage.Formats.Pickle;

/// <summary>
/// Forward reader over a byte source with a small window buffer, so a pickle at the head of a multi-gigabyte
/// legacy checkpoint is read without touching the tensor bytes behind it. Lengths are checked against the
/// bytes that remain before anything is allocated.
/// </summary>
internal sealed class PickleInput
{
    private const int WindowSize = 64 * 1024;

    private readonly IByteSource _source;
    private readonly string? _entry;
    private readonly byte[] _window = new byte[WindowSize];
    private long _windowStart;
    private int _windowLength;

    public PickleInput(IByteSource source, long start, string? entry)
    {
        _source = source;
        _entry = entry;
        Position = start;
        _windowStart = start;
    }

    public long Position { get; private set; }

    public long Remaining => _source.Length - Position;

    /// <summary>Offset of the opcode being executed (errors point at it).</summary>
    public long OpcodeOffset { get; set; }

    public LineageException Error(string message) => new(message, _source.Name, OpcodeOffset, _entry);

    public LineageException ErrorAt(string message, long offset) => new(message, _source.Name, offset, _entry);

    /// <summary>A resource limit (not a format rule) stopped the run at the current opcode.</summary>
    public LimitExceededException LimitError(string message) => new(message, _source.Name, OpcodeOffset, _entry);

    /// <summary>Moves forward to <paramref name="position"/> (inline data a custom unpickler reads, such as joblib arrays).</summary>
    public void SeekForward(long position)
    {
        if (position < Position || position > _source.Length)
            throw Error($"inline data ends at {position}, outside [{Position}, {_source.Length}]");
        Position = position;
    }

    private void Fill(int needed)
    {
        long available = _windowStart + _windowLength - Position;
        if (available >= needed) return;
        long remaining = Remaining;
        if (remaining < needed)
            throw ErrorAt($"pickle data is truncated: need {needed} bytes, {remaining} remain", Position);
        int length = (int)Math.Min(WindowSize, remaining);
        _source.ReadExactly(Position, _window.AsSpan(0, length));
        _windowStart = Position;
        _windowLength = length;
    }

    public bool AtEnd => Position >= _source.Length;

    public byte ReadByte()
    {
        Fill(1);
        byte b = _window[Position - _windowStart];
        Position++;
        return b;
    }

    /// <summary>A short fixed-size field (at most the window size); the span is valid until the next read.</summary>
    private ReadOnlySpan<byte> ReadSmall(int count)
    {
        Fill(count);
        var span = _window.AsSpan((int)(Position - _windowStart), count);
        Position += count;
        return span;
    }

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(ReadSmall(2));

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(ReadSmall(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadSmall(4));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadSmall(8));

    public double ReadDoubleBigEndian() => BinaryPrimitives.ReadDoubleBigEndian(ReadSmall(8));

    /// <summary>Checks a length field against the limit and the remaining bytes before any allocation.</summary>
    public int CheckLength(long length, int limit, string what)
    {
        if (length < 0)
            throw Error($"{what} has negative length {length}");
        if (length > Remaining)
            throw Error($"{what} length {length} exceeds the {Remaining} bytes that remain");
        if (length > limit)
            throw LimitError($"{what} length {length} exceeds the limit of {limit} bytes");
        return (int)length;
    }

    /// <summary>Reads <paramref name="count"/> bytes (already checked with <see cref="CheckLength"/>) into a new array.</summary>
    public byte[] ReadArray(int count)
    {
        var result = new byte[count];
        if (count <= WindowSize)
        {
            ReadSmall(count).CopyTo(result);
        }
        else
        {
            _source.ReadExactly(Position, result);
            Position += count;
        }
        return result;
    }

    /// <summary>Reads up to and excluding the next newline (consumed), at most <paramref name="maxBytes"/> long.</summary>
    public byte[] ReadLine(int maxBytes, string what)
    {
        var buffer = new List<byte>(32);
        while (true)
        {
            if (AtEnd)
                throw ErrorAt($"{what}: no newline before the end of the data", Position);
            Fill(1);
            int start = (int)(Position - _windowStart);
            var span = _window.AsSpan(start, _windowLength - start);
            int nl = span.IndexOf((byte)'\n');
            int take = nl >= 0 ? nl : span.Length;
            if (buffer.Count + take > maxBytes)
                throw LimitError($"{what} is longer than {maxBytes} bytes");
            buffer.AddRange(span[..take]);
            Position += take;
            if (nl >= 0)
            {
                Position++;
                return [.. buffer];
            }
        }
    }

    /// <summary>Moves past <paramref name="count"/> bytes that were checked to remain.</summary>
    public void Skip(long count) => Position += count;
}
