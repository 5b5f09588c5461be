using System.Buffers.Binary;
using System.Text;
using Lineage.IO;

namespace Lineage.Formats.Protobuf;

/// <summary>
/// A schema-less reader of the protocol buffers wire format over an <see cref="IByteSource"/>. It yields one
/// field at a time with absolute offsets and never reads a length-delimited payload unless asked, so a 2 GB
/// ONNX file with inline weights is walked by reading only its tags and lengths. Every varint and length is
/// checked against what remains of the enclosing message, nesting depth is bounded, and every problem is a
/// <see cref="LineageException"/> naming the file and byte offset. Format readers (ONNX, SentencePiece,
/// TensorFlow SavedModel) interpret field numbers; this class only knows the wire.
/// </summary>
public sealed class ProtoReader
{
    /// <summary>The reference implementation's default recursion limit.</summary>
    public const int DefaultMaxDepth = 100;

    /// <summary>Default cap for a single string or bytes field read into memory.</summary>
    public const int DefaultMaxBytes = 16 << 20;

    private readonly ByteWindow _window;

    /// <summary>Reads a whole source as one message.</summary>
    public ProtoReader(IByteSource source, int maxDepth = DefaultMaxDepth)
        : this(source, 0, source?.Length ?? 0, maxDepth)
    {
    }

    /// <summary>Reads the message occupying <paramref name="length"/> bytes at <paramref name="start"/>.</summary>
    public ProtoReader(IByteSource source, long start, long length, int maxDepth = DefaultMaxDepth)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (start < 0 || length < 0 || start > source.Length || length > source.Length - start)
            throw new LineageException($"message range [{start}, +{length}) lies outside the file ({source.Length} bytes)", source.Name, start);
        _window = new ByteWindow(source);
        Start = start;
        End = start + length;
        Position = start;
        MaxDepth = maxDepth;
    }

    private ProtoReader(ByteWindow window, long start, long end, int depth, int maxDepth)
    {
        _window = window;
        Start = start;
        End = end;
        Position = start;
        Depth = depth;
        MaxDepth = maxDepth;
    }

    public IByteSource Source => _window.Source;

    /// <summary>Absolute offset of the message's first byte.</summary>
    public long Start { get; }

    /// <summary>Absolute offset just past the message.</summary>
    public long End { get; }

    /// <summary>Absolute offset of the next field's tag.</summary>
    public long Position { get; private set; }

    /// <summary>Nesting depth: 0 for the outermost message.</summary>
    public int Depth { get; }

    public int MaxDepth { get; }

    public bool AtEnd => Position >= End;

    public LineageException Error(string message, long offset) => new(message, Source.Name, offset);

    /// <summary>Reads the next field, skipping its payload; false at the end of the message.</summary>
    public bool TryReadField(out ProtoField field)
    {
        field = default;
        if (Position >= End) return false;
        long tagOffset = Position;
        long pos = Position;
        ulong tag = ReadVarint(ref pos, End, "field tag");
        if (tag > uint.MaxValue)
            throw Error($"field tag {tag} is out of range", tagOffset);
        int number = (int)(tag >> 3);
        int wire = (int)(tag & 7);
        if (number == 0)
            throw Error("field number 0 is invalid", tagOffset);
        switch ((WireType)wire)
        {
            case WireType.Varint:
            {
                long start = pos;
                ulong value = ReadVarint(ref pos, End, $"field {number} varint");
                field = new ProtoField(number, WireType.Varint, tagOffset, start, pos - start, value);
                break;
            }
            case WireType.Fixed64:
            {
                if (End - pos < 8)
                    throw Error($"field {number}: fixed64 needs 8 bytes, only {End - pos} remain in the message", pos);
                ulong value = BinaryPrimitives.ReadUInt64LittleEndian(_window.Peek(pos, 8, End));
                field = new ProtoField(number, WireType.Fixed64, tagOffset, pos, 8, value);
                pos += 8;
                break;
            }
            case WireType.Fixed32:
            {
                if (End - pos < 4)
                    throw Error($"field {number}: fixed32 needs 4 bytes, only {End - pos} remain in the message", pos);
                uint value = BinaryPrimitives.ReadUInt32LittleEndian(_window.Peek(pos, 4, End));
                field = new ProtoField(number, WireType.Fixed32, tagOffset, pos, 4, value);
                pos += 4;
                break;
            }
            case WireType.LengthDelimited:
            {
                long lengthOffset = pos;
                ulong length = ReadVarint(ref pos, End, $"field {number} length");
                if (length > (ulong)(End - pos))
                    throw Error($"field {number}: length {length} exceeds the {End - pos} bytes that remain in the message (ends at byte {End})", lengthOffset);
                field = new ProtoField(number, WireType.LengthDelimited, tagOffset, pos, (long)length, 0);
                pos += (long)length;
                break;
            }
            case WireType.StartGroup:
            {
                long start = pos;
                long endTag = SkipGroup(number, ref pos, Depth + 1);
                field = new ProtoField(number, WireType.StartGroup, tagOffset, start, endTag - start, 0) { EndGroupTagLength = (int)(pos - endTag) };
                break;
            }
            case WireType.EndGroup:
                throw Error($"field {number}: END_GROUP without a matching START_GROUP", tagOffset);
            default:
                throw Error($"field {number}: invalid wire type {wire}", tagOffset);
        }
        Position = pos;
        return true;
    }

    /// <summary>All remaining fields of this message, in order.</summary>
    public IEnumerable<ProtoField> ReadFields()
    {
        while (TryReadField(out var field))
            yield return field;
    }

    /// <summary>A reader over an embedded message (a length-delimited field), one level deeper.</summary>
    public ProtoReader ReadMessage(in ProtoField field)
    {
        RequireInside(field);
        if (field.WireType != WireType.LengthDelimited)
            throw Error($"field {field.Number}: expected an embedded message, found wire type {field.WireType}", field.TagOffset);
        if (Depth + 1 > MaxDepth)
            throw Error($"field {field.Number}: messages nested deeper than {MaxDepth} levels", field.TagOffset);
        return new ProtoReader(_window, field.Offset, field.Offset + field.Length, Depth + 1, MaxDepth);
    }

    /// <summary>The payload of a length-delimited field, at most <paramref name="maxBytes"/> long.</summary>
    public byte[] ReadBytes(in ProtoField field, int maxBytes = DefaultMaxBytes)
    {
        RequireInside(field);
        if (field.WireType != WireType.LengthDelimited)
            throw Error($"field {field.Number}: expected bytes, found wire type {field.WireType}", field.TagOffset);
        if (field.Length > maxBytes)
            throw Error($"field {field.Number}: {field.Length} bytes exceed the limit of {maxBytes}", field.Offset);
        if (field.Length <= ByteWindow.Size)
            return _window.Peek(field.Offset, (int)field.Length, field.End).ToArray();
        return Source.ReadBytes(field.Offset, field.Length, maxBytes);
    }

    /// <summary>A string field decoded as UTF-8 (invalid sequences become U+FFFD, as the reference loaders do).</summary>
    public string ReadString(in ProtoField field, int maxBytes = DefaultMaxBytes)
    {
        RequireInside(field);
        if (field.WireType != WireType.LengthDelimited)
            throw Error($"field {field.Number}: expected a string, found wire type {field.WireType}", field.TagOffset);
        if (field.Length > maxBytes)
            throw Error($"field {field.Number}: string of {field.Length} bytes exceeds the limit of {maxBytes}", field.Offset);
        if (field.Length <= ByteWindow.Size)
            return Encoding.UTF8.GetString(_window.Peek(field.Offset, (int)field.Length, field.End));
        return Encoding.UTF8.GetString(Source.ReadBytes(field.Offset, field.Length, maxBytes));
    }

    /// <summary>
    /// Appends the values of a repeated varint field: one value for an unpacked occurrence, every value for a
    /// packed one. Values are read before they are stored, so memory follows the bytes actually present.
    /// </summary>
    public void ReadVarints(in ProtoField field, List<ulong> values, int maxCount = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(values);
        RequireInside(field);
        if (field.WireType == WireType.Varint)
        {
            Add(values, field.Value, maxCount, field);
            return;
        }
        if (field.WireType != WireType.LengthDelimited)
            throw Error($"field {field.Number}: expected varints, found wire type {field.WireType}", field.TagOffset);
        long pos = field.Offset;
        long end = field.End;
        while (pos < end)
        {
            ulong v = ReadVarint(ref pos, end, $"field {field.Number} packed varint");
            Add(values, v, maxCount, field);
        }
    }

    /// <summary>Appends the values of a repeated fixed32 field (float, fixed32, sfixed32), packed or not.</summary>
    public void ReadFixed32s(in ProtoField field, List<uint> values, int maxCount = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(values);
        RequireInside(field);
        if (field.WireType == WireType.Fixed32)
        {
            Add(values, (uint)field.Value, maxCount, field);
            return;
        }
        RequirePacked(field, 4);
        for (long pos = field.Offset; pos < field.End;)
        {
            int chunk = (int)Math.Min(ByteWindow.Size, field.End - pos);
            var bytes = _window.Peek(pos, chunk, field.End);
            for (int i = 0; i < bytes.Length; i += 4)
                Add(values, BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..]), maxCount, field);
            pos += chunk;
        }
    }

    /// <summary>Appends the values of a repeated fixed64 field (double, fixed64, sfixed64), packed or not.</summary>
    public void ReadFixed64s(in ProtoField field, List<ulong> values, int maxCount = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(values);
        RequireInside(field);
        if (field.WireType == WireType.Fixed64)
        {
            Add(values, field.Value, maxCount, field);
            return;
        }
        RequirePacked(field, 8);
        for (long pos = field.Offset; pos < field.End;)
        {
            int chunk = (int)Math.Min(ByteWindow.Size, field.End - pos);
            var bytes = _window.Peek(pos, chunk, field.End);
            for (int i = 0; i < bytes.Length; i += 8)
                Add(values, BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..]), maxCount, field);
            pos += chunk;
        }
    }

    private void RequirePacked(in ProtoField field, int elementBytes)
    {
        if (field.WireType != WireType.LengthDelimited)
            throw Error($"field {field.Number}: expected fixed{elementBytes * 8} values, found wire type {field.WireType}", field.TagOffset);
        if (field.Length % elementBytes != 0)
            throw Error($"field {field.Number}: packed fixed{elementBytes * 8} payload of {field.Length} bytes is not a multiple of {elementBytes}", field.Offset);
    }

    private void Add<T>(List<T> values, T value, int maxCount, in ProtoField field)
    {
        if (values.Count >= maxCount)
            throw Error($"field {field.Number}: more than {maxCount} values", field.TagOffset);
        values.Add(value);
    }

    private void RequireInside(in ProtoField field)
    {
        if (field.TagOffset < Start || field.End > End)
            throw new ArgumentException($"{field} does not belong to the message [{Start}, {End})", nameof(field));
    }

    private ulong ReadVarint(ref long pos, long limit, string what)
    {
        var span = _window.Peek(pos, 10, limit);
        ulong result = 0;
        for (int i = 0; i < span.Length; i++)
        {
            byte b = span[i];
            if (i == 9 && b > 1)
                throw Error($"{what}: varint overflows 64 bits", pos);
            result |= (ulong)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                pos += i + 1;
                return result;
            }
        }
        throw span.Length < 10
            ? Error($"{what} runs past the end of the message (ends at byte {limit})", pos)
            : Error($"{what}: varint longer than 10 bytes", pos);
    }

    /// <summary>Skips a group's fields up to its END_GROUP tag; returns the end tag's offset.</summary>
    private long SkipGroup(int number, ref long pos, int depth)
    {
        if (depth > MaxDepth)
            throw Error($"field {number}: groups nested deeper than {MaxDepth} levels", pos);
        while (true)
        {
            if (pos >= End)
                throw Error($"field {number}: group has no END_GROUP before the end of the message", pos);
            long tagOffset = pos;
            ulong tag = ReadVarint(ref pos, End, "field tag");
            if (tag > uint.MaxValue || tag >> 3 == 0)
                throw Error($"invalid field tag {tag} inside group {number}", tagOffset);
            int inner = (int)(tag >> 3);
            switch ((WireType)(tag & 7))
            {
                case WireType.Varint:
                    ReadVarint(ref pos, End, $"field {inner} varint");
                    break;
                case WireType.Fixed64:
                    if (End - pos < 8) throw Error($"field {inner}: fixed64 runs past the end of the message", pos);
                    pos += 8;
                    break;
                case WireType.Fixed32:
                    if (End - pos < 4) throw Error($"field {inner}: fixed32 runs past the end of the message", pos);
                    pos += 4;
                    break;
                case WireType.LengthDelimited:
                    long lengthOffset = pos;
                    ulong length = ReadVarint(ref pos, End, $"field {inner} length");
                    if (length > (ulong)(End - pos))
                        throw Error($"field {inner}: length {length} exceeds the {End - pos} bytes that remain in the message", lengthOffset);
                    pos += (long)length;
                    break;
                case WireType.StartGroup:
                    SkipGroup(inner, ref pos, depth + 1);
                    break;
                case WireType.EndGroup:
                    if (inner != number)
                        throw Error($"END_GROUP {inner} closes group {number}", tagOffset);
                    return tagOffset;
                default:
                    throw Error($"field {inner}: invalid wire type {tag & 7}", tagOffset);
            }
        }
    }

    /// <summary>
    /// A read-ahead buffer shared by a reader and the readers of its embedded messages, so walking thousands of
    /// small nested messages costs one bulk read per 64 KiB instead of one per varint.
    /// </summary>
    private sealed class ByteWindow(IByteSource source)
    {
        public const int Size = 1 << 16;

        private byte[]? _buffer;
        private long _start;
        private int _length;

        public IByteSource Source => source;

        /// <summary>Up to <paramref name="count"/> (≤ <see cref="Size"/>) bytes at <paramref name="offset"/>, none at or past <paramref name="limit"/>.</summary>
        public ReadOnlySpan<byte> Peek(long offset, int count, long limit)
        {
            long available = limit - offset;
            if (available <= 0) return [];
            if (count > available) count = (int)available;
            if (_buffer is not null && offset >= _start && offset + count <= _start + _length)
                return _buffer.AsSpan((int)(offset - _start), count);
            _buffer ??= new byte[(int)Math.Min(Size, Math.Max(16, source.Length))];
            int fill = (int)Math.Min(_buffer.Length, source.Length - offset);
            source.ReadExactly(offset, _buffer.AsSpan(0, fill));
            _start = offset;
            _length = fill;
            return _buffer.AsSpan(0, count);
        }
    }
}
