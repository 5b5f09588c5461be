using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Formats;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;
using static Lineage.Tests.Support.TorchBuilder;

namespace Lineage.Tests.Evidence;

public class ConvertTests
{
    /// <summary>Every PyTorch (zip, legacy, plain pickle) and NumPy (.npy, .npz) weights file under real/ and ladder/.</summary>
    public static TheoryData<string> CorpusCheckpoints()
    {
        var data = new TheoryData<string>();
        if (Corpus.Root is null)
        {
            data.Add("(corpus absent)");
            return data;
        }
        foreach (var top in new[] { "real", "ladder" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Corpus.Root, top), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                if (ModelLoader.IsSidecar(file)) continue;
                using var source = RandomAccessFile.Open(file);
                if (source.Length == 0) continue;
                var format = FormatDetector.Detect(source);
                bool checkpoint = format is ContainerFormat.Pickle or ContainerFormat.Npy
                    || format == ContainerFormat.Zip && ZipReader.Open(source).Entries.Any(e => e.Name.EndsWith("data.pkl", StringComparison.Ordinal) || e.Name.EndsWith(".npy", StringComparison.Ordinal));
                if (checkpoint) data.Add(Path.GetRelativePath(Corpus.Root, file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusCheckpoints))]
    public void Every_corpus_checkpoint_converts_and_round_trips_bit_exactly(string relative)
    {
        string input = Corpus.Path(relative);
        using var dir = new TempDir();
        string output = dir.File("out.safetensors");
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", output, "--format", "json");
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        var result = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("converted", result["status"]!.GetValue<string>());
        Assert.True(result["verification"]!["bit_identical"]!.GetValue<bool>());

        // Independently of the converter: parse the output with a minimal safetensors parser and compare every
        // tensor's bytes with the source gathered through its own strides.
        var (metadata, tensors) = ParseSafetensors(File.ReadAllBytes(output));
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal("lineage", metadata["converted_by"]);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(input))), metadata["source_sha256"]);
        using var source = ModelLoader.Open(input);
        Assert.Equal(source.Tensors.Count, tensors.Count);
        foreach (var t in source.Tensors)
        {
            var (dtype, shape, bytes) = tensors[t.Name];
            Assert.Equal(t.Shape, shape);
            Assert.Equal(t.DType, DTypes.FromSafetensorsName(dtype));
            Assert.True(Gather(t).AsSpan().SequenceEqual(bytes), $"{relative}: tensor {t.Name} differs");
        }
    }

    /// <summary>Pickles, PyTorch and NumPy files of the scanner samples (ModelAudit's benign and malicious assets).</summary>
    public static TheoryData<string> ScannerSamples()
    {
        var data = new TheoryData<string>();
        if (Corpus.Root is null)
        {
            data.Add("(corpus absent)");
            return data;
        }
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Corpus.Root, "scanner"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            using var source = RandomAccessFile.Open(file);
            if (source.Length > 0 && FormatDetector.Detect(source) is ContainerFormat.Pickle or ContainerFormat.Npy or ContainerFormat.Zip)
                data.Add(Path.GetRelativePath(Corpus.Root, file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ScannerSamples))]
    public void Scanner_samples_convert_only_when_they_are_plain_tensors_and_malicious_ones_never(string relative)
    {
        string input = Corpus.Path(relative);
        using var dir = new TempDir();
        string output = dir.File("out.safetensors");
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", output, "--format", "json");
        Assert.True(run.ExitCode is 0 or 1 or 2, run.Stderr);
        Assert.Equal(run.ExitCode == 0, File.Exists(output));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        string name = Path.GetFileName(relative).ToLowerInvariant();
        if (new[] { "malicious", "exploit", "attack", "evil", "exec", "dill" }.Any(name.Contains))
            Assert.NotEqual(0, run.ExitCode);
        if (run.ExitCode == 1)
            Assert.NotEmpty(JsonNode.Parse(run.Stdout)!["findings"]!.AsArray());
        if (run.ExitCode == 0)
            Assert.True(JsonNode.Parse(run.Stdout)!["verification"]!["bit_identical"]!.GetValue<bool>());
    }

    [Fact]
    public void Converted_charlevel_checkpoint_equals_the_reference_safetensors_written_by_the_safetensors_library()
    {
        using var dir = new TempDir();
        string output = dir.File("base.safetensors");
        Assert.Equal(0, CliRunner.Run("convert", Corpus.Path("real/weights/torch-charlevel-gpt/base.pt"), "--to", "safetensors", "-o", output).ExitCode);
        var (_, ours) = ParseSafetensors(File.ReadAllBytes(output));
        var (_, reference) = ParseSafetensors(File.ReadAllBytes(Corpus.Path("real/weights/torch-charlevel-gpt/base.safetensors")));
        Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, (dtype, shape, bytes)) in reference)
        {
            Assert.Equal(dtype, ours[name].DType);
            Assert.Equal(shape, ours[name].Shape);
            Assert.True(bytes.AsSpan().SequenceEqual(ours[name].Bytes), name);
        }
    }

    [Fact]
    public void Strided_views_are_materialised_and_shared_storages_become_separate_tensors()
    {
        // One storage of six floats seen three ways: [2, 3] row-major, its transpose [3, 2] (strides 1, 3),
        // and a slice of two elements from offset 2.
        var pickle = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Mark()
            .Str("m").TensorV2("FloatStorage", "0", 6, 0, [2, 3], [3, 1])
            .Str("mt").TensorV2("FloatStorage", "0", 6, 0, [3, 2], [1, 3])
            .Str("slice").TensorV2("FloatStorage", "0", 6, 2, [2], [1])
            .Op(PickleOpcode.SetItems).Stop().ToArray();
        using var dir = new TempDir();
        string input = dir.Write("views.pt", Zip(pickle, [("0", Floats(1, 2, 3, 4, 5, 6))]));
        string output = dir.File("views.safetensors");
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", output, "--format", "json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var tensors = JsonNode.Parse(run.Stdout)!["tensors"]!.AsArray().ToDictionary(t => t!["name"]!.GetValue<string>());
        Assert.True(tensors["mt"]!["strided"]!.GetValue<bool>());
        Assert.False(tensors["m"]!["strided"]!.GetValue<bool>());
        Assert.All(tensors.Values, t => Assert.True(t!["shared_storage"]!.GetValue<bool>()));

        var (_, written) = ParseSafetensors(File.ReadAllBytes(output));
        Assert.Equal(Floats(1, 2, 3, 4, 5, 6), written["m"].Bytes);
        Assert.Equal(Floats(1, 4, 2, 5, 3, 6), written["mt"].Bytes);
        Assert.Equal([3L, 2L], written["mt"].Shape);
        Assert.Equal(Floats(3, 4), written["slice"].Bytes);
    }

    [Fact]
    public void Fortran_order_npy_is_written_row_major()
    {
        using var dir = new TempDir();
        // Column-major storage of [[1, 2, 3], [4, 5, 6]].
        string input = dir.Write("f.npy", Npy("<f4", fortran: true, [2, 3], Floats(1, 4, 2, 5, 3, 6)));
        string output = dir.File("f.safetensors");
        Assert.Equal(0, CliRunner.Run("convert", input, "--to", "safetensors", "-o", output).ExitCode);
        var (_, written) = ParseSafetensors(File.ReadAllBytes(output));
        Assert.Equal(Floats(1, 2, 3, 4, 5, 6), written["f"].Bytes);
    }

    [Fact]
    public void A_checkpoint_that_calls_os_system_is_refused_with_the_finding_and_nothing_runs()
    {
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        // A state dict whose value for "w" is os.system('touch <marker>') next to a real tensor.
        var pickle = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Mark()
            .Str("t").TensorV2("FloatStorage", "0", 2, 0, [2], [1])
            .Str("w").Global("os", "system").Mark().Str("touch " + marker).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.SetItems).Stop().ToArray();
        string input = dir.Write("evil.pt", Zip(pickle, [("0", Floats(1, 2))]));
        string output = dir.File("evil.safetensors");
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", output, "--format", "json");
        Assert.Equal(1, run.ExitCode);
        var result = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("refused", result["status"]!.GetValue<string>());
        var finding = result["findings"]!.AsArray().First(f => f!["rule"]!.GetValue<string>() == "LIN-PKL-001")!;
        Assert.Equal("critical", finding["severity"]!.GetValue<string>());
        Assert.Contains("os.system", finding["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.EndsWith("data.pkl", finding["entry"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(marker));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void A_legacy_pickle_with_an_unknown_callable_is_refused()
    {
        using var dir = new TempDir();
        var main = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Mark()
            .Str("t").TensorV2("FloatStorage", "0", 2, 0, [2], [1])
            .Str("hook").Global("mylib.hooks", "on_load").Mark().Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.SetItems).Stop().ToArray();
        string input = dir.Write("legacy.bin", Legacy(main, [("0", 2, Floats(1, 2))]));
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", dir.File("out.safetensors"), "--format", "json");
        Assert.Equal(1, run.ExitCode);
        var findings = JsonNode.Parse(run.Stdout)!["findings"]!.AsArray();
        Assert.Contains(findings, f => f!["rule"]!.GetValue<string>() == "LIN-PKL-002" && f["message"]!.GetValue<string>().Contains("mylib.hooks.on_load", StringComparison.Ordinal));
        Assert.False(File.Exists(dir.File("out.safetensors")));
    }

    [Fact]
    public void An_object_array_in_an_npz_is_refused()
    {
        using var dir = new TempDir();
        var payload = new PickleBuilder().Proto(2).Global("subprocess", "Popen").Mark().Str("id").Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce).Stop().ToArray();
        var npz = new ZipBuilder()
            .Add("ok.npy", Npy("<f4", false, [2], Floats(1, 2)))
            .Add("obj.npy", Npy("|O", false, [1], payload))
            .Build();
        string input = dir.Write("arrays.npz", npz);
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", dir.File("out.safetensors"), "--format", "json");
        Assert.Equal(1, run.ExitCode);
        var result = JsonNode.Parse(run.Stdout)!;
        Assert.Contains(result["findings"]!.AsArray(), f => f!["rule"]!.GetValue<string>() == "LIN-PKL-001" && f["entry"]!.GetValue<string>() == "obj.npy");
        Assert.False(File.Exists(dir.File("out.safetensors")));
    }

    [Fact]
    public void An_allowed_but_non_tensor_pickle_fails_closed_without_output()
    {
        using var dir = new TempDir();
        // builtins.set is harmless and allowed by the policy, but a state dict never needs it.
        var pickle = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Mark()
            .Str("t").TensorV2("FloatStorage", "0", 2, 0, [2], [1])
            .Str("s").Global("builtins", "set").Mark().Op(PickleOpcode.EmptyList).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.SetItems).Stop().ToArray();
        string input = dir.Write("odd.pt", Zip(pickle, [("0", Floats(1, 2))]));
        var run = CliRunner.Run("convert", input, "--to", "safetensors", "-o", dir.File("out.safetensors"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("tensor", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("out.safetensors")));
    }

    [Fact]
    public void An_existing_output_is_kept_unless_forced_and_usage_errors_exit_4()
    {
        using var dir = new TempDir();
        string output = dir.Write("out.safetensors", "keep");
        string input = Corpus.Path("real/weights/candle-small/test.pt");
        Assert.Equal(2, CliRunner.Run("convert", input, "--to", "safetensors", "-o", output).ExitCode);
        Assert.Equal("keep", File.ReadAllText(output));
        Assert.Equal(0, CliRunner.Run("convert", input, "--to", "safetensors", "-o", output, "--force").ExitCode);
        Assert.NotEqual("keep", File.ReadAllText(output));
        Assert.Equal(4, CliRunner.Run("convert", input, "--to", "gguf", "-o", output).ExitCode);
        Assert.Equal(4, CliRunner.Run("convert", input, "-o", output).ExitCode);
    }

    [Fact]
    public void Safetensors_input_is_not_converted()
    {
        using var dir = new TempDir();
        var run = CliRunner.Run("convert", Corpus.Path("ladder/A/model.safetensors"), "--to", "safetensors", "-o", dir.File("x.safetensors"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("not a PyTorch or NumPy checkpoint", run.Stderr, StringComparison.Ordinal);
    }

    // ---- independent helpers ----

    /// <summary>The row-major bytes of a tensor, gathered with nested index arithmetic written here, not in the library.</summary>
    private static byte[] Gather(Tensor t)
    {
        int eb = t.DType.Info().BlockBytes;
        var span = new byte[t.Location.ByteLength];
        t.Location.Source.ReadExactly(t.Location.Offset, span);
        long[] strides = t.Location.Strides ?? RowMajor(t.Shape);
        var result = new byte[t.ElementCount * eb];
        var index = new long[t.Shape.Length];
        for (long n = 0; n < t.ElementCount; n++)
        {
            long at = 0;
            for (int d = 0; d < index.Length; d++) at += index[d] * strides[d];
            Array.Copy(span, at * eb, result, n * eb, eb);
            for (int d = index.Length - 1; d >= 0; d--)
            {
                if (++index[d] < t.Shape[d]) break;
                index[d] = 0;
            }
        }
        return result;
    }

    /// <summary>A minimal safetensors parser (header length, JSON header, data offsets).</summary>
    internal static (Dictionary<string, string> Metadata, Dictionary<string, (string DType, long[] Shape, byte[] Bytes)> Tensors) ParseSafetensors(byte[] file)
    {
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, (string, long[], byte[])>();
        foreach (var p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString()!;
                continue;
            }
            long begin = p.Value.GetProperty("data_offsets")[0].GetInt64(), end = p.Value.GetProperty("data_offsets")[1].GetInt64();
            tensors[p.Name] = (p.Value.GetProperty("dtype").GetString()!, [.. p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64())],
                file.AsSpan((int)(8 + n + begin), (int)(end - begin)).ToArray());
        }
        return (metadata, tensors);
    }

    private static byte[] Npy(string descr, bool fortran, long[] shape, byte[] data)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shapeText}, }}";
        int total = 10 + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        string header = dict + new string(' ', padded - total) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add(1);
        bytes.Add(0);
        bytes.Add((byte)(header.Length & 0xFF));
        bytes.Add((byte)(header.Length >> 8));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }
}
