using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Tests.Support;

namespace Lineage.Tests.Provenance;

/// <summary>
/// The provenance targets of the issue, measured on the labelled sets in ../shared/corpus: the ladder's
/// 88 chosen pairs (AUC ≥ 0.99, TPR ≥ 0.95 at 1% FPR, every category ≥ 90%) and the real pairs (all correct).
/// </summary>
public class BenchTargetTests
{
    private static Fingerprint Fingerprint(string path)
    {
        using var m = ModelLoader.Open(path);
        return FingerprintExtractor.Extract(m);
    }

    [Fact]
    public void Ladder_pairs_meet_the_targets()
    {
        var report = Bench.Run(Corpus.Path("ladder/pairs.json"), Fingerprint);
        Assert.DoesNotContain(report.Results, r => r.Error is not null);
        Assert.True(report.Auc >= 0.99, $"AUC {report.Auc}");
        Assert.True(report.TprAtFpr1Pct >= 0.95, $"TPR@1% {report.TprAtFpr1Pct}");
        foreach (var (name, stats) in report.Categories.Where(c => !Bench.Unscored.Contains(c.Key)))
            Assert.True(stats.Accuracy >= 0.9, $"{name}: {stats.Accuracy}");
        // distill-fresh keeps no weight lineage and must come out unrelated.
        Assert.All(report.Results.Where(r => r.Category == "distill-fresh"), r => Assert.Equal("unrelated", r.Verdict));
    }

    [Fact]
    public void Real_pairs_are_all_correct()
    {
        var report = Bench.Run(Corpus.Path("real/pairs.json"), Fingerprint);
        Assert.Empty(report.Misclassified);
        Assert.Equal(1.0, report.Accuracy);
    }
}
