using Lineage.Formats.Protobuf;
using Lineage.IO;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

public class ProtoReaderTests
{
    private static ProtoReader Reader(byte[] bytes, string name = "t.pb") => new(new MemoryByteSource(name, bytes));

    [Fact]
    public void Fields_carry_absolute_offsets_and_values()
    {
        var bytes = new ProtoWriter().Varint(1, 150).String(2, "hi").Fixed32(3, 7).Fixed64(4, 9).Varint(5, -1).ToArray();
        var r = Reader(bytes);
        var fields = r.ReadFields().ToList();
        Assert.Equal([1, 2, 3, 4, 5], fields.Select(f => f.Number));
        Assert.Equal(150UL, fields[0].Value);
        Assert.Equal(0, fields[0].TagOffset);
        Assert.Equal(1, fields[0].Offset);
        Assert.Equal(2, fields[0].Length);
        Assert.Equal(WireType.LengthDelimited, fields[1].WireType);
        Assert.Equal(5, fields[1].Offset);
        Assert.Equal("hi", r.ReadString(fields[1]));
        Assert.Equal(7u, (uint)fields[2].Value);
        Assert.Equal(9UL, fields[3].Value);
        Assert.Equal(-1, fields[4].Int32);
        Assert.Equal(-1L, fields[4].Int64);
        Assert.True(r.AtEnd);
    }

    [Fact]
    public void Nested_messages_report_offsets_in_the_whole_file()
    {
        var inner = new ProtoWriter().Varint(1, 1).Tag(2, 2).RawVarint(100); // length 100 with nothing after it
        var bytes = new ProtoWriter().String(9, "pad").Message(1, inner).ToArray();
        var r = Reader(bytes);
        r.TryReadField(out _);
        r.TryReadField(out var f);
        var child = r.ReadMessage(f);
        Assert.Equal(1, child.Depth);
        child.TryReadField(out _);
        var e = Assert.Throws<LineageException>(() => child.TryReadField(out _));
        Assert.Equal("t.pb", e.File);
        Assert.Equal(f.Offset + 3, e.Offset); // the length varint after tag 0x12, inside the nested message
        Assert.Contains("exceeds", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Packed_and_unpacked_repeated_scalars()
    {
        var bytes = new ProtoWriter().PackedVarints(1, [1, 300, -2]).Varint(1, 4).PackedFloats(2, [1.5f, 2f]).Float(2, 3f).ToArray();
        var r = Reader(bytes);
        var ints = new List<ulong>();
        var floats = new List<uint>();
        foreach (var f in r.ReadFields())
        {
            if (f.Number == 1) r.ReadVarints(f, ints);
            else r.ReadFixed32s(f, floats);
        }
        Assert.Equal([1UL, 300UL, unchecked((ulong)-2L), 4UL], ints);
        Assert.Equal([1.5f, 2f, 3f], floats.Select(BitConverter.UInt32BitsToSingle));
        var limited = new List<ulong>();
        var first = Reader(bytes).ReadFields().First();
        Assert.Throws<LineageException>(() => Reader(bytes).ReadVarints(first, limited, maxCount: 2));
    }

    [Fact]
    public void Groups_are_skipped_and_unbalanced_groups_refused()
    {
        var bytes = new ProtoWriter().Tag(3, 3).Varint(1, 5).Tag(4, 3).Tag(4, 4).Tag(3, 4).Varint(2, 8).ToArray();
        var fields = Reader(bytes).ReadFields().ToList();
        Assert.Equal([3, 2], fields.Select(f => f.Number));
        Assert.Equal(WireType.StartGroup, fields[0].WireType);
        Assert.Equal(fields[1].TagOffset, fields[0].End);
        var bad = new ProtoWriter().Tag(3, 3).Varint(1, 5).Tag(5, 4).ToArray();
        Assert.Contains("closes group", Assert.Throws<LineageException>(() => Reader(bad).ReadFields().ToList()).Message, StringComparison.Ordinal);
        var open = new ProtoWriter().Tag(3, 3).Varint(1, 5).ToArray();
        Assert.Throws<LineageException>(() => Reader(open).ReadFields().ToList());
    }

    [Theory]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F }, "overflows")]
    [InlineData(new byte[] { 0x08, 0x80 }, "past the end")]
    [InlineData(new byte[] { 0x00, 0x01 }, "field number 0")]
    [InlineData(new byte[] { 0x0E, 0x01 }, "invalid wire type")]
    [InlineData(new byte[] { 0x0C }, "END_GROUP")]
    [InlineData(new byte[] { 0x0D, 0x01, 0x02 }, "fixed32")]
    [InlineData(new byte[] { 0x09, 0x01 }, "fixed64")]
    [InlineData(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }, "exceeds")]
    public void Malformed_wire_data_is_a_lineage_exception_with_an_offset(byte[] bytes, string expected)
    {
        var e = Assert.Throws<LineageException>(() => Reader(bytes).ReadFields().ToList());
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Offset);
        Assert.InRange(e.Offset!.Value, 0, bytes.Length);
    }

    [Fact]
    public void Nesting_depth_is_bounded()
    {
        var w = new ProtoWriter().Varint(1, 1);
        for (int i = 0; i < 10; i++) w = new ProtoWriter().Message(1, w);
        var bytes = w.ToArray();
        var r = new ProtoReader(new MemoryByteSource("deep.pb", bytes), maxDepth: 5);
        var e = Assert.Throws<LineageException>(() =>
        {
            var current = r;
            while (current.TryReadField(out var f) && f.WireType == WireType.LengthDelimited) current = current.ReadMessage(f);
        });
        Assert.Contains("deeper than 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_string_fields_are_refused_before_reading()
    {
        var bytes = new ProtoWriter().Bytes(1, new byte[100]).ToArray();
        var r = Reader(bytes);
        r.TryReadField(out var f);
        Assert.Contains("limit", Assert.Throws<LineageException>(() => r.ReadString(f, maxBytes: 10)).Message, StringComparison.Ordinal);
        Assert.Equal(100, r.ReadBytes(f).Length);
    }

    [Fact]
    public void Random_bytes_only_raise_lineage_exceptions()
    {
        var rng = new Random(12);
        for (int i = 0; i < 500; i++)
        {
            var bytes = new byte[rng.Next(0, 64)];
            rng.NextBytes(bytes);
            Hostile.OnlyLineageExceptions("random.pb", bytes, s => Walk(new ProtoReader(s, maxDepth: 8)));
        }
    }

    private static void Walk(ProtoReader r)
    {
        while (r.TryReadField(out var f))
        {
            if (f.WireType != WireType.LengthDelimited) continue;
            try
            {
                Walk(r.ReadMessage(f));
            }
            catch (LineageException) when (r.Depth < 7)
            {
                // Not every payload is a message; the test only cares that nothing else escapes.
            }
            r.ReadVarints(f, []);
        }
    }
}
