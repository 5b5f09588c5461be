using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Lineage.Provenance;

/// <summary>One labelled pair of a pairs.json manifest.</summary>
public sealed record LabelledPair(string A, string B, bool Related, string Category, string? Note);

public sealed record BenchPairResult(string A, string B, bool Label, string Category, bool? Related, double Score, string Verdict, double Seconds, string? Error);

public sealed record CategoryStats(int N, double Accuracy);

public sealed record BenchReport(
    int Pairs,
    double Auc,
    [property: System.Text.Json.Serialization.JsonPropertyName("tpr_at_fpr_1pct")] double TprAtFpr1Pct,
    [property: System.Text.Json.Serialization.JsonPropertyName("tpr_at_fpr_0_1pct")] double TprAtFpr01Pct,
    double Accuracy,
    double FalsePositiveRate,
    IReadOnlyDictionary<string, CategoryStats> Categories,
    IReadOnlyList<BenchPairResult> Results,
    IReadOnlyList<BenchPairResult> Misclassified,
    double SecondsPerPair,
    double FingerprintSeconds,
    int Models);

/// <summary>Runs compare over a labelled manifest (format in ../shared/corpus/README.md) and scores it.</summary>
public static class Bench
{
    /// <summary>Categories reported but not scored: weights cannot tell a shared random initialization from siblings.</summary>
    public static readonly IReadOnlySet<string> Unscored = new HashSet<string>(StringComparer.Ordinal) { "shared-init" };

    public static (string BaseDirectory, List<LabelledPair> Pairs) ReadManifest(string path)
    {
        var root = Formats.HuggingFace.HfConfigReader.ReadJsonObject(path, 64 << 20);
        if (root["pairs"] is not JsonArray array) throw new LineageException("manifest has no 'pairs' array", path);
        var pairs = new List<LabelledPair>();
        int index = 0;
        foreach (var node in array)
        {
            if (node is not JsonObject o || o["a"] is null || o["b"] is null || o["related"] is null)
                throw new LineageException($"pair {index} needs 'a', 'b' and 'related'", path);
            pairs.Add(new LabelledPair(o["a"]!.GetValue<string>(), o["b"]!.GetValue<string>(), o["related"]!.GetValue<bool>(),
                o["category"]?.GetValue<string>() ?? "uncategorised", o["note"]?.GetValue<string>()));
            index++;
        }
        return (Path.GetDirectoryName(Path.GetFullPath(path))!, pairs);
    }

    public static BenchReport Run(string manifest, Func<string, Fingerprint> fingerprint, CompareOptions? options = null, IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var (dir, pairs) = ReadManifest(manifest);
        var cache = new Dictionary<string, (Fingerprint? Fp, string? Error)>(StringComparer.Ordinal);
        var fpWatch = Stopwatch.StartNew();
        (Fingerprint? Fp, string? Error) Get(string rel)
        {
            if (cache.TryGetValue(rel, out var hit)) return hit;
            try
            {
                hit = (fingerprint(Path.Combine(dir, rel)), null);
            }
            catch (LineageException e)
            {
                hit = (null, e.Describe());
            }
            cache[rel] = hit;
            return hit;
        }
        foreach (var p in pairs)
        {
            Get(p.A);
            Get(p.B);
        }
        double fpSeconds = fpWatch.Elapsed.TotalSeconds;
        var results = new BenchPairResult[pairs.Count];
        int done = 0;
        var compareWatch = Stopwatch.StartNew();
        ParallelWork.For(pairs.Count, i =>
        {
            var p = pairs[i];
            var (fa, ea) = Get(p.A);
            var (fb, eb) = Get(p.B);
            var sw = Stopwatch.StartNew();
            if (fa is null || fb is null)
            {
                results[i] = new BenchPairResult(p.A, p.B, p.Related, p.Category, null, 0, "error", 0, ea ?? eb);
            }
            else
            {
                var r = ProvenanceComparer.Compare(fa, fb, options);
                results[i] = new BenchPairResult(p.A, p.B, p.Related, p.Category, r.Related, r.Score, r.Verdict, sw.Elapsed.TotalSeconds, null);
            }
            progress?.Report((Interlocked.Increment(ref done), pairs.Count));
        });
        double comparePerPair = compareWatch.Elapsed.TotalSeconds / Math.Max(1, pairs.Count);
        return Score(results, comparePerPair, fpSeconds, cache.Count);
    }

    public static BenchReport Score(IReadOnlyList<BenchPairResult> results, double secondsPerPair, double fingerprintSeconds, int models)
    {
        ArgumentNullException.ThrowIfNull(results);
        var scored = results.Where(r => !Unscored.Contains(r.Category)).ToList();
        var positives = scored.Where(r => r.Label).Select(r => r.Score).ToList();
        var negatives = scored.Where(r => !r.Label).Select(r => r.Score).ToList();
        double auc = Auc(positives, negatives);
        // "Correct": related pairs must come back related; unrelated pairs must not (inconclusive counts as not related).
        bool Correct(BenchPairResult r) => r.Label ? r.Related == true : r.Related != true;
        var categories = results.GroupBy(r => r.Category).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new CategoryStats(g.Count(), Math.Round(g.Count(Correct) / (double)g.Count(), 4)));
        int falsePositives = scored.Count(r => !r.Label && r.Related == true);
        return new BenchReport(
            results.Count,
            Math.Round(auc, 6),
            Math.Round(TprAtFpr(positives, negatives, 0.01), 6),
            Math.Round(TprAtFpr(positives, negatives, 0.001), 6),
            Math.Round(scored.Count == 0 ? 0 : scored.Count(Correct) / (double)scored.Count, 6),
            negatives.Count == 0 ? 0 : Math.Round(falsePositives / (double)negatives.Count, 6),
            categories,
            results,
            [.. scored.Where(r => !Correct(r))],
            Math.Round(secondsPerPair, 6),
            Math.Round(fingerprintSeconds, 3),
            models);
    }

    /// <summary>Probability that a random related pair outscores a random unrelated one (ties count half).</summary>
    public static double Auc(IReadOnlyList<double> positives, IReadOnlyList<double> negatives)
    {
        if (positives.Count == 0 || negatives.Count == 0) return double.NaN;
        var all = positives.Select(s => (s, 1)).Concat(negatives.Select(s => (s, 0))).OrderBy(t => t.s).ToList();
        double rankSum = 0;
        int i = 0;
        while (i < all.Count)
        {
            int j = i;
            while (j < all.Count && all[j].s == all[i].s) j++;
            double rank = (i + 1 + j) / 2.0;
            for (int k = i; k < j; k++) if (all[k].Item2 == 1) rankSum += rank;
            i = j;
        }
        double np = positives.Count, nn = negatives.Count;
        return (rankSum - np * (np + 1) / 2) / (np * nn);
    }

    /// <summary>True-positive rate at the strictest score threshold whose false-positive rate stays within <paramref name="fpr"/>.</summary>
    public static double TprAtFpr(IReadOnlyList<double> positives, IReadOnlyList<double> negatives, double fpr)
    {
        if (positives.Count == 0 || negatives.Count == 0) return double.NaN;
        var neg = negatives.OrderByDescending(s => s).ToList();
        int allowed = (int)Math.Floor(fpr * neg.Count);
        // Threshold strictly above the (allowed+1)-th highest negative score.
        double threshold = allowed < neg.Count ? neg[allowed] : double.NegativeInfinity;
        return positives.Count(s => s > threshold) / (double)positives.Count;
    }
}
