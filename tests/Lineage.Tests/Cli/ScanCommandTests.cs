using System.Text.Json;
using Lineage.Tests.Support;

namespace Lineage.Tests.Cli;

public class ScanCommandTests
{
    private const string Samples = "scanner/modelaudit/samples";

    [Fact]
    public void Clean_input_exits_0()
    {
        var r = CliRunner.Run("scan", Corpus.Path($"{Samples}/safetensors/safe_model.safetensors"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("result: clean", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Findings_at_or_above_the_threshold_exit_1()
    {
        string url = Corpus.Path($"{Samples}/safetensors/suspicious_url.safetensors");
        Assert.Equal(0, CliRunner.Run("scan", url).ExitCode);                       // low < medium (default)
        Assert.Equal(1, CliRunner.Run("scan", url, "--fail-on", "low").ExitCode);
        string lambda = Corpus.Path($"{Samples}/keras/malicious_lambda.h5");
        Assert.Equal(1, CliRunner.Run("scan", lambda).ExitCode);
        Assert.Equal(1, CliRunner.Run("scan", lambda, "--fail-on", "critical").ExitCode);
        string shell = Corpus.Path($"{Samples}/safetensors/shell_commands.safetensors");
        Assert.Equal(0, CliRunner.Run("scan", shell, "--fail-on", "critical").ExitCode);
    }

    [Fact]
    public void Unparseable_or_unanalysable_input_exits_2_whatever_the_threshold()
    {
        using var dir = new TempDir();
        string bad = dir.Write("config.json", "{ not json");
        Assert.Equal(2, CliRunner.Run("scan", bad).ExitCode);
        Assert.Equal(2, CliRunner.Run("scan", bad, "--fail-on", "critical").ExitCode);
        Assert.Equal(2, CliRunner.Run("scan", "/definitely/not/here").ExitCode);
        string truncated = dir.Write("weights.pkl", [0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7D, 0x94, 0x8C, 0x05, (byte)'a']);
        var r = CliRunner.Run("scan", truncated, "--format", "json", "--fail-on", "critical");
        Assert.Equal(2, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("error", doc.RootElement.GetProperty("files")[0].GetProperty("status").GetString());
        Assert.Equal(0, CliRunner.Run("scan", Corpus.Path($"{Samples}/pickles/safe_data.pkl"), "--fail-on", "low").ExitCode);
    }

    [Fact]
    public void Explain_prints_the_decompiled_pickle()
    {
        var r = CliRunner.Run("scan", Corpus.Path($"{Samples}/pickles/malicious_system_call.pkl"), "--explain");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("decompiled pickle (byte 0):", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("    | from posix import system", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("    | _var0 = system(\"echo 'security test - malicious system call'\")", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("decompiled pickle", CliRunner.Run("scan", Corpus.Path($"{Samples}/pickles/malicious_system_call.pkl")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_scannable_exits_3_and_usage_errors_4()
    {
        using var dir = new TempDir();
        dir.Write("README.md", "hello");
        Assert.Equal(3, CliRunner.Run("scan", dir.Path).ExitCode);
        Assert.Equal(4, CliRunner.Run("scan").ExitCode);
        Assert.Equal(4, CliRunner.Run("scan", dir.Path, "--fail-on", "severe").ExitCode);
        Assert.Equal(4, CliRunner.Run("scan", dir.Path, "--format", "xml").ExitCode);
        var profile = CliRunner.Run("scan", dir.Path, "--profile", "pytorch,tensorflow");
        Assert.Equal(4, profile.ExitCode);
        Assert.Contains("tensorflow", profile.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_output_has_files_and_summary()
    {
        var r = CliRunner.Run("scan", Corpus.Path($"{Samples}/jinja2/malicious"), "--format", "json");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var files = doc.RootElement.GetProperty("files");
        Assert.Equal(12, files.GetArrayLength());
        foreach (var f in files.EnumerateArray())
        {
            Assert.EndsWith(".json", f.GetProperty("path").GetString(), StringComparison.Ordinal);
            Assert.Equal("json", f.GetProperty("format").GetString());
            var first = f.GetProperty("findings")[0];
            Assert.Equal("critical", first.GetProperty("severity").GetString());
            Assert.StartsWith("LIN-JINJA-", first.GetProperty("rule").GetString(), StringComparison.Ordinal);
            Assert.True(first.GetProperty("offset").GetInt64() > 0);
        }
        Assert.Equal(12, doc.RootElement.GetProperty("summary").GetProperty("scanned").GetInt32());
    }

    [Fact]
    public void Sarif_output_is_one_json_document_on_stdout()
    {
        var r = CliRunner.Run("scan", Corpus.Path($"{Samples}/keras"), "--format", "sarif");
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("2.1.0", doc.RootElement.GetProperty("version").GetString());
        var result = Assert.Single(doc.RootElement.GetProperty("runs")[0].GetProperty("results").EnumerateArray());
        Assert.Equal("LIN-KERAS-001", result.GetProperty("ruleId").GetString());
    }

    [Fact]
    public void Profiles_change_what_is_allowed_and_help_has_examples()
    {
        Assert.Equal(0, CliRunner.Run("scan", Corpus.Path($"{Samples}/safetensors/safe_model.safetensors"), "--profile", "pytorch", "--profile", "numpy").ExitCode);
        var help = CliRunner.Run("scan", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Examples:", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("--fail-on", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("--profile", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("--explain", help.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_lists_every_file_and_the_rules_that_fired()
    {
        var r = CliRunner.Run("scan", Corpus.Path($"{Samples}/keras"), "--explain");
        Assert.Contains("safe_model.h5  [hdf5, clean]", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("LIN-KERAS-001 keras-lambda-layer", r.Stdout, StringComparison.Ordinal);
    }
}
