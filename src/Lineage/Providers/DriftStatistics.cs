using Lineage.Numerics;

namespace Lineage.Providers;

/// <summary>The tests <see cref="ProviderDiff"/> uses, in double precision.</summary>
internal static class DriftStatistics
{
    /// <summary>Result of a rank-sum test: z, two-sided p, and P(current &gt; baseline) for a random same-prompt pair.</summary>
    internal readonly record struct RankSum(double Z, double PValue, double ProbabilityOfSuperiority, double U, double Pairs, int Strata)
    {
        /// <summary>Rank-biserial correlation 2·PS − 1 in [−1, 1]: +1 when every current value exceeds every baseline value.</summary>
        public double RankBiserial => 2 * ProbabilityOfSuperiority - 1;
    }

    /// <summary>
    /// Mann–Whitney U stratified by prompt (van Elteren's test): within each stratum the current values are
    /// ranked against the baseline values (mid-ranks for ties), the rank sums are combined with weights 1/(N+1)
    /// and referred to the normal distribution (tie-corrected variance). Stratifying keeps prompts with long
    /// answers from masking or faking a shift, and needs only one value per side per prompt.
    /// </summary>
    public static RankSum StratifiedMannWhitney(IEnumerable<(IReadOnlyList<double> Baseline, IReadOnlyList<double> Current)> strata)
    {
        double numerator = 0, variance = 0, u = 0, pairs = 0;
        int used = 0;
        foreach (var (a, b) in strata)
        {
            int na = a.Count, nb = b.Count;
            if (na == 0 || nb == 0) continue;
            int n = na + nb;
            var values = new (double Value, bool Current)[n];
            for (int i = 0; i < na; i++) values[i] = (a[i], false);
            for (int i = 0; i < nb; i++) values[na + i] = (b[i], true);
            Array.Sort(values, (x, y) => x.Value.CompareTo(y.Value));
            double rankSum = 0, tieTerm = 0;
            for (int i = 0; i < n;)
            {
                int j = i;
                while (j + 1 < n && values[j + 1].Value == values[i].Value) j++;
                double midRank = (i + j) / 2.0 + 1;
                int t = j - i + 1;
                tieTerm += (double)t * t * t - t;
                for (int k = i; k <= j; k++)
                {
                    if (values[k].Current) rankSum += midRank;
                }
                i = j + 1;
            }
            double expected = nb * (n + 1) / 2.0;
            double v = n > 1 ? na * (double)nb / 12.0 * (n + 1 - tieTerm / (n * (n - 1.0))) : 0;
            double w = 1.0 / (n + 1);
            numerator += w * (rankSum - expected);
            variance += w * w * v;
            u += rankSum - nb * (nb + 1) / 2.0;
            pairs += na * (double)nb;
            used++;
        }
        if (variance <= 1e-300) return new RankSum(0, 1, pairs > 0 ? u / pairs : 0.5, u, pairs, used);
        double z = numerator / Math.Sqrt(variance);
        return new RankSum(z, Math.Min(1, 2 * Statistics.NormalUpperTail(Math.Abs(z))), u / pairs, u, pairs, used);
    }

    /// <summary>
    /// Fisher's exact test, two-sided, for the 2×2 table [[a, b], [c, d]] (rows baseline/current, columns
    /// event/no event): the sum of the hypergeometric probabilities of all tables with the same margins that
    /// are no more likely than the observed one.
    /// </summary>
    public static double FisherExact(int a, int b, int c, int d)
    {
        if (a < 0 || b < 0 || c < 0 || d < 0) throw new ArgumentOutOfRangeException(nameof(a), "counts must be non-negative");
        int n = a + b + c + d;
        if (n == 0) return 1;
        int row1 = a + b, col1 = a + c;
        var logFactorial = LogFactorials(n);
        double Log(int x) => logFactorial[row1] + logFactorial[n - row1] + logFactorial[col1] + logFactorial[n - col1] - logFactorial[n]
            - logFactorial[x] - logFactorial[row1 - x] - logFactorial[col1 - x] - logFactorial[n - row1 - col1 + x];
        int lo = Math.Max(0, col1 - (n - row1)), hi = Math.Min(row1, col1);
        double observed = Log(a);
        double p = 0;
        for (int x = lo; x <= hi; x++)
        {
            double l = Log(x);
            if (l <= observed + 1e-7 * Math.Max(1, Math.Abs(observed))) p += Math.Exp(l);
        }
        return Math.Clamp(p, 0, 1);
    }

    private static double[] LogFactorials(int n)
    {
        var table = new double[n + 1];
        for (int i = 2; i <= n; i++) table[i] = table[i - 1] + Math.Log(i);
        return table;
    }

    /// <summary>Holm–Bonferroni adjusted p-values (step-down; rejecting adjusted p ≤ α keeps the family-wise error ≤ α).</summary>
    public static double[] Holm(IReadOnlyList<double> pValues)
    {
        int m = pValues.Count;
        var order = Enumerable.Range(0, m).OrderBy(i => pValues[i]).ThenBy(i => i).ToArray();
        var adjusted = new double[m];
        double running = 0;
        for (int rank = 0; rank < m; rank++)
        {
            int i = order[rank];
            running = Math.Max(running, Math.Min(1, (m - rank) * pValues[i]));
            adjusted[i] = running;
        }
        return adjusted;
    }

    /// <summary>Result of the answer-content permutation test.</summary>
    internal readonly record struct ContentTest(double Statistic, double PValue, double Effect, int Strata, int Permutations);

    /// <summary>
    /// Did the answers move further than the baseline's own run-to-run variation? Per prompt, with d = 1 −
    /// similarity, the statistic is an energy distance: mean cross distance − ½(mean within-baseline + mean
    /// within-current distance) (a side with one answer borrows the other side's within mean). The sum over
    /// prompts is referred to its permutation distribution, labels shuffled within each prompt (exchangeable
    /// when nothing changed); p = (1 + #{T* ≥ T}) / (1 + B). The effect is the mean drop in similarity,
    /// within-baseline − cross, over prompts with at least two baseline answers.
    /// </summary>
    public static ContentTest ContentPermutation(IEnumerable<(IReadOnlyList<string> Baseline, IReadOnlyList<string> Current)> strata, int permutations, int seed)
    {
        var prepared = new List<(double[] Distance, int N, int NA)>();
        double effectSum = 0;
        int effectCount = 0;
        foreach (var (a, b) in strata)
        {
            int na = a.Count, nb = b.Count, n = na + nb;
            if (na == 0 || nb == 0 || n < 3) continue;
            var grams = a.Concat(b).Select(TextSimilarity.Features).ToArray();
            var distance = new double[n * n];
            for (int i = 0; i < n; i++)
            {
                for (int j = i + 1; j < n; j++)
                {
                    double d = 1 - TextSimilarity.Similarity(grams[i], grams[j]);
                    distance[i * n + j] = distance[j * n + i] = d;
                }
            }
            prepared.Add((distance, n, na));
            if (na >= 2)
            {
                double within = 0, cross = 0;
                for (int i = 0; i < na; i++)
                {
                    for (int j = i + 1; j < na; j++) within += distance[i * n + j];
                    for (int j = na; j < n; j++) cross += distance[i * n + j];
                }
                effectSum += cross / (na * (double)nb) - within / (na * (na - 1) / 2.0);
                effectCount++;
            }
        }
        if (prepared.Count == 0 || effectCount == 0) return new ContentTest(0, 1, 0, 0, 0);

        var labels = prepared.Select(s => Enumerable.Range(0, s.N).Select(i => i < s.NA).ToArray()).ToArray();
        double observed = 0;
        for (int s = 0; s < prepared.Count; s++) observed += Energy(prepared[s], labels[s]);
        var random = new Random(seed);
        int atLeast = 0;
        for (int p = 0; p < permutations; p++)
        {
            double total = 0;
            for (int s = 0; s < prepared.Count; s++)
            {
                Shuffle(labels[s], random);
                total += Energy(prepared[s], labels[s]);
            }
            if (total >= observed - 1e-12) atLeast++;
        }
        return new ContentTest(observed / prepared.Count, (1.0 + atLeast) / (1.0 + permutations), effectSum / effectCount, prepared.Count, permutations);
    }

    private static double Energy((double[] Distance, int N, int NA) s, bool[] inA)
    {
        double cross = 0, withinA = 0, withinB = 0;
        int n = s.N;
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                double d = s.Distance[i * n + j];
                if (inA[i] != inA[j]) cross += d;
                else if (inA[i]) withinA += d;
                else withinB += d;
            }
        }
        int na = s.NA, nb = n - na;
        double meanCross = cross / (na * (double)nb);
        double? meanA = na >= 2 ? withinA / (na * (na - 1) / 2.0) : null;
        double? meanB = nb >= 2 ? withinB / (nb * (nb - 1) / 2.0) : null;
        double within = 0.5 * ((meanA ?? meanB ?? 0) + (meanB ?? meanA ?? 0));
        return meanCross - within;
    }

    private static void Shuffle(bool[] labels, Random random)
    {
        for (int i = labels.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (labels[i], labels[j]) = (labels[j], labels[i]);
        }
    }

    /// <summary>The q-quantile (linear interpolation) of the values; NaN when there are none.</summary>
    public static double Quantile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        double position = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(position);
        int hi = Math.Min(sorted.Length - 1, lo + 1);
        return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
    }
}
