using System.Text.Json;
using Lineage.Supply;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;
using static Lineage.Tests.Supply.OsvFixtures;

namespace Lineage.Tests.Supply;

public sealed class DepsCliTests
{
    private static (TempDir Dir, string Db) Setup()
    {
        var dir = new TempDir();
        dir.Write("osv/mal.json", Record("MAL-2026-0001", "PyPI", "litellm", versions: ["1.82.7", "1.82.8"], summary: "Malicious code in litellm (PyPI)"));
        dir.Write("osv/vuln.json", Record("GHSA-test-0001", "PyPI", "transformers", [Ecosystem(("introduced", "4.0.0"), ("fixed", "4.48.0"))],
            aliases: ["CVE-2025-0001"], summary: "Deserialization in transformers", cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"));
        dir.Write("osv/npm.json", Record("GHSA-test-0002", "npm", "axios", [Ecosystem(("introduced", "1.0.0"), ("fixed", "1.7.4"))], summary: "SSRF in axios"));
        dir.Write("osv/withdrawn.json", Record("GHSA-test-0003", "PyPI", "numpy", [Ecosystem(("introduced", "0"))], withdrawn: "2025-05-01T00:00:00Z"));
        string db = dir.File("lineage.db");
        var import = CliRunner.Run("advisories", "import", dir.File("osv"), "--db", db);
        Assert.Equal(0, import.ExitCode);
        return (dir, db);
    }

    [Fact]
    public void Deps_json_has_the_documented_fields_and_exits_1_on_findings()
    {
        var (dir, db) = Setup();
        using var cleanup = dir;
        dir.Write("app/requirements.txt", "litellm==1.82.8\ntransformers==4.44.0\nnumpy==1.26.4\n");
        dir.Write("app/web/package.json", """{"dependencies":{"axios":"1.6.0"}}""");
        var r = CliRunner.Run("deps", dir.File("app"), "--db", db, "--format", "json");
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var findings = doc.RootElement.GetProperty("findings").EnumerateArray().ToList();
        string[] fields = ["rule", "severity", "package", "version", "ecosystem", "ids", "summary", "file", "line", "fixed_in"];
        foreach (var f in findings)
            foreach (var field in fields) Assert.True(f.TryGetProperty(field, out _), $"finding lacks '{field}'");
        var mal = findings.Single(f => f.GetProperty("rule").GetString() == "known-malicious");
        Assert.Equal("critical", mal.GetProperty("severity").GetString());
        Assert.Equal("litellm", mal.GetProperty("package").GetString());
        Assert.Equal("1.82.8", mal.GetProperty("version").GetString());
        Assert.Equal(1, mal.GetProperty("line").GetInt32());
        var vuln = findings.Single(f => f.GetProperty("package").GetString() == "transformers");
        Assert.Equal("known-vulnerable", vuln.GetProperty("rule").GetString());
        Assert.Equal("high", vuln.GetProperty("severity").GetString()); // CVSS 8.8
        Assert.Equal(["GHSA-test-0001", "CVE-2025-0001"], vuln.GetProperty("ids").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal("4.48.0", vuln.GetProperty("fixed_in").GetString());
        Assert.Equal("PyPI", vuln.GetProperty("ecosystem").GetString());
        Assert.Contains(findings, f => f.GetProperty("package").GetString() == "axios" && f.GetProperty("ecosystem").GetString() == "npm");
        Assert.DoesNotContain(findings, f => f.GetProperty("package").GetString() == "numpy"); // withdrawn
        var packages = doc.RootElement.GetProperty("packages").EnumerateArray().ToList();
        foreach (var p in packages)
            foreach (var field in new[] { "name", "version", "ecosystem", "purl", "source_file" }) Assert.True(p.TryGetProperty(field, out _), $"package lacks '{field}'");
        Assert.Contains(packages, p => p.GetProperty("purl").GetString() == "pkg:pypi/litellm@1.82.8");
    }

    [Fact]
    public void A_corrupt_stored_entry_is_a_one_line_error_not_a_crash()
    {
        // Stored entries are decoded in parallel: the failure must still surface as the database's own error.
        var (dir, db) = Setup();
        using var cleanup = dir;
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "UPDATE advisory_packages SET affected = '{\"e\":\"PyPI\",\"n\":' WHERE name = 'litellm'";
            Assert.True(cmd.ExecuteNonQuery() > 0);
        }
        dir.Write("app/requirements.txt", "litellm==1.82.8\nnumpy==1.26.4\n");
        var r = CliRunner.Run("deps", dir.File("app"), "--db", db);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("corrupt affected entry in the advisory database", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Fail_on_threshold_and_exit_codes()
    {
        var (dir, db) = Setup();
        using var cleanup = dir;
        dir.Write("clean/requirements.txt", "transformers==4.48.0\n");
        dir.Write("low/requirements.txt", "torch>=2\n");
        dir.Write("empty/readme.md", "nothing here\n");
        dir.Write("broken/pyproject.toml", "[project\n");
        Assert.Equal(0, CliRunner.Run("deps", dir.File("clean"), "--db", db).ExitCode);
        Assert.Equal(0, CliRunner.Run("deps", dir.File("low"), "--db", db).ExitCode);             // unpinned is low; default medium
        Assert.Equal(1, CliRunner.Run("deps", dir.File("low"), "--db", db, "--fail-on", "low").ExitCode);
        Assert.Equal(3, CliRunner.Run("deps", dir.File("empty"), "--db", db).ExitCode);
        var broken = CliRunner.Run("deps", dir.File("broken"), "--db", db);
        Assert.Equal(2, broken.ExitCode);
        Assert.Matches(@"pyproject\.toml: byte \d+: line 1: invalid TOML", broken.Stderr);
        Assert.Single(broken.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var noDb = CliRunner.Run("deps", dir.File("clean"), "--db", dir.File("missing.db"));
        Assert.Equal(2, noDb.ExitCode);
        Assert.Contains("no advisory database", noDb.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("deps", dir.File("clean"), "--no-advisories", "--db", dir.File("missing.db")).ExitCode);
        Assert.Equal(4, CliRunner.Run("deps", dir.File("clean"), "--fail-on", "extreme").ExitCode);
    }

    [Fact]
    public void Sarif_and_cyclonedx_outputs()
    {
        var (dir, db) = Setup();
        using var cleanup = dir;
        dir.Write("app/requirements.txt", $"litellm==1.82.8 --hash=sha256:{new string('a', 64)}\ntransformers==4.44.0 --hash=sha256:{new string('b', 64)}\n");
        var sarif = CliRunner.Run("deps", dir.File("app"), "--db", db, "--format", "sarif");
        using (var doc = JsonDocument.Parse(sarif.Stdout))
        {
            var run = doc.RootElement.GetProperty("runs")[0];
            Assert.Contains(run.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray(), r => r.GetProperty("id").GetString() == "typosquat");
            var result = run.GetProperty("results").EnumerateArray().First(r => r.GetProperty("ruleId").GetString() == "known-malicious");
            Assert.Equal("error", result.GetProperty("level").GetString());
            Assert.Equal(1, result.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("region").GetProperty("startLine").GetInt32());
        }
        var cdx = CliRunner.Run("deps", dir.File("app"), "--db", db, "--format", "cyclonedx");
        var schemaErrors = Lineage.Tests.Evidence.CycloneDxSchema.Validate(cdx.Stdout);
        Assert.True(schemaErrors.Count == 0, string.Join("\n", schemaErrors));
        using (var doc = JsonDocument.Parse(cdx.Stdout))
        {
            Assert.Equal("1.6", doc.RootElement.GetProperty("specVersion").GetString());
            var litellm = doc.RootElement.GetProperty("components").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "litellm");
            Assert.Equal("pkg:pypi/litellm@1.82.8", litellm.GetProperty("purl").GetString());
            Assert.Equal("SHA-256", litellm.GetProperty("hashes")[0].GetProperty("alg").GetString());
            var vulns = doc.RootElement.GetProperty("vulnerabilities").EnumerateArray().ToList();
            Assert.Equal(2, vulns.Count);
            var v = vulns.Single(x => x.GetProperty("id").GetString() == "GHSA-test-0001");
            Assert.Equal(litellm.GetProperty("bom-ref").GetString()!.Replace("litellm@1.82.8", "transformers@4.44.0", StringComparison.Ordinal),
                v.GetProperty("affects")[0].GetProperty("ref").GetString());
            Assert.Equal("high", v.GetProperty("ratings")[0].GetProperty("severity").GetString());
        }
    }

    [Fact]
    public void Advisories_list_show_and_import_errors()
    {
        var (dir, db) = Setup();
        using var cleanup = dir;
        var list = CliRunner.Run("advisories", "list", "--db", db, "--format", "json");
        Assert.Equal(0, list.ExitCode);
        using (var doc = JsonDocument.Parse(list.Stdout)) Assert.Equal(4, doc.RootElement.GetProperty("total").GetInt32());
        var show = CliRunner.Run("advisories", "show", "CVE-2025-0001", "--db", db);
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("GHSA-test-0001", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("severity:  high", show.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, CliRunner.Run("advisories", "show", "NOPE-1", "--db", db).ExitCode);
        dir.Write("bad/x.json", "{\n\"id\": \"X-1\",\n\"modified\": \"2025-01-01T00:00:00Z\",\n\"affected\": 7\n}");
        var bad = CliRunner.Run("advisories", "import", dir.File("bad"), "--db", db);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("x.json", bad.Stderr, StringComparison.Ordinal);
        using (var doc = JsonDocument.Parse(CliRunner.Run("advisories", "list", "--db", db, "--format", "json").Stdout))
            Assert.Equal(4, doc.RootElement.GetProperty("total").GetInt32());
    }

    [Fact]
    public void Environment_inventory_and_bom_diff()
    {
        using var dir = new TempDir();
        string root = dir.File("rootfs");
        dir.Write("rootfs/etc/os-release", "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n");
        dir.Write("rootfs/var/lib/dpkg/status", """
            Package: libc6
            Status: install ok installed
            Architecture: amd64
            Version: 2.36-9+deb12u4
            Description: GNU C Library
             long description line

            Package: removed-pkg
            Status: deinstall ok config-files
            Version: 1.0

            Package: openssl
            Status: install ok installed
            Architecture: amd64
            Version: 3.0.11-1~deb12u2
            """);
        dir.Write("rootfs/usr/lib/python3/dist-packages/torch-2.3.1.dist-info/METADATA", "Name: torch\nVersion: 2.3.1\n");
        dir.Write("rootfs/usr/lib/python3/dist-packages/safetensors-0.4.3.dist-info/METADATA", "Name: safetensors\nVersion: 0.4.3\n");
        dir.Write("rootfs/usr/lib/python3/dist-packages/safetensors-0.4.3.dist-info/direct_url.json", """{"url":"https://x/safetensors.whl","archive_info":{"hash":"sha256=00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff"}}""");
        dir.Write("rootfs/app/node_modules/express/package.json", """{"name":"express","version":"4.19.2","_integrity":"sha512-3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+7w=="}""");
        var components = EnvironmentInventory.Scan(root);
        Assert.Contains(components, c => c.Purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64");
        Assert.Contains(components, c => c.Purl == "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64");
        Assert.DoesNotContain(components, c => c.Name == "removed-pkg");
        Assert.Contains(components, c => c.Purl == "pkg:pypi/torch@2.3.1");
        Assert.Equal(("SHA-256", string.Concat(Enumerable.Repeat("00ff", 16))), BomComponents.ToCycloneDx(components.Single(c => c.Name == "safetensors").Hashes[0]));
        Assert.Equal(("SHA-512", string.Concat(Enumerable.Repeat("deadbeef", 16))), BomComponents.ToCycloneDx(components.Single(c => c.Name == "express").Hashes[0]));

        string Bom(string name, IEnumerable<BomComponent> cs)
        {
            using var ms = new MemoryStream();
            using (var w = new System.Text.Json.Utf8JsonWriter(ms))
            {
                w.WriteStartObject();
                w.WriteString("bomFormat", "CycloneDX");
                w.WriteString("specVersion", "1.6");
                w.WriteStartArray("components");
                EnvironmentInventory.WriteComponents(w, cs);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            return dir.Write(name, ms.ToArray());
        }
        string before = Bom("old.json", components);
        var changed = components.Where(c => c.Name != "openssl").Select(c => c.Name == "torch" ? c with { Version = "2.4.0", Purl = "pkg:pypi/torch@2.4.0" } : c)
            .Append(new BomComponent { BomRef = "pkg:pypi/vllm@0.5.3", Name = "vllm", Version = "0.5.3", Purl = "pkg:pypi/vllm@0.5.3" });
        string after = Bom("new.json", changed);
        var diff = BomDiff.Compare(before, after);
        Assert.Equal(["vllm"], diff.Added.Select(a => a.Name));
        Assert.Equal(["openssl"], diff.Removed.Select(a => a.Name));
        var torch = Assert.Single(diff.Changed);
        Assert.Equal(("2.3.1", "2.4.0"), (torch.OldVersion, torch.NewVersion));

        var cli = CliRunner.Run("bom", "diff", before, after, "--format", "json");
        Assert.Equal(0, cli.ExitCode);
        using (var doc = JsonDocument.Parse(cli.Stdout)) Assert.Equal(1, doc.RootElement.GetProperty("summary").GetProperty("changed").GetInt32());
        Assert.Equal(1, CliRunner.Run("bom", "diff", before, after, "--fail-on-change").ExitCode);
        Assert.Equal(0, CliRunner.Run("bom", "diff", before, before, "--fail-on-change").ExitCode);
        Assert.Equal(2, CliRunner.Run("bom", "diff", before, dir.Write("notbom.json", "{\"a\":1}")).ExitCode);
    }
}
