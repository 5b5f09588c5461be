using System.Buffers.Binary;
using System.Text;
using Lineage.Formats;
using Lineage.Formats.Onnx;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

public class OnnxReaderTests
{
    // ---- corpus files -------------------------------------------------------------------------------------

    [Theory]
    [InlineData("real/weights/ort-tiny-gpt2/tiny_gpt2_fp32.onnx", DType.F32)]
    [InlineData("real/weights/ort-tiny-gpt2/tiny_gpt2_fp16.onnx", DType.F16)]
    [InlineData("real/weights/genai-tiny-random-gpt2/fp32_past.onnx", DType.F32)]
    [InlineData("real/weights/genai-tiny-random-gpt2/fp16_past.onnx", DType.F16)]
    [InlineData("ladder/A-sft2.onnx", DType.F32)]
    public void Initializers_match_an_independent_walk_of_the_file(string relative, DType mostly)
    {
        string path = Corpus.Path(relative);
        var expected = IndependentOnnxWalk.Initializers(File.ReadAllBytes(path));
        Assert.NotEmpty(expected);
        using var model = ModelLoader.Open(path);
        Assert.Equal("onnx", model.Format);
        foreach (var (name, dims, dataType) in expected)
        {
            var t = model.FindTensor(name);
            Assert.NotNull(t);
            Assert.Equal(dims, t.Shape);
            Assert.Equal(dataType switch { 1 => DType.F32, 10 => DType.F16, _ => DType.Unknown }, t.DType);
        }
        Assert.True(expected.Count(e => e.DataType == (mostly == DType.F32 ? 1 : 10)) >= expected.Count - 1);
    }

    [Theory]
    [InlineData("real/weights/ort-tiny-gpt2/tiny_gpt2_fp32.onnx", "real/weights/ort-tiny-gpt2/tiny_gpt2_fp16.onnx")]
    [InlineData("real/weights/genai-tiny-random-gpt2/fp32_past.onnx", "real/weights/genai-tiny-random-gpt2/fp16_past.onnx")]
    [InlineData("real/weights/genai-tiny-random-gpt2/fp32_past.onnx", "real/weights/ort-tiny-gpt2/tiny_gpt2_fp32.onnx")]
    public void Fp16_and_fp32_exports_of_tiny_gpt2_hold_the_same_weights(string a, string b)
    {
        using var ma = ModelLoader.Open(Corpus.Path(a));
        using var mb = ModelLoader.Open(Corpus.Path(b));
        // tiny-random-gpt2: n_embd 32, vocab 1000, n_positions 512 (its config.json).
        string[] names = ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight", "transformer.h.4.mlp.c_proj.weight"];
        long[][] shapes = [[1000, 32], [512, 32], [32, 96], [128, 32]];
        for (int i = 0; i < names.Length; i++)
        {
            var ta = ma.FindTensor(names[i]);
            var tb = mb.FindTensor(names[i]);
            Assert.NotNull(ta);
            Assert.NotNull(tb);
            Assert.Equal(shapes[i], ta.Shape);
            Assert.Equal(shapes[i], tb.Shape);
            var va = ta.ReadAll();
            var vb = tb.ReadAll();
            double maxAbs = 0, maxDiff = 0;
            for (int j = 0; j < va.Length; j++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(va[j]));
                maxDiff = Math.Max(maxDiff, Math.Abs(va[j] - vb[j]));
            }
            Assert.True(maxAbs > 0.01, $"{names[i]} looks empty");
            Assert.True(maxDiff <= maxAbs * 1e-3 + 1e-4, $"{names[i]}: max difference {maxDiff} (max |value| {maxAbs})");
        }
    }

    [Fact]
    public void External_data_model_reads_weights_from_the_data_file()
    {
        string dir = Corpus.Path("real/weights/genai-tiny-random-llama-fp16");
        using var model = ModelLoader.Open(dir);
        Assert.Equal("onnx", model.Format);
        var embed = model.FindTensor("model.embed_tokens.weight");
        Assert.NotNull(embed);
        Assert.Equal(DType.F16, embed.DType);
        Assert.Equal([32000L, 16], embed.Shape);
        Assert.EndsWith("model.onnx.data", embed.Location.Source.Name, StringComparison.Ordinal);
        Assert.Equal(0, embed.Location.Offset);

        // Independent check: the first row decoded straight from model.onnx.data (offset 0, fp16 little-endian).
        var data = File.ReadAllBytes(Path.Combine(dir, "model.onnx.data"));
        var row = new float[16];
        embed.ReadRows(0, 1, row);
        for (int i = 0; i < 16; i++)
            Assert.Equal((float)BinaryPrimitives.ReadHalfLittleEndian(data.AsSpan(i * 2)), row[i]);

        // Every initializer lives in model.onnx.data and together they fill it exactly.
        var external = model.Tensors.Where(t => t.Location.Source.Name.EndsWith("model.onnx.data", StringComparison.Ordinal)).ToList();
        Assert.Equal(IndependentOnnxWalk.Initializers(File.ReadAllBytes(Path.Combine(dir, "model.onnx"))).Count, external.Count);
        Assert.Equal(data.Length, external.Sum(t => t.Location.ByteLength));
        Assert.Equal(32000 * 16 * 2L, embed.Location.ByteLength);
    }

    [Fact]
    public void Parse_result_exposes_opsets_producer_domains_and_external_references()
    {
        using var source = RandomAccessFile.Open(Corpus.Path("real/weights/genai-tiny-random-llama-fp16/model.onnx"));
        var onnx = OnnxReader.Parse(source);
        Assert.Equal(7, onnx.IrVersion);
        Assert.Equal("onnxruntime-genai", onnx.ProducerName);
        Assert.Contains(onnx.Opsets, o => o.Domain == "" && o.Version == 14);
        Assert.Contains("com.microsoft", onnx.CustomDomains);
        Assert.All(onnx.ExternalData, e => Assert.Equal("model.onnx.data", e.Location));
        Assert.Equal(onnx.Tensors.Count(t => t.Storage == OnnxStorage.External), onnx.ExternalData.Count);
        Assert.Contains(onnx.Nodes, n => n.OpType == "MultiHeadAttention" && n.Domain == "com.microsoft");
        // Constant nodes' tensors are exposed under their output names.
        Assert.Contains(onnx.Tensors, t => t.Kind == "constant" && t.Name == "/model/constants/TensorProto.INT64/1D/0");
    }

    [Fact]
    public void Subgraph_initializers_are_found_in_a_beam_search_model()
    {
        using var source = RandomAccessFile.Open(Corpus.Path("real/weights/ort-tiny-gpt2/tiny_gpt2_fp32.onnx"));
        var onnx = OnnxReader.Parse(source);
        Assert.Equal(1, onnx.GraphDepth);
        Assert.Contains(onnx.Tensors, t => t.Name == "transformer.h.0.ln_1.weight" && t.Graph.StartsWith("main/", StringComparison.Ordinal));
        Assert.Contains(onnx.Nodes, n => n.OpType == "BeamSearch" && n.Graph == "main");
    }

    [Fact]
    public void Ladder_onnx_export_matches_its_parent_embedding()
    {
        using var onnx = ModelLoader.Open(Corpus.Path("ladder/A-sft2.onnx"));
        using var parent = ModelLoader.Open(Corpus.Path("ladder/A"));
        // ladder/README.md: A-sft2 is A fine-tuned, 278976 parameters, initializer names = HF names with "." -> "__".
        using (var source = RandomAccessFile.Open(Corpus.Path("ladder/A-sft2.onnx")))
        {
            var initializers = OnnxReader.Parse(source).Tensors.Where(t => t.Kind == "initializer").ToList();
            Assert.Equal(30, initializers.Count);
            Assert.Equal(278976, initializers.Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d)));
        }
        var e1 = onnx.FindTensor("model__embed_tokens__weight")!.ReadAll();
        var e0 = parent.FindTensor("model.embed_tokens.weight")!.ReadAll();
        Assert.Equal(e0.Length, e1.Length);
        double dot = 0, n0 = 0, n1 = 0;
        for (int i = 0; i < e0.Length; i++)
        {
            dot += e0[i] * (double)e1[i];
            n0 += e0[i] * (double)e0[i];
            n1 += e1[i] * (double)e1[i];
        }
        Assert.True(dot / Math.Sqrt(n0 * n1) > 0.95);
    }

    // ---- synthetic models -----------------------------------------------------------------------------------

    private static ProtoWriter TensorProto(string name, int dataType, long[] dims, Action<ProtoWriter> data)
    {
        var t = new ProtoWriter();
        t.PackedVarints(1, dims).Varint(2, dataType).String(8, name);
        data(t);
        return t;
    }

    private static byte[] ModelBytes(Action<ProtoWriter> graph) =>
        new ProtoWriter().Varint(1, 8).String(2, "lineage-tests").Message(8, o => o.Varint(2, 17)).Message(7, graph).ToArray();

    private static ModelPart ReadBytes(byte[] bytes, string? dir = null)
    {
        var source = new MemoryByteSource("synthetic.onnx", bytes);
        return OnnxReader.Read(source, dir ?? Path.GetTempPath());
    }

    [Fact]
    public void Typed_fields_are_decoded_for_every_storage_type()
    {
        ushort h1 = BitConverter.HalfToUInt16Bits((Half)1.5f), h2 = BitConverter.HalfToUInt16Bits((Half)(-2f));
        ushort b1 = (ushort)(BitConverter.SingleToUInt32Bits(3f) >> 16);
        var bytes = ModelBytes(g => g
            .Message(5, TensorProto("f32", 1, [2], t => t.PackedFloats(4, [1f, -2f])))
            .Message(5, TensorProto("f32u", 1, [2], t => t.Float(4, 5f).Float(4, 6f)))
            .Message(5, TensorProto("f16", 10, [2], t => t.PackedVarints(5, [h1, h2])))
            .Message(5, TensorProto("bf16", 16, [1], t => t.PackedVarints(5, [b1])))
            .Message(5, TensorProto("i64", 7, [3], t => t.PackedVarints(7, [-1, 0, 1L << 40])))
            .Message(5, TensorProto("i8", 3, [2], t => t.PackedVarints(5, [-3, 4])))
            .Message(5, TensorProto("f64", 11, [1], t => t.Fixed64(10, BitConverter.DoubleToUInt64Bits(0.25))))
            .Message(5, TensorProto("empty", 1, [0], _ => { })));
        var part = ReadBytes(bytes);
        float[] Values(string n) => part.Tensors.Single(t => t.Name == n).ReadAll();
        Assert.Equal([1f, -2f], Values("f32"));
        Assert.Equal([5f, 6f], Values("f32u"));
        Assert.Equal([1.5f, -2f], Values("f16"));
        Assert.Equal([3f], Values("bf16"));
        Assert.Equal([-1f, 0f, (float)(1L << 40)], Values("i64"));
        Assert.Equal([-3f, 4f], Values("i8"));
        Assert.Equal([0.25f], Values("f64"));
        Assert.Empty(Values("empty"));
        Assert.Equal(DType.BF16, part.Tensors.Single(t => t.Name == "bf16").DType);
    }

    [Fact]
    public void Raw_data_is_zero_copy_and_constant_nodes_are_named_by_output()
    {
        var raw = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(raw, 7f);
        BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4), 8f);
        var bytes = ModelBytes(g => g
            .Message(1, n => n.String(2, "const_out").String(3, "c0").String(4, "Constant")
                .Message(5, a => a.String(1, "value").Varint(20, 4).Message(5, TensorProto("ignored", 1, [2], t => t.Bytes(9, raw)))))
            .Message(5, TensorProto("w", 1, [1, 2], t => t.Bytes(9, raw))));
        var part = ReadBytes(bytes);
        var w = part.Tensors.Single(t => t.Name == "w");
        Assert.IsType<MemoryByteSource>(w.Location.Source);
        Assert.Equal("synthetic.onnx", w.Location.Source.Name);
        Assert.Equal([7f, 8f], w.ReadAll());
        Assert.Equal([7f, 8f], part.Tensors.Single(t => t.Name == "const_out").ReadAll());
        Assert.DoesNotContain(part.Tensors, t => t.Name == "ignored");
    }

    [Theory]
    [InlineData("raw", "needs 8 bytes")]
    [InlineData("count", "needs 2 typed values")]
    [InlineData("negative", "negative dimension")]
    [InlineData("both", "both raw_data and typed")]
    [InlineData("wrongfield", "cannot be stored in field")]
    [InlineData("nodata", "no data")]
    public void Inconsistent_tensors_are_refused_with_offsets(string kind, string expected)
    {
        var bytes = ModelBytes(g => g.Message(5, kind switch
        {
            "raw" => TensorProto("t", 1, [2], t => t.Bytes(9, new byte[7])),
            "count" => TensorProto("t", 1, [2], t => t.PackedFloats(4, [1f])),
            "negative" => TensorProto("t", 1, [-2], t => t.Bytes(9, new byte[8])),
            "both" => TensorProto("t", 1, [2], t => t.Bytes(9, new byte[8]).PackedFloats(4, [1f, 2f])),
            "wrongfield" => TensorProto("t", 1, [2], t => t.PackedVarints(7, [1, 2])),
            _ => TensorProto("t", 1, [2], _ => { }),
        }));
        var e = Assert.Throws<LineageException>(() => ReadBytes(bytes));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal("synthetic.onnx", e.File);
        Assert.NotNull(e.Offset);
    }

    private static byte[] GraphNestedIn(int depth)
    {
        // Each level: a node "If" whose attribute "then_branch" holds the next graph.
        var graph = new ProtoWriter().Message(5, TensorProto($"w{depth}", 1, [1], t => t.PackedFloats(4, [1f])));
        for (int i = depth - 1; i >= 0; i--)
        {
            var inner = graph;
            graph = new ProtoWriter()
                .Message(1, n => n.String(3, $"if{i}").String(4, "If").Message(5, a => a.String(1, "then_branch").Varint(20, 5).Message(6, inner)))
                .Message(5, TensorProto($"w{i}", 1, [1], t => t.PackedFloats(4, [1f])));
        }
        return new ProtoWriter().Varint(1, 8).String(2, "t").Message(7, graph).ToArray();
    }

    [Fact]
    public void Subgraph_depth_is_bounded()
    {
        var ok = ReadBytes(GraphNestedIn(OnnxReader.MaxGraphDepth));
        Assert.Equal(OnnxReader.MaxGraphDepth + 1, ok.Tensors.Count);
        var e = Assert.Throws<LineageException>(() => ReadBytes(GraphNestedIn(OnnxReader.MaxGraphDepth + 1)));
        Assert.Contains("nested deeper", e.Message, StringComparison.Ordinal);
    }

    private static byte[] ExternalModel(string location, long offset = 0, long? length = 8) => ModelBytes(g => g.Message(5, TensorProto("w", 1, [2], t =>
    {
        t.Message(13, e => e.String(1, "location").String(2, location));
        t.Message(13, e => e.String(1, "offset").String(2, offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (length is not null) t.Message(13, e => e.String(1, "length").String(2, length.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        t.Varint(14, 1);
    })));

    private static byte[] TwoFloats(float a, float b)
    {
        var raw = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(raw, a);
        BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4), b);
        return raw;
    }

    [Fact]
    public void External_data_inside_the_folder_is_read_through_the_loader()
    {
        using var dir = new TempDir();
        dir.Write("weights/w.bin", [.. new byte[4], .. TwoFloats(3f, 4f)]);
        string model = dir.Write("model.onnx", ExternalModel("weights/w.bin", offset: 4));
        using var m = ModelLoader.Open(model);
        Assert.Equal([3f, 4f], m.FindTensor("w")!.ReadAll());
        using var folder = ModelLoader.Open(dir.Path);
        Assert.Equal([3f, 4f], folder.FindTensor("w")!.ReadAll());
    }

    [Theory]
    [InlineData("../secret.bin", "'..'")]
    [InlineData("sub/../../secret.bin", "'..'")]
    [InlineData("..\\secret.bin", "'..'")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("C:\\Windows\\win.ini", "absolute")]
    [InlineData("missing.bin", "not found")]
    [InlineData("", "empty")]
    public void External_data_outside_the_folder_or_missing_is_refused(string location, string expected)
    {
        using var outer = new TempDir();
        outer.Write("secret.bin", TwoFloats(1f, 2f));
        string modelDir = Path.Combine(outer.Path, "model");
        Directory.CreateDirectory(modelDir);
        string model = Path.Combine(modelDir, "model.onnx");
        File.WriteAllBytes(model, ExternalModel(location));
        var e = Assert.Throws<LineageException>(() => ModelLoader.Open(model));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(model, e.File);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void External_data_through_a_symlink_leaving_the_folder_is_refused()
    {
        using var outer = new TempDir();
        outer.Write("secret.bin", TwoFloats(1f, 2f));
        string modelDir = Path.Combine(outer.Path, "model");
        Directory.CreateDirectory(Path.Combine(modelDir, "inside"));
        File.CreateSymbolicLink(Path.Combine(modelDir, "link.bin"), Path.Combine(outer.Path, "secret.bin"));
        Directory.CreateSymbolicLink(Path.Combine(modelDir, "up"), outer.Path);
        File.CreateSymbolicLink(Path.Combine(modelDir, "inside", "ok.bin"), "../real.bin");
        File.WriteAllBytes(Path.Combine(modelDir, "real.bin"), TwoFloats(5f, 6f));

        foreach (string location in new[] { "link.bin", "up/secret.bin" })
        {
            string model = Path.Combine(modelDir, "model.onnx");
            File.WriteAllBytes(model, ExternalModel(location));
            var e = Assert.Throws<LineageException>(() => ModelLoader.Open(model));
            Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
        }
        // A link that stays inside the folder is fine.
        string good = Path.Combine(modelDir, "good.onnx");
        File.WriteAllBytes(good, ExternalModel("inside/ok.bin"));
        using var m = ModelLoader.Open(good);
        Assert.Equal([5f, 6f], m.FindTensor("w")!.ReadAll());
    }

    [Fact]
    public void External_length_mismatch_and_out_of_range_offsets_are_refused()
    {
        using var dir = new TempDir();
        dir.Write("w.bin", TwoFloats(1f, 2f));
        string model = dir.Write("a.onnx", ExternalModel("w.bin", length: 12));
        Assert.Contains("does not match", Assert.Throws<LineageException>(() => ModelLoader.Open(model)).Message, StringComparison.Ordinal);
        model = dir.Write("b.onnx", ExternalModel("w.bin", offset: 4));
        Assert.Contains("run past the end", Assert.Throws<LineageException>(() => ModelLoader.Open(model)).Message, StringComparison.Ordinal);
        model = dir.Write("c.onnx", ExternalModel("w.bin", length: null));
        using var m = ModelLoader.Open(model);
        Assert.Equal([1f, 2f], m.FindTensor("w")!.ReadAll());
    }

    [Fact]
    public void Truncated_and_bit_flipped_models_only_raise_lineage_exceptions()
    {
        var original = File.ReadAllBytes(Corpus.Path("real/weights/genai-tiny-random-gpt2/fp16_past.onnx"));
        using var dir = new TempDir();
        void Read(IByteSource s)
        {
            var part = OnnxReader.Read(s, dir.Path);
            foreach (var t in part.Tensors)
                if (t.ElementCount < 1 << 20 && t.DType.Info().CanDecode) t.ReadAll();
        }
        foreach (var bytes in Hostile.Truncations(original, 60, seed: 1))
            Hostile.OnlyLineageExceptions("cut.onnx", bytes, Read);
        foreach (var bytes in Hostile.BitFlips(original, 300, seed: 2, focusPrefix: 4096))
            Hostile.OnlyLineageExceptions("flip.onnx", bytes, Read);
        foreach (var bytes in Hostile.BitFlips(original, 200, seed: 3))
            Hostile.OnlyLineageExceptions("flip.onnx", bytes, Read);
        // With the real folder, flipped external offsets and lengths reach the data file's range checks.
        string llamaDir = Corpus.Path("real/weights/genai-tiny-random-llama-fp16");
        var external = File.ReadAllBytes(Path.Combine(llamaDir, "model.onnx"));
        foreach (var bytes in Hostile.BitFlips(external, 300, seed: 4))
        {
            Hostile.OnlyLineageExceptions("flip-external.onnx", bytes, s =>
            {
                var part = OnnxReader.Read(s, llamaDir);
                try
                {
                    foreach (var t in part.Tensors)
                        if (t.DType.Info().CanDecode) t.ReadRows(0, (int)Math.Min(t.RowCount, 4), new float[Math.Min(t.RowCount, 4) * t.RowLength]);
                }
                finally
                {
                    foreach (var o in part.Owned) o.Dispose();
                }
            });
        }
    }
}

/// <summary>
/// A deliberately separate, minimal walk of ONNX protobuf bytes used as the test oracle: initializer names,
/// dims and data types of the graph and of graphs nested in node attributes.
/// </summary>
internal static class IndependentOnnxWalk
{
    public static List<(string Name, long[] Dims, int DataType)> Initializers(byte[] model)
    {
        var result = new List<(string, long[], int)>();
        foreach (var (field, _, payload) in IndependentProto.Fields(model))
            if (field == 7) Graph(payload, result);
        return result;
    }

    private static void Graph(ReadOnlyMemory<byte> graph, List<(string, long[], int)> result)
    {
        foreach (var (field, _, payload) in IndependentProto.Fields(graph))
        {
            if (field == 5)
            {
                string name = "";
                var dims = new List<long>();
                int dt = 0;
                foreach (var (f, value, p) in IndependentProto.Fields(payload))
                {
                    if (f == 8) name = Encoding.UTF8.GetString(p.Span);
                    if (f == 2) dt = (int)value;
                    if (f == 1 && p.Length > 0)
                    {
                        int i = 0;
                        while (i < p.Length) dims.Add((long)IndependentProto.Varint(p.Span, ref i));
                    }
                    else if (f == 1) dims.Add((long)value);
                }
                result.Add((name, dims.ToArray(), dt));
            }
            else if (field == 1)
            {
                foreach (var (f, _, attr) in IndependentProto.Fields(payload))
                    if (f == 5)
                        foreach (var (af, _, ap) in IndependentProto.Fields(attr))
                            if (af == 6) Graph(ap, result);
            }
        }
    }
}
