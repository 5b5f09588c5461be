using System.Globalization;
using Lineage.Provenance;

namespace Lineage.Reports;

/// <summary>One-screen text rendering of a comparison and of a bench run.</summary>
public static class CompareReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void WriteText(TextWriter w, ComparisonResult r)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        w.WriteLine($"A: {r.A}");
        w.WriteLine($"B: {r.B}");
        w.WriteLine(string.Create(Inv, $"verdict: {r.Verdict.ToUpperInvariant()}  (related: {(r.Related is null ? "inconclusive" : r.Related.Value ? "yes" : "no")}, score {r.Score:F3}, p ≈ 1e{r.Log10PValue:F1})"));
        if (r.Transformations.Count > 0) w.WriteLine($"looks like: {string.Join(", ", r.Transformations)}");
        w.WriteLine("signals:");
        foreach (var s in r.Signals)
        {
            int bar = (int)Math.Round(Math.Clamp(s.Value, 0, 1) * 20);
            string p = s.PValue is double pv ? string.Create(Inv, $"  p={pv:0.##e0}") : "";
            w.WriteLine(string.Create(Inv, $"  {s.Name,-16} {s.Value,8:F4}  [{new string('#', bar),-20}]{p}"));
        }
        if (r.LayerMap is { } map && map.Best.Count > 0)
        {
            w.WriteLine("layer map (A → best B, fraction of rows matched):");
            w.WriteLine("  " + string.Join("  ", map.Best.Select(p => string.Create(Inv, $"{p.A}→{p.B} {p.Similarity:F2}"))));
        }
        w.WriteLine($"context: {r.Context.ArchitectureRelation}; tokenizer {r.Context.TokenizerRelation}; {r.Context.SharedAnchors} shared anchors by {r.Context.AnchorAlignment}");
        if (r.Context.ConfigDifferences.Count > 0) w.WriteLine($"  config differences: {string.Join("; ", r.Context.ConfigDifferences)}");
        w.WriteLine("evidence:");
        foreach (var e in r.Evidence) w.WriteLine($"  - {e}");
    }

    public static void WriteBench(TextWriter w, BenchReport b)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(b);
        w.WriteLine(string.Create(Inv, $"pairs: {b.Pairs} over {b.Models} models (fingerprints {b.FingerprintSeconds:F1} s; compare {b.SecondsPerPair * 1000:F1} ms/pair)"));
        w.WriteLine(string.Create(Inv, $"AUC {b.Auc:F4}   TPR@1%FPR {b.TprAtFpr1Pct:F4}   TPR@0.1%FPR {b.TprAtFpr01Pct:F4}   accuracy {b.Accuracy:F4}   FPR at the decision threshold {b.FalsePositiveRate:F4}"));
        w.WriteLine("categories:");
        foreach (var (name, c) in b.Categories)
            w.WriteLine(string.Create(Inv, $"  {name,-16} n={c.N,5}  accuracy {c.Accuracy:P1}{(Bench.Unscored.Contains(name) ? "  (reported, not scored)" : "")}"));
        if (b.Misclassified.Count > 0)
        {
            w.WriteLine($"misclassified ({b.Misclassified.Count}):");
            foreach (var m in b.Misclassified.Take(50))
                w.WriteLine(string.Create(Inv, $"  {(m.Label ? "related  " : "unrelated")} {m.Category,-14} {m.A} vs {m.B}: {m.Verdict} (score {m.Score:F3}){(m.Error is null ? "" : " " + m.Error)}"));
        }
    }
}
