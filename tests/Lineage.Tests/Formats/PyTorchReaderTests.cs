using Lineage.Formats;
using Lineage.Formats.Pickle;
using Lineage.Formats.PyTorch;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Support;
using static Lineage.Tests.Support.TorchBuilder;

namespace Lineage.Tests.Formats;

public class PyTorchReaderTests
{
    private static ModelPart ReadZip(byte[] bytes, string name = "ck.pt")
    {
        var source = new MemoryByteSource(name, bytes);
        return PyTorchReader.ReadZip(ZipReader.Open(source));
    }

    private static Tensor Single(ModelPart part, string name) => part.Tensors.Single(t => t.Name == name);

    // ---- corpus ----

    [Fact]
    public void Candle_zip_checkpoints_read_in_place()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/candle-small/test.pt"));
        Assert.Equal("pytorch-zip", model.Format);
        var t = Assert.Single(model.Tensors);
        Assert.Equal(("test", DType.I64), (t.Name, t.DType));
        Assert.Equal([2L, 4L], t.Shape);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], t.ReadAll());
        var slice = Assert.IsType<SliceByteSource>(t.Location.Source);
        Assert.IsType<RandomAccessFile>(slice.Inner);
        Assert.Equal("test/data/0", t.Location.Entry);

        using var keyed = ModelLoader.Open(Corpus.Path("real/weights/candle-small/test_with_key.pt"));
        Assert.Equal("model_state_dict.test", Assert.Single(keyed.Tensors).Name);
    }

    [Fact]
    public void Fortran_ordered_tensor_is_read_through_its_strides()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/candle-small/fortran_tensor_3d.pth"));
        var t = Assert.Single(model.Tensors);
        Assert.Equal("tensor_fortran", t.Name);
        Assert.Equal([2L, 3L, 4L], t.Shape);
        Assert.False(t.IsContiguous);
        Assert.Equal([1L, 2L, 6L], t.Location.Strides!);
        // The file stores a column-major copy of arange(1, 25).reshape(2, 3, 4).
        Assert.Equal(Enumerable.Range(1, 24).Select(i => (float)i), t.ReadAll());
        var rows = new float[8];
        t.ReadRows(2, 2, rows);
        Assert.Equal([9f, 10, 11, 12, 13, 14, 15, 16], rows);
    }

    [Fact]
    public void Charlevel_gpt_pt_equals_its_safetensors_tensor_by_tensor()
    {
        using var pt = ModelLoader.Open(Corpus.Path("real/weights/torch-charlevel-gpt/base.pt"));
        using var st = ModelLoader.Open(Corpus.Path("real/weights/torch-charlevel-gpt/base.safetensors"));
        Assert.Equal("pytorch-zip", pt.Format);
        Assert.Equal(st.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal), pt.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal(113_920, pt.ParameterCount);
        foreach (var s in st.Tensors)
        {
            var p = pt.FindTensor(s.Name)!;
            Assert.Equal(s.DType, p.DType);
            Assert.Equal(s.Shape, p.Shape);
            Assert.Equal(s.ReadAll(), p.ReadAll());
        }
    }

    [Theory]
    [InlineData("C", DType.F32, 335_328, 21, "model.embed_tokens.weight", 1024, 96)]
    [InlineData("B-sft1", DType.BF16, 541_312, 21, "model.embed_tokens.weight", 1024, 128)]
    [InlineData("D-sft1", DType.F16, 190_208, 28, "transformer.wte.weight", 1280, 64)]
    [InlineData("A-seed2", DType.F16, 278_976, 30, "model.embed_tokens.weight", 1024, 64)]
    [InlineData("A-lora", DType.F16, 278_976, 30, "model.embed_tokens.weight", 1024, 64)]
    [InlineData("C-cpt", DType.F16, 335_328, 21, "model.embed_tokens.weight", 1024, 96)]
    public void Ladder_pytorch_model_bin_matches_the_ladder_readme(string name, DType dtype, long parameters, int tensors, string embedding, long vocab, long width)
    {
        using var model = ModelLoader.Open(Corpus.Path("ladder/" + name));
        Assert.Equal("pytorch-zip", model.Format);
        Assert.Equal(parameters, model.ParameterCount);
        Assert.Equal(tensors, model.Tensors.Count);
        Assert.All(model.Tensors, t => Assert.Equal(dtype, t.DType));
        var e = model.FindTensor(embedding)!;
        Assert.Equal([vocab, width], e.Shape);
        var values = e.ReadAll();
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        Assert.True(values.Count(v => v != 0) > values.Length / 2);
        Assert.Equal((int)width, model.Config!.HiddenSize);
    }

    [Fact]
    public void Ladder_C_bin_rounds_to_its_bfloat16_cast_exactly()
    {
        using var c = ModelLoader.Open(Corpus.Path("ladder/C"));
        using var cast = ModelLoader.Open(Corpus.Path("ladder/C-cast"));
        foreach (var t in cast.Tensors)
        {
            float[] f32 = c.FindTensor(t.Name)!.ReadAll();
            float[] bf16 = t.ReadAll();
            for (int i = 0; i < f32.Length; i++)
                Assert.Equal(bf16[i], RoundToBFloat16(f32[i]));
        }
    }

    private static float RoundToBFloat16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        uint rounded = bits + 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(rounded & 0xFFFF0000);
    }

    [Fact]
    public void Legacy_checkpoint_reads_storages_after_the_key_list()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/legacy-pt/tiny_distilbert_legacy.bin"));
        Assert.Equal("pytorch-legacy", model.Format);
        Assert.Equal(38, model.Tensors.Count);
        Assert.Equal(59_114, model.ParameterCount);
        var emb = model.FindTensor("distilbert.embeddings.word_embeddings.weight")!;
        Assert.Equal([28996L, 2L], emb.Shape);
        Assert.Equal(8110, emb.Location.Offset);
        var first = new float[4];
        emb.ReadElements(0, first);
        Assert.Equal([0.015320220030844212f, -0.04813232645392418f, -0.0009894054383039474f, -0.04109182208776474f], first);
        Assert.All(model.Tensors, t => Assert.All(t.ReadAll(), v => Assert.True(float.IsFinite(v))));
        Assert.Equal(1001L, model.Metadata["pytorch.legacy_protocol_version"]!.GetValue<long>());
    }

    [Fact]
    public void Scanner_sample_with_eval_is_refused_naming_the_global()
    {
        var e = Assert.Throws<LineageException>(() => ModelLoader.Open(Corpus.Path("scanner/modelaudit/samples/pytorch/malicious_eval.pt")));
        Assert.Contains("builtins.eval", e.Message);
        Assert.Equal("data.pkl", e.Entry);
        Assert.Equal(29, e.Offset);
    }

    // ---- synthetic zip checkpoints ----

    [Fact]
    public void Nested_checkpoint_dicts_flatten_with_dotted_names_and_metadata()
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Mark()
            .Str("model").Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Mark()
                .Str("layer.weight").TensorV2("FloatStorage", "0", 6, 0, [2, 3], RowMajor(2, 3))
                .Str("layer.bias").TensorV2("FloatStorage", "0", 6, 4, [2], [1])
                .Op(PickleOpcode.SetItems)
            .Str("epoch").Int(3)
            .Str("lr").BinFloat(0.5)
            .Str("name").Str("run-1")
            .Str("optimizer").Op(PickleOpcode.EmptyDict).Mark().Str("state").Op(PickleOpcode.EmptyDict).Int(0)
                .Global("torch._utils", "_rebuild_parameter").Mark().TensorV2("HalfStorage", "1", 2, 0, [2], [1]).Bool(true).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
                .Op(PickleOpcode.SetItem).Op(PickleOpcode.SetItems)
            .Op(PickleOpcode.SetItems).Stop();
        byte[] half = [0x00, 0x3C, 0x00, 0xC0]; // 1.0, -2.0
        var part = ReadZip(Zip(b.ToArray(), [("0", Floats(1, 2, 3, 4, 5, 6)), ("1", half)]));
        Assert.Equal(["model.layer.weight", "model.layer.bias", "optimizer.state.0"], part.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2, 3, 4, 5, 6], Single(part, "model.layer.weight").ReadAll());
        Assert.Equal([5f, 6], Single(part, "model.layer.bias").ReadAll());
        Assert.Equal(16, Single(part, "model.layer.bias").Location.Offset);
        Assert.Equal([1f, -2f], Single(part, "optimizer.state.0").ReadAll());
        Assert.Equal(DType.F16, Single(part, "optimizer.state.0").DType);
        Assert.Equal(3L, part.Metadata["epoch"]!.GetValue<long>());
        Assert.Equal(0.5, part.Metadata["lr"]!.GetValue<double>());
        Assert.Equal("run-1", part.Metadata["name"]!.GetValue<string>());
        Assert.Equal("3", part.Metadata["pytorch.format_version"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("archive/")]
    [InlineData("")]
    [InlineData("deeply/nested/prefix/")]
    public void Any_prefix_of_data_pkl_is_accepted(string prefix)
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("w").TensorV2("FloatStorage", "k", 2, 0, [2], [1]).Op(PickleOpcode.SetItem).Stop();
        var part = ReadZip(Zip(b.ToArray(), [("k", Floats(7, 8))], prefix));
        Assert.Equal([7f, 8], Single(part, "w").ReadAll());
        Assert.Equal(prefix + "data/k", Single(part, "w").Location.Entry);
    }

    [Fact]
    public void Deflated_storage_members_are_inflated_and_bounded()
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("w").TensorV2("FloatStorage", "0", 4, 0, [4], [1]).Op(PickleOpcode.SetItem).Stop();
        var part = ReadZip(Zip(b.ToArray(), [("0", Floats(1, 2, 3, 4))], deflateStorages: true));
        var t = Single(part, "w");
        Assert.IsType<MemoryByteSource>(t.Location.Source);
        Assert.Equal([1f, 2, 3, 4], t.ReadAll());
    }

    [Fact]
    public void Rebuild_variants_parameters_and_untyped_storages_are_understood()
    {
        var b = new PickleBuilder().Proto(4).Op(PickleOpcode.EmptyDict).Mark()
            // torch._utils._rebuild_tensor (v1): storage, offset, size, stride.
            .Str("v1").Global("torch._utils", "_rebuild_tensor").Mark().StoragePid("FloatStorage", "0", 4).Int(1).Tuple(x => x.Int(2)).Tuple(x => x.Int(1)).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            // Parameter(tensor, True) through NEWOBJ, wrapping a transposed (non-contiguous) view.
            .Str("param").Global("torch.nn.parameter", "Parameter")
                .Tuple(x => x.TensorV2("FloatStorage", "0", 4, 0, [2, 2], [1, 2]), x => x.Bool(true)).Op(PickleOpcode.NewObj)
            // _rebuild_tensor_v3 over an untyped byte storage, with the dtype given separately.
            .Str("v3").Global("torch._utils", "_rebuild_tensor_v3").Mark().StoragePid("UntypedStorage", "1", 4).Int(0).Tuple(x => x.Int(2)).Tuple(x => x.Int(1))
                .Bool(false).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Global("torch", "float16").Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            // _rebuild_parameter_with_state and torch.Size as the size argument.
            .Str("ps").Global("torch._utils", "_rebuild_parameter_with_state").Mark()
                .TensorV2(x => x.StoragePid("FloatStorage", "0", 4), 2, [], [])
                .Bool(false).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Op(PickleOpcode.EmptyDict).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Str("sized").Global("torch._utils", "_rebuild_tensor_v2").Mark().StoragePid("FloatStorage", "0", 4).Int(0)
                .Global("torch", "Size").Tuple(x => x.Tuple(y => y.Int(4))).Op(PickleOpcode.Reduce).Tuple(x => x.Int(1))
                .Bool(false).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.SetItems).Stop();
        var part = ReadZip(Zip(b.ToArray(), [("0", Floats(1, 2, 3, 4)), ("1", [0x00, 0x3C, 0x00, 0x40])]));
        Assert.Equal([2f, 3], Single(part, "v1").ReadAll());
        var param = Single(part, "param");
        Assert.False(param.IsContiguous);
        Assert.Equal([1f, 3, 2, 4], param.ReadAll());
        Assert.Equal(DType.F16, Single(part, "v3").DType);
        Assert.Equal([1f, 2], Single(part, "v3").ReadAll());
        Assert.Equal([3f], Single(part, "ps").ReadAll());
        Assert.Empty(Single(part, "ps").Shape);
        Assert.Equal([1f, 2, 3, 4], Single(part, "sized").ReadAll());
    }

    [Theory]
    [InlineData("os", "system", "os.system")]
    [InlineData("builtins", "eval", "builtins.eval")]
    [InlineData("torch._utils", "_rebuild_qtensor", "torch._utils._rebuild_qtensor")]
    public void Unknown_globals_are_refused_by_name(string module, string name, string expected)
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("w").TensorV2("FloatStorage", "0", 1, 0, [1], [1]).Op(PickleOpcode.SetItem)
            .Str("x").Global(module, name).Tuple(y => y.Str("id")).Op(PickleOpcode.Reduce).Op(PickleOpcode.SetItem).Stop();
        var e = Assert.Throws<LineageException>(() => ReadZip(Zip(b.ToArray(), [("0", Floats(1))])));
        Assert.Contains(expected, e.Message);
        Assert.Equal("archive/data.pkl", e.Entry);
        Assert.Equal("ck.pt", e.File);
    }

    [Fact]
    public void Computed_stack_globals_are_refused_even_with_familiar_names()
    {
        var b = new PickleBuilder().Proto(4).Op(PickleOpcode.EmptyDict).Str("w")
            .Global("builtins", "str").Tuple(x => x.Str("collections")).Op(PickleOpcode.Reduce).Str("OrderedDict").Op(PickleOpcode.StackGlobal)
            .Tuple().Op(PickleOpcode.Reduce).Op(PickleOpcode.SetItem).Stop();
        var e = Assert.Throws<LineageException>(() => ReadZip(Zip(b.ToArray(), [])));
        Assert.Contains("computed", e.Message);
    }

    [Theory]
    [InlineData("missing", 4, 0, new long[] { 4 }, new long[] { 1 }, "no member")]
    [InlineData("0", 4, 1, new long[] { 4 }, new long[] { 1 }, "reaches element 4")]
    [InlineData("0", 4, 0, new long[] { 2, 2 }, new long[] { 3, 1 }, "reaches element 4")]
    [InlineData("0", 9, 0, new long[] { 4 }, new long[] { 1 }, "needs 9 x F32")]
    [InlineData("0", 4, 0, new long[] { 2, 2 }, new long[] { 1 }, "stride has 1")]
    [InlineData("0", 4, 0, new long[] { 1L << 62, 1L << 62 }, new long[] { 1, 1 }, "overflows")]
    public void Inconsistent_storages_and_views_are_errors(string key, long numel, long offset, long[] size, long[] stride, string expected)
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("w").TensorV2("FloatStorage", key, numel, offset, size, stride).Op(PickleOpcode.SetItem).Stop();
        var e = Assert.Throws<LineageException>(() => ReadZip(Zip(b.ToArray(), [("0", Floats(1, 2, 3, 4))])));
        Assert.Contains(expected, e.Message);
        Assert.Equal("ck.pt", e.File);
        Assert.NotNull(e.Offset);
    }

    [Fact]
    public void Big_endian_checkpoints_are_refused_clearly()
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Stop();
        var e = Assert.Throws<LineageException>(() => ReadZip(Zip(b.ToArray(), [], byteOrder: "big")));
        Assert.Contains("big", e.Message);
    }

    [Fact]
    public void Storage_persistent_ids_must_be_storages()
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("w")
            .TensorV2(x => x.Mark().Str("module").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(1).Op(PickleOpcode.Tuple).Op(PickleOpcode.BinPersId), 0, [1], [1])
            .Op(PickleOpcode.SetItem).Stop();
        Assert.Contains("module source", Assert.Throws<LineageException>(() => ReadZip(Zip(b.ToArray(), [("0", Floats(1))]))).Message);
    }

    // ---- legacy and plain pickles ----

    private static byte[] LegacyMain(bool withView = false)
    {
        var b = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Mark()
            .Str("a").TensorV2(x => x.StoragePid("FloatStorage", "140", 4, legacyView: true), 0, [2, 2], [2, 1])
            .Str("b").TensorV2(x => x.StoragePid("LongStorage", "141", 2, legacyView: true), 1, [1], [1]);
        if (withView)
            b.Str("c").TensorV2(x => x.StoragePid("FloatStorage", "140", 4, legacyView: true, view: v => v.Tuple(y => y.Str("v1"), y => y.Int(2), y => y.Int(2))), 0, [2], [1]);
        return b.Op(PickleOpcode.SetItems).Stop().ToArray();
    }

    private static readonly byte[] Longs = [.. BitConverter.GetBytes(10L), .. BitConverter.GetBytes(-20L)];

    [Fact]
    public void Built_legacy_checkpoint_reads_storages_in_key_order()
    {
        byte[] file = Legacy(LegacyMain(withView: true), [("141", 2, Longs), ("140", 4, Floats(1, 2, 3, 4))]);
        using var source = new MemoryByteSource("old.pt", file);
        Assert.True(PyTorchReader.HasLegacyMagic(source));
        var part = PyTorchReader.ReadPickle(source);
        Assert.Equal("pytorch-legacy", part.Format);
        Assert.Equal([1f, 2, 3, 4], Single(part, "a").ReadAll());
        Assert.Equal([-20f], Single(part, "b").ReadAll());
        Assert.Equal([3f, 4], Single(part, "c").ReadAll());
        // Key order 141, 140: [count][2 longs][count][4 floats] at the end of the file.
        Assert.Equal(file.Length - 16, Single(part, "a").Location.Offset);
        Assert.Equal(file.Length - 32, Single(part, "b").Location.Offset);
    }

    [Theory]
    [InlineData(3, "holds 3 elements")]
    [InlineData(-1, "runs past")]
    public void Legacy_storage_sizes_are_verified(long claimed, string expected)
    {
        byte[] file = Legacy(LegacyMain(), [("141", 2, Longs), ("140", 4, Floats(1, 2, 3, 4))]);
        int countAt = file.Length - 16 - 8;
        if (claimed >= 0) BitConverter.GetBytes(claimed).CopyTo(file, countAt);
        else Array.Resize(ref file, file.Length - 1);
        using var source = new MemoryByteSource("old.pt", file);
        var e = Assert.Throws<LineageException>(() => PyTorchReader.ReadPickle(source));
        Assert.Contains(expected, e.Message);
        Assert.Equal("old.pt", e.File);
    }

    [Fact]
    public void Legacy_keys_must_match_the_persistent_ids()
    {
        byte[] file = Legacy(LegacyMain(), [("141", 2, Longs)]);
        using var source = new MemoryByteSource("old.pt", file);
        Assert.Contains("missing from the storage-keys list", Assert.Throws<LineageException>(() => PyTorchReader.ReadPickle(source)).Message);
        byte[] big = Legacy(LegacyMain(), [("141", 2, Longs), ("140", 4, Floats(1, 2, 3, 4))], littleEndian: false);
        using var bigSource = new MemoryByteSource("old.pt", big);
        Assert.Contains("big-endian", Assert.Throws<LineageException>(() => PyTorchReader.ReadPickle(bigSource)).Message);
    }

    [Fact]
    public void Plain_pickle_with_load_from_bytes_storages_reads_zero_copy()
    {
        // pickle.dumps(state_dict) without torch.save: each storage is torch.save(storage) bytes in _load_from_bytes.
        byte[] nestedLegacy = Legacy(new PickleBuilder().Proto(2).StoragePid("FloatStorage", "9", 3, legacyView: true).Stop().ToArray(), [("9", 3, Floats(4, 5, 6))]);
        byte[] nestedZip = Zip(new PickleBuilder().Proto(2).StoragePid("FloatStorage", "0", 2).Stop().ToArray(), [("0", Floats(7, 8))]);
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Mark()
            .Str("legacy").TensorV2(x => x.Global("torch.storage", "_load_from_bytes").Tuple(y => y.Bytes(nestedLegacy)).Op(PickleOpcode.Reduce), 1, [2], [1])
            .Str("zip").TensorV2(x => x.Global("torch.storage", "_load_from_bytes").Tuple(y => y.Bytes(nestedZip)).Op(PickleOpcode.Reduce), 0, [2], [1])
            .Op(PickleOpcode.SetItems).Stop();
        using var source = new MemoryByteSource("raw.pkl", b.ToArray());
        Assert.False(PyTorchReader.HasLegacyMagic(source));
        var part = PyTorchReader.ReadPickle(source);
        Assert.Equal("pytorch-pickle", part.Format);
        Assert.Equal([5f, 6], Single(part, "legacy").ReadAll());
        Assert.Equal([7f, 8], Single(part, "zip").ReadAll());
        Assert.IsType<SliceByteSource>(Single(part, "legacy").Location.Source);
    }

    [Fact]
    public void Plain_pickle_without_tensors_or_with_other_globals_is_refused()
    {
        using var empty = new MemoryByteSource("e.pkl", new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Stop().ToArray());
        Assert.Contains("no tensors", Assert.Throws<LineageException>(() => PyTorchReader.ReadPickle(empty)).Message);
        using var args = new MemoryByteSource("t.bin", new PickleBuilder().Proto(2).Global("transformers.training_args", "TrainingArguments")
            .Tuple().Op(PickleOpcode.NewObj).Op(PickleOpcode.EmptyDict).Op(PickleOpcode.Build).Stop().ToArray());
        Assert.Contains("transformers.training_args.TrainingArguments", Assert.Throws<LineageException>(() => PyTorchReader.ReadPickle(args)).Message);
    }

    // ---- hostile ----

    [Fact]
    public void Truncated_and_bit_flipped_real_checkpoints_only_raise_lineage_exceptions()
    {
        foreach (string path in new[] { "real/weights/candle-small/test.pt", "real/weights/candle-small/fortran_tensor_3d.pth" })
        {
            byte[] original = File.ReadAllBytes(Corpus.Path(path));
            foreach (var variant in Hostile.Truncations(original, 80, 5).Concat(Hostile.BitFlips(original, 600, 6)))
                Hostile.OnlyLineageExceptions("h.pt", variant, ReadEverything);
        }
        byte[] legacy = File.ReadAllBytes(Corpus.Path("real/weights/legacy-pt/tiny_distilbert_legacy.bin"));
        foreach (var variant in Hostile.Truncations(legacy, 60, 7).Concat(Hostile.BitFlips(legacy, 300, 8, focusPrefix: 8200)))
            Hostile.OnlyLineageExceptions("h.bin", variant, ReadEverything);
    }

    [Fact]
    public void Truncated_and_bit_flipped_built_checkpoints_only_raise_lineage_exceptions()
    {
        byte[] legacy = Legacy(LegacyMain(withView: true), [("141", 2, Longs), ("140", 4, Floats(1, 2, 3, 4))]);
        byte[] nested = Legacy(new PickleBuilder().Proto(2).StoragePid("FloatStorage", "9", 3, legacyView: true).Stop().ToArray(), [("9", 3, Floats(4, 5, 6))]);
        byte[] raw = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict)
            .Str("w").TensorV2(x => x.Global("torch.storage", "_load_from_bytes").Tuple(y => y.Bytes(nested)).Op(PickleOpcode.Reduce), 1, [2], [1])
            .Op(PickleOpcode.SetItem).Stop().ToArray();
        foreach (var original in new[] { legacy, raw })
            foreach (var variant in Hostile.Truncations(original, 60, 9).Concat(Hostile.BitFlips(original, 600, 10)))
                Hostile.OnlyLineageExceptions("h.pkl", variant, ReadEverything);
    }

    private static void ReadEverything(IByteSource source)
    {
        var part = FormatDetector.Detect(source) switch
        {
            ContainerFormat.Zip => PyTorchReader.ReadZip(ZipReader.Open(source)),
            _ => PyTorchReader.ReadPickle(source),
        };
        foreach (var t in part.Tensors)
            if (t.ElementCount < 1 << 20) t.ReadAll();
    }

    [Fact]
    public void Inspect_command_reads_a_pt_file()
    {
        var result = Cli.CliRunner.Run("inspect", Corpus.Path("real/weights/torch-charlevel-gpt/base.pt"), "--format", "json", "--no-hash");
        Assert.Equal(0, result.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(result.Stdout);
        Assert.Equal("pytorch-zip", doc.RootElement.GetProperty("format").GetString());
        Assert.Equal(113_920, doc.RootElement.GetProperty("parameters").GetInt64());
        Assert.Contains("wte.weight", doc.RootElement.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("name").GetString()));

        var text = Cli.CliRunner.Run("inspect", Corpus.Path("real/weights/legacy-pt/tiny_distilbert_legacy.bin"), "--no-hash");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("pytorch-legacy", text.Stdout);

        var refused = Cli.CliRunner.Run("inspect", Corpus.Path("scanner/modelaudit/samples/pytorch/malicious_eval.pt"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("builtins.eval", refused.Stderr);
    }
}
