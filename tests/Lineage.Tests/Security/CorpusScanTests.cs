using Lineage.Security;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

/// <summary>Real and ladder models must scan clean, every format included.</summary>
public class CorpusScanTests
{
    public static TheoryData<string> ModelFolders()
    {
        var data = new TheoryData<string>();
        foreach (var root in (string[])["ladder", "real/weights"])
        {
            string? full = Corpus.Root is null ? null : Path.Combine(Corpus.Root, root);
            if (full is null || !Directory.Exists(full))
            {
                data.Add(root);
                continue;
            }
            foreach (var dir in Directory.EnumerateDirectories(full).Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(Corpus.Root!, dir));
        }
        return data;
    }

    /// <summary>Every weight file of the real and ladder corpora scans clean: no finding at or above low, nothing unanalysed, no error.</summary>
    [Theory]
    [MemberData(nameof(ModelFolders))]
    public void Model_folders_scan_clean(string folder)
    {
        var report = Scanner.Scan([Corpus.Path(folder)]);
        foreach (var f in report.Files)
        {
            Assert.True(f.Status is FileStatus.Scanned or FileStatus.Skipped, $"{f.Path}: {f.Status} {f.Error ?? f.Note}");
            var unexpected = f.Findings.Where(x => x.Severity >= Severity.Low).ToList();
            Assert.True(unexpected.Count == 0, $"{f.Path}: {string.Join("; ", unexpected.Select(x => $"{x.Rule} {x.Message}"))}");
        }
        Assert.Equal(ScanOutcome.Clean, report.Outcome(Severity.Low));
    }

    [Fact]
    public void Every_safetensors_file_in_the_corpus_is_scanned_clean()
    {
        var files = new[] { "ladder", "real" }
            .SelectMany(r => Directory.EnumerateFiles(Corpus.Path(r), "*.safetensors", SearchOption.AllDirectories))
            .ToList();
        Assert.True(files.Count >= 40, $"found {files.Count}");
        var report = Scanner.Scan(files);
        Assert.All(report.Files, f =>
        {
            Assert.Equal("safetensors", f.Format);
            Assert.Equal(FileStatus.Scanned, f.Status);
            Assert.Empty(f.Findings);
        });
        Assert.Equal(ScanOutcome.Clean, report.Outcome(Severity.Info));
    }
}

/// <summary>
/// ModelAudit's samples (../shared/corpus/scanner/modelaudit): file and folder names say which are malicious. Every
/// malicious sample is flagged at high or critical; every benign one has no finding at or above low. The few
/// samples judged otherwise are listed with the reason (docs/scanner-rules.md, "Corpus decisions").
/// </summary>
public class ModelAuditCorpusTests
{
    private const string Root = "scanner/modelaudit";

    private static readonly Lazy<ScanReport> Report = new(() => Scanner.Scan([Corpus.Path(Root)]));

    /// <summary>Samples whose names do not say "malicious" but that the allow-list policy fails, and why.</summary>
    public static readonly Dictionary<string, (Severity Expected, string Why)> Judged = new(StringComparer.Ordinal)
    {
        ["samples/pipeline.skops"] = (Severity.High, "schema.json references __main__.DivideColumns, a class outside every allow-list (skops itself refuses it as untrusted)"),
        ["scenarios/license_scenarios/agpl_component/agpl_model.pkl"] = (Severity.High, "a pickled __main__.AGPLNeuralNetwork instance: loading imports an unknown class"),
        ["samples/jinja2/edge_cases/malformed_template.json"] = (Severity.Low, "Jinja2 refuses to compile the template (syntax error, low); nothing can run"),
        ["samples/safetensors/suspicious_url.safetensors"] = (Severity.Low, "only URLs in metadata: no loader fetches them (low)"),
        ["scenarios/security_scenarios/mixed_malicious_model/config.json"] = (Severity.Low, "only a URL; its folder's model.pkl is the malicious part and is critical"),
        ["samples/jinja2/edge_cases/multiple_templates.json"] = (Severity.Critical, "custom_chat_template holds a sandbox escape"),
        ["samples/jinja2/tokenizer_config.json"] = (Severity.Critical, "its chat_template is the CVE-2024-34359 payload (the same bytes as malicious_cve_2024_34359.json)"),
    };

    private static readonly string[] MaliciousMarkers =
    [
        "exploit", "malicious", "evil", "attack", "nested_pickle", "decode_exec", "dill_func", "path_traversal", "cve_", "suspicious_config",
        "shell_commands", "obfuscated", "multiple_patterns", "script_injection", "/malicious/", "_bypass", "combined", "direct_eval", "env_extraction",
        "file_access", "loop_discovery", "network_exfil", "request_exploit", "config_exploit", "subprocess", "hex_bypass",
    ];

    public static TheoryData<string> Samples()
    {
        var data = new TheoryData<string>();
        string? root = Corpus.Root is null ? null : System.IO.Path.Combine(Corpus.Root, Root);
        if (root is null || !Directory.Exists(root))
        {
            data.Add("(corpus missing)");
            return data;
        }
        foreach (var f in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string rel = System.IO.Path.GetRelativePath(root, f).Replace('\\', '/');
            if (rel is "LICENSE" || rel.EndsWith("/LICENSE", StringComparison.Ordinal) || rel.EndsWith(".csv", StringComparison.Ordinal)) continue;
            data.Add(rel);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Malicious_samples_are_high_or_critical_and_benign_ones_clean(string sample)
    {
        string full = System.IO.Path.Combine(Corpus.Path(Root), sample);
        var file = Report.Value.Files.Single(f => System.IO.Path.GetFullPath(f.Path) == System.IO.Path.GetFullPath(full));
        Assert.NotEqual(FileStatus.Unanalyzed, file.Status);
        var worst = file.HighestSeverity;
        string findings = string.Join(" | ", file.Findings.Select(f => $"{f.Severity} {f.Rule} {f.Message}"));
        if (Judged.TryGetValue(sample, out var judged))
        {
            Assert.True(worst == judged.Expected, $"{sample}: expected {judged.Expected} ({judged.Why}); got {worst}: {findings}");
            return;
        }
        string name = sample.ToLowerInvariant();
        bool malicious = MaliciousMarkers.Any(m => name.Contains(m, StringComparison.Ordinal)) && !name.Contains("benign", StringComparison.Ordinal) && !name.Contains("safe_", StringComparison.Ordinal);
        if (malicious)
        {
            Assert.True(worst >= Severity.High, $"{sample} is malicious but its worst finding is {worst?.ToString() ?? "none"}: {findings}");
        }
        else
        {
            Assert.True(worst is null or < Severity.Low, $"{sample} is benign but has findings: {findings}");
            Assert.NotEqual(FileStatus.Error, file.Status);
        }
    }
}
