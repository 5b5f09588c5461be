using System.Diagnostics;
using System.Text;
using Lineage.Formats;
using Lineage.IO;
using Lineage.Security;
using Lineage.Formats.Pickle;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

public class ScannerTests
{
    private static readonly byte[] ProtocolZeroPickle = "cos\nsystem\n(S'id'\ntR."u8.ToArray();

    [Fact]
    public void A_missing_path_is_an_error_never_clean()
    {
        var report = Scanner.Scan(["/definitely/not/here"]);
        var f = Assert.Single(report.Files);
        Assert.Equal(FileStatus.Error, f.Status);
        Assert.Equal("LIN-SCAN-002", Assert.Single(f.Findings).Rule);
        Assert.Equal(ScanOutcome.Error, report.Outcome(Severity.Critical));
    }

    [Fact]
    public void Folders_with_nothing_scannable_are_reported_as_such()
    {
        using var dir = new TempDir();
        dir.Write("README.md", "# model card\n");
        dir.Write("notes/vocab.txt", "a\nb\n");
        dir.Write("empty.bin.lock", "");
        var report = Scanner.Scan([dir.Path]);
        Assert.Equal(ScanOutcome.NothingScannable, report.Outcome(Severity.Medium));
        var marker = report.Files.Single(f => f.Path == dir.Path);
        Assert.Equal("LIN-SCAN-007", Assert.Single(marker.Findings).Rule);
        Assert.All(report.Files, f => Assert.Equal(FileStatus.Skipped, f.Status));

        using var empty = new TempDir();
        Assert.Equal(ScanOutcome.NothingScannable, Scanner.Scan([empty.Path]).Outcome(Severity.Medium));
    }

    [Fact]
    public void Recognised_formats_without_an_analyzer_are_unanalyzed_and_fail_closed()
    {
        using var dir = new TempDir();
        dir.Write("model.gguf", [.. "GGUF"u8, 3, 0, 0, 0, .. new byte[32]]);
        dir.Write("weights.pkl", ProtocolZeroPickle);
        // Every format has an analyzer by default; a scanner configured without them shows the fail-closed path.
        var report = Scanner.Scan([dir.Path], new ScanOptions { Analyzers = [] });
        Assert.All(report.Files, f =>
        {
            Assert.Equal(FileStatus.Unanalyzed, f.Status);
            Assert.Equal("LIN-SCAN-003", Assert.Single(f.Findings).Rule);
            Assert.Contains("no analyzer", f.Note, StringComparison.Ordinal);
        });
        Assert.Equal(["gguf", "pickle"], report.Files.Select(f => f.Format).Order(StringComparer.Ordinal));
        Assert.Equal(ScanOutcome.Error, report.Outcome(Severity.Info));
        Assert.Equal(ScanOutcome.Error, report.Outcome(Severity.Critical));
    }

    [Fact]
    public void Unknown_content_under_a_model_file_name_is_an_error_and_elsewhere_a_skip()
    {
        using var dir = new TempDir();
        var noise = new byte[256];
        new Random(1).NextBytes(noise);
        noise[0] = 0xFF;
        dir.Write("pytorch_model.bin", noise);
        dir.Write("image.dat", noise);
        var report = Scanner.Scan([dir.Path]);
        var bin = report.Files.Single(f => f.Path.EndsWith(".bin", StringComparison.Ordinal));
        Assert.Equal(FileStatus.Error, bin.Status);
        Assert.Equal("LIN-SCAN-005", Assert.Single(bin.Findings).Rule);
        Assert.Equal(FileStatus.Skipped, report.Files.Single(f => f.Path.EndsWith(".dat", StringComparison.Ordinal)).Status);
    }

    [Fact]
    public void Yaml_that_starts_like_a_pickle_opcode_is_text_but_real_text_pickles_stay_pickles()
    {
        using var dir = new TempDir();
        string yaml = dir.Write("conf.yaml", "chat_template: '{{ messages }}'\nconfig: x\n");
        string readme = dir.Write("NOTES", "In this folder: weights.\n");
        string pickle = dir.Write("data", ProtocolZeroPickle);
        var report = Scanner.Scan([yaml, readme, pickle]);
        Assert.Equal("yaml", report.Files[0].Format);
        Assert.Equal("text", report.Files[1].Format);
        Assert.Equal("pickle", report.Files[2].Format);
        Assert.True(PickleSniffer.IsPlausible("(dp0\nS'a'\np1\nI1\ns."u8, truncated: false));
        Assert.True(PickleSniffer.IsPlausible([(byte)'}', (byte)'q', 0, (byte)'(', (byte)'X', 1, 0, 0, 0, (byte)'a', (byte)'q', 1, (byte)'K', 1, (byte)'u', (byte)'.'], truncated: false));
        Assert.False(PickleSniffer.IsPlausible("chat_template:\n"u8, truncated: false));
        Assert.False(PickleSniffer.IsPlausible("In this folder\n"u8, truncated: false));
        Assert.False(PickleSniffer.IsPlausible("Some text\n"u8, truncated: false));
    }

    [Fact]
    public void Symlinks_are_not_followed_out_of_the_scanned_folder()
    {
        using var outside = new TempDir();
        string secret = outside.Write("evil.json", """{"chat_template": "{{ ''.__class__ }}"}""");
        using var dir = new TempDir();
        dir.Write("config.json", """{"model_type": "llama"}""");
        File.CreateSymbolicLink(dir.File("linked.json"), secret);
        File.CreateSymbolicLink(dir.File("inside.json"), dir.File("config.json"));
        Directory.CreateSymbolicLink(dir.File("loop"), dir.Path);
        File.CreateSymbolicLink(dir.File("broken.bin"), dir.File("nope.bin"));

        var report = Scanner.Scan([dir.Path]);
        var escaped = report.Files.Single(f => f.Path.EndsWith("linked.json", StringComparison.Ordinal));
        Assert.Equal(FileStatus.Skipped, escaped.Status);
        Assert.Equal("LIN-SCAN-004", Assert.Single(escaped.Findings).Rule);
        Assert.DoesNotContain(report.Files.SelectMany(f => f.Findings), f => f.Rule.StartsWith("LIN-JINJA", StringComparison.Ordinal));
        Assert.Equal(FileStatus.Skipped, report.Files.Single(f => f.Path.EndsWith("inside.json", StringComparison.Ordinal)).Status);
        Assert.Empty(report.Files.Single(f => f.Path.EndsWith("loop", StringComparison.Ordinal)).Findings);
        Assert.Contains("broken", report.Files.Single(f => f.Path.EndsWith("broken.bin", StringComparison.Ordinal)).Note, StringComparison.Ordinal);
        Assert.Single(report.Files, f => f.Status == FileStatus.Scanned);
        Assert.Equal(ScanOutcome.Findings, report.Outcome(Severity.Medium));

        // Named explicitly, a link is followed.
        var direct = Scanner.Scan([dir.File("linked.json")]);
        Assert.Contains(direct.Files.Single().Findings, f => f.Rule == "LIN-JINJA-001");
    }

    [Fact]
    public void Fifos_and_other_special_files_are_never_opened()
    {
        using var dir = new TempDir();
        string fifo = dir.File("pipe.bin");
        try
        {
            using var p = Process.Start(new ProcessStartInfo("mkfifo", fifo) { UseShellExecute = false });
            p!.WaitForExit();
            if (p.ExitCode != 0) Assert.Skip("mkfifo failed");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Skip("mkfifo is not available");
        }
        var report = Scanner.Scan([dir.Path]);
        Assert.Equal(FileStatus.Skipped, report.Files.Single(f => f.Path == fifo).Status);
    }

    [Fact]
    public void Version_control_folders_are_skipped()
    {
        using var dir = new TempDir();
        dir.Write(".git/objects/ab/cdef", [0x78, 0x9C, 1, 2, 3]);
        dir.Write("config.json", "{}");
        var report = Scanner.Scan([dir.Path]);
        Assert.DoesNotContain(report.Files, f => f.Path.Contains("objects", StringComparison.Ordinal));
        Assert.Equal(ScanOutcome.Clean, report.Outcome(Severity.Info));
    }

    /// <summary>A stand-in container analyzer: "ARCH" + entries of (name\n, length u32, bytes). Shows how archive analyzers plug in.</summary>
    private sealed class FakeArchiveAnalyzer : IFormatAnalyzer
    {
        public string Name => "fake-archive";

        public IReadOnlyList<RuleDescriptor> Rules { get; } = [new("LIN-TEST-001", "test-rule", Severity.Low, "test", "test")];

        public bool CanAnalyze(ScanTarget target)
        {
            if (target.Source.Length < 4) return false;
            Span<byte> magic = stackalloc byte[4];
            target.Source.ReadExactly(0, magic);
            return magic.SequenceEqual("ARCH"u8);
        }

        public void Analyze(ScanTarget target, ScanContext context)
        {
            var bytes = target.Source.ReadBytes(0, target.Source.Length);
            int i = 4;
            while (i < bytes.Length)
            {
                int nl = Array.IndexOf(bytes, (byte)'\n', i);
                string name = Encoding.UTF8.GetString(bytes, i, nl - i);
                int len = BitConverter.ToInt32(bytes, nl + 1);
                int start = nl + 5;
                using var member = new SliceByteSource(target.Source, start, len, name);
                context.ScanNested(member, name);
                i = start + len;
            }
            context.Report(Rules[0], "archive seen", 0);
        }
    }

    private static byte[] Archive(params (string Name, byte[] Data)[] members)
    {
        var ms = new MemoryStream();
        ms.Write("ARCH"u8);
        foreach (var (name, data) in members)
        {
            ms.Write(Encoding.UTF8.GetBytes(name + "\n"));
            ms.Write(BitConverter.GetBytes(data.Length));
            ms.Write(data);
        }
        return ms.ToArray();
    }

    [Fact]
    public void Plug_in_analyzers_receive_targets_and_nested_members_are_dispatched_with_entries()
    {
        var options = new ScanOptions { Analyzers = [new FakeArchiveAnalyzer(), .. Scanner.DefaultAnalyzers] };
        byte[] inner = Archive(("deep/tokenizer_config.json", Encoding.UTF8.GetBytes("""{"chat_template": "{{ x.__globals__ }}"}""")));
        byte[] outer = Archive(("a/config.json", "{}"u8.ToArray()), ("inner.arch", inner), ("w.pkl", ProtocolZeroPickle));
        using var source = new MemoryByteSource("outer.arch", outer);
        var report = new Scanner(options).ScanSource(source, "outer.arch");

        var jinja = report.Findings.Single(f => f.Rule == "LIN-JINJA-001");
        Assert.Equal("inner.arch/deep/tokenizer_config.json", jinja.Entry);
        var pickle = report.Findings.Single(f => f.Rule == "LIN-PKL-001");
        Assert.Equal("w.pkl", pickle.Entry);
        Assert.Equal(Severity.Critical, pickle.Severity);
        Assert.Equal(FileStatus.Scanned, report.Status);
        Assert.Contains(new Scanner(options).Rules, r => r.Id == "LIN-TEST-001");
    }

    [Fact]
    public void Nesting_is_limited()
    {
        var options = new ScanOptions { Analyzers = [new FakeArchiveAnalyzer()], MaxNestingDepth = 3 };
        byte[] data = "{}"u8.ToArray();
        for (int i = 0; i < 6; i++) data = Archive(($"level{i}", data));
        using var source = new MemoryByteSource("deep.arch", data);
        var report = new Scanner(options).ScanSource(source, "deep.arch");
        Assert.Equal(FileStatus.Error, report.Status);
        Assert.Contains(report.Findings, f => f.Rule == "LIN-SCAN-006");
    }

    private sealed class ThrowingAnalyzer : IFormatAnalyzer
    {
        public string Name => "throws";

        public IReadOnlyList<RuleDescriptor> Rules { get; } = [];

        public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Json;

        public void Analyze(ScanTarget target, ScanContext context) => throw new IndexOutOfRangeException("bug");
    }

    [Fact]
    public void An_analyzer_bug_fails_the_file_closed()
    {
        using var source = new MemoryByteSource("x.json", "{}"u8.ToArray());
        var report = new Scanner(new ScanOptions { Analyzers = [new ThrowingAnalyzer()] }).ScanSource(source, "x.json");
        Assert.Equal(FileStatus.Error, report.Status);
        Assert.Contains("IndexOutOfRangeException", Assert.Single(report.Findings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Findings_decide_before_errors_and_integrity_rules_never_count_as_findings()
    {
        var bad = new FileReport("a", "json");
        bad.Findings.Add(new Finding(Severity.Critical, "LIN-JINJA-001", "x"));
        var broken = new FileReport("b", "pickle");
        broken.Findings.Add(new Finding(Severity.High, "LIN-SCAN-001", "y"));
        broken.Status = FileStatus.Error;
        Assert.Equal(ScanOutcome.Findings, new ScanReport([bad, broken]).Outcome(Severity.Medium));
        Assert.Equal(ScanOutcome.Error, new ScanReport([broken]).Outcome(Severity.Medium));
        Assert.Equal(ScanOutcome.Error, new ScanReport([broken]).Outcome(Severity.Info));
        Assert.Equal(ScanOutcome.Findings, new ScanReport([bad, broken]).Outcome(Severity.Critical));
    }

    [Fact]
    public void Integrity_findings_forwarded_by_an_analyzer_fail_the_file_closed()
    {
        using var dir = new TempDir();
        string path = dir.Write("long.jinja", "{{ messages }}" + new string('x', 5000));
        var report = Scanner.Scan([path], new ScanOptions { MaxTemplateChars = 1000 });
        var file = report.Files.Single();
        Assert.Equal(FileStatus.Error, file.Status);
        Assert.Contains(file.Findings, f => f.Rule == "LIN-SCAN-006");
        Assert.Equal(ScanOutcome.Error, report.Outcome(Severity.Critical));
    }

    [Fact]
    public void Every_rule_is_documented()
    {
        string doc = File.ReadAllText(Path.Combine(Corpus.RepoRoot, "docs", "scanner-rules.md"));
        foreach (var rule in ScanRules.All)
        {
            Assert.Contains($"| {rule.Id} | {rule.Name} |", doc, StringComparison.Ordinal);
        }
        Assert.Equal(ScanRules.All.Count, ScanRules.All.Select(r => r.Id).Distinct().Count());
        Assert.Equal(ScanRules.All.Count, ScanRules.All.Select(r => r.Name).Distinct().Count());
    }
}

public class ScannerHostileInputTests
{
    public static TheoryData<string> Seeds => new()
    {
        "scanner/modelaudit/samples/jinja2/malicious_cve_2024_34359.json",
        "scanner/modelaudit/samples/jinja2/malicious_subprocess.template",
        "scanner/modelaudit/samples/jinja2/yaml/malicious_config.yaml",
        "scanner/modelaudit/samples/safetensors/multiple_patterns.safetensors",
        "scanner/modelaudit/samples/keras/safe_model.h5",
        "real/tokenizers/ortx/phi-3-mini/tokenizer_config.json",
        "scanner/modelaudit/samples/pytorch/malicious_eval.pt",
        "scanner/modelaudit/samples/archives/path_traversal.zip",
        "scanner/modelaudit/samples/pickles/nested_pickle_multistage.pkl",
        "scanner/modelaudit/samples/pickles/dill_func.pkl",
        "scanner/modelaudit/pickles/multiple_stream_attack.pkl",
        "scanner/modelaudit/samples/tensorflow/malicious_pyfunc/saved_model.pb",
        "scanner/modelaudit/samples/pipeline.skops",
        "scanner/modelaudit/scenarios/license_scenarios/unlicensed_dataset/embeddings.npy",
        "real/weights/legacy-pt/tiny_distilbert_legacy.bin",
        "real/weights/candle-small/test.pt",
        "real/weights/ort-tiny-gpt2/tiny_gpt2_fp32.onnx",
        "real/tokenizers/llamacpp-vocab/ggml-vocab-phi-3.gguf",
    };

    /// <summary>Whatever the bytes, a scan returns a report: no exception escapes and nothing is clean by accident.</summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_inputs_never_throw(string seed)
    {
        string path = Corpus.Path(seed);
        byte[] original = File.ReadAllBytes(path);
        if (original.Length > 64 * 1024) original = original[..(64 * 1024)];
        var scanner = new Scanner();
        string name = Path.GetFileName(path);
        foreach (var bytes in Hostile.BitFlips(original, 150, seed: 5, focusPrefix: 4096).Concat(Hostile.Truncations(original, 40, seed: 9)))
        {
            using var source = new MemoryByteSource(name, bytes);
            var report = scanner.ScanSource(source, name);
            Assert.NotNull(report.Format);
            if (report.Status == FileStatus.Error) Assert.NotNull(report.Error);
            // Analyzers turn bad bytes into LineageExceptions or findings; a crash would show as "analyzer failed".
            var crash = report.Findings.FirstOrDefault(f => f.Message.Contains("analyzer failed", StringComparison.Ordinal));
            Assert.True(crash is null, crash?.Message);
        }
    }
}
