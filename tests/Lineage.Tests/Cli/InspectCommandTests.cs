using System.Text.Json;
using Lineage.Tests.Support;

namespace Lineage.Tests.Cli;

public class InspectCommandTests
{
    [Fact]
    public void Json_output_lists_tensors_and_config_of_a_ladder_model()
    {
        var result = CliRunner.Run("inspect", Corpus.Path("ladder/A"), "--format", "json", "--no-hash");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.Equal("safetensors", root.GetProperty("format").GetString());
        Assert.Equal(278976, root.GetProperty("parameters").GetInt64());
        Assert.Equal(64, root.GetProperty("config").GetProperty("hidden_size").GetInt32());
        var names = root.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.Contains("model.embed_tokens.weight", names);
    }

    [Fact]
    public void Missing_file_is_one_line_on_stderr_and_exit_2()
    {
        var result = CliRunner.Run("inspect", "/definitely/not/here");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Single(result.Stderr.Trim().Split('\n'));
        Assert.Contains("/definitely/not/here", result.Stderr);
    }

    [Fact]
    public void Unknown_command_is_a_usage_error()
    {
        var result = CliRunner.Run("frobnicate");
        Assert.Equal(4, result.ExitCode);
    }

    [Fact]
    public void Garbage_file_is_a_clear_error()
    {
        using var dir = new TempDir();
        string path = dir.Write("weights.bin", new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
        var result = CliRunner.Run("inspect", path);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("weights.bin", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }
}

public class BenchJsonContractTests
{
    [Fact]
    public void Bench_json_uses_the_field_names_other_tools_rely_on()
    {
        var result = CliRunner.Run("bench", Corpus.Path("real/pairs.json"), "--format", "json");
        Assert.Equal(0, result.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        foreach (var field in new[] { "pairs", "auc", "tpr_at_fpr_1pct", "tpr_at_fpr_0_1pct", "accuracy", "categories", "results" })
            Assert.True(root.TryGetProperty(field, out _), field);
        var first = root.GetProperty("results")[0];
        foreach (var field in new[] { "a", "b", "related", "score", "verdict" })
            Assert.True(first.TryGetProperty(field, out _), field);
        Assert.True(root.GetProperty("categories").GetProperty("cast").TryGetProperty("accuracy", out _));
    }

    [Fact]
    public void Compare_json_uses_the_field_names_other_tools_rely_on()
    {
        var result = CliRunner.Run("compare", Corpus.Path("ladder/A"), Corpus.Path("ladder/A-sft1"), "--format", "json");
        Assert.Equal(0, result.ExitCode);
        using var doc = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("related").GetBoolean());
        Assert.Equal("derived", root.GetProperty("verdict").GetString());
        Assert.InRange(root.GetProperty("score").GetDouble(), 0.5, 1.0);
        var signal = root.GetProperty("signals")[0];
        Assert.True(signal.TryGetProperty("name", out _) && signal.TryGetProperty("value", out _) && signal.TryGetProperty("detail", out _));
        Assert.True(root.GetProperty("evidence").GetArrayLength() > 0);
    }
}
