using System.Text.Json;
using Lineage.Tests.Support;

namespace Lineage.Tests.Cli;

public class InspectOnnxAndTokenizerTests
{
    [Fact]
    public void Inspect_an_onnx_file_lists_its_initializers()
    {
        var result = CliRunner.Run("inspect", Corpus.Path("ladder/A-sft2.onnx"), "--format", "json", "--no-hash");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.Equal("onnx", root.GetProperty("format").GetString());
        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        var embed = tensors.Single(t => t.GetProperty("name").GetString() == "model__embed_tokens__weight");
        Assert.Equal([1024, 64], embed.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal("F32", embed.GetProperty("dtype").GetString());
    }

    [Fact]
    public void Inspect_an_onnx_folder_with_external_data_in_text()
    {
        var result = CliRunner.Run("inspect", Corpus.Path("real/weights/genai-tiny-random-llama-fp16"), "--no-hash");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("format:     onnx", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("weights-data", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("model.onnx.data", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_a_tokenizer_folder()
    {
        var result = CliRunner.Run("inspect", Corpus.Path("real/tokenizers/ortx/phi-3-mini"), "--format", "json", "--no-hash");
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        var root = doc.RootElement;
        Assert.Equal("tokenizer-only", root.GetProperty("format").GetString());
        Assert.Equal(0, root.GetProperty("parameters").GetInt64());
        var tokenizer = root.GetProperty("tokenizer");
        Assert.Equal("SentencePieceBpe", tokenizer.GetProperty("kind").GetString());
        Assert.True(tokenizer.GetProperty("has_chat_template").GetBoolean());

        var text = CliRunner.Run("inspect", Corpus.Path("real/tokenizers/llama2-spm/tokenizer.model"), "--no-hash");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("tokenizer:  SentencePieceBpe, 32000 tokens", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Onnx_external_data_escape_is_exit_2_with_one_line()
    {
        using var dir = new TempDir();
        var model = new ProtoWriter().Varint(1, 8).String(2, "t").Message(7, g => g.Message(5, t => t
            .PackedVarints(1, [2]).Varint(2, 1).String(8, "w")
            .Message(13, e => e.String(1, "location").String(2, "../../etc/passwd"))
            .Varint(14, 1))).ToArray();
        string path = dir.Write("evil.onnx", model);
        var result = CliRunner.Run("inspect", path, "--no-hash");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("'..'", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }
}
