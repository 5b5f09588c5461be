using Lineage.Providers;

namespace Lineage.Tests.Providers;

/// <summary>The diff's statistics on synthetic runs (no server): known values, the false-alarm rate under no change, and power.</summary>
public sealed class ProviderDiffTests
{
    [Fact]
    public void Fisher_exact_matches_published_values()
    {
        // R: fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value = 0.4857 (Fisher's tea tasting).
        Assert.Equal(0.485714, DriftStatistics.FisherExact(3, 1, 1, 3), 5);
        // R: fisher.test(matrix(c(1, 11, 9, 3), 2))$p.value = 0.002759.
        Assert.Equal(0.002759, DriftStatistics.FisherExact(1, 9, 11, 3), 5);
        Assert.Equal(1, DriftStatistics.FisherExact(0, 10, 0, 10), 9);
        Assert.Equal(1, DriftStatistics.FisherExact(0, 0, 0, 0), 9);
    }

    [Fact]
    public void Mann_whitney_in_one_stratum_is_the_classic_test()
    {
        IReadOnlyList<double> a = [1, 2, 3], b = [4, 5, 6];
        var r = DriftStatistics.StratifiedMannWhitney([(a, b)]);
        Assert.Equal(9, r.U);
        Assert.Equal(1, r.ProbabilityOfSuperiority);
        Assert.Equal(1, r.RankBiserial);
        // W = 15, E = 10.5, Var = 3·3/12·7 = 5.25 → z = 1.964, p = 0.0495.
        Assert.Equal(1.9640, r.Z, 3);
        Assert.Equal(0.0495, r.PValue, 3);

        var ties = DriftStatistics.StratifiedMannWhitney([([5, 5, 5], [5, 5])]);
        Assert.Equal(1, ties.PValue);
        Assert.Equal(0.5, ties.ProbabilityOfSuperiority);
    }

    [Fact]
    public void Stratifying_keeps_slow_prompts_from_masking_a_shift()
    {
        // Each prompt has its own scale; the current side is 20% slower everywhere.
        var strata = Enumerable.Range(0, 30).Select(i =>
        {
            double scale = Math.Pow(2, i % 6);
            IReadOnlyList<double> a = [scale * 1.00, scale * 1.02, scale * 0.98];
            IReadOnlyList<double> b = [scale * 1.20, scale * 1.22, scale * 1.18];
            return (a, b);
        }).ToList();
        var stratified = DriftStatistics.StratifiedMannWhitney(strata);
        Assert.Equal(1, stratified.RankBiserial);
        Assert.True(stratified.PValue < 1e-10);
        var pooled = DriftStatistics.StratifiedMannWhitney([(strata.SelectMany(s => s.a).ToList(), strata.SelectMany(s => s.b).ToList())]);
        Assert.True(pooled.RankBiserial < 0.3, $"pooled effect {pooled.RankBiserial}");
    }

    [Fact]
    public void Holm_adjusts_step_down()
    {
        var adjusted = DriftStatistics.Holm([0.01, 0.04, 0.03]);
        Assert.Equal([0.03, 0.06, 0.06], adjusted.Select(x => Math.Round(x, 10)));
        Assert.Equal([0.9], DriftStatistics.Holm([0.9]));
        Assert.Equal([1.0, 1.0], DriftStatistics.Holm([0.6, 0.7]));
    }

    [Fact]
    public void Content_permutation_sees_changed_answers_but_not_rewording()
    {
        var same = Enumerable.Range(0, 10).Select(i => ((IReadOnlyList<string>)[$"alpha beta gamma {i}", $"gamma beta alpha {i}", $"beta alpha gamma {i}"],
            (IReadOnlyList<string>)[$"alpha gamma beta {i}", $"beta gamma alpha {i}", $"alpha beta gamma {i}"])).ToList();
        var unchanged = DriftStatistics.ContentPermutation(same, 999, 1);
        Assert.True(unchanged.PValue > 0.05, $"p {unchanged.PValue}");
        Assert.True(Math.Abs(unchanged.Effect) < 0.05);

        var changed = same.Select(s => (s.Item1, (IReadOnlyList<string>)s.Item2.Select(x => "entirely different words here " + x[^1]).ToList())).ToList();
        var moved = DriftStatistics.ContentPermutation(changed, 999, 1);
        Assert.True(moved.PValue <= 0.002, $"p {moved.PValue}");
        Assert.True(moved.Effect > 0.3);
    }

    [Fact]
    public void Similarity_ignores_word_order_and_case()
    {
        Assert.Equal(1, TextSimilarity.Similarity("", ""));
        Assert.True(TextSimilarity.Similarity("Paris is the capital of France.", "The capital of France is Paris") > 0.7);
        Assert.True(TextSimilarity.Similarity("Paris is the capital of France.", "Berlin hosts the German parliament.") < 0.3);
    }

    /// <summary>
    /// The promise of --alpha: many comparisons of two runs drawn from one provider. Each run has prompt-specific
    /// latency scales with jitter, reworded answers, random refusals of borderline prompts and occasional failed
    /// checks and errors. With α = 0.01 at most ~1% of comparisons may alarm; the bound below allows for the
    /// binomial spread of 300 comparisons (P(X ≥ 8 | p = 0.01) ≈ 1%).
    /// </summary>
    [Fact]
    public void An_unchanged_provider_alarms_at_most_at_the_stated_rate()
    {
        var random = new Random(7);
        int alarms = 0;
        var kinds = new Dictionary<string, int>();
        const int comparisons = 300;
        for (int i = 0; i < comparisons; i++)
        {
            var provider = SyntheticProvider.Create(random, prompts: 16);
            var baseline = provider.Run(random, runs: 3);
            var current = provider.Run(random, runs: 3);
            var report = ProviderDiff.Compare(baseline, current, new DiffOptions { Permutations = 199, Seed = i });
            if (report.Summary.Drift) alarms++;
            foreach (var k in report.Summary.Kinds) kinds[k] = kinds.GetValueOrDefault(k) + 1;
        }
        Assert.True(alarms <= 7, $"{alarms} of {comparisons} unchanged comparisons alarmed: {string.Join(", ", kinds)}");
    }

    [Theory]
    [InlineData("latency", DriftKinds.Latency)]
    [InlineData("refusals", DriftKinds.RefusalRate)]
    [InlineData("answers", DriftKinds.Answers)]
    [InlineData("length", DriftKinds.Length)]
    [InlineData("errors", DriftKinds.Availability)]
    [InlineData("model", DriftKinds.ModelVersion)]
    public void A_synthetic_change_is_found(string change, string kind)
    {
        var random = new Random(11);
        var provider = SyntheticProvider.Create(random, prompts: 16);
        var baseline = provider.Run(random, runs: 3);
        var changed = change switch
        {
            "latency" => provider with { LatencyFactor = 1.8 },
            "refusals" => provider with { ExtraRefusal = 0.5 },
            "answers" => provider with { OtherAnswers = true },
            "length" => provider with { LengthFactor = 2 },
            "errors" => provider with { ErrorRate = 0.5 },
            _ => provider with { Model = "synthetic-2025-02-02" },
        };
        var report = ProviderDiff.Compare(baseline, changed.Run(random, runs: 3));
        Assert.Contains(kind, report.Summary.Kinds);
        Assert.Equal([kind], report.Summary.Kinds);
    }

    [Fact]
    public void Baselines_pool_and_suites_must_match()
    {
        var random = new Random(5);
        var provider = SyntheticProvider.Create(random, prompts: 8);
        var b1 = provider.Run(random, runs: 1);
        var b2 = provider.Run(random, runs: 1);
        var current = provider.Run(random, runs: 1);
        // One run per side cannot measure run-to-run variation of content; two pooled baselines can.
        var single = ProviderDiff.Compare(b1, current);
        Assert.DoesNotContain(single.Tests, t => t.Test == "content-permutation");
        Assert.Contains(single.Summary.Notes, n => n.Contains("answer content not tested", StringComparison.Ordinal));
        var pooled = ProviderDiff.Compare([b1, b2], current);
        Assert.Contains(pooled.Tests, t => t.Test == "content-permutation");
        Assert.Equal(2, pooled.Baseline.Runs);

        var other = current with { Suite = current.Suite with { Hash = "sha256:ff" } };
        Assert.Throws<LineageException>(() => ProviderDiff.Compare(b1, other));
        var allowed = ProviderDiff.Compare(b1, other, new DiffOptions { AllowSuiteMismatch = true });
        Assert.Contains(allowed.Summary.Notes, n => n.StartsWith("suites differ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_lost_model_is_availability_drift_not_an_error()
    {
        var random = new Random(9);
        var provider = SyntheticProvider.Create(random, prompts: 8);
        var baseline = provider.Run(random, runs: 2);
        var gone = provider with { ErrorRate = 1 };
        var report = ProviderDiff.Compare(baseline, gone.Run(random, runs: 2));
        Assert.Equal([DriftKinds.Availability], report.Summary.Kinds);
        Assert.Contains(report.Summary.Notes, n => n.Contains("no successful answers", StringComparison.Ordinal));
    }

    [Fact]
    public void Fingerprints_drift_only_when_none_was_seen_before()
    {
        var random = new Random(3);
        var provider = SyntheticProvider.Create(random, prompts: 8) with { Fingerprints = ["fp_1", "fp_2"] };
        var baseline = provider.Run(random, runs: 2);
        var rotated = ProviderDiff.Compare(baseline, (provider with { Fingerprints = ["fp_2", "fp_3"] }).Run(random, runs: 2));
        Assert.Empty(rotated.Drift);
        Assert.Contains(rotated.Summary.Notes, n => n.Contains("fp_3", StringComparison.Ordinal));
        var replaced = ProviderDiff.Compare(baseline, (provider with { Fingerprints = ["fp_9"] }).Run(random, runs: 2));
        Assert.Equal([DriftKinds.ModelVersion], replaced.Summary.Kinds);
        var ignored = ProviderDiff.Compare(baseline, (provider with { Fingerprints = ["fp_9"] }).Run(random, runs: 2), new DiffOptions { IgnoreFingerprint = true });
        Assert.Empty(ignored.Drift);
    }

    [Fact]
    public void Run_files_round_trip_and_bad_ones_are_refused()
    {
        var random = new Random(4);
        var run = SyntheticProvider.Create(random, prompts: 4).Run(random, runs: 2);
        var back = ProbeRun.Parse(System.Text.Encoding.UTF8.GetBytes(run.ToJson()), "mem");
        Assert.Equal(run.Results.Count, back.Results.Count);
        Assert.Equal(run.Results[0], back.Results[0] with { RefusalMarkers = run.Results[0].RefusalMarkers, Usage = run.Results[0].Usage });
        Assert.Throws<LineageException>(() => ProbeRun.Parse("{}"u8, "x"));
        Assert.Throws<LineageException>(() => ProbeRun.Parse("[1,2"u8, "x"));
        Assert.Throws<LineageException>(() => ProbeRun.Parse(System.Text.Encoding.UTF8.GetBytes(run.ToJson().Replace("\"version\": 1", "\"version\": 9", StringComparison.Ordinal)), "x"));
        string negative = run.ToJson().Replace("\"latency_ms\": ", "\"latency_ms\": -", StringComparison.Ordinal);
        Assert.Throws<LineageException>(() => ProbeRun.Parse(System.Text.Encoding.UTF8.GetBytes(negative), "x"));
    }
}

/// <summary>A provider simulated in code: per-prompt latency scales, reworded answers, random refusals.</summary>
internal sealed record SyntheticProvider
{
    public required double[] LatencyScale { get; init; }

    public required string[][] Answers { get; init; }

    public required string[][] Other { get; init; }

    public required double[] RefuseProbability { get; init; }

    public required bool[] Checkable { get; init; }

    public string Model { get; init; } = "synthetic-2024-01-01";

    public string[] Fingerprints { get; init; } = ["fp_1"];

    public double LatencyFactor { get; init; } = 1;

    public double ExtraRefusal { get; init; }

    public bool OtherAnswers { get; init; }

    public int LengthFactor { get; init; } = 1;

    public double ErrorRate { get; init; } = 0.01;

    private static readonly string[] Words = "the a of model answer light water river stone cloud quick slow north south red blue green bright dark old new small large house tree road city number value".Split(' ');

    public static SyntheticProvider Create(Random random, int prompts)
    {
        string Sentence(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => Words[random.Next(Words.Length)]));
        string[] Reword(string s) => [s, string.Join(' ', s.Split(' ').Reverse()), string.Join(' ', s.Split(' ').OrderBy(_ => random.Next()))];
        var lengths = Enumerable.Range(0, prompts).Select(_ => 8 + random.Next(10)).ToArray();
        return new SyntheticProvider
        {
            LatencyScale = Enumerable.Range(0, prompts).Select(_ => 100 * Math.Exp(random.NextDouble() * 3)).ToArray(),
            Answers = lengths.Select(n => Reword(Sentence(n))).ToArray(),
            Other = lengths.Select(n => Reword(Sentence(n))).ToArray(),
            RefuseProbability = Enumerable.Range(0, prompts).Select(i => i % 5 == 4 ? 0.3 : 0.0).ToArray(),
            Checkable = Enumerable.Range(0, prompts).Select(i => i % 3 == 0).ToArray(),
        };
    }

    public ProbeRun Run(Random random, int runs)
    {
        var results = new List<ProbeResult>();
        for (int run = 1; run <= runs; run++)
        {
            for (int p = 0; p < LatencyScale.Length; p++)
            {
                string id = $"p{p}";
                if (random.NextDouble() < ErrorRate)
                {
                    results.Add(new ProbeResult { PromptId = id, Category = "x", Run = run, Ok = false, Attempts = 5, Error = "HTTP 503: overloaded" });
                    continue;
                }
                double latency = LatencyScale[p] * LatencyFactor * Math.Exp(0.25 * Gaussian(random));
                bool refused = random.NextDouble() < RefuseProbability[p] + ExtraRefusal;
                var pool = OtherAnswers ? Other[p] : Answers[p];
                string answer = refused ? "I'm sorry, but I can't help with that." : pool[random.Next(pool.Length)];
                if (!refused && LengthFactor > 1) answer = string.Join(' ', Enumerable.Repeat(answer, LengthFactor));
                bool? passed = Checkable[p] && !refused ? (OtherAnswers ? random.NextDouble() < 0.3 : random.NextDouble() < 0.97) : null;
                results.Add(new ProbeResult
                {
                    PromptId = id,
                    Category = "x",
                    Run = run,
                    Ok = true,
                    Attempts = 1,
                    LatencyMs = latency,
                    TtfbMs = latency / 3,
                    TtfbSource = "first-chunk",
                    Model = Model,
                    SystemFingerprint = Fingerprints[random.Next(Fingerprints.Length)],
                    FinishReason = "stop",
                    Answer = answer,
                    Refused = refused,
                    RefusalMarkers = refused ? ["i'm sorry, but"] : null,
                    Passed = passed,
                });
            }
        }
        return new ProbeRun
        {
            StartedAt = DateTimeOffset.UnixEpoch.AddDays(random.Next(1000)),
            FinishedAt = DateTimeOffset.UnixEpoch.AddDays(1000),
            BaseUrl = "https://synthetic.invalid/v1",
            Model = "synthetic",
            Suite = new SuiteInfo { Name = "synthetic", Version = 1, Hash = "sha256:synthetic", Prompts = LatencyScale.Length },
            Settings = new ProbeSettings { Runs = runs, Concurrency = 1, TimeoutSeconds = 60, MaxRetries = 4, Temperature = 0, Streaming = true, MaxTokensField = "max_tokens", DefaultMaxTokens = 256 },
            Results = results,
        };
    }

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
