using Lineage.Providers;
using Lineage.Tests.Support;

namespace Lineage.Tests.Providers;

/// <summary>
/// The probe and the diff end to end against the stand-in server: what a run records, how it adapts to the
/// server, and that drift is found when (and only when) the provider changed. Baseline and current probes run
/// at the same time against two servers, so machine load affects both sides alike.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class ProviderProbeTests
{
    internal static ProbeOptions Options(ChatServer server, int runs = 4, int retries = 3, double timeoutSeconds = 10) => new()
    {
        BaseUrl = new Uri(server.BaseUrl),
        Model = "stand-in",
        Runs = runs,
        Concurrency = 4,
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        MaxRetries = retries,
        RetryDelay = TimeSpan.FromMilliseconds(5),
        MaxRetryDelay = TimeSpan.FromMilliseconds(50),
    };

    internal static async Task<(ProbeRun Baseline, ProbeRun Current)> ProbeBoth(PromptSuite suite, ChatServer baseline, ChatServer current, int runs = 4)
    {
        var ct = TestContext.Current.CancellationToken;
        var a = ProviderProbe.RunAsync(suite, Options(baseline, runs), ct: ct);
        var b = ProviderProbe.RunAsync(suite, Options(current, runs), ct: ct);
        await Task.WhenAll(a, b);
        return (await a, await b);
    }

    [Fact]
    public async Task A_streamed_run_records_every_field()
    {
        var (suite, script) = StandInSuite.Create();
        using var server = new ChatServer(script, seed: 1);
        var run = await ProviderProbe.RunAsync(suite, Options(server, runs: 2), ct: TestContext.Current.CancellationToken);

        Assert.Equal(suite.Prompts.Count * 2, run.Results.Count);
        Assert.Equal(suite.Hash, run.Suite.Hash);
        Assert.Equal(server.BaseUrl, run.BaseUrl);
        Assert.True(run.Settings.Streaming);
        Assert.Equal(0, run.Settings.Temperature);
        Assert.All(run.Results, r =>
        {
            Assert.True(r.Ok, r.Error);
            Assert.Equal(1, r.Attempts);
            Assert.Equal("first-chunk", r.TtfbSource);
            Assert.True(r.TtfbMs > 0 && r.TtfbMs < r.LatencyMs, $"ttfb {r.TtfbMs} latency {r.LatencyMs}");
            Assert.Equal("stand-in-2024-05-13", r.Model);
            Assert.Equal("fp_a1b2c3", r.SystemFingerprint);
            Assert.Equal("stop", r.FinishReason);
            Assert.NotNull(r.Usage?.CompletionTokens);
            Assert.False(string.IsNullOrEmpty(r.Answer));
        });
        // Checkable prompts pass (reworded but right); free prompts are not judged; refusals carry markers.
        Assert.All(run.Results.Where(r => r.Category is "arithmetic" or "format" or "factual"), r => Assert.True(r.Passed));
        Assert.All(run.Results.Where(r => r.Category == "free"), r => Assert.Null(r.Passed));
        Assert.All(run.Results.Where(r => r.Refused), r => Assert.Contains("i can't help", r.RefusalMarkers!));
        Assert.Contains(run.Results, r => r.Refused);

        // What was sent: temperature 0, the prompt's max_tokens, a stream with usage.
        var body = server.Bodies.First(b => b["messages"]![0]!["content"]!.GetValue<string>().Contains("17 + 23", StringComparison.Ordinal));
        Assert.Equal(0, body["temperature"]!.GetValue<double>());
        Assert.Equal(16, body["max_tokens"]!.GetValue<int>());
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.True(body["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.All(server.Authorizations, a => Assert.Null(a));
    }

    [Fact]
    public async Task Without_streaming_the_time_to_first_byte_is_the_headers()
    {
        var (suite, script) = StandInSuite.Create();
        using var server = new ChatServer(script, seed: 2, new ChatBehaviour { SupportsStreaming = false });
        var options = Options(server, runs: 1) with { Concurrency = 1 };
        var run = await ProviderProbe.RunAsync(suite, options, ct: TestContext.Current.CancellationToken);

        Assert.All(run.Results, r =>
        {
            Assert.True(r.Ok, r.Error);
            Assert.Equal("headers", r.TtfbSource);
            Assert.True(r.TtfbMs <= r.LatencyMs);
        });
        Assert.False(run.Settings.Streaming);
        // After the server ignored the first stream request, the probe stopped asking for one.
        Assert.True(server.Bodies[0]["stream"]?.GetValue<bool>());
        Assert.All(server.Bodies.Skip(1), b => Assert.Null(b["stream"]));
    }

    [Fact]
    public async Task A_model_that_rejects_temperature_is_probed_without_one()
    {
        var (suite, script) = StandInSuite.Create();
        using var server = new ChatServer(script, seed: 3, new ChatBehaviour { RejectTemperature = true });
        var run = await ProviderProbe.RunAsync(suite, Options(server, runs: 1), ct: TestContext.Current.CancellationToken);

        Assert.All(run.Results, r => Assert.True(r.Ok, r.Error));
        Assert.Null(run.Settings.Temperature);
        Assert.Contains(server.Bodies, b => b.ContainsKey("temperature"));
        Assert.False(server.Bodies[^1].ContainsKey("temperature"));
    }

    [Fact]
    public async Task Two_runs_of_the_unchanged_server_show_no_drift()
    {
        var (suite, script) = StandInSuite.Create();
        using var a = new ChatServer(script, seed: 11);
        using var b = new ChatServer(script, seed: 12);
        var (baseline, current) = await ProbeBoth(suite, a, b);
        var report = ProviderDiff.Compare(baseline, current);

        Assert.False(report.Summary.Drift, Describe(report));
        Assert.Empty(report.Drift);
        Assert.Equal(6, report.Summary.Tests);
        Assert.Contains(report.Tests, t => t.Test == "content-permutation");
    }

    /// <summary>
    /// Repeats the no-change comparison with fresh randomness. Content, refusals and passes are seeded (so the
    /// outcome is reproducible); latency is measured for real. With α = 1% per comparison, more than one false
    /// alarm in ten would be evidence of a broken error rate.
    /// </summary>
    [Fact]
    public async Task Repeated_unchanged_comparisons_rarely_alarm()
    {
        var (suite, script) = StandInSuite.Create();
        int alarms = 0;
        var details = new List<string>();
        for (int repeat = 0; repeat < 10; repeat++)
        {
            using var a = new ChatServer(script, seed: 100 + 2 * repeat, new ChatBehaviour { LatencyMinMs = 2, LatencyMaxMs = 6 });
            using var b = new ChatServer(script, seed: 101 + 2 * repeat, new ChatBehaviour { LatencyMinMs = 2, LatencyMaxMs = 6 });
            var (baseline, current) = await ProbeBoth(suite, a, b, runs: 3);
            var report = ProviderDiff.Compare(baseline, current);
            if (report.Summary.Drift)
            {
                alarms++;
                details.Add(Describe(report));
            }
        }
        Assert.True(alarms <= 1, string.Join("\n", details));
    }

    public static TheoryData<string, string[]> Changes => new()
    {
        { "model", [DriftKinds.ModelVersion] },
        { "latency", [DriftKinds.Latency] },
        { "refusals", [DriftKinds.RefusalRate] },
        { "answers", [DriftKinds.Answers] },
        { "length", [DriftKinds.Length] },
        { "updated", [DriftKinds.ModelVersion, DriftKinds.Latency, DriftKinds.RefusalRate, DriftKinds.Answers] },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task A_change_of_one_kind_is_reported_as_that_kind(string change, string[] expected)
    {
        var (suite, script) = StandInSuite.Create();
        var behaviour = new ChatBehaviour();
        switch (change)
        {
            case "model":
                behaviour.ModelId = "stand-in-2024-11-20";
                behaviour.Fingerprint = "fp_d4e5f6";
                break;
            case "latency":
                behaviour.LatencyFactor = 3;
                break;
            case "refusals":
                behaviour.RefuseMore = true;
                break;
            case "answers":
                behaviour.OtherAnswers = true;
                break;
            case "length":
                behaviour.LengthFactor = 3;
                break;
            default:
                // The silent update: new id, slower, refusing more, other answers.
                behaviour.ModelId = "stand-in-2024-11-20";
                behaviour.Fingerprint = "fp_d4e5f6";
                behaviour.LatencyFactor = 3;
                behaviour.RefuseMore = true;
                behaviour.OtherAnswers = true;
                break;
        }
        using var a = new ChatServer(script, seed: 21);
        using var b = new ChatServer(script, seed: 22, behaviour);
        var (baseline, current) = await ProbeBoth(suite, a, b);
        var report = ProviderDiff.Compare(baseline, current);

        Assert.True(report.Summary.Drift, Describe(report));
        if (change == "updated") Assert.Superset(expected.ToHashSet(), report.Summary.Kinds.ToHashSet());
        else Assert.Equal(expected, report.Summary.Kinds);
        foreach (var drift in report.Drift.Where(d => d.PValue is not null)) Assert.True(drift.PAdjusted <= 0.01);
    }

    [Fact]
    public async Task A_flaky_server_is_retried_until_every_prompt_is_answered()
    {
        var (suite, script) = StandInSuite.Create();
        using var a = new ChatServer(script, seed: 31);
        using var b = new ChatServer(script, seed: 32, new ChatBehaviour { Flaky = true });
        var (baseline, current) = await ProbeBoth(suite, a, b);

        Assert.All(current.Results, r =>
        {
            Assert.True(r.Ok, r.Error);
            Assert.True(r.Attempts >= 2, $"{r.PromptId} run {r.Run}: {r.Attempts} attempts");
        });
        Assert.True(b.Requests >= 2 * current.Results.Count);
        var report = ProviderDiff.Compare(baseline, current);
        Assert.False(report.Summary.Drift, Describe(report));
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out_and_is_recorded_as_errors()
    {
        var (suite, script) = StandInSuite.Create();
        using var server = new ChatServer(script, seed: 41, new ChatBehaviour { StallAll = true });
        var small = suite.Take(1);
        var options = Options(server, runs: 1, retries: 1, timeoutSeconds: 0.3) with { Concurrency = 8 };
        var run = await ProviderProbe.RunAsync(small, options, ct: TestContext.Current.CancellationToken);

        Assert.All(run.Results, r =>
        {
            Assert.False(r.Ok);
            Assert.Equal(2, r.Attempts);
            Assert.StartsWith("timeout", r.Error, StringComparison.Ordinal);
            Assert.Null(r.LatencyMs);
        });
    }

    [Fact]
    public async Task Timeouts_on_some_prompts_are_availability_drift()
    {
        var (suite, script) = StandInSuite.Create();
        using var a = new ChatServer(script, seed: 51);
        using var b = new ChatServer(script, seed: 52, new ChatBehaviour { StallPrompts = ["free-0", "free-1", "free-2", "border-0", "sum-17-23"] });
        var ct = TestContext.Current.CancellationToken;
        var baselineTask = ProviderProbe.RunAsync(suite, Options(a, runs: 2), ct: ct);
        var currentTask = ProviderProbe.RunAsync(suite, Options(b, runs: 2, retries: 0, timeoutSeconds: 0.3) with { Concurrency = 8 }, ct: ct);
        await Task.WhenAll(baselineTask, currentTask);
        var report = ProviderDiff.Compare(await baselineTask, await currentTask);

        Assert.Contains(DriftKinds.Availability, report.Summary.Kinds);
        var availability = report.Drift.Single(d => d.Kind == DriftKinds.Availability);
        Assert.Contains("timeout", availability.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_is_never_sent_over_plain_http_to_another_host()
    {
        var suite = StandInSuite.Create().Suite;
        var options = new ProbeOptions { BaseUrl = new Uri("http://models.example.invalid/v1"), Model = "m", ApiKey = "sk-test-0123456789abcdef" };
        var e = Assert.Throws<AggregateException>(() => ProviderProbe.RunAsync(suite, options, ct: TestContext.Current.CancellationToken).Wait(TestContext.Current.CancellationToken));
        Assert.IsType<LineageException>(e.InnerException);
        Assert.Contains("plain http", e.InnerException!.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-test", e.InnerException.Message, StringComparison.Ordinal);

        var spaced = options with { BaseUrl = new Uri("https://models.example.invalid/v1"), ApiKey = "sk-test-0123456789abcdef\n" };
        var f = Assert.Throws<AggregateException>(() => ProviderProbe.RunAsync(suite, spaced, ct: TestContext.Current.CancellationToken).Wait(TestContext.Current.CancellationToken));
        Assert.Contains("printable ASCII", f.InnerException!.Message, StringComparison.Ordinal);
    }

    internal static string Describe(DriftReport report) =>
        report.Summary.Text + "\n" + string.Join("\n", report.Tests.Select(t => $"  {(t.Drifted ? "DRIFT" : "ok")} {t.Kind} {t.Test} p={t.PValue} adj={t.PAdjusted} effect={t.Effect}: {t.Detail}"))
        + "\n" + string.Join("\n", report.Summary.Notes);
}
