using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Evidence;

public class AuditTests(LadderDatabase db) : IClassFixture<LadderDatabase>
{
    private readonly LadderDatabase _db = db;

    /// <summary>A writable copy of a corpus model folder (the corpus itself is read-only and never modified).</summary>
    private static string CopyModel(TempDir dir, string relative, string name = "model")
    {
        string source = Corpus.Path(relative);
        string target = dir.File(name);
        Directory.CreateDirectory(target);
        foreach (var f in Directory.GetFiles(source)) File.WriteAllBytes(Path.Combine(target, Path.GetFileName(f)), File.ReadAllBytes(f));
        return target;
    }

    private static (int Code, JsonNode Json) Audit(params string[] args)
    {
        var run = CliRunner.Run(["audit", .. args, "--format", "json"]);
        Assert.True(run.ExitCode is >= 0 and <= 3, run.Stderr);
        return (run.ExitCode, JsonNode.Parse(run.Stdout)!);
    }

    private static IEnumerable<string> Rules(JsonNode audit) => audit["findings"]!.AsArray().Select(f => f!["rule"]!.GetValue<string>());

    private static int ExpectedExit(JsonNode audit) => audit["verdict"]!.GetValue<string>() switch
    {
        "pass" => 0,
        "fail" => 1,
        "error" => 2,
        _ => 3,
    };

    [Fact]
    public void A_clean_safetensors_folder_passes_with_every_file_hashed()
    {
        string model = Corpus.Path("ladder/A");
        var (code, audit) = Audit(model, "--db", _db.Path!);
        Assert.Equal(0, code);
        Assert.Equal("pass", audit["verdict"]!.GetValue<string>());
        var files = audit["files"]!.AsArray();
        Assert.Equal(Directory.GetFiles(model).Length, files.Count);
        foreach (var f in files)
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(model, f!["path"]!.GetValue<string>()));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), f["sha256"]!.GetValue<string>());
            Assert.Equal(bytes.Length, f["size"]!.GetValue<long>());
        }
        Assert.Equal("safetensors", audit["model"]!["format"]!.GetValue<string>());
        Assert.Equal(278_976, audit["model"]!["parameters"]!.GetValue<long>());
        Assert.Equal("ladder/A", audit["lineage"]!["detected"]![0]!["model_id"]!.GetValue<string>());
        Assert.Equal("identical", audit["lineage"]!["detected"]![0]!["verdict"]!.GetValue<string>());
    }

    [Fact]
    public void Flipping_one_byte_of_a_copy_is_caught_against_every_manifest_kind()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "ladder/A");
        // Manifests of the pristine copy: Lineage's own and a sha256sum list computed here, independently.
        string lineageManifest = dir.File("lineage-manifest.json");
        var write = CliRunner.Run("audit", model, "--no-lineage", "--write-manifest", lineageManifest);
        Assert.Equal(0, write.ExitCode);
        string sums = dir.Write("SHA256SUMS", string.Concat(Directory.GetFiles(model).Order(StringComparer.Ordinal)
            .Select(f => $"{Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))}  {Path.GetFileName(f)}\n")));
        foreach (var manifest in new[] { lineageManifest, sums })
        {
            var (code, audit) = Audit(model, "--manifest", manifest, "--no-lineage");
            Assert.Equal(0, code);
            Assert.Equal(3, audit["manifest"]!["verified"]!.GetValue<int>());
        }

        // One bit of one tensor value: the file still parses and scans clean, only its hash gives it away.
        string weights = Path.Combine(model, "model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^100] ^= 0x01;
        File.WriteAllBytes(weights, bytes);
        foreach (var manifest in new[] { lineageManifest, sums })
        {
            var (code, audit) = Audit(model, "--manifest", manifest, "--no-lineage");
            Assert.Equal(1, code);
            Assert.Equal("fail", audit["verdict"]!.GetValue<string>());
            Assert.Equal(["model.safetensors"], audit["manifest"]!["mismatched"]!.AsArray().Select(x => x!.GetValue<string>()));
            var finding = audit["findings"]!.AsArray().Single(f => f!["rule"]!.GetValue<string>() == "LIN-AUD-001")!;
            Assert.Equal("critical", finding["severity"]!.GetValue<string>());
            Assert.EndsWith("model.safetensors", finding["path"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Missing_and_unexpected_files_are_findings()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "ladder/A");
        string manifest = dir.File("m.json");
        Assert.Equal(0, CliRunner.Run("audit", model, "--no-lineage", "--write-manifest", manifest).ExitCode);
        File.Delete(Path.Combine(model, "tokenizer.model"));
        File.WriteAllText(Path.Combine(model, "extra_module.py"), "import os\n");
        var (code, audit) = Audit(model, "--manifest", manifest, "--no-lineage");
        Assert.Equal(1, code);
        Assert.Equal(["tokenizer.model"], audit["manifest"]!["missing"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal(["extra_module.py"], audit["manifest"]!["unexpected"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Contains("LIN-AUD-002", Rules(audit));
        Assert.Contains("LIN-AUD-003", Rules(audit));
    }

    [Fact]
    public void An_unreadable_manifest_fails_closed()
    {
        using var dir = new TempDir();
        string manifest = dir.Write("bad.txt", "this is not a manifest\n");
        var (code, audit) = Audit(Corpus.Path("ladder/A"), "--manifest", manifest, "--no-lineage");
        Assert.Equal(2, code);
        Assert.Equal("error", audit["verdict"]!.GetValue<string>());
        Assert.Contains("LIN-AUD-031", Rules(audit));
    }

    [Fact]
    public void Expect_base_passes_for_the_true_base_and_fails_for_another()
    {
        string model = Corpus.Path("ladder/A-sft1");
        var (ok, pass) = Audit(model, "--db", _db.Path!, "--expect-base", "ladder/A");
        Assert.Equal(0, ok);
        Assert.Equal("confirmed", pass["lineage"]!["expected"]!["outcome"]!.GetValue<string>());

        var (bad, fail) = Audit(model, "--db", _db.Path!, "--expect-base", "ladder/C");
        Assert.Equal(1, bad);
        Assert.Equal("differs", fail["lineage"]!["expected"]!["outcome"]!.GetValue<string>());
        Assert.Contains("LIN-AUD-010", Rules(fail));

        // A path is compared directly, without a database.
        var (direct, byPath) = Audit(model, "--expect-base", Corpus.Path("ladder/A"), "--db", _db.Path!);
        Assert.Equal(0, direct);
        Assert.Equal("path", byPath["lineage"]!["expected"]!["resolved_as"]!.GetValue<string>());

        // An expectation that cannot be checked fails the audit.
        var (unknown, unverified) = Audit(model, "--db", _db.Path!, "--expect-base", "nobody/never-heard-of-it");
        Assert.Equal(1, unknown);
        Assert.Contains("LIN-AUD-011", Rules(unverified));
    }

    [Fact]
    public void Claims_in_the_model_card_config_and_adapter_config_are_checked_against_the_weights()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "ladder/A-sft1");
        File.WriteAllText(Path.Combine(model, "README.md"), "---\nlicense: mit\nbase_model:\n- ladder/C\nbase_model_relation: finetune\n---\n# A fine-tune\n");
        var (code, audit) = Audit(model, "--db", _db.Path!);
        Assert.Equal(1, code);
        var claim = audit["lineage"]!["claims"]!.AsArray().Single()!;
        Assert.Equal(("README.md", "ladder/C", "contradicted"), (claim["file"]!.GetValue<string>(), claim["value"]!.GetValue<string>(), claim["status"]!.GetValue<string>()));
        Assert.Contains("LIN-AUD-012", Rules(audit));

        File.WriteAllText(Path.Combine(model, "README.md"), "---\nbase_model: ladder/A\n---\n");
        File.WriteAllText(Path.Combine(model, "adapter_config.json"), "{\"base_model_name_or_path\": \"ladder/A\", \"revision\": null}");
        (code, audit) = Audit(model, "--db", _db.Path!);
        var claims = audit["lineage"]!["claims"]!.AsArray();
        Assert.Equal(2, claims.Count);
        Assert.All(claims, c => Assert.Equal("confirmed", c!["status"]!.GetValue<string>()));
        Assert.DoesNotContain("LIN-AUD-012", Rules(audit));
        // The adapter's hub base is not pinned to a commit.
        Assert.Contains("LIN-AUD-022", Rules(audit));
        Assert.Equal(ExpectedExit(audit), code);
    }

    [Fact]
    public void Packaging_risks_pickle_beside_safetensors_lfs_pointers_and_unpinned_remote_code()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "ladder/A");
        File.WriteAllBytes(Path.Combine(model, "pytorch_model.bin"), File.ReadAllBytes(Corpus.Path("ladder/A-lora/pytorch_model.bin")));
        File.WriteAllText(Path.Combine(model, "tokenizer.json"), "version https://git-lfs.github.com/spec/v1\noid sha256:" + new string('a', 64) + "\nsize 123456\n");
        string config = File.ReadAllText(Path.Combine(model, "config.json"));
        File.WriteAllText(Path.Combine(model, "config.json"), config.TrimEnd().TrimEnd('}') + ", \"auto_map\": {\"AutoModel\": \"someone/remote-code--modeling.Model\"}}");
        var (code, audit) = Audit(model, "--no-lineage");
        Assert.Equal(1, code);
        var rules = Rules(audit).ToList();
        Assert.Contains("LIN-AUD-020", rules);
        Assert.Contains("LIN-AUD-004", rules);
        Assert.Contains("LIN-AUD-022", rules);
        Assert.Contains("LIN-CFG-001", rules); // the scanner's remote-code finding comes through unchanged
        Assert.Equal("lfs-pointer", audit["files"]!.AsArray().Single(f => f!["path"]!.GetValue<string>() == "tokenizer.json")!["format"]!.GetValue<string>());
    }

    [Fact]
    public void Sarif_output_carries_audit_and_scan_results_with_documented_rules()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "ladder/A");
        string manifest = dir.File("m.json");
        Assert.Equal(0, CliRunner.Run("audit", model, "--no-lineage", "--write-manifest", manifest).ExitCode);
        File.AppendAllText(Path.Combine(model, "config.json"), " ");
        var run = CliRunner.Run("audit", model, "--manifest", manifest, "--no-lineage", "--format", "sarif");
        Assert.Equal(1, run.ExitCode);
        var sarif = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("2.1.0", sarif["version"]!.GetValue<string>());
        var sarifRun = sarif["runs"]![0]!;
        var rules = sarifRun["tool"]!["driver"]!["rules"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToList();
        var result = sarifRun["results"]!.AsArray().Single(r => r!["ruleId"]!.GetValue<string>() == "LIN-AUD-001")!;
        Assert.Equal(rules.IndexOf("LIN-AUD-001"), result["ruleIndex"]!.GetValue<int>());
        Assert.Equal("error", result["level"]!.GetValue<string>());
        Assert.EndsWith("config.json", result["locations"]![0]!["physicalLocation"]!["artifactLocation"]!["uri"]!.GetValue<string>(), StringComparison.Ordinal);

        // Every audit rule id is documented.
        string docs = File.ReadAllText(Path.Combine(Corpus.RepoRoot, "docs", "audit-rules.md"));
        Assert.All(Lineage.Audit.AuditRules.All, r => Assert.Contains(r.Id, docs, StringComparison.Ordinal));
        Assert.All(rules.Where(r => r.StartsWith("LIN-AUD", StringComparison.Ordinal)), r => Assert.Contains(r, docs, StringComparison.Ordinal));
    }

    [Fact]
    public void Text_output_is_for_people_and_usage_errors_exit_4()
    {
        var run = CliRunner.Run("audit", Corpus.Path("ladder/A"), "--no-lineage");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("result: PASS", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("model.safetensors", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(4, CliRunner.Run("audit", Corpus.Path("ladder/A"), "--fail-on", "never").ExitCode);
        Assert.Equal(4, CliRunner.Run("audit", Corpus.Path("ladder/A"), "--report", "pdf", "x.pdf").ExitCode);
        Assert.Equal(2, CliRunner.Run("audit", "/nonexistent/model").ExitCode);
    }

    /// <summary>A representative subset (every container format); tools/audit-corpus.sh audits every model.</summary>
    [Theory]
    [InlineData("ladder/B")]
    [InlineData("ladder/C-lora")]
    [InlineData("ladder/D-sft1")]
    [InlineData("ladder/C-prune-depth.gguf")]
    [InlineData("ladder/A-sft2.onnx")]
    [InlineData("real/weights/ort-tiny-t5")]
    [InlineData("real/weights/genai-tiny-random-llama-fp16")]
    [InlineData("real/weights/legacy-pt")]
    [InlineData("real/weights/candle-small")]
    [InlineData("real/weights/llama2c-stories260K/stories260K.bin")]
    [InlineData("real/weights/ollama-llama2-tiny-random")]
    [InlineData("real/weights/torch-charlevel-gpt")]
    public void Audits_of_ladder_and_real_models_produce_every_part(string relative)
    {
        string path = Corpus.Path(relative);
        var (code, audit) = Audit(path, "--db", _db.Path!);
        Assert.Equal(ExpectedExit(audit), code);
        Assert.NotEmpty(audit["files"]!.AsArray());
        Assert.All(audit["files"]!.AsArray(), f => Assert.Matches("^[0-9a-f]{64}$", f!["sha256"]!.GetValue<string>()));
        Assert.NotNull(audit["model"]);
        Assert.True(audit["model"]!["parameters"]!.GetValue<long>() > 0);
        Assert.NotNull(audit["scan"]!["summary"]);
        Assert.NotNull(audit["lineage"]!["detected"]);
        // Where pickle weights are the only weights, the audit says so.
        if (audit["model"]!["format"]!.GetValue<string>().StartsWith("pytorch", StringComparison.Ordinal))
            Assert.Contains("LIN-AUD-021", Rules(audit));
    }

    [Fact]
    public void Ladder_derivatives_are_attributed_to_their_base()
    {
        var (_, lora) = Audit(Corpus.Path("ladder/C-lora"), "--db", _db.Path!);
        Assert.Equal("ladder/C", lora["lineage"]!["detected"]![0]!["model_id"]!.GetValue<string>());
        var (_, quant) = Audit(Corpus.Path("ladder/A-quant-q8.gguf"), "--db", _db.Path!);
        Assert.Equal("ladder/A", quant["lineage"]!["detected"]![0]!["model_id"]!.GetValue<string>());
        var (_, other) = Audit(Corpus.Path("ladder/B"), "--db", _db.Path!);
        Assert.Empty(other["lineage"]!["detected"]!.AsArray());
    }
}
