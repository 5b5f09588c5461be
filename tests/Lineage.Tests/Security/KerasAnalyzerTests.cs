using System.Text;
using Lineage.IO;
using Lineage.Security;
using Lineage.Security.Keras;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

public class KerasAnalyzerTests
{
    private static FileReport Scan(string path) => Scanner.Scan([path]).Files.Single();

    [Fact]
    public void Lambda_sample_is_critical_and_quotes_the_code()
    {
        var report = Scan(Corpus.Path("scanner/modelaudit/samples/keras/malicious_lambda.h5"));
        Assert.Equal("hdf5", report.Format);
        Assert.Equal(FileStatus.Scanned, report.Status);
        var lambda = Assert.Single(report.Findings);
        Assert.Equal("LIN-KERAS-001", lambda.Rule);
        Assert.Equal(Severity.Critical, lambda.Severity);
        Assert.Contains("eval(", lambda.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void Safe_sample_is_clean()
    {
        var report = Scan(Corpus.Path("scanner/modelaudit/samples/keras/safe_model.h5"));
        Assert.Equal(FileStatus.Scanned, report.Status);
        Assert.Empty(report.Findings);
    }

    [Fact]
    public void Marshalled_lambda_code_is_sized_and_its_names_listed_without_unmarshalling()
    {
        // A fake code object: marshal-like framing around the names a payload would use.
        byte[] code = [0xE3, 0, 0, 0, 0, .. "\u00DA\u0002os"u8.ToArray(), 0xDA, 6, .. "system"u8.ToArray(), 0x29, 0x02, .. "id"u8.ToArray()];
        string b64 = Convert.ToBase64String(code);
        string config = $$$"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 4]}},
              {"class_name": "Lambda", "config": {"name": "hook", "function": ["{{{b64}}}", null, null], "function_type": "lambda", "module": "__main__"}}
            ]}}
            """;
        var f = Assert.Single(KerasConfigAnalyzer.Analyze(config, "model_config"));
        Assert.Equal("LIN-KERAS-001", f.Rule);
        Assert.Contains($"{code.Length} bytes", f.Message, StringComparison.Ordinal);
        Assert.Contains("layer 'hook'", f.Message, StringComparison.Ordinal);
        Assert.Contains("system", f.Evidence, StringComparison.Ordinal);

        // Keras 3 form.
        string k3 = $$$$"""{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "{{{{b64}}}}", "defaults": null, "closure": null}}}, "registered_name": null}""";
        Assert.Equal("LIN-KERAS-001", Assert.Single(KerasConfigAnalyzer.Analyze(k3, "config.json")).Rule);
    }

    [Theory]
    [InlineData("""{"module": "builtins", "class_name": "function", "config": "eval", "registered_name": "function"}""", "LIN-KERAS-002", Severity.Critical)]
    [InlineData("""{"module": "os", "class_name": "system", "config": {}, "registered_name": null}""", "LIN-KERAS-002", Severity.Critical)]
    [InlineData("""{"module": "my_pkg.layers", "class_name": "MyLayer", "config": {"name": "x"}, "registered_name": "my_pkg>MyLayer"}""", "LIN-KERAS-002", Severity.High)]
    [InlineData("""{"module": "\u043Es", "class_name": "system", "config": {}}""", "LIN-KERAS-002", Severity.Critical)]
    [InlineData("""{"class_name": "Sequential", "config": {"layers": [{"class_name": "MyCustomLayer", "config": {"name": "c"}}]}}""", "LIN-KERAS-003", Severity.Medium)]
    [InlineData("""{"class_name": "Dense", "config": {"name": "d", "units": 4, "activation": "my_secret_act"}}""", "LIN-KERAS-003", Severity.Medium)]
    [InlineData("""{"class_name": "Dense", "config": {"name": "d"}, "registered_name": "Custom>Dense2"}""", "LIN-KERAS-003", Severity.Medium)]
    [InlineData("""{"class_name": "TFOpLambda", "config": {"name": "w", "function": "io.write_file"}}""", "LIN-KERAS-004", Severity.High)]
    [InlineData("""{"class_name": "TFOpLambda", "config": {"name": "p", "function": "py_function"}}""", "LIN-KERAS-004", Severity.High)]
    public void Foreign_references_and_custom_objects_are_reported(string config, string rule, Severity severity)
    {
        var findings = KerasConfigAnalyzer.Analyze(config, "model_config");
        var f = Assert.Single(findings);
        Assert.Equal(rule, f.Rule);
        Assert.Equal(severity, f.Severity);
    }

    [Theory]
    [InlineData("""{"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 3, "activation": "relu", "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}}, "registered_name": null}""")]
    [InlineData("""{"module": "keras_hub.src.models.gemma.gemma_backbone", "class_name": "GemmaBackbone", "config": {"name": "b"}, "registered_name": "keras_hub>GemmaBackbone"}""")]
    [InlineData("""{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Conv2D", "config": {"name": "c", "activation": "linear"}}, {"class_name": "TFOpLambda", "config": {"name": "t", "function": "math.reduce_mean"}}]}}""")]
    [InlineData("""{"loss": "categorical_crossentropy", "metrics": ["accuracy"], "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}}}""")]
    public void Built_in_keras_configs_are_clean(string config) => Assert.Empty(KerasConfigAnalyzer.Analyze(config, "model_config"));

    [Fact]
    public void Invalid_config_json_is_an_exception_with_the_label()
    {
        var e = Assert.Throws<LineageException>(() => KerasConfigAnalyzer.Analyze("{\"class_name\": ", "model_config"));
        Assert.Contains("model_config", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_keras_config_json_file_is_analysed_by_the_json_analyzer()
    {
        using var dir = new TempDir();
        string path = dir.Write("config.json", """{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [{"module": "keras.layers", "class_name": "Lambda", "config": {"name": "l", "function": "lambda x: __import__('os').system('id')"}, "registered_name": null}]}, "registered_name": null}""");
        var report = Scan(path);
        Assert.Contains(report.Findings, f => f.Rule == "LIN-KERAS-001");
    }

    [Fact]
    public void Corrupted_h5_files_fail_closed_and_never_throw()
    {
        byte[] original = File.ReadAllBytes(Corpus.Path("scanner/modelaudit/samples/keras/malicious_lambda.h5"));
        var scanner = new Scanner();
        int errors = 0, lambdas = 0;
        foreach (var bytes in Hostile.BitFlips(original, 60, seed: 11, focusPrefix: 2400).Concat(Hostile.Truncations(original, 20, seed: 3)))
        {
            using var source = new MemoryByteSource("flipped.h5", bytes);
            var report = scanner.ScanSource(source, "flipped.h5");
            if (report.Status == FileStatus.Error) errors++;
            if (report.Findings.Any(f => f.Rule == "LIN-KERAS-001")) lambdas++;
            Assert.True(report.Status is FileStatus.Error or FileStatus.Scanned or FileStatus.Skipped, report.Status.ToString());
        }
        Assert.True(errors > 0, "some corruptions must be refused");
        Assert.True(lambdas > 0, "most flips outside the config keep the Lambda visible");
    }
}
