using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Evidence;

public class BomTests(LadderDatabase db) : IClassFixture<LadderDatabase>
{
    private static JsonObject Bom(params string[] args)
    {
        var run = CliRunner.Run(["bom", .. args]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return JsonNode.Parse(run.Stdout)!.AsObject();
    }

    private static string Prop(JsonNode? holder, string name) =>
        holder!["properties"]!.AsArray().First(p => p!["name"]!.GetValue<string>() == name)!["value"]!.GetValue<string>();

    [Fact]
    public void Bom_of_a_fine_tune_is_schema_valid_and_names_its_detected_base_as_a_dependency()
    {
        string model = Corpus.Path("ladder/A-sft1");
        var run = CliRunner.Run("bom", model, "--db", db.Path!);
        Assert.Equal(0, run.ExitCode);
        Assert.Empty(CycloneDxSchema.Validate(run.Stdout));

        var bom = JsonNode.Parse(run.Stdout)!;
        Assert.Equal("CycloneDX", bom["bomFormat"]!.GetValue<string>());
        Assert.Equal("1.6", bom["specVersion"]!.GetValue<string>());
        var component = bom["metadata"]!["component"]!;
        Assert.Equal("machine-learning-model", component["type"]!.GetValue<string>());
        Assert.Equal("A-sft1", component["name"]!.GetValue<string>());
        string weightsSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(model, "model.safetensors"))));
        Assert.Equal(weightsSha, component["hashes"]![0]!["content"]!.GetValue<string>());

        var files = component["components"]!.AsArray();
        Assert.Equal(Directory.GetFiles(model).Length, files.Count);
        foreach (var f in files)
        {
            Assert.Equal("file", f!["type"]!.GetValue<string>());
            string expected = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(model, f["name"]!.GetValue<string>()))));
            Assert.Equal(expected, f["hashes"]![0]!["content"]!.GetValue<string>());
        }

        var card = component["modelCard"]!;
        Assert.Equal("llama", card["modelParameters"]!["architectureFamily"]!.GetValue<string>());
        Assert.Equal("LlamaForCausalLM", card["modelParameters"]!["modelArchitecture"]!.GetValue<string>());
        Assert.Equal("text-generation", card["modelParameters"]!["task"]!.GetValue<string>());
        Assert.Equal("278976", Prop(card, "lineage:parameters"));
        Assert.Equal("ladder/A", Prop(card, "lineage:detected-base"));
        Assert.True(double.Parse(Prop(card, "lineage:evidence-score"), System.Globalization.CultureInfo.InvariantCulture) > 0.5);
        Assert.StartsWith("unknown", Prop(card, "lineage:datasets"), StringComparison.Ordinal);
        Assert.Equal("clean", Prop(component, "lineage:scan:outcome"));

        string modelRef = component["bom-ref"]!.GetValue<string>();
        var baseComponent = bom["components"]!.AsArray().Single()!;
        Assert.Equal("machine-learning-model", baseComponent["type"]!.GetValue<string>());
        string baseRef = baseComponent["bom-ref"]!.GetValue<string>();
        var dependency = bom["dependencies"]!.AsArray().Single(d => d!["ref"]!.GetValue<string>() == modelRef)!;
        Assert.Equal([baseRef], dependency["dependsOn"]!.AsArray().Select(x => x!.GetValue<string>()));
        // Every bom-ref a dependency names exists.
        var refs = new[] { modelRef }.Concat(bom["components"]!.AsArray().Select(c => c!["bom-ref"]!.GetValue<string>())).ToHashSet();
        Assert.All(bom["dependencies"]!.AsArray().SelectMany(d => d!["dependsOn"]!.AsArray().Select(x => x!.GetValue<string>()).Append(d["ref"]!.GetValue<string>())), r => Assert.Contains(r, refs));
    }

    [Fact]
    public void An_unrelated_model_has_no_base_and_still_validates()
    {
        var run = CliRunner.Run("bom", Corpus.Path("ladder/B"), "--db", db.Path!);
        Assert.Equal(0, run.ExitCode);
        Assert.Empty(CycloneDxSchema.Validate(run.Stdout));
        var bom = JsonNode.Parse(run.Stdout)!;
        Assert.Empty(bom["components"]!.AsArray());
        Assert.Equal("none", Prop(bom["metadata"]!["component"]!["modelCard"], "lineage:detected-base"));
    }

    [Theory]
    [InlineData("real/weights/ort-tiny-t5")]
    [InlineData("real/weights/ollama-llama2-tiny-random/llama-2-tiny-random.gguf")]
    [InlineData("real/weights/genai-tiny-random-llama-fp16")]
    [InlineData("real/weights/legacy-pt/tiny_distilbert_legacy.bin")]
    [InlineData("real/weights/llama2c-stories260K/stories260K.bin")]
    [InlineData("real/weights/genai-tiny-llama-lora/adapter_fp16.npz")]
    [InlineData("ladder/A-quant-q8.gguf")]
    [InlineData("ladder/C")]
    public void Boms_of_real_and_ladder_models_validate_against_the_CycloneDX_1_6_schema(string relative)
    {
        string path = Corpus.Path(relative);
        using var dir = new TempDir();
        string output = dir.File("bom.json");
        var run = CliRunner.Run("bom", path, "--no-lineage", "-o", output);
        Assert.True(run.ExitCode == 0, run.Stderr);
        string json = File.ReadAllText(output);
        var errors = CycloneDxSchema.Validate(json);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        var component = JsonNode.Parse(json)!["metadata"]!["component"]!;
        Assert.Equal("machine-learning-model", component["type"]!.GetValue<string>());
        Assert.NotEmpty(component["components"]!.AsArray());
    }

    [Fact]
    public void The_schema_check_rejects_invalid_boms()
    {
        var run = CliRunner.Run("bom", Corpus.Path("ladder/A"), "--no-lineage");
        Assert.Equal(0, run.ExitCode);
        Assert.Empty(CycloneDxSchema.Validate(run.Stdout));

        var wrongType = JsonNode.Parse(run.Stdout)!;
        wrongType["metadata"]!["component"]!["type"] = "ml-model";
        Assert.NotEmpty(CycloneDxSchema.Validate(wrongType.ToJsonString()));

        var unknownField = JsonNode.Parse(run.Stdout)!;
        unknownField["metadata"]!["component"]!["modelCard"]!["modelParameters"]!["parameters"] = 5;
        Assert.NotEmpty(CycloneDxSchema.Validate(unknownField.ToJsonString()));

        var badHash = JsonNode.Parse(run.Stdout)!;
        badHash["metadata"]!["component"]!["components"]![0]!["hashes"]![0]!["content"] = "not-a-hash";
        Assert.NotEmpty(CycloneDxSchema.Validate(badHash.ToJsonString()));

        var badSerial = JsonNode.Parse(run.Stdout)!;
        badSerial["serialNumber"] = "12345";
        Assert.NotEmpty(CycloneDxSchema.Validate(badSerial.ToJsonString()));
    }

    [Fact]
    public void Source_date_epoch_fixes_the_timestamp()
    {
        Environment.SetEnvironmentVariable("SOURCE_DATE_EPOCH", "1700000000");
        try
        {
            var bom = Bom(Corpus.Path("ladder/A"), "--no-lineage");
            Assert.Equal("2023-11-14T22:13:20Z", bom["metadata"]!["timestamp"]!.GetValue<string>());
        }
        finally
        {
            Environment.SetEnvironmentVariable("SOURCE_DATE_EPOCH", null);
        }
    }
}
