using System.Globalization;

namespace Lineage.Providers;

/// <summary>Stable ids of the kinds of drift.</summary>
public static class DriftKinds
{
    public const string ModelVersion = "model-version";
    public const string Latency = "latency";
    public const string RefusalRate = "refusal-rate";
    public const string Answers = "answers";
    public const string Length = "length";

    /// <summary>More requests fail than before (lost access, a retired model, an overloaded endpoint).</summary>
    public const string Availability = "availability";
}

/// <summary>How strict the diff is.</summary>
public sealed record DiffOptions
{
    /// <summary>Family-wise false-alarm rate over the statistical tests (Holm–Bonferroni).</summary>
    public double Alpha { get; init; } = 0.01;

    /// <summary>Smallest |rank-biserial correlation| that counts as a latency or length shift.</summary>
    public double MinRankEffect { get; init; } = 0.3;

    /// <summary>
    /// Smallest latency change that counts, as a factor either way (geometric mean over prompts of the ratio of
    /// median latencies): providers' latency moves by tens of percent with load and time of day.
    /// </summary>
    public double MinLatencyRatio { get; init; } = 1.25;

    /// <summary>Smallest answer-length change that counts, as a factor either way (geometric mean over prompts).</summary>
    public double MinLengthRatio { get; init; } = 1.2;

    /// <summary>Smallest change of a rate (refusals, passes, errors) that counts.</summary>
    public double MinRateChange { get; init; } = 0.05;

    /// <summary>Smallest drop in answer similarity, beyond the baseline's own variation, that counts.</summary>
    public double MinContentEffect { get; init; } = 0.05;

    public int Permutations { get; init; } = 1999;

    /// <summary>Seed of the permutation test (fixed: the same runs always give the same verdict).</summary>
    public int Seed { get; init; } = 20250101;

    /// <summary>Do not report system_fingerprint changes (providers rotate them without changing the model).</summary>
    public bool IgnoreFingerprint { get; init; }

    /// <summary>Compare runs of different suites on the prompt ids they share instead of refusing.</summary>
    public bool AllowSuiteMismatch { get; init; }
}

/// <summary>One test of the diff. <see cref="PValue"/> is null for observations that are not tests (model ids).</summary>
public sealed record Drift(string Kind, string Test, double? Statistic, double? PValue, double? Effect, string Detail)
{
    /// <summary>The Holm-adjusted p-value, compared with α.</summary>
    public double? PAdjusted { get; init; }

    /// <summary>Latency and length: geometric mean over prompts of median(current) / median(baseline).</summary>
    public double? Ratio { get; init; }

    /// <summary>Significant after correction and larger than the minimum effect.</summary>
    public bool Drifted { get; init; }
}

/// <summary>The figures of one side of a diff (or of one run in a trend).</summary>
public sealed record RunFigures
{
    public string? File { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public required string Model { get; init; }

    public required string BaseUrl { get; init; }

    public required string SuiteHash { get; init; }

    public int Runs { get; init; }

    public int Requests { get; init; }

    public int Errors { get; init; }

    public double ErrorRate { get; init; }

    public IReadOnlyList<string> ReturnedModels { get; init; } = [];

    public IReadOnlyList<string> SystemFingerprints { get; init; } = [];

    public double? LatencyP50Ms { get; init; }

    public double? LatencyP90Ms { get; init; }

    public double? TtfbP50Ms { get; init; }

    public double? RefusalRate { get; init; }

    public double? PassRate { get; init; }

    public double? AnswerCharsP50 { get; init; }

    public double? CompletionTokensP50 { get; init; }

    public static RunFigures Of(ProbeRun run, string? file = null) => Of(run, run.Results, file);

    internal static RunFigures Of(ProbeRun run, IReadOnlyList<ProbeResult> results, string? file)
    {
        ArgumentNullException.ThrowIfNull(run);
        var ok = results.Where(r => r.Ok).ToList();
        var answered = ok.Where(r => !r.Refused).ToList();
        var checkable = answered.Where(r => r.Passed is not null).ToList();
        return new RunFigures
        {
            File = file,
            StartedAt = run.StartedAt,
            Model = run.Model,
            BaseUrl = run.BaseUrl,
            SuiteHash = run.Suite.Hash,
            Runs = run.Settings.Runs,
            Requests = results.Count,
            Errors = results.Count - ok.Count,
            ErrorRate = results.Count == 0 ? 0 : Round((results.Count - ok.Count) / (double)results.Count),
            ReturnedModels = ok.Where(r => r.Model is not null).Select(r => r.Model!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            SystemFingerprints = ok.Where(r => r.SystemFingerprint is not null).Select(r => r.SystemFingerprint!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            LatencyP50Ms = Q(ok.Select(r => r.LatencyMs), 0.5),
            LatencyP90Ms = Q(ok.Select(r => r.LatencyMs), 0.9),
            TtfbP50Ms = Q(ok.Select(r => r.TtfbMs), 0.5),
            RefusalRate = ok.Count == 0 ? null : Round(ok.Count(r => r.Refused) / (double)ok.Count),
            PassRate = checkable.Count == 0 ? null : Round(checkable.Count(r => r.Passed == true) / (double)checkable.Count),
            AnswerCharsP50 = Q(answered.Select(r => (double?)(r.Answer?.Length ?? 0)), 0.5),
            CompletionTokensP50 = Q(answered.Select(r => (double?)r.Usage?.CompletionTokens), 0.5),
        };
    }

    private static double? Q(IEnumerable<double?> values, double q)
    {
        var list = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        return list.Count == 0 ? null : Round(DriftStatistics.Quantile(list, q));
    }

    internal static double Round(double x) => Math.Round(x, 4);
}

/// <summary>The verdict of a diff.</summary>
public sealed record DiffSummary
{
    public bool Drift { get; init; }

    /// <summary>Kinds that drifted, in a fixed order.</summary>
    public IReadOnlyList<string> Kinds { get; init; } = [];

    /// <summary>Statistical tests run (the family the correction covers).</summary>
    public int Tests { get; init; }

    public double Alpha { get; init; }

    public string Correction { get; init; } = "holm";

    public required string Text { get; init; }

    /// <summary>Things worth knowing that are not drift (tests skipped for lack of data, mismatched settings).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>The result of <see cref="ProviderDiff.Compare"/>: the drift found, every test, and both sides' figures.</summary>
public sealed record DriftReport
{
    public required RunFigures Baseline { get; init; }

    public required RunFigures Current { get; init; }

    /// <summary>The tests that drifted.</summary>
    public required IReadOnlyList<Drift> Drift { get; init; }

    /// <summary>Every test and observation, drifted or not.</summary>
    public required IReadOnlyList<Drift> Tests { get; init; }

    public required DiffSummary Summary { get; init; }
}

/// <summary>
/// Decides whether a provider changed between a baseline run and a current run, with statistics rather than
/// equality: answers, timings and refusals vary between runs even when nothing changed. Tests (one family,
/// Holm–Bonferroni at <see cref="DiffOptions.Alpha"/>, so the chance that an unchanged provider raises any
/// statistical alarm is at most α):
/// latency (Mann–Whitney U stratified by prompt), availability and refusal-rate and the checkable pass rate
/// (Fisher's exact test), answer content (energy-distance permutation test against the baseline's own
/// run-to-run variation) and length (stratified Mann–Whitney on answer characters). A test drifts when its
/// adjusted p-value is ≤ α and its effect is at least the minimum effect. model-version is an observation,
/// not a test: a returned model id never seen in the baseline, or system fingerprints disjoint from the
/// baseline's.
/// </summary>
public static class ProviderDiff
{
    public static DriftReport Compare(ProbeRun baseline, ProbeRun current, DiffOptions? options = null, string? baselineFile = null, string? currentFile = null) =>
        Compare([baseline], current, options, baselineFile, currentFile);

    /// <summary>Compares <paramref name="current"/> with the union of several baseline runs (taken at different times, they capture more of the day-to-day variation).</summary>
    public static DriftReport Compare(IReadOnlyList<ProbeRun> baselines, ProbeRun current, DiffOptions? options = null, string? baselineFile = null, string? currentFile = null)
    {
        ArgumentNullException.ThrowIfNull(baselines);
        ArgumentNullException.ThrowIfNull(current);
        if (baselines.Count == 0) throw new LineageException("no baseline run given");
        options ??= new DiffOptions();
        if (options.Alpha is <= 0 or >= 1 || double.IsNaN(options.Alpha)) throw new LineageException("alpha must be in (0, 1)");
        var notes = new List<string>();
        var first = baselines[0];

        // The baseline side: every baseline run's results, with run numbers made distinct.
        var baseResults = new List<ProbeResult>();
        int runOffset = 0;
        foreach (var b in baselines)
        {
            if (b.Suite.Hash != first.Suite.Hash) throw new LineageException($"the baseline runs used different suites ({first.Suite.Hash} and {b.Suite.Hash})");
            baseResults.AddRange(b.Results.Select(r => r with { Run = r.Run + runOffset }));
            runOffset += Math.Max(b.Settings.Runs, b.Results.Count == 0 ? 0 : b.Results.Max(r => r.Run));
        }
        var curResults = current.Results.ToList();
        if (first.Suite.Hash != current.Suite.Hash)
        {
            if (!options.AllowSuiteMismatch)
                throw new LineageException($"the runs used different suites ({first.Suite.Name} {first.Suite.Hash} vs {current.Suite.Name} {current.Suite.Hash}); pass --allow-suite-mismatch to compare the prompts they share");
            var shared = baseResults.Select(r => r.PromptId).ToHashSet(StringComparer.Ordinal);
            shared.IntersectWith(curResults.Select(r => r.PromptId));
            baseResults.RemoveAll(r => !shared.Contains(r.PromptId));
            curResults.RemoveAll(r => !shared.Contains(r.PromptId));
            notes.Add($"suites differ: compared on the {shared.Count} prompt ids they share");
            if (shared.Count == 0) throw new LineageException("the runs share no prompt ids");
        }
        if (!string.Equals(first.Model, current.Model, StringComparison.Ordinal)) notes.Add($"the runs asked for different models ('{first.Model}' and '{current.Model}')");
        if (!string.Equals(first.BaseUrl, current.BaseUrl, StringComparison.Ordinal)) notes.Add($"the runs used different endpoints ({first.BaseUrl} and {current.BaseUrl})");

        var baseFigures = RunFigures.Of(first, baseResults, baselineFile) with { Runs = runOffset };
        var curFigures = RunFigures.Of(current, curResults, currentFile);

        var observations = new List<Drift>();
        var tests = new List<Drift>();
        ModelVersion(baseResults, curResults, options, observations, notes);
        tests.Add(Availability(baseResults, curResults));
        var baseOk = baseResults.Where(r => r.Ok).ToList();
        var curOk = curResults.Where(r => r.Ok).ToList();
        if (baseOk.Count == 0 || curOk.Count == 0)
        {
            notes.Add(baseOk.Count == 0 ? "the baseline has no successful answers: only availability was tested" : "the current run has no successful answers: only availability was tested");
        }
        else
        {
            tests.Add(Latency(baseOk, curOk));
            tests.Add(RefusalRate(baseOk, curOk));
            var answeredBase = baseOk.Where(r => !r.Refused).ToList();
            var answeredCur = curOk.Where(r => !r.Refused).ToList();
            if (PassRate(answeredBase, answeredCur) is { } pass) tests.Add(pass);
            else notes.Add("no checkable prompts answered on both sides: pass rate not tested");
            if (Content(answeredBase, answeredCur, options) is { } content) tests.Add(content);
            else notes.Add("answer content not tested: it needs at least two baseline answers of one prompt (probe with --runs 2 or more)");
            tests.Add(Length(answeredBase, answeredCur));
        }

        var adjusted = DriftStatistics.Holm(tests.Select(t => t.PValue ?? 1).ToList());
        for (int i = 0; i < tests.Count; i++)
        {
            var t = tests[i];
            bool significant = adjusted[i] <= options.Alpha;
            bool large = t.Kind switch
            {
                DriftKinds.Latency => Shifted(t, options.MinRankEffect, options.MinLatencyRatio),
                DriftKinds.Length => Shifted(t, options.MinRankEffect, options.MinLengthRatio),
                DriftKinds.Availability => (t.Effect ?? 0) >= options.MinRateChange,
                DriftKinds.Answers when t.Test == ContentTestName => (t.Effect ?? 0) >= options.MinContentEffect,
                _ => Math.Abs(t.Effect ?? 0) >= options.MinRateChange,
            };
            tests[i] = t with { PAdjusted = Round(adjusted[i]), Drifted = significant && large };
        }

        var all = observations.Concat(tests).ToList();
        var drifted = all.Where(t => t.Drifted).ToList();
        var kinds = KindOrder.Where(k => drifted.Any(d => d.Kind == k)).ToList();
        string text = drifted.Count == 0
            ? $"no drift ({tests.Count} tests; family-wise false-alarm rate ≤ {Percent(options.Alpha)} by Holm–Bonferroni)"
            : $"drift: {string.Join(", ", kinds)} ({tests.Count} tests; family-wise false-alarm rate ≤ {Percent(options.Alpha)} by Holm–Bonferroni)";
        return new DriftReport
        {
            Baseline = baseFigures,
            Current = curFigures,
            Drift = drifted,
            Tests = all,
            Summary = new DiffSummary { Drift = drifted.Count > 0, Kinds = kinds, Tests = tests.Count, Alpha = options.Alpha, Text = text, Notes = notes },
        };
    }

    private const string ContentTestName = "content-permutation";

    /// <summary>A shift counts when the rank effect and the ratio are both large and point the same way.</summary>
    private static bool Shifted(Drift t, double minRank, double minRatio) =>
        t.Effect is double e && t.Ratio is double r && ((e >= minRank && r >= minRatio) || (e <= -minRank && r <= 1 / minRatio));

    private static readonly string[] KindOrder = [DriftKinds.ModelVersion, DriftKinds.Availability, DriftKinds.Latency, DriftKinds.RefusalRate, DriftKinds.Answers, DriftKinds.Length];

    private static void ModelVersion(List<ProbeResult> baseline, List<ProbeResult> current, DiffOptions options, List<Drift> observations, List<string> notes)
    {
        var baseModels = baseline.Where(r => r.Ok && r.Model is not null).Select(r => r.Model!).ToHashSet(StringComparer.Ordinal);
        var curWithModel = current.Where(r => r.Ok && r.Model is not null).ToList();
        if (baseModels.Count > 0 && curWithModel.Count > 0)
        {
            var fresh = curWithModel.Where(r => !baseModels.Contains(r.Model!)).ToList();
            if (fresh.Count > 0)
            {
                double share = fresh.Count / (double)curWithModel.Count;
                string was = string.Join(", ", baseModels.Order(StringComparer.Ordinal));
                string now = string.Join(", ", fresh.Select(r => r.Model!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
                observations.Add(new Drift(DriftKinds.ModelVersion, "returned-model", fresh.Count, null, Round(share),
                    $"returned model {was} → {now} in {Percent(share)} of answers") { Drifted = true });
            }
        }
        else if (baseModels.Count > 0 != curWithModel.Count > 0)
        {
            notes.Add("only one side's responses name a model");
        }
        if (options.IgnoreFingerprint) return;
        var baseFp = baseline.Where(r => r.Ok && r.SystemFingerprint is not null).Select(r => r.SystemFingerprint!).ToHashSet(StringComparer.Ordinal);
        var curFp = current.Where(r => r.Ok && r.SystemFingerprint is not null).Select(r => r.SystemFingerprint!).ToHashSet(StringComparer.Ordinal);
        if (baseFp.Count == 0 || curFp.Count == 0) return;
        if (!baseFp.Overlaps(curFp))
        {
            observations.Add(new Drift(DriftKinds.ModelVersion, "system-fingerprint", curFp.Count, null, 1,
                $"system_fingerprint {string.Join(", ", baseFp.Order(StringComparer.Ordinal))} → {string.Join(", ", curFp.Order(StringComparer.Ordinal))} (none seen before)") { Drifted = true });
        }
        else if (!curFp.IsSubsetOf(baseFp))
        {
            notes.Add($"new system_fingerprint values beside known ones: {string.Join(", ", curFp.Except(baseFp).Order(StringComparer.Ordinal))}");
        }
    }

    private static Drift Availability(List<ProbeResult> baseline, List<ProbeResult> current)
    {
        int be = baseline.Count(r => !r.Ok), ce = current.Count(r => !r.Ok);
        double p = DriftStatistics.FisherExact(be, baseline.Count - be, ce, current.Count - ce);
        double rb = Rate(be, baseline.Count), rc = Rate(ce, current.Count);
        string example = current.FirstOrDefault(r => !r.Ok)?.Error is { } e ? $"; e.g. {Shorten(e)}" : "";
        return new Drift(DriftKinds.Availability, "fisher-exact-errors", Round(rc - rb), Round(p), Round(rc - rb),
            $"failed requests {be}/{baseline.Count} ({Percent(rb)}) → {ce}/{current.Count} ({Percent(rc)}){example}");
    }

    private static Drift Latency(List<ProbeResult> baseline, List<ProbeResult> current)
    {
        var strata = Strata(baseline, current, r => r.LatencyMs);
        var test = DriftStatistics.StratifiedMannWhitney(strata);
        double b50 = DriftStatistics.Quantile(baseline.Where(r => r.LatencyMs is not null).Select(r => r.LatencyMs!.Value), 0.5);
        double c50 = DriftStatistics.Quantile(current.Where(r => r.LatencyMs is not null).Select(r => r.LatencyMs!.Value), 0.5);
        double ratio = PromptRatio(strata);
        return new Drift(DriftKinds.Latency, "mann-whitney-u-stratified", Round(test.Z), Round(test.PValue), Round(test.RankBiserial),
            $"median latency {Ms(b50)} → {Ms(c50)} (per prompt ×{ratio.ToString("0.00", CultureInfo.InvariantCulture)}); P(current slower) = {test.ProbabilityOfSuperiority.ToString("0.00", CultureInfo.InvariantCulture)} over {test.Strata} prompts")
        { Ratio = Round(ratio) };
    }

    private static Drift RefusalRate(List<ProbeResult> baseline, List<ProbeResult> current)
    {
        int br = baseline.Count(r => r.Refused), cr = current.Count(r => r.Refused);
        double p = DriftStatistics.FisherExact(br, baseline.Count - br, cr, current.Count - cr);
        double rb = Rate(br, baseline.Count), rc = Rate(cr, current.Count);
        var newly = current.Where(r => r.Refused).Select(r => r.PromptId).Distinct(StringComparer.Ordinal)
            .Except(baseline.Where(r => r.Refused).Select(r => r.PromptId), StringComparer.Ordinal).Take(5).ToList();
        return new Drift(DriftKinds.RefusalRate, "fisher-exact-refusals", Round(rc - rb), Round(p), Round(rc - rb),
            $"refusals {br}/{baseline.Count} ({Percent(rb)}) → {cr}/{current.Count} ({Percent(rc)})" + (newly.Count > 0 ? $"; newly refused: {string.Join(", ", newly)}" : ""));
    }

    private static Drift? PassRate(List<ProbeResult> baseline, List<ProbeResult> current)
    {
        var shared = baseline.Where(r => r.Passed is not null).Select(r => r.PromptId).ToHashSet(StringComparer.Ordinal);
        shared.IntersectWith(current.Where(r => r.Passed is not null).Select(r => r.PromptId));
        if (shared.Count == 0) return null;
        var b = baseline.Where(r => r.Passed is not null && shared.Contains(r.PromptId)).ToList();
        var c = current.Where(r => r.Passed is not null && shared.Contains(r.PromptId)).ToList();
        int bp = b.Count(r => r.Passed == true), cp = c.Count(r => r.Passed == true);
        double p = DriftStatistics.FisherExact(bp, b.Count - bp, cp, c.Count - cp);
        double rb = Rate(bp, b.Count), rc = Rate(cp, c.Count);
        var broke = c.Where(r => r.Passed == false).Select(r => r.PromptId).Distinct(StringComparer.Ordinal)
            .Except(b.Where(r => r.Passed == false).Select(r => r.PromptId), StringComparer.Ordinal).Take(5).ToList();
        return new Drift(DriftKinds.Answers, "fisher-exact-pass-rate", Round(rc - rb), Round(p), Round(rc - rb),
            $"checkable answers passing {bp}/{b.Count} ({Percent(rb)}) → {cp}/{c.Count} ({Percent(rc)})" + (broke.Count > 0 ? $"; now failing: {string.Join(", ", broke)}" : ""));
    }

    private static Drift? Content(List<ProbeResult> baseline, List<ProbeResult> current, DiffOptions options)
    {
        var byPrompt = current.GroupBy(r => r.PromptId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(r => r.Answer ?? "").ToList(), StringComparer.Ordinal);
        var strata = baseline.GroupBy(r => r.PromptId, StringComparer.Ordinal)
            .Where(g => byPrompt.ContainsKey(g.Key))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => ((IReadOnlyList<string>)g.Select(r => r.Answer ?? "").ToList(), byPrompt[g.Key]))
            .ToList();
        if (!strata.Any(s => s.Item1.Count >= 2)) return null;
        var test = DriftStatistics.ContentPermutation(strata, options.Permutations, options.Seed);
        if (test.Strata == 0) return null;
        return new Drift(DriftKinds.Answers, ContentTestName, Round(test.Statistic), Round(test.PValue), Round(test.Effect),
            $"answer similarity between the runs is {Math.Abs(test.Effect).ToString("0.000", CultureInfo.InvariantCulture)} {(test.Effect >= 0 ? "lower" : "higher")} than between the baseline's own runs (energy distance, {test.Strata} prompts, {test.Permutations} permutations)");
    }

    private static Drift Length(List<ProbeResult> baseline, List<ProbeResult> current)
    {
        var strata = Strata(baseline, current, r => r.Answer?.Length ?? 0);
        var test = DriftStatistics.StratifiedMannWhitney(strata);
        double ratio = PromptRatio(strata);
        double b = strata.Sum(s => s.Baseline.Sum()) / Math.Max(1, strata.Sum(s => s.Baseline.Count));
        double c = strata.Sum(s => s.Current.Sum()) / Math.Max(1, strata.Sum(s => s.Current.Count));
        return new Drift(DriftKinds.Length, "mann-whitney-u-stratified", Round(test.Z), Round(test.PValue), Round(test.RankBiserial),
            $"answers ×{ratio.ToString("0.00", CultureInfo.InvariantCulture)} as long per prompt (mean {b:0} → {c:0} characters over {test.Strata} prompts answered on both sides); P(current longer) = {test.ProbabilityOfSuperiority.ToString("0.00", CultureInfo.InvariantCulture)}")
        { Ratio = Round(ratio) };
    }

    private static List<(IReadOnlyList<double> Baseline, IReadOnlyList<double> Current)> Strata(List<ProbeResult> baseline, List<ProbeResult> current, Func<ProbeResult, double?> value)
    {
        var cur = current.GroupBy(r => r.PromptId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(value).Where(v => v is not null).Select(v => v!.Value).ToList(), StringComparer.Ordinal);
        return baseline.GroupBy(r => r.PromptId, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Where(g => cur.ContainsKey(g.Key))
            .Select(g => ((IReadOnlyList<double>)g.Select(value).Where(v => v is not null).Select(v => v!.Value).ToList(), (IReadOnlyList<double>)cur[g.Key]))
            .Where(s => s.Item1.Count > 0 && s.Item2.Count > 0)
            .ToList();
    }

    /// <summary>
    /// Geometric mean over prompts of median(current) / median(baseline): "how much slower (longer) per prompt".
    /// A change of only some prompts shows in proportion.
    /// </summary>
    private static double PromptRatio(List<(IReadOnlyList<double> Baseline, IReadOnlyList<double> Current)> strata)
    {
        var logs = strata
            .Select(s => (B: DriftStatistics.Quantile(s.Baseline, 0.5), C: DriftStatistics.Quantile(s.Current, 0.5)))
            .Where(x => x.B > 0 && x.C > 0)
            .Select(x => Math.Log(x.C / x.B))
            .ToList();
        return logs.Count == 0 ? 1 : Math.Exp(logs.Average());
    }

    private static double Rate(int k, int n) => n == 0 ? 0 : k / (double)n;

    private static double Round(double x) => double.IsFinite(x) ? Math.Round(x, 6) : x;

    internal static string Percent(double x) => (x * 100).ToString(x * 100 is > 0 and < 1 ? "0.##" : "0.#", CultureInfo.InvariantCulture) + "%";

    private static string Ms(double x) => double.IsNaN(x) ? "n/a" : x.ToString("0.#", CultureInfo.InvariantCulture) + " ms";

    private static string Shorten(string s) => s.Length > 120 ? s[..120] + "…" : s;
}
