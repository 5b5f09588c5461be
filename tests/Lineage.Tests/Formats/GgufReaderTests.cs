using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Lineage.Formats.Gguf;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

public class GgufReaderTests
{
    private static LineageException Refused(byte[] bytes, string expected)
    {
        using var source = new MemoryByteSource("bad.gguf", bytes);
        var e = Assert.Throws<LineageException>(() => GgufReader.ReadHeader(source));
        Assert.Contains(expected, e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("bad.gguf", e.File);
        Assert.NotNull(e.Offset);
        return e;
    }

    private static Lineage.Formats.ModelPart ReadPart(byte[] bytes, string name = "t.gguf") =>
        GgufReader.Read(new MemoryByteSource(name, bytes));

    private static byte[] HalfBytes(params float[] values)
    {
        var b = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(2 * i), (Half)values[i]);
        return b;
    }

    [Fact]
    public void Every_metadata_type_round_trips_including_nested_arrays()
    {
        var nested = GgufBuilder.ArrayPayload(9,
        [
            GgufBuilder.ArrayPayload(4, [GgufBuilder.Le(1u), GgufBuilder.Le(2u)]),
            GgufBuilder.ArrayPayload(8, [GgufBuilder.Str("x")]),
        ]);
        var bytes = new GgufBuilder()
            .Raw("u8", 0, [200]).Raw("i8", 1, [0xFE]).Raw("u16", 2, [0x34, 0x12]).Raw("i16", 3, [0xFF, 0xFF])
            .UInt32("u32", 4_000_000_000).Int32("i32", -5).Float32("f32", 1.5f).Bool("bool", true).String("str", "héllo")
            .UInt64("u64", ulong.MaxValue).Raw("i64", 11, BitConverter.GetBytes(-7L)).Raw("f64", 12, BitConverter.GetBytes(2.25))
            .Raw("nested", 9, nested)
            .Floats("long", Enumerable.Range(0, 65).Select(i => (float)i))
            .Float32("nan", float.NaN)
            .Build();
        using var source = new MemoryByteSource("t.gguf", bytes);
        var file = GgufReader.ReadHeader(source);
        Assert.Equal(3, file.Version);
        Assert.Equal(32, file.Alignment);
        Assert.Equal((bytes.Length + 31) / 32 * 32, file.DataOffset); // past the end: no tensors, no padding written
        Assert.True(file.Find("u8")!.TryGetInt64(out long u8) && u8 == 200);
        Assert.True(file.Find("i8")!.TryGetInt64(out long i8) && i8 == -2);
        Assert.True(file.Find("u16")!.TryGetInt64(out long u16) && u16 == 0x1234);
        Assert.True(file.Find("i16")!.TryGetInt64(out long i16) && i16 == -1);
        Assert.True(file.Find("u32")!.TryGetInt64(out long u32) && u32 == 4_000_000_000);
        Assert.True(file.Find("i32")!.TryGetInt64(out long i32) && i32 == -5);
        Assert.True(file.Find("f32")!.TryGetDouble(out double f32) && f32 == 1.5);
        Assert.True(file.Find("bool")!.TryGetBool(out bool flag) && flag);
        Assert.Equal("héllo", file.Find("str")!.AsString());
        Assert.False(file.Find("u64")!.TryGetInt64(out _));
        Assert.True(file.Find("i64")!.TryGetInt64(out long i64) && i64 == -7);
        Assert.True(file.Find("f64")!.TryGetDouble(out double f64) && f64 == 2.25);
        var arrays = file.Find("nested")!.AsArrays()!;
        Assert.Equal(2, arrays.Count);
        Assert.True(arrays[0].TryGetInt64Array(out var ints) && ints.SequenceEqual([1L, 2L]));
        Assert.Equal(["x"], arrays[1].AsStrings()!);
        Assert.Equal(65, file.Find("long")!.Count);
        Assert.Equal(GgufValueType.Float32, file.Find("long")!.ElementType);

        var part = ReadPart(bytes);
        Assert.Equal(ulong.MaxValue, part.Metadata["u64"]!.GetValue<ulong>());
        Assert.Equal("""[[1,2],["x"]]""", part.Metadata["nested"]!.ToJsonString());
        Assert.Equal("""{"array":"float32","length":65}""", part.Metadata["long"]!.ToJsonString());
        Assert.Equal("NaN", part.Metadata["nan"]!.GetValue<string>());
        Assert.Equal("héllo", part.Metadata["str"]!.GetValue<string>());
    }

    [Fact]
    public void Tensors_have_reversed_shapes_and_read_in_place()
    {
        var rng = new Random(3);
        var q4k = Enumerable.Range(0, 512).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var (q4kBytes, q4kExpected) = GgmlReferenceQuantizers.Quantize(DType.Q4_K, q4k);
        var builder = new GgufBuilder()
            .String("general.architecture", "llama")
            .F32("norm", [3], [1f, 2f, 3f])
            .Tensor("half", 1, [2, 3], HalfBytes(1, 2, 3, 4, 5, 6))
            .Tensor("q4k", 12, [256, 2], q4kBytes);
        var bytes = builder.Build();
        using var source = new MemoryByteSource("t.gguf", bytes);
        var file = GgufReader.ReadHeader(source);
        Assert.Equal(0, file.DataOffset % 32);
        Assert.Equal([0L, 32L, 64L], file.Tensors.Select(t => t.RelativeOffset));

        var part = GgufReader.Read(source);
        Assert.Equal("gguf", part.Format);
        var half = part.Tensors.Single(t => t.Name == "half");
        Assert.Equal([3L, 2L], half.Shape);
        Assert.Equal(DType.F16, half.DType);
        Assert.Same(source, half.Location.Source);
        Assert.Equal(file.DataOffset + 32, half.Location.Offset);
        Assert.Equal(12, half.Location.ByteLength);
        var row = new float[2];
        half.ReadRows(1, 1, row);
        Assert.Equal([3f, 4f], row);
        Assert.Equal([1f, 2f, 3f], part.Tensors.Single(t => t.Name == "norm").ReadAll());
        var q = part.Tensors.Single(t => t.Name == "q4k");
        Assert.Equal([2L, 256L], q.Shape);
        Assert.Equal(q4kExpected, q.ReadAll());
        Assert.Empty(part.Diagnostics);
    }

    [Fact]
    public void Config_and_tokenizer_come_from_metadata()
    {
        var bytes = new GgufBuilder()
            .String("general.architecture", "qwen2")
            .UInt32("qwen2.embedding_length", 64).UInt32("qwen2.block_count", 2).UInt32("qwen2.attention.head_count", 4)
            .UInt32("qwen2.attention.head_count_kv", 2).UInt32("qwen2.feed_forward_length", 128).UInt64("qwen2.context_length", 4096)
            .Float32("qwen2.rope.freq_base", 1e6f).Float32("qwen2.attention.layer_norm_rms_epsilon", 1e-6f)
            .UInt32("qwen2.expert_count", 8).UInt32("qwen2.expert_used_count", 2)
            .String("tokenizer.ggml.model", "gpt2").String("tokenizer.ggml.pre", "qwen2")
            .Strings("tokenizer.ggml.tokens", ["a", "b", "ab", "<|end|>"])
            .Int32s("tokenizer.ggml.token_type", [1, 1, 1, 3])
            .Strings("tokenizer.ggml.merges", ["a b"])
            .UInt32("tokenizer.ggml.eos_token_id", 3).UInt32("tokenizer.ggml.padding_token_id", 3)
            .UInt32("tokenizer.ggml.seperator_token_id", 0).UInt32("tokenizer.ggml.bos_token_id", 99)
            .String("tokenizer.chat_template", "{{ messages }}")
            .F32("token_embd.weight", [4], [0, 0, 0, 0])
            .F32("output.weight", [4], [0, 0, 0, 0])
            .Build();
        var part = ReadPart(bytes, "/models/x.gguf");
        var c = part.Config!;
        Assert.Equal("gguf", c.Source);
        Assert.Equal("qwen2", c.ModelType);
        Assert.Equal((64, 2, 4, 2, 16, 128, 4096), (c.HiddenSize, c.NumLayers, c.NumHeads, c.NumKeyValueHeads, c.HeadDim, c.IntermediateSize, c.MaxPositions));
        Assert.Equal(1e6, c.RopeTheta);
        Assert.Equal(1e-6, c.NormEpsilon);
        Assert.Equal((8, 2), (c.NumExperts, c.NumExpertsPerToken));
        Assert.Equal(4, c.VocabSize);
        Assert.False(c.TieWordEmbeddings);
        Assert.NotNull(c.Raw);

        var t = part.Tokenizer!;
        Assert.Equal(TokenizerKind.ByteLevelBpe, t.Kind);
        Assert.Equal(["a", "b", "ab", "<|end|>"], t.Tokens);
        Assert.Equal(["a b"], t.Merges!);
        Assert.Equal(TokenType.Control, t.TokenTypes![3]);
        Assert.Equal(["<|end|>"], t.AddedTokens);
        Assert.Equal(3, t.SpecialTokens["eos"]);
        Assert.Equal(3, t.SpecialTokens["pad"]);
        Assert.Equal(0, t.SpecialTokens["sep"]);
        Assert.False(t.SpecialTokens.ContainsKey("bos"));
        Assert.Contains(part.Diagnostics, d => d.Code == "gguf.special-token");
        Assert.Equal("{{ messages }}", t.ChatTemplate);
        Assert.Equal("qwen2", t.Family);
        Assert.Equal("x.gguf (gguf)", t.Source);
        Assert.Equal(4, Assert.IsType<JsonArray>(part.Metadata["tokenizer.ggml.tokens"]).Count);
    }

    [Fact]
    public void Vocabulary_only_file_without_data_padding_is_accepted()
    {
        var bytes = new GgufBuilder()
            .String("general.architecture", "llama")
            .String("tokenizer.ggml.model", "llama")
            .Strings("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>"])
            .Floats("tokenizer.ggml.scores", [0, 0, -1])
            .Build();
        Assert.NotEqual(0, bytes.Length % 32);
        var part = ReadPart(bytes);
        Assert.Empty(part.Tensors);
        Assert.Equal(TokenizerKind.SentencePieceBpe, part.Tokenizer!.Kind);
        Assert.Equal(-1f, part.Tokenizer.Scores![2]);
        Assert.Null(part.Config!.TieWordEmbeddings);
        Assert.Equal(3, part.Config.VocabSize);
    }

    [Fact]
    public void Unknown_ggml_type_is_listed_but_cannot_be_read()
    {
        var bytes = new GgufBuilder()
            .Tensor("future", 41, [64], new byte[40])
            .F32("after", [2], [1, 2])
            .Build();
        var part = ReadPart(bytes);
        var future = part.Tensors.Single(t => t.Name == "future");
        Assert.Equal(DType.Unknown, future.DType);
        Assert.Equal(64, future.Location.ByteLength); // up to the next tensor
        Assert.Contains(part.Diagnostics, d => d.Code == "gguf.unknown-type" && d.Message.Contains("41", StringComparison.Ordinal));
        var e = Assert.Throws<LineageException>(() => future.ReadAll());
        Assert.Contains("cannot be decoded", e.Message, StringComparison.Ordinal);
        Assert.Equal([1f, 2f], part.Tensors.Single(t => t.Name == "after").ReadAll());
    }

    [Fact]
    public void Custom_alignment_is_honoured()
    {
        var bytes = new GgufBuilder { Alignment = 64 }
            .UInt32("general.alignment", 64)
            .F32("a", [3], [1, 2, 3])
            .F32("b", [1], [4])
            .Build();
        using var source = new MemoryByteSource("t.gguf", bytes);
        var file = GgufReader.ReadHeader(source);
        Assert.Equal(64, file.Alignment);
        Assert.Equal(0, file.DataOffset % 64);
        Assert.Equal(64, file.Tensors[1].RelativeOffset);
    }

    [Fact]
    public void Packed_layout_differences_and_trailing_bytes_are_noted()
    {
        var builder = new GgufBuilder()
            .F32("b", [8], new float[8])
            .Tensor("a", 0, [8], new byte[32], offset: 64);
        var bytes = builder.Build();
        bytes = [.. bytes, .. new byte[100]];
        var part = ReadPart(bytes);
        Assert.Contains(part.Diagnostics, d => d.Code == "gguf.layout");
        Assert.Contains(part.Diagnostics, d => d.Code == "gguf.trailing-bytes");
    }

    // ---- refusals ----------------------------------------------------------------------------------------

    [Fact]
    public void Versions_and_byte_order_are_checked()
    {
        Assert.Equal(4, Refused(new GgufBuilder { Version = 1 }.Build(), "version 1").Offset);
        Assert.Equal(4, Refused(new GgufBuilder { Version = 4 }.Build(), "unsupported GGUF version 4").Offset);
        var bigEndian = new GgufBuilder().Build();
        BinaryPrimitives.WriteUInt32BigEndian(bigEndian.AsSpan(4), 3);
        Assert.Equal(4, Refused(bigEndian, "big-endian").Offset);
        Assert.Equal(0, Refused("GGUG\x03\0\0\0"u8.ToArray(), "magic").Offset);
        Refused("GGUF\x03\0"u8.ToArray(), "file ends");
        var v2 = new GgufBuilder { Version = 2 }.F32("x", [1], [5]).Build();
        using var source = new MemoryByteSource("v2.gguf", v2);
        Assert.Equal(2, GgufReader.ReadHeader(source).Version);
    }

    [Fact]
    public void Duplicate_keys_and_names_are_errors()
    {
        var dupKey = new GgufBuilder().UInt32("a", 1).UInt32("a", 2).Build();
        Assert.Equal(24 + 8 + 1 + 4 + 4, Refused(dupKey, "duplicate metadata key 'a'").Offset);
        var dupName = new GgufBuilder().F32("t", [1], [1]).F32("t", [1], [2]).Build();
        Refused(dupName, "duplicate tensor name 't'");
    }

    [Fact]
    public void Huge_counts_and_lengths_are_refused_before_allocation()
    {
        var header = new byte[64];
        "GGUF"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), ulong.MaxValue);
        Assert.Equal(8, Refused(header, "tensor count").Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 1000);
        Assert.Equal(8, Refused(header, "cannot fit").Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 0);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(16), 1L << 40);
        Assert.Equal(16, Refused(header, "metadata count").Offset);

        // A string length beyond the file, and one within a huge file but beyond the string cap.
        var longKey = new GgufBuilder().UInt32("k", 1).Build();
        BinaryPrimitives.WriteUInt64LittleEndian(longKey.AsSpan(24), 1L << 50);
        Assert.Equal(24, Refused(longKey, "exceeds the").Offset);

        var array = new GgufBuilder().Raw("arr", 9, [.. GgufBuilder.Le(4u), .. GgufBuilder.Le(ulong.MaxValue / 2)]).Build();
        Refused(array, "cannot fit");
        // Within a (pretend) large file, a numeric array beyond the per-array cap is still refused.
        var big = new GgufBuilder().Raw("arr", 9, [.. GgufBuilder.Le(0u), .. GgufBuilder.Le((ulong)GgufReader.MaxArrayBytes + 1)]).Build();
        using (var huge = new PaddedSource("big.gguf", big, GgufReader.MaxArrayBytes * 2))
        {
            var e = Assert.Throws<LineageException>(() => GgufReader.ReadHeader(huge));
            Assert.Contains("exceeds the limit", e.Message, StringComparison.Ordinal);
        }
        var strings = new GgufBuilder().Raw("arr", 9, [.. GgufBuilder.Le(8u), .. GgufBuilder.Le(1_000_000UL), .. new byte[100]]).Build();
        Refused(strings, "cannot fit");
    }

    [Fact]
    public void Malformed_values_are_errors()
    {
        Refused(new GgufBuilder().Raw("k", 13, [0]).Build(), "unknown value type 13");
        Refused(new GgufBuilder().Raw("k", 9, [.. GgufBuilder.Le(77u), .. GgufBuilder.Le(0UL)]).Build(), "unknown array element type 77");
        byte[] deep = GgufBuilder.ArrayPayload(4, []);
        for (int i = 0; i < GgufReader.MaxArrayDepth; i++) deep = GgufBuilder.ArrayPayload(9, [deep]);
        Refused(new GgufBuilder().Raw("deep", 9, deep).Build(), "nested deeper");
        Refused(new GgufBuilder().Raw("general.alignment", 10, GgufBuilder.Le(32UL)).Build(), "must be uint32");
        Refused(new GgufBuilder().UInt32("general.alignment", 48).Build(), "power of two");
        Refused(new GgufBuilder().UInt32("general.alignment", 0).Build(), "power of two");
    }

    [Fact]
    public void Bad_tensor_infos_are_errors_naming_the_field()
    {
        Refused(new GgufBuilder().Tensor("t", 0, [1, 1, 1, 1, 1], new byte[4]).Build(), "5 dimensions");
        Refused(new GgufBuilder().Tensor("t", 0, [1L << 40, 1L << 40], new byte[4]).Build(), "overflows");
        Refused(new GgufBuilder().Tensor("t", 8, [48], new byte[34]).Build(), "not a multiple of the Q8_0 block size 32");
        Refused(new GgufBuilder().Tensor("t", 0, [4], new byte[16], offset: 8).Build(), "not a multiple of the alignment");
        var far = new GgufBuilder().Tensor("t", 0, [4], new byte[16]);
        var farBytes = far.Build();
        BinaryPrimitives.WriteUInt64LittleEndian(farBytes.AsSpan((int)far.OffsetFields[0]), 1UL << 20);
        Assert.Equal(far.OffsetFields[0], Refused(farBytes, "past the end of the data section").Offset);
        // 16 bytes of data needed, 8 present.
        var beyond = new GgufBuilder().Tensor("t", 0, [4], new byte[16]).Build();
        Refused(beyond[..^24], "run past the end");
        var overlap = new GgufBuilder().Tensor("a", 0, [16], new byte[64]).Tensor("b", 0, [4], new byte[16], offset: 32).Build();
        var e = Refused(overlap, "overlaps tensor 'a'");
        Assert.Contains("'b'", e.Message, StringComparison.Ordinal);
    }

    // ---- hostile bytes -------------------------------------------------------------------------------------

    private static void ReadEverything(IByteSource source)
    {
        var part = GgufReader.Read(source);
        foreach (var t in part.Tensors)
            if (t.ElementCount <= 1 << 20 && t.DType.Info().CanDecode)
                t.ReadAll();
    }

    [Fact]
    public void Truncated_and_bit_flipped_synthetic_files_only_raise_lineage_exceptions()
    {
        var (q6, _) = GgmlReferenceQuantizers.Quantize(DType.Q6_K, Enumerable.Range(0, 256).Select(i => MathF.Sin(i)).ToArray());
        var original = new GgufBuilder()
            .String("general.architecture", "llama").UInt32("llama.block_count", 1)
            .Strings("tokenizer.ggml.tokens", ["a", "b", "c"]).Int32s("tokenizer.ggml.token_type", [1, 1, 3])
            .Raw("nested", 9, GgufBuilder.ArrayPayload(9, [GgufBuilder.ArrayPayload(8, [GgufBuilder.Str("x")])]))
            .F32("norm", [4], [1, 2, 3, 4])
            .Tensor("q6", 14, [256], q6)
            .Build();
        foreach (var bytes in Hostile.Truncations(original, 200, 1))
            Hostile.OnlyLineageExceptions("t.gguf", bytes, ReadEverything);
        foreach (var bytes in Hostile.BitFlips(original, 3000, 2))
            Hostile.OnlyLineageExceptions("t.gguf", bytes, ReadEverything);
    }

    [Fact]
    public void Truncated_and_bit_flipped_real_files_only_raise_lineage_exceptions()
    {
        var original = File.ReadAllBytes(Corpus.Path("ladder/A-quant-q8.gguf"));
        // The header (metadata and tensor infos) ends at byte 24105; flips there reach every parser branch.
        foreach (var bytes in Hostile.Truncations(original, 100, 3))
            Hostile.OnlyLineageExceptions("A-quant-q8.gguf", bytes, ReadEverything);
        foreach (var bytes in Hostile.BitFlips(original, 1000, 4, focusPrefix: 24200))
            Hostile.OnlyLineageExceptions("A-quant-q8.gguf", bytes, ReadEverything);
    }

    [Fact]
    public void Every_tensor_info_field_of_a_real_file_survives_flips()
    {
        var original = File.ReadAllBytes(Corpus.Path("ladder/A-quant-q8.gguf"));
        using var source = new MemoryByteSource("a.gguf", original);
        var file = GgufReader.ReadHeader(source);
        long start = file.Tensors[0].InfoOffset, end = file.DataOffset;
        var rng = new Random(6);
        for (int i = 0; i < 2000; i++)
        {
            var copy = (byte[])original.Clone();
            int at = rng.Next((int)start, (int)end);
            copy[at] ^= (byte)(1 << rng.Next(8));
            Hostile.OnlyLineageExceptions("a.gguf", copy, ReadEverything);
        }
    }

    [Fact]
    public void Json_metadata_never_throws_on_odd_values()
    {
        var bytes = new GgufBuilder().Float32("inf", float.PositiveInfinity).Raw("f64", 12, BitConverter.GetBytes(double.NegativeInfinity)).Build();
        var part = ReadPart(bytes);
        var json = new JsonObject();
        foreach (var (k, v) in part.Metadata) json[k] = v?.DeepClone();
        Assert.Contains("Infinity", json.ToJsonString(), StringComparison.Ordinal);
    }

    /// <summary>A source that claims to be large: the given bytes, then zeros (nothing is allocated for the zeros).</summary>
    private sealed class PaddedSource(string name, byte[] head, long length) : IByteSource
    {
        public string Name => name;

        public long Length => length;

        public long BytesRead => 0;

        public void ReadExactly(long offset, Span<byte> destination)
        {
            if (offset < 0 || offset + destination.Length > length) throw new LineageException("past the end", name, offset);
            destination.Clear();
            if (offset < head.Length)
                head.AsSpan((int)offset, (int)Math.Min(head.Length - offset, destination.Length)).CopyTo(destination);
        }

        public void Dispose()
        {
        }
    }
}
