using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Tests.Cli;
using Lineage.Tests.Evidence;
using Lineage.Tests.Support;
using static Lineage.Tests.Supply.OsvFixtures;

namespace Lineage.Tests.Supply;

/// <summary>
/// The dependency audit inside <c>lineage audit</c> (model folder and <c>--code</c>), <c>lineage bom --environment</c>
/// and <c>bom diff</c> of two real BOMs, and the fail-closed edges of the advisory database.
/// </summary>
public sealed class AuditAndBomIntegrationTests
{
    private static string ImportAdvisories(TempDir dir)
    {
        dir.Write("osv/mal.json", Record("MAL-2026-0001", "PyPI", "litellm", versions: ["1.82.7", "1.82.8"], summary: "Malicious code in litellm (PyPI)"));
        dir.Write("osv/vuln.json", Record("GHSA-test-0001", "PyPI", "torch", [Ecosystem(("introduced", "0"), ("fixed", "2.6.0"))],
            aliases: ["CVE-2025-0002"], summary: "Remote code execution in torch.load", cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));
        string db = dir.File("lineage.db");
        Assert.Equal(0, CliRunner.Run("advisories", "import", dir.File("osv"), "--db", db).ExitCode);
        return db;
    }

    [Fact]
    public void Audit_reports_dependencies_of_the_code_folder_with_the_rest()
    {
        string model = Corpus.Path("ladder/A");
        using var dir = new TempDir();
        string db = ImportAdvisories(dir);
        dir.Write("server/requirements.txt", "litellm==1.82.8\ntorch==2.5.1\ntransformers>=4.40\n");
        var run = CliRunner.Run("audit", model, "--code", dir.File("server"), "--db", db, "--no-lineage", "--format", "json");
        Assert.Equal(1, run.ExitCode);
        using var doc = JsonDocument.Parse(run.Stdout);
        var findings = doc.RootElement.GetProperty("findings").EnumerateArray().ToList();
        var rules = findings.Select(f => f.GetProperty("rule").GetString()).ToList();
        Assert.Contains("LIN-AUD-040", rules);
        Assert.Contains("LIN-AUD-041", rules);
        Assert.Contains("LIN-AUD-042", rules);
        var mal = findings.Single(f => f.GetProperty("rule").GetString() == "LIN-AUD-040");
        Assert.Equal("critical", mal.GetProperty("severity").GetString());
        Assert.Contains("litellm 1.82.8", mal.GetProperty("message").GetString(), StringComparison.Ordinal);
        var deps = doc.RootElement.GetProperty("dependencies");
        Assert.True(deps.GetProperty("advisories_checked").GetBoolean());
        Assert.Equal(3, deps.GetProperty("packages").GetArrayLength());

        // Fixed releases: nothing at or above medium; the unpinned dependency stays low.
        dir.Write("fixed/requirements.txt", "litellm==1.82.10\ntorch==2.6.0\ntransformers>=4.40\n");
        Assert.Equal(0, CliRunner.Run("audit", model, "--code", dir.File("fixed"), "--db", db, "--no-lineage").ExitCode);
        Assert.Equal(1, CliRunner.Run("audit", model, "--code", dir.File("fixed"), "--db", db, "--no-lineage", "--fail-on", "low").ExitCode);
        // --no-deps leaves them out.
        Assert.Equal(0, CliRunner.Run("audit", model, "--code", dir.File("server"), "--db", db, "--no-lineage", "--no-deps").ExitCode);

        var sarif = CliRunner.Run("audit", model, "--code", dir.File("server"), "--db", db, "--no-lineage", "--format", "sarif");
        Assert.Contains("LIN-AUD-040", sarif.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Audit_fails_closed_on_a_broken_dependency_file_and_says_when_advisories_were_not_checked()
    {
        string model = Corpus.Path("ladder/A");
        using var dir = new TempDir();
        dir.Write("broken/package-lock.json", "{\"lockfileVersion\": 3, \"packages\": {");
        // A database file without advisories: the audit still runs, and says the advisories were not checked.
        Directory.CreateDirectory(dir.File("no-osv"));
        string emptyDb = dir.File("empty.db");
        Assert.Equal(0, CliRunner.Run("advisories", "import", dir.File("no-osv"), "--db", emptyDb).ExitCode);
        var broken = CliRunner.Run("audit", model, "--code", dir.File("broken"), "--no-lineage", "--db", emptyDb, "--format", "json");
        Assert.Equal(2, broken.ExitCode);
        using (var doc = JsonDocument.Parse(broken.Stdout))
        {
            var f = doc.RootElement.GetProperty("findings").EnumerateArray().Single(x => x.GetProperty("rule").GetString() == "LIN-AUD-046");
            Assert.Matches(@"byte \d+: line 1: invalid JSON", f.GetProperty("message").GetString());
        }

        dir.Write("ok/requirements.txt", "torch==2.5.1\n");
        var unchecked_ = CliRunner.Run("audit", model, "--code", dir.File("ok"), "--no-lineage", "--db", emptyDb, "--format", "json");
        Assert.Equal(0, unchecked_.ExitCode);
        using (var doc = JsonDocument.Parse(unchecked_.Stdout))
        {
            Assert.Contains(doc.RootElement.GetProperty("findings").EnumerateArray(), x => x.GetProperty("rule").GetString() == "LIN-AUD-047");
            Assert.False(doc.RootElement.GetProperty("dependencies").GetProperty("advisories_checked").GetBoolean());
        }
    }

    [Fact]
    public void A_failed_first_import_leaves_no_database_and_an_empty_database_is_refused()
    {
        using var dir = new TempDir();
        dir.Write("bad/x.json", "{\"id\": \"X-1\",\n \"modified\": 12,,}");
        string db = dir.File("fresh.db");
        var bad = CliRunner.Run("advisories", "import", dir.File("bad"), "--db", db);
        Assert.Equal(2, bad.ExitCode);
        Assert.Matches(@"x\.json: byte 30: line 2: not valid JSON", bad.Stderr);
        Assert.False(File.Exists(db));

        // A database file without advisories (here: an import of an empty folder) must not pass for a clean result.
        Directory.CreateDirectory(dir.File("empty"));
        Assert.Equal(0, CliRunner.Run("advisories", "import", dir.File("empty"), "--db", db).ExitCode);
        dir.Write("app/requirements.txt", "torch==2.5.1\n");
        var run = CliRunner.Run("deps", dir.File("app"), "--db", db);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("holds no advisories", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bom_with_an_environment_lists_installed_packages_and_validates_against_the_schema()
    {
        string model = Corpus.Path("ladder/A");
        using var dir = new TempDir();
        dir.Write("rootfs/etc/os-release", "ID=ubuntu\n");
        dir.Write("rootfs/var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.39-0ubuntu8\n");
        dir.Write("rootfs/usr/lib/python3/dist-packages/safetensors-0.4.3.dist-info/METADATA", "Name: safetensors\nVersion: 0.4.3\n");
        dir.Write("rootfs/usr/lib/python3/dist-packages/safetensors-0.4.3.dist-info/direct_url.json",
            """{"url":"https://x/safetensors.whl","archive_info":{"hash":"sha256=abababababababababababababababababababababababababababababababab"}}""");
        dir.Write("rootfs/srv/node_modules/express/package.json", """{"name":"express","version":"4.19.2"}""");
        string before = dir.File("before.json"), after = dir.File("after.json");
        Assert.Equal(0, CliRunner.Run("bom", model, "--no-lineage", "-o", before).ExitCode);
        var run = CliRunner.Run("bom", model, "--no-lineage", "--environment", dir.File("rootfs"), "-o", after);
        Assert.True(run.ExitCode == 0, run.Stderr);
        string json = File.ReadAllText(after);
        var errors = CycloneDxSchema.Validate(json);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        var root = JsonNode.Parse(json)!;
        var purls = root["components"]!.AsArray().Select(c => c!["purl"]?.GetValue<string>()).ToList();
        Assert.Contains("pkg:deb/ubuntu/libc6@2.39-0ubuntu8?arch=amd64", purls);
        Assert.Contains("pkg:pypi/safetensors@0.4.3", purls);
        Assert.Contains("pkg:npm/express@4.19.2", purls);
        var safetensors = root["components"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == "safetensors")!;
        Assert.Equal("abababababababababababababababababababababababababababababababab", safetensors["hashes"]![0]!["content"]!.GetValue<string>());
        var modelDeps = root["dependencies"]!.AsArray().Single(d => d!["ref"]!.GetValue<string>().StartsWith("model:", StringComparison.Ordinal))!;
        Assert.Equal(3, modelDeps["dependsOn"]!.AsArray().Count);

        var diff = CliRunner.Run("bom", "diff", before, after, "--format", "json");
        Assert.Equal(0, diff.ExitCode);
        using var doc = JsonDocument.Parse(diff.Stdout);
        Assert.Equal(3, doc.RootElement.GetProperty("summary").GetProperty("added").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("summary").GetProperty("removed").GetInt32());

        Assert.Equal(2, CliRunner.Run("bom", model, "--no-lineage", "--environment", dir.File("nope")).ExitCode);
    }
}
