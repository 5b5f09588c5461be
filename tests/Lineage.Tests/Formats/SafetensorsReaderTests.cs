using System.Buffers.Binary;
using System.Text;
using Lineage.Formats.Safetensors;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

public class SafetensorsReaderTests
{
    private static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    private static byte[] Sample() => SafetensorsReader.Write(
        [("a", "F32", [2, 2], Floats(1, 2, 3, 4)), ("b", "F16", [3], new byte[6])],
        new Dictionary<string, string> { ["format"] = "pt" });

    private static byte[] WithHeader(string json, int dataBytes)
    {
        var j = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + j.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)j.Length);
        j.CopyTo(bytes, 8);
        return bytes;
    }

    [Fact]
    public void Round_trip_reads_values_and_metadata()
    {
        using var source = new MemoryByteSource("t.safetensors", Sample());
        var header = SafetensorsReader.ReadHeader(source);
        Assert.Equal("pt", header.Metadata["format"]);
        var a = header.Entries.Single(e => e.Name == "a");
        Assert.Equal(DType.F32, a.DType);
        var tensor = new Tensor("a", a.DType, a.Shape, new TensorLocation(source, header.DataStart + a.Begin, a.End - a.Begin));
        Assert.Equal([1f, 2f, 3f, 4f], tensor.ReadAll());
        var row = new float[2];
        tensor.ReadRows(1, 1, row);
        Assert.Equal([3f, 4f], row);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlaps")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12, "trailing")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "hole")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, "duplicate")]
    [InlineData("""{"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}""", 8, "unknown dtype")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}""", 8, "past the data section")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "non-negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "not ordered")]
    [InlineData("""{"a":""", 8, "JSON")]
    public void Structural_problems_are_exceptions_with_offsets(string header, int dataBytes, string expected)
    {
        using var source = new MemoryByteSource("bad.safetensors", WithHeader(header, dataBytes));
        var e = Assert.Throws<LineageException>(() => SafetensorsReader.ReadHeader(source));
        Assert.Contains(expected, e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("bad.safetensors", e.File);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void Header_length_beyond_the_cap_is_refused_before_allocation()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue / 2);
        using var source = new MemoryByteSource("huge.safetensors", bytes);
        var e = Assert.Throws<LineageException>(() => SafetensorsReader.ReadHeader(source));
        Assert.Equal(0, e.Offset);
    }

    [Fact]
    public void Truncated_and_bit_flipped_inputs_only_raise_lineage_exceptions()
    {
        var original = Sample();
        foreach (var bytes in Hostile.Truncations(original, 200, 1).Concat(Hostile.BitFlips(original, 2000, 2)))
            Hostile.OnlyLineageExceptions("fuzz.safetensors", bytes, s =>
            {
                var h = SafetensorsReader.ReadHeader(s);
                foreach (var e in h.Entries)
                    new Tensor(e.Name, e.DType, e.Shape, new TensorLocation(s, h.DataStart + e.Begin, e.End - e.Begin)).ReadAll();
            });
    }
}
