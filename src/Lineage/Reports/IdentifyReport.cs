using System.Globalization;
using Lineage.Catalog;
using Lineage.Identify;

namespace Lineage.Reports;

/// <summary>Text and JSON shapes of an identify result.</summary>
public static class IdentifyReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void WriteText(TextWriter w, IdentifyResult r, string? database)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        var f = r.Facts;
        w.WriteLine(string.Create(Inv, $"model: {r.Source}  ({f.ModelType ?? "?"}, d={f.Hidden}, L={f.Layers}, V={f.Vocab}, {f.Format})"));
        var s = r.Statistics;
        w.WriteLine(database is null
            ? "database: none (reference catalog only)"
            : string.Create(Inv, $"database: {database}  ({s.Entries} models; {s.Candidates} candidates by tokenizer/architecture keys, {s.Compared} compared in full; {s.TotalMs:F0} ms)"));
        if (r.Matches.Count > 0)
        {
            w.WriteLine("matches (share a weight lineage with this model):");
            int i = 1;
            foreach (var m in r.Matches)
            {
                w.WriteLine(string.Create(Inv, $"  {i++}. {m.ModelId}{(m.Family is null ? "" : $" [{m.Family}]")}  {m.Verdict.ToUpperInvariant()}  score {m.Score:F3}  p ≈ 1e{m.Log10PValue:F1}{(m.Transformations.Count > 0 ? "  looks like: " + string.Join(", ", m.Transformations) : "")}"));
                if (m.LayerMap is { } map && map.Best.Count > 0)
                    w.WriteLine("       layers: " + string.Join("  ", map.Best.Select(p => string.Create(Inv, $"{p.A}→{p.B} {p.Similarity:F2}"))));
                foreach (var e in m.Evidence) w.WriteLine($"       - {e}");
            }
        }
        else if (database is not null)
        {
            w.WriteLine("no match: no stored model shares a weight lineage with this one.");
        }
        if (r.Closest.Count > 0)
        {
            w.WriteLine("closest, not related:");
            foreach (var m in r.Closest)
            {
                string detail = m.Compared
                    ? string.Create(Inv, $"{m.Verdict}, score {m.Score:F3}")
                    : string.Create(Inv, $"not compared (weight sketch {m.SketchCorrelation:F2})");
                w.WriteLine($"  - {m.ModelId}{(m.Family is null ? "" : $" [{m.Family}]")}: {detail}");
            }
        }
        if (r.Catalog is { } c)
        {
            w.WriteLine("reference catalog (metadata-level evidence, never a lineage verdict):");
            w.WriteLine(c.Families.Count > 0 ? $"  family: {string.Join(", ", c.Families)}" : "  family: no catalog entry matches this model's tokenizer or configuration");
            foreach (var line in c.Lines) w.WriteLine($"  - {line}");
        }
    }

    /// <summary>The JSON document of identify: the brief's fields (matches: model_id, family, score, related) and more.</summary>
    public static object ToJson(IdentifyResult r, string? database)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new
        {
            source = r.Source,
            database,
            facts = r.Facts,
            matches = r.Matches.Select(Match),
            closest_not_related = r.Closest.Select(Match),
            catalog = r.Catalog is null ? null : Catalog(r.Catalog),
            statistics = r.Statistics,
        };
    }

    private static object Match(IdentifyMatch m) => new
    {
        model_id = m.ModelId,
        family = m.Family,
        score = m.Score,
        related = m.Related,
        verdict = m.Verdict,
        log10_p_value = m.Compared ? m.Log10PValue : (double?)null,
        compared = m.Compared,
        sketch_correlation = m.SketchCorrelation,
        transformations = m.Transformations,
        evidence = m.Evidence,
        signals = m.Signals,
        layer_map = m.LayerMap,
        context = m.Context,
    };

    private static object Catalog(CatalogEvidence c) => new
    {
        level = c.Level,
        note = c.Note,
        families = c.Families,
        tokenizers = c.Tokenizers.Select(t => new { id = t.Tokenizer.Id, name = t.Tokenizer.Name, family = t.Tokenizer.Family, relation = t.Relation, jaccard = Math.Round(t.Jaccard, 4), detail = t.Detail, source = t.Tokenizer.Source }),
        architectures = c.Architectures.Select(a => new { model_id = a.Model.Id, family = a.Model.Family, relation = a.Relation, identical = a.Identical, source = a.Model.Source }),
        architecture = c.Architecture,
        lines = c.Lines,
    };
}
