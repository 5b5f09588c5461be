using System.Text.Json;
using Lineage.Providers;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Providers;

/// <summary><c>lineage provider probe|diff|report</c> through the CLI: files, exit codes, and the API key's secrecy.</summary>
[Collection(TimingCollection.Name)]
public sealed class ProviderCliTests
{
    private const string Key = "sk-proj-Zq7XbV1mK9pR4tW2yL6nC8dF3hJ5gA0s";

    private static string[] ProbeArgs(ChatServer server, string output, string keyEnv, params string[] extra) =>
        ["provider", "probe", "--base-url", server.BaseUrl, "--model", "stand-in", "--suite", output + ".suite.jsonl", "--runs", "2",
         "--retry-delay", "0.005", "--api-key-env", keyEnv, "-o", output, .. extra];

    /// <summary>Writes the stand-in suite as a JSONL file (the documented format) for the CLI to read.</summary>
    private static void WriteSuite(string path, PromptSuite suite)
    {
        using var w = new StreamWriter(path);
        w.WriteLine("{\"lineage_suite\": 1, \"name\": \"stand-in\"}");
        foreach (var p in suite.Prompts)
        {
            var line = new Dictionary<string, object?> { ["id"] = p.Id, ["category"] = p.Category, ["prompt"] = p.Prompt };
            if (p.MaxTokens is int mt) line["max_tokens"] = mt;
            if (p.Expect is { } e)
            {
                line["expect"] = e.Kind switch
                {
                    ExpectationKind.Numeric => new Dictionary<string, object?> { ["type"] = "numeric", ["value"] = e.Number },
                    ExpectationKind.Regex => new Dictionary<string, object?> { ["type"] = "regex", ["pattern"] = e.Pattern },
                    _ => new Dictionary<string, object?> { ["type"] = "exact", ["value"] = e.Value, ["case_sensitive"] = e.CaseSensitive },
                };
            }
            w.WriteLine(JsonSerializer.Serialize(line));
        }
    }

    [Fact]
    public void The_key_reaches_the_server_and_nothing_else()
    {
        var (suite, script) = StandInSuite.Create();
        using var dir = new TempDir();
        string run = dir.File("run.json");
        WriteSuite(run + ".suite.jsonl", suite);
        string env = "LINEAGE_TEST_KEY_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(env, Key);
        try
        {
            // A broken server that echoes the key into answers and model ids.
            using var server = new ChatServer(script, seed: 61, new ChatBehaviour { RequiredKey = Key, EchoKey = true });
            var result = CliRunner.Run(ProbeArgs(server, run, env));

            Assert.Equal(0, result.ExitCode);
            Assert.All(server.Authorizations, a => Assert.Equal("Bearer " + Key, a));
            string file = File.ReadAllText(run);
            AssertNoKey(file, result.Stdout, result.Stderr);
            Assert.Contains(Redactor.Mask, file, StringComparison.Ordinal);
            var parsed = ProbeRun.Load(run);
            Assert.All(parsed.Results, r => Assert.True(r.Ok, r.Error));
            Assert.Contains("probed stand-in", result.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(env, null);
        }
    }

    [Fact]
    public void A_rejected_key_is_redacted_from_the_recorded_errors_and_the_probe_fails()
    {
        var (suite, script) = StandInSuite.Create();
        using var dir = new TempDir();
        string run = dir.File("run.json");
        WriteSuite(run + ".suite.jsonl", suite);
        string env = "LINEAGE_TEST_KEY_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(env, Key);
        try
        {
            using var server = new ChatServer(script, seed: 62, new ChatBehaviour { RequiredKey = "sk-some-other-key-0000000000000000" });
            var result = CliRunner.Run(ProbeArgs(server, run, env));

            Assert.Equal(2, result.ExitCode);
            Assert.Contains("no request succeeded", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("Incorrect API key provided: [redacted]", result.Stderr, StringComparison.Ordinal);
            string file = File.ReadAllText(run);
            AssertNoKey(file, result.Stdout, result.Stderr);
            var parsed = ProbeRun.Load(run);
            Assert.All(parsed.Results, r => Assert.False(r.Ok));
            // The first requests were sent once each (401 is not retried); then the probe gave up on the rest.
            var sent = parsed.Results.Where(r => r.Attempts > 0).ToList();
            Assert.InRange(sent.Count, 8, 8 + 4);
            Assert.All(sent, r => Assert.Equal((401, 1), (r.HttpStatus ?? 0, r.Attempts)));
            Assert.All(parsed.Results.Except(sent), r => Assert.StartsWith("not sent", r.Error, StringComparison.Ordinal));
            Assert.Equal(sent.Count, server.Requests);
        }
        finally
        {
            Environment.SetEnvironmentVariable(env, null);
        }
    }

    private static void AssertNoKey(params string[] outputs)
    {
        foreach (var text in outputs)
        {
            Assert.DoesNotContain(Key, text, StringComparison.Ordinal);
            // Nor any long fragment of it (partial echoes such as "sk-proj-Zq7X…gA0s").
            for (int i = 0; i + 8 <= Key.Length; i++) Assert.DoesNotContain(Key.Substring(i, 8), text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Diff_and_report_through_the_cli()
    {
        var (suite, script) = StandInSuite.Create();
        using var dir = new TempDir();
        using var a = new ChatServer(script, seed: 71);
        using var b = new ChatServer(script, seed: 72);
        using var c = new ChatServer(script, seed: 73, new ChatBehaviour { ModelId = "stand-in-2025-01-01", LatencyFactor = 3 });
        var ct = TestContext.Current.CancellationToken;
        var runs = await Task.WhenAll(
            ProviderProbe.RunAsync(suite, ProviderProbeTests.Options(a), ct: ct),
            ProviderProbe.RunAsync(suite, ProviderProbeTests.Options(b), ct: ct),
            ProviderProbe.RunAsync(suite, ProviderProbeTests.Options(c), ct: ct));
        string baseline = dir.File("base.json"), same = dir.File("same.json"), changed = dir.File("changed.json");
        runs[0].Save(baseline);
        runs[1].Save(same);
        runs[2].Save(changed);

        var clean = CliRunner.Run("provider", "diff", baseline, same, "--format", "json");
        Assert.Equal(0, clean.ExitCode);
        using (var doc = JsonDocument.Parse(clean.Stdout))
        {
            Assert.Equal(0, doc.RootElement.GetProperty("drift").GetArrayLength());
            Assert.False(doc.RootElement.GetProperty("summary").GetProperty("drift").GetBoolean());
        }

        var drift = CliRunner.Run("provider", "diff", baseline, changed, "--format", "json");
        Assert.Equal(1, drift.ExitCode);
        using (var doc = JsonDocument.Parse(drift.Stdout))
        {
            var items = doc.RootElement.GetProperty("drift").EnumerateArray().ToList();
            Assert.Contains(items, d => d.GetProperty("kind").GetString() == "model-version");
            var latency = items.Single(d => d.GetProperty("kind").GetString() == "latency");
            foreach (var field in new[] { "statistic", "p_value", "effect", "detail" }) Assert.True(latency.TryGetProperty(field, out _), field);
            Assert.True(latency.GetProperty("effect").GetDouble() > 0.3);
            Assert.Equal(0.01, doc.RootElement.GetProperty("summary").GetProperty("alpha").GetDouble());
            Assert.Equal("holm", doc.RootElement.GetProperty("summary").GetProperty("correction").GetString());
        }
        var text = CliRunner.Run("provider", "diff", baseline, same, changed);
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("DRIFT latency", text.Stdout, StringComparison.Ordinal);

        // Errors: a run of another suite, a file that is no run, too few arguments.
        var other = runs[1] with { Suite = runs[1].Suite with { Hash = "sha256:00", Name = "other" } };
        other.Save(dir.File("other.json"));
        var mismatch = CliRunner.Run("provider", "diff", baseline, dir.File("other.json"));
        Assert.Equal(2, mismatch.ExitCode);
        Assert.Contains("different suites", mismatch.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("provider", "diff", baseline, dir.File("other.json"), "--allow-suite-mismatch").ExitCode);
        var garbage = CliRunner.Run("provider", "diff", baseline, dir.Write("junk.json", "{\"format\": 3"));
        Assert.Equal(2, garbage.ExitCode);
        Assert.Equal(4, CliRunner.Run("provider", "diff", baseline).ExitCode);

        string html = dir.File("trend.html");
        var report = CliRunner.Run("provider", "report", changed, same, baseline, "--report", "html", html);
        Assert.Equal(0, report.ExitCode);
        var lines = report.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("started (UTC)", lines[0], StringComparison.Ordinal);
        Assert.Equal(4, lines.Length);
        Assert.Contains("stand-in-2025-01-01", report.Stdout, StringComparison.Ordinal);
        string page = File.ReadAllText(html);
        Assert.Contains("<svg", page, StringComparison.Ordinal);
        Assert.Contains("<polyline", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=\"http", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href=\"http", page, StringComparison.OrdinalIgnoreCase);

        var json = CliRunner.Run("provider", "report", baseline, "--format", "json");
        using (var doc = JsonDocument.Parse(json.Stdout)) Assert.Equal(1, doc.RootElement.GetProperty("runs").GetArrayLength());
        Assert.Equal(4, CliRunner.Run("provider", "report", baseline, "--report", "pdf", html).ExitCode);
    }

    [Fact]
    public void Probe_usage_errors_exit_4()
    {
        Assert.Equal(4, CliRunner.Run("provider", "probe", "--model", "m").ExitCode);
        Assert.Equal(4, CliRunner.Run("provider", "probe", "--base-url", "ftp://x", "--model", "m").ExitCode);
        Assert.Equal(4, CliRunner.Run("provider", "probe", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--temperature", "hot").ExitCode);
        Assert.Equal(4, CliRunner.Run("provider", "probe", "--base-url", "http://127.0.0.1:1/v1", "--model", "m", "--runs", "0").ExitCode);
    }

    [Fact]
    public void The_builtin_suite_prints_and_validates()
    {
        using var dir = new TempDir();
        var printed = CliRunner.Run("provider", "suite");
        Assert.Equal(0, printed.ExitCode);
        string path = dir.Write("suite.jsonl", printed.Stdout);
        var check = CliRunner.Run("provider", "suite", path);
        Assert.Equal(0, check.ExitCode);
        Assert.Contains(PromptSuite.Default.Hash, check.Stdout, StringComparison.Ordinal);
        var bad = CliRunner.Run("provider", "suite", dir.Write("bad.jsonl", "{\"lineage_suite\": 1, \"name\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"p\", \"colour\": 1}\n"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("byte 34", bad.Stderr, StringComparison.Ordinal);
    }
}
