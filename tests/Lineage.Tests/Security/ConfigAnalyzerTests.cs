using Lineage.Security;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

public class ConfigAnalyzerTests
{
    private static FileReport ScanText(string name, string text)
    {
        using var dir = new TempDir();
        string path = dir.Write(name, text);
        return Scanner.Scan([path]).Files.Single();
    }

    [Fact]
    public void Auto_map_requires_remote_code_and_another_repository_is_worse()
    {
        var local = ScanText("config.json", """{"model_type": "phi3", "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config", "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"}}""");
        var f = Assert.Single(local.Findings);
        Assert.Equal("LIN-CFG-001", f.Rule);
        Assert.Equal(Severity.Medium, f.Severity);
        Assert.Contains("modeling_phi3.Phi3ForCausalLM", f.Message, StringComparison.Ordinal);
        Assert.Equal(23, f.Offset); // the "auto_map" key

        var external = ScanText("config.json", """{"auto_map": {"AutoModel": "evil-org/helpers--modeling.Model", "AutoTokenizer": ["tok.Tok", null]}}""");
        var g = Assert.Single(external.Findings);
        Assert.Equal(Severity.High, g.Severity);
        Assert.Contains("evil-org/helpers--modeling.Model", g.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trust_remote_code_and_custom_pipelines_are_reported()
    {
        var trc = ScanText("pipeline.json", """{"model": {"trust_remote_code": true}, "custom_pipelines": {"my-task": {"impl": "pipe.MyPipe"}}}""");
        Assert.Contains(trc.Findings, f => f.Rule == "LIN-CFG-002");
        Assert.Contains(trc.Findings, f => f.Rule == "LIN-CFG-003");

        var diffusers = ScanText("model_index.json", """{"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.27.0", "unet": ["diffusers", "UNet2DConditionModel"], "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"], "scheduler": ["my_scheduler", "Evil"]}""");
        var d = Assert.Single(diffusers.Findings);
        Assert.Equal("LIN-CFG-003", d.Rule);
        Assert.Contains("my_scheduler", d.Message, StringComparison.Ordinal);

        var st = ScanText("modules.json", """[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "x", "type": "custom_code.Pooling"}]""");
        Assert.Contains("custom_code.Pooling", Assert.Single(st.Findings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hydra_targets_are_checked_with_the_callable_policy()
    {
        var evil = ScanText("config.yaml", "model:\n  _target_: os.system\n  command: id\n");
        var f = Assert.Single(evil.Findings);
        Assert.Equal("LIN-CFG-003", f.Rule);
        Assert.Equal(Severity.Critical, f.Severity);

        var json = ScanText("conf.json", """{"optim": {"_target_": "builtins.eval"}, "net": {"_target_": "torch.nn.modules.linear.Linear"}}""");
        Assert.Equal(Severity.Critical, Assert.Single(json.Findings).Severity);
    }

    [Fact]
    public void Manifest_samples_match_their_labels()
    {
        var safe = Scanner.Scan([Corpus.Path("scanner/modelaudit/samples/manifests/safe_config.json")]).Files.Single();
        Assert.Equal(FileStatus.Scanned, safe.Status);
        Assert.Empty(safe.Findings);
        var suspicious = Scanner.Scan([Corpus.Path("scanner/modelaudit/samples/manifests/suspicious_config.json")]).Files.Single();
        Assert.Contains(suspicious.Findings, f => f.Rule == "LIN-META-002" && f.Message.Contains("debug_command", StringComparison.Ordinal));
        Assert.Contains(suspicious.Findings, f => f.Rule == "LIN-META-006" && !f.Evidence!.Contains("567890abcdef", StringComparison.Ordinal));
        Assert.Contains(suspicious.Findings, f => f.Rule == "LIN-META-005");
    }

    [Fact]
    public void Token_data_is_not_inspected_for_payloads()
    {
        var tokenizer = ScanText("tokenizer.json", """{"model": {"type": "BPE", "vocab": {"import os": 1, "os.system(": 2, "rm -rf": 3, "{{ self }}": 4, "{{": 5}}, "added_tokens": [{"content": "<script>"}]}""");
        Assert.Empty(tokenizer.Findings);
        var config = ScanText("tokenizer_config.json", """{"added_tokens_decoder": {"0": {"content": "__import__('os')"}}, "id2label": {"0": "rm -rf /"}}""");
        Assert.Empty(config.Findings);
    }

    [Fact]
    public void Invalid_json_named_json_fails_closed_with_an_offset()
    {
        var report = ScanText("config.json", "{\n  \"a\": 1,\n  \"b\": }\n");
        Assert.Equal(FileStatus.Error, report.Status);
        var f = Assert.Single(report.Findings);
        Assert.Equal("LIN-SCAN-001", f.Rule);
        Assert.NotNull(f.Offset);
    }

    [Fact]
    public void Python_files_are_reported_low()
    {
        var py = ScanText("modeling_x.py", "import torch\nclass X(torch.nn.Module):\n    pass\n");
        Assert.Equal("python", py.Format);
        Assert.Equal("LIN-SCAN-008", Assert.Single(py.Findings).Rule);
    }
}
