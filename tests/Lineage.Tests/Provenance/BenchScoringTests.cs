using Lineage.Numerics;
using Lineage.Provenance;

namespace Lineage.Tests.Provenance;

public class BenchScoringTests
{
    [Fact]
    public void Auc_counts_ties_as_half()
    {
        Assert.Equal(1.0, Bench.Auc([0.9, 0.8], [0.1, 0.2]));
        Assert.Equal(0.0, Bench.Auc([0.1], [0.9]));
        Assert.Equal(0.5, Bench.Auc([0.5], [0.5]));
        Assert.Equal(0.75, Bench.Auc([0.6, 0.3], [0.4, 0.2]), 9);
    }

    [Fact]
    public void Tpr_at_fpr_uses_the_strictest_threshold_within_budget()
    {
        var negatives = Enumerable.Range(0, 100).Select(i => i / 100.0).ToList(); // top negative 0.99
        var positives = new List<double> { 0.995, 0.985, 0.5 };
        // 1% of 100 negatives = 1 allowed false positive: threshold above the second-highest negative (0.98).
        Assert.Equal(2.0 / 3, Bench.TprAtFpr(positives, negatives, 0.01), 9);
        Assert.Equal(1.0 / 3, Bench.TprAtFpr(positives, negatives, 0.001), 9);
    }

    [Fact]
    public void Hungarian_finds_the_minimum_cost_assignment()
    {
        double[] cost = [4, 1, 3, 2, 0, 5, 3, 2, 2];
        var a = Hungarian.Solve(cost, 3, 3);
        Assert.Equal(5.0, a.Select((c, r) => cost[r * 3 + c]).Sum());
        var rng = new Random(3);
        for (int trial = 0; trial < 20; trial++)
        {
            int n = 5;
            var c = Enumerable.Range(0, n * n).Select(_ => rng.NextDouble()).ToArray();
            var best = Permutations(n).Min(p => p.Select((col, row) => c[row * n + col]).Sum());
            var found = Hungarian.Solve(c, n, n).Select((col, row) => c[row * n + col]).Sum();
            Assert.Equal(best, found, 9);
        }
    }

    [Fact]
    public void Symmetric_eigen_reconstructs_the_matrix()
    {
        var rng = new Random(5);
        int n = 12;
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                a[i * n + j] = a[j * n + i] = rng.NextDouble() - 0.5;
        var (values, vectors) = SymmetricEigen.Decompose(a, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
                Assert.Equal(a[i * n + j], s, 9);
            }
        Assert.True(values.Zip(values.Skip(1)).All(p => p.First <= p.Second));
    }

    [Fact]
    public void Binomial_tail_matches_exact_small_cases()
    {
        // P(X >= 1) for Bin(2, 0.5) = 0.75.
        Assert.Equal(Math.Log10(0.75), Statistics.Log10BinomialUpperTail(1, 2, 0.5), 9);
        Assert.Equal(Math.Log10(0.25), Statistics.Log10BinomialUpperTail(2, 2, 0.5), 9);
        Assert.True(Statistics.Log10BinomialUpperTail(1000, 1000, 1e-3) < -2000);
        Assert.Equal(1.959964, Statistics.NormalQuantile(0.975), 5);
    }

    private static IEnumerable<int[]> Permutations(int n)
    {
        if (n == 1) { yield return [0]; yield break; }
        foreach (var p in Permutations(n - 1))
            for (int i = 0; i < n; i++)
            {
                var list = p.ToList();
                list.Insert(i, n - 1);
                yield return [.. list];
            }
    }
}

public class RobustStatisticsTests
{
    [Fact]
    public void Selection_based_mad_equals_the_sorting_one()
    {
        var rng = new Random(9);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(1, 300);
            var values = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1 + (rng.Next(10) == 0 ? 5 : 0)).ToArray();
            var (_, expected) = Lineage.Numerics.Statistics.RobustLocationScale(((double[])values.Clone()).AsSpan());
            Assert.Equal(expected, Lineage.Numerics.Statistics.MadSigma(((double[])values.Clone()).AsSpan()), 12);
        }
    }
}
