using System.Buffers.Binary;
using System.Text;
using Lineage.Formats;
using Lineage.Formats.Numpy;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

public class NpyReaderTests
{
    /// <summary>An .npy file as numpy writes it: magic, version, padded header dict, data.</summary>
    internal static byte[] Npy(string header, byte[] data, int major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        string padded = header + " ";
        while ((prefix + padded.Length + 1) % 64 != 0) padded += " ";
        padded += "\n";
        byte[] h = major == 3 ? Encoding.UTF8.GetBytes(padded) : Encoding.Latin1.GetBytes(padded);
        var bytes = new byte[prefix + h.Length + data.Length];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = (byte)major;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)h.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)h.Length);
        h.CopyTo(bytes, prefix);
        data.CopyTo(bytes, prefix + h.Length);
        return bytes;
    }

    private static ModelPart Read(byte[] bytes, string name = "arr.npy")
    {
        var source = new MemoryByteSource(name, bytes);
        Assert.Equal(ContainerFormat.Npy, FormatDetector.Detect(source));
        return NpyReader.Read(source);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_format_version_reads(int major)
    {
        var part = Read(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", TorchBuilder.Floats(1, 2, 3, 4), major), "weights.npy");
        var t = Assert.Single(part.Tensors);
        Assert.Equal("weights", t.Name);
        Assert.Equal([2L, 2L], t.Shape);
        Assert.Equal([1f, 2, 3, 4], t.ReadAll());
        Assert.Equal(0, t.Location.Offset % 64);
    }

    [Theory]
    [InlineData("<f2", DType.F16, 2)]
    [InlineData("<f8", DType.F64, 8)]
    [InlineData("|u1", DType.U8, 1)]
    [InlineData("|i1", DType.I8, 1)]
    [InlineData("<i8", DType.I64, 8)]
    [InlineData("|b1", DType.Bool, 1)]
    [InlineData("<u2", DType.U16, 2)]
    [InlineData("<i4", DType.I32, 4)]
    public void Descr_maps_to_element_types(string descr, DType expected, int size)
    {
        var part = Read(Npy($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (3,), }}", new byte[3 * size]));
        Assert.Equal(expected, Assert.Single(part.Tensors).DType);
        Assert.Equal(3 * size, part.Tensors[0].Location.ByteLength);
    }

    [Fact]
    public void Fortran_order_becomes_column_major_strides()
    {
        // numpy.asfortranarray(arange(6).reshape(2, 3)) stores 0 3 1 4 2 5.
        var part = Read(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", TorchBuilder.Floats(0, 3, 1, 4, 2, 5)));
        var t = Assert.Single(part.Tensors);
        Assert.False(t.IsContiguous);
        Assert.Equal([1L, 2L], t.Location.Strides!);
        Assert.Equal([0f, 1, 2, 3, 4, 5], t.ReadAll());
    }

    [Fact]
    public void Big_endian_arrays_are_converted_with_a_diagnostic()
    {
        var data = new byte[8];
        BinaryPrimitives.WriteSingleBigEndian(data, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(data.AsSpan(4), -2f);
        var part = Read(Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data));
        Assert.Equal([1.5f, -2f], Assert.Single(part.Tensors).ReadAll());
        Assert.Contains(part.Diagnostics, d => d.Code == "npy.big-endian-converted");
    }

    [Fact]
    public void Object_and_structured_arrays_are_reported_never_loaded()
    {
        // An object array's data is a pickle: it must be reported, not executed.
        byte[] pickle = new PickleBuilder().Proto(2).Global("os", "system").Tuple(x => x.Str("id")).Op(Lineage.Formats.Pickle.PickleOpcode.Reduce).Stop().ToArray();
        var part = Read(Npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", pickle));
        Assert.Empty(part.Tensors);
        var d = Assert.Single(part.Diagnostics);
        Assert.Equal("npy.object-array", d.Code);
        Assert.Equal(DiagnosticLevel.Warning, d.Level);

        var structured = Read(Npy("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", new byte[8]));
        Assert.Empty(structured.Tensors);
        Assert.Equal("npy.unsupported-dtype", Assert.Single(structured.Diagnostics).Code);

        var strings = Read(Npy("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", new byte[16]));
        Assert.Empty(strings.Tensors);
    }

    [Fact]
    public void Python2_long_suffixes_and_scalar_shapes_parse()
    {
        var part = Read(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", TorchBuilder.Floats(7, 8)));
        Assert.Equal([1L, 2L], part.Tensors[0].Shape);
        var scalar = Read(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", TorchBuilder.Floats(9)));
        Assert.Empty(scalar.Tensors[0].Shape);
        Assert.Equal([9f], scalar.Tensors[0].ReadAll());
    }

    [Theory]
    [InlineData("{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': (1,), }", "unexpected character")]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "lacks")]
    [InlineData("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }", "fortran_order")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "non-negative")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", "needs 400 bytes")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", "too many elements")]
    [InlineData("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "duplicate key")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) } trailing", "after the header")]
    [InlineData("((((((((((((((((((((((((((((((", "not a dict")]
    [InlineData("{'a': ((((((((((((((((((((((((((((((1,),),),),),),),),),),),),),),),),),),),),),),),),),),),),),),)}", "nested too deeply")]
    public void Bad_headers_are_errors_with_offsets(string header, string expected)
    {
        var e = Assert.Throws<LineageException>(() => Read(Npy(header, new byte[8])));
        Assert.Contains(expected, e.Message);
        Assert.Equal("arr.npy", e.File);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void Huge_header_length_is_refused_before_allocation()
    {
        var bytes = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new byte[4], major: 2);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), uint.MaxValue);
        var e = Assert.Throws<LineageException>(() => Read(bytes));
        Assert.Equal(8, e.Offset);
    }

    [Fact]
    public void Npz_members_become_tensors_without_the_npy_suffix()
    {
        byte[] a = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", TorchBuilder.Floats(1, 2));
        byte[] b = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", TorchBuilder.Floats(3));
        byte[] zip = new ZipBuilder().Add("layer.a.npy", a).Add("b.npy", b, deflate: true).Add("notes.txt", "hi"u8.ToArray()).Build();
        using var source = new MemoryByteSource("w.npz", zip);
        var part = NpyReader.ReadNpz(ZipReader.Open(source));
        Assert.Equal("npz", part.Format);
        Assert.Equal(["layer.a", "b"], part.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2], part.Tensors[0].ReadAll());
        Assert.IsType<SliceByteSource>(part.Tensors[0].Location.Source);
        Assert.Equal("layer.a.npy", part.Tensors[0].Location.Entry);
        Assert.Equal([3f], part.Tensors[1].ReadAll());
        Assert.Contains(part.Diagnostics, d => d.Code == "npz.other-member");
    }

    [Fact]
    public void Corpus_npz_reads_in_place()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/candle-small/test.npz"));
        Assert.Equal("npz", model.Format);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (float)i), model.FindTensor("x")!.ReadAll());
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (float)i), model.FindTensor("x_plus_one")!.ReadAll());
    }

    [Fact]
    public void Lora_adapter_fp16_is_close_to_fp32()
    {
        using var f32 = ModelLoader.Open(Corpus.Path("real/weights/genai-tiny-llama-lora/adapter_fp32.npz"));
        using var f16 = ModelLoader.Open(Corpus.Path("real/weights/genai-tiny-llama-lora/adapter_fp16.npz"));
        Assert.Equal(28, f32.Tensors.Count);
        Assert.Equal(f32.Tensors.Select(t => t.Name), f16.Tensors.Select(t => t.Name));
        Assert.Contains("model.layers.0.attn.q_proj.lora_A.weight", f32.Tensors.Select(t => t.Name));
        foreach (var a in f32.Tensors)
        {
            var b = f16.FindTensor(a.Name)!;
            Assert.Equal(DType.F32, a.DType);
            Assert.Equal(DType.F16, b.DType);
            Assert.Equal(a.Shape, b.Shape);
            float[] x = a.ReadAll(), y = b.ReadAll();
            Assert.Contains(x, v => v != 0);
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= 1e-3f * Math.Max(1f, Math.Abs(x[i])), $"{a.Name}[{i}]: {x[i]} vs {y[i]}");
        }
    }

    [Fact]
    public void Hostile_npy_and_npz_only_raise_lineage_exceptions()
    {
        byte[] npy = Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", TorchBuilder.Floats(0, 3, 1, 4, 2, 5));
        foreach (var variant in Hostile.Truncations(npy, 40, 11).Concat(Hostile.BitFlips(npy, 400, 12, focusPrefix: 80)))
            Hostile.OnlyLineageExceptions("h.npy", variant, s =>
            {
                foreach (var t in NpyReader.Read(s).Tensors) t.ReadAll();
            });
        byte[] npz = File.ReadAllBytes(Corpus.Path("real/weights/candle-small/test.npz"));
        foreach (var variant in Hostile.Truncations(npz, 40, 13).Concat(Hostile.BitFlips(npz, 400, 14)))
            Hostile.OnlyLineageExceptions("h.npz", variant, s =>
            {
                foreach (var t in NpyReader.ReadNpz(ZipReader.Open(s)).Tensors) t.ReadAll();
            });
    }
}
