namespace Lineage.Formats.Protobuf;

/// <summary>Protocol buffers wire types (the low three bits of a field tag).</summary>
public enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// One field as it appears on the wire. Offsets are absolute positions in the byte source, so an error found
/// while interpreting a field (by a format reader that knows the schema) can name the exact byte.
/// </summary>
/// <param name="Number">Field number (1 .. 2^29-1).</param>
/// <param name="WireType">How the payload is encoded.</param>
/// <param name="TagOffset">Absolute offset of the field's tag.</param>
/// <param name="Offset">Absolute offset of the payload: after the tag, and for length-delimited fields after the length.</param>
/// <param name="Length">Payload bytes: the declared length, 4 or 8 for fixed fields, the encoded size of a varint, the body of a group.</param>
/// <param name="Value">Varint value, or the raw bits of a fixed32/fixed64 field; 0 for length-delimited fields and groups.</param>
public readonly record struct ProtoField(int Number, WireType WireType, long TagOffset, long Offset, long Length, ulong Value)
{
    /// <summary>Absolute offset just past the field.</summary>
    public long End => WireType == WireType.StartGroup ? Offset + Length + EndGroupTagLength : Offset + Length;

    /// <summary>Bytes of the END_GROUP tag that closes a group (stored so <see cref="End"/> can skip it).</summary>
    internal int EndGroupTagLength { get; init; }

    /// <summary>int64 / uint64 / enum value (two's complement, as protobuf encodes negative int64).</summary>
    public long Int64 => unchecked((long)Value);

    /// <summary>int32 / enum value: protobuf sign-extends negative int32 to ten bytes, so truncation is exact.</summary>
    public int Int32 => unchecked((int)Value);

    public bool Bool => Value != 0;

    /// <summary>sint32 / sint64 (zig-zag) value.</summary>
    public long ZigZag => unchecked((long)(Value >> 1) ^ -(long)(Value & 1));

    public float Single => BitConverter.UInt32BitsToSingle(unchecked((uint)Value));

    public double Double => BitConverter.UInt64BitsToDouble(Value);

    public override string ToString() => $"field {Number} ({WireType}) at byte {TagOffset}";
}
