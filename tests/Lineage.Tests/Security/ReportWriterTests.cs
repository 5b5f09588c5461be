using System.Text;
using System.Text.Json;
using Lineage.Reports;
using Lineage.Security;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

public class ReportWriterTests
{
    private static ScanReport SampleReport(TempDir dir)
    {
        var bad = new FileReport(dir.File("tokenizer_config.json"), "json") { Size = 120 };
        bad.Findings.Add(new Finding(Severity.Critical, "LIN-JINJA-001", "chat_template: accesses __class__") { Offset = 42, Evidence = "{{ ''.__class__ }}" });
        bad.Findings.Add(new Finding(Severity.Low, "LIN-META-005", "url") { Offset = 7 });
        var archive = new FileReport(dir.File("model.pt"), "zip") { Size = 999, Status = FileStatus.Unanalyzed, Note = "not analysed" };
        archive.Findings.Add(new Finding(Severity.Critical, "LIN-PKL-001", "dangerous callable os.system") { Offset = 3, Entry = "archive/data.pkl", Evidence = "os.system('id')" });
        archive.Findings.Add(new Finding(Severity.Medium, "LIN-SCAN-003", "no analyzer") { Entry = "archive/extra.bin" });
        var outside = new FileReport("/elsewhere/x.gguf", "gguf") { Status = FileStatus.Error, Error = "broken" };
        outside.Findings.Add(new Finding(Severity.High, "LIN-SCAN-001", "broken"));
        outside.Findings.Add(new Finding(Severity.Low, "LIN-PLUGIN-001", "a rule from an analyzer the writer does not know"));
        return new ScanReport([bad, archive, outside]);
    }

    private static JsonDocument Sarif(ScanReport report, string baseDir)
    {
        using var ms = new MemoryStream();
        SarifWriter.Write(ms, report, baseDirectory: baseDir);
        return JsonDocument.Parse(ms.ToArray());
    }

    /// <summary>The SARIF 2.1.0 requirements a consumer relies on (schema-required properties and cross-references).</summary>
    private static void ValidateSarif(JsonElement root)
    {
        Assert.Equal("2.1.0", root.GetProperty("version").GetString());
        Assert.StartsWith("https://", root.GetProperty("$schema").GetString(), StringComparison.Ordinal);
        var run = Assert.Single(root.GetProperty("runs").EnumerateArray());
        var driver = run.GetProperty("tool").GetProperty("driver");
        Assert.False(string.IsNullOrEmpty(driver.GetProperty("name").GetString()));
        var rules = driver.GetProperty("rules").EnumerateArray().ToList();
        var ids = rules.Select(r => r.GetProperty("id").GetString()!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var r in rules)
        {
            Assert.False(string.IsNullOrEmpty(r.GetProperty("shortDescription").GetProperty("text").GetString()));
            Assert.Contains(r.GetProperty("defaultConfiguration").GetProperty("level").GetString(), (string[])["none", "note", "warning", "error"]);
            Assert.True(double.TryParse(r.GetProperty("properties").GetProperty("security-severity").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
        }
        var artifacts = run.GetProperty("artifacts").EnumerateArray().ToList();
        foreach (var (a, i) in artifacts.Select((a, i) => (a, i)))
        {
            Assert.False(string.IsNullOrEmpty(a.GetProperty("location").GetProperty("uri").GetString()));
            if (a.TryGetProperty("parentIndex", out var parent)) Assert.InRange(parent.GetInt32(), 0, i - 1);
        }
        foreach (var result in run.GetProperty("results").EnumerateArray())
        {
            string ruleId = result.GetProperty("ruleId").GetString()!;
            int ruleIndex = result.GetProperty("ruleIndex").GetInt32();
            Assert.Equal(ruleId, ids[ruleIndex]);
            Assert.Contains(result.GetProperty("level").GetString(), (string[])["none", "note", "warning", "error"]);
            Assert.False(string.IsNullOrEmpty(result.GetProperty("message").GetProperty("text").GetString()));
            var location = Assert.Single(result.GetProperty("locations").EnumerateArray());
            var physical = location.GetProperty("physicalLocation");
            var artifact = physical.GetProperty("artifactLocation");
            Assert.False(string.IsNullOrEmpty(artifact.GetProperty("uri").GetString()));
            int index = artifact.GetProperty("index").GetInt32();
            Assert.Equal(artifacts[index].GetProperty("location").GetProperty("uri").GetString(), artifact.GetProperty("uri").GetString());
            if (physical.TryGetProperty("region", out var region)) Assert.True(region.GetProperty("byteOffset").GetInt64() >= 0);
        }
        var invocation = Assert.Single(run.GetProperty("invocations").EnumerateArray());
        Assert.Contains(invocation.GetProperty("executionSuccessful").ValueKind, (JsonValueKind[])[JsonValueKind.True, JsonValueKind.False]);
    }

    [Fact]
    public void Sarif_has_rules_results_levels_locations_and_offsets()
    {
        using var dir = new TempDir();
        using var doc = Sarif(SampleReport(dir), dir.Path);
        var root = doc.RootElement;
        ValidateSarif(root);
        var run = root.GetProperty("runs")[0];
        var ids = run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("id").GetString()).ToList();
        foreach (var rule in ScanRules.All) Assert.Contains(rule.Id, ids);
        Assert.Contains("LIN-PLUGIN-001", ids);

        var results = run.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(6, results.Count);
        var jinja = results.Single(r => r.GetProperty("ruleId").GetString() == "LIN-JINJA-001");
        Assert.Equal("error", jinja.GetProperty("level").GetString());
        var loc = jinja.GetProperty("locations")[0].GetProperty("physicalLocation");
        Assert.Equal("tokenizer_config.json", loc.GetProperty("artifactLocation").GetProperty("uri").GetString());
        Assert.Equal("SRCROOT", loc.GetProperty("artifactLocation").GetProperty("uriBaseId").GetString());
        Assert.Equal(42, loc.GetProperty("region").GetProperty("byteOffset").GetInt64());
        Assert.Equal("note", results.Single(r => r.GetProperty("ruleId").GetString() == "LIN-META-005").GetProperty("level").GetString());
        Assert.Equal("warning", results.Single(r => r.GetProperty("ruleId").GetString() == "LIN-SCAN-003").GetProperty("level").GetString());

        // Archive members are nested artifacts of the archive, with the offset relative to the member.
        var pkl = results.Single(r => r.GetProperty("ruleId").GetString() == "LIN-PKL-001");
        var pklLoc = pkl.GetProperty("locations")[0];
        var artifacts = run.GetProperty("artifacts").EnumerateArray().ToList();
        var member = artifacts[pklLoc.GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("index").GetInt32()];
        Assert.Equal("archive/data.pkl", member.GetProperty("location").GetProperty("uri").GetString());
        Assert.Equal("model.pt", artifacts[member.GetProperty("parentIndex").GetInt32()].GetProperty("location").GetProperty("uri").GetString());
        Assert.Equal("archive/data.pkl", pklLoc.GetProperty("logicalLocations")[0].GetProperty("fullyQualifiedName").GetString());

        // Outside the base directory: an absolute file URI.
        var outside = results.Single(r => r.GetProperty("ruleId").GetString() == "LIN-SCAN-001");
        Assert.Equal("file:///elsewhere/x.gguf", outside.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation").GetProperty("uri").GetString());

        var invocation = run.GetProperty("invocations")[0];
        Assert.False(invocation.GetProperty("executionSuccessful").GetBoolean());
        Assert.Equal(2, invocation.GetProperty("toolExecutionNotifications").GetArrayLength());
    }

    [Fact]
    public void Sarif_of_a_real_scan_validates()
    {
        var report = Scanner.Scan([Corpus.Path("scanner/modelaudit/samples/jinja2"), Corpus.Path("scanner/modelaudit/samples/safetensors"), Corpus.Path("scanner/modelaudit/samples/keras")]);
        using var doc = Sarif(report, Corpus.Path("scanner"));
        ValidateSarif(doc.RootElement);
        Assert.True(doc.RootElement.GetProperty("runs")[0].GetProperty("results").GetArrayLength() > 50);
    }

    [Fact]
    public void Json_report_has_the_contract_fields()
    {
        using var dir = new TempDir();
        using var ms = new MemoryStream();
        ScanReportWriter.WriteJson(ms, SampleReport(dir), Severity.Medium);
        using var doc = JsonDocument.Parse(ms.ToArray());
        var files = doc.RootElement.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(3, files.Count);
        foreach (var f in files)
        {
            Assert.Equal(JsonValueKind.String, f.GetProperty("path").ValueKind);
            Assert.Equal(JsonValueKind.String, f.GetProperty("format").ValueKind);
            foreach (var finding in f.GetProperty("findings").EnumerateArray())
            {
                Assert.Contains(finding.GetProperty("severity").GetString(), (string[])["info", "low", "medium", "high", "critical"]);
                Assert.StartsWith("LIN-", finding.GetProperty("rule").GetString(), StringComparison.Ordinal);
                Assert.False(string.IsNullOrEmpty(finding.GetProperty("message").GetString()));
            }
        }
        var pkl = files[1].GetProperty("findings")[0];
        Assert.Equal(3, pkl.GetProperty("offset").GetInt64());
        Assert.Equal("archive/data.pkl", pkl.GetProperty("entry").GetString());
        Assert.False(files[1].GetProperty("findings")[1].TryGetProperty("offset", out _));
        var summary = doc.RootElement.GetProperty("summary");
        Assert.Equal(3, summary.GetProperty("files").GetInt32());
        Assert.Equal(2, summary.GetProperty("findings").GetProperty("critical").GetInt32());
        Assert.Equal("critical", summary.GetProperty("highest_severity").GetString());
        Assert.Equal("findings", summary.GetProperty("outcome").GetString());
    }

    [Fact]
    public void Text_report_shows_findings_worst_first_and_a_verdict()
    {
        using var dir = new TempDir();
        var w = new StringWriter();
        ScanReportWriter.WriteText(w, SampleReport(dir), Severity.Medium, explain: true);
        string text = w.ToString();
        Assert.True(text.IndexOf("CRITICAL", StringComparison.Ordinal) < text.IndexOf("LOW", StringComparison.Ordinal));
        Assert.Contains("entry 'archive/data.pkl', byte 3", text, StringComparison.Ordinal);
        Assert.Contains("evidence: {{ ''.__class__ }}", text, StringComparison.Ordinal);
        Assert.Contains("rules:", text, StringComparison.Ordinal);
        Assert.Contains("result: FAIL", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", text, StringComparison.Ordinal);
    }
}
