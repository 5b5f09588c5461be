using System.Globalization;
using System.Text;

namespace Lineage.Provenance;

public sealed record GraphNode(string Id, string Source, string? DType, int Layers, int Vocab, int? Intermediate, int? Experts);

/// <summary>
/// One edge of the lineage forest. <see cref="Directed"/> edges point from parent to child, with the
/// reason in <see cref="DirectionEvidence"/>; undirected edges are relations whose direction the weights
/// cannot tell (a fine-tune and its base look alike from either side).
/// </summary>
public sealed record GraphEdge(string From, string To, bool Directed, double Score, double Closeness, string Verdict, IReadOnlyList<string> Transformations, string DirectionEvidence);

public sealed record LineageForest(IReadOnlyList<GraphNode> Nodes, IReadOnlyList<GraphEdge> Edges, IReadOnlyList<IReadOnlyList<string>> Families, int PairsCompared, int RelatedPairs);

/// <summary>
/// Builds the lineage forest of a collection: compare every pair, keep the related ones, and join each
/// family by its maximum spanning tree under "closeness" (the fraction of rows or values the two models
/// share), so that a model hangs off the relative it is nearest to rather than off every relative. Edge
/// direction comes only from evidence that has one: precision lost in a cast or quantization, a vocabulary
/// that extends another, layers or MLP width removed, experts added, norm gains folded away.
/// </summary>
public static class LineageGraph
{
    public static LineageForest Build(IReadOnlyList<(string Id, Fingerprint Fingerprint)> models, CompareOptions? options = null, IProgress<(int Done, int Total)>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        int n = models.Count;
        var pairs = new List<(int I, int J)>();
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) pairs.Add((i, j));
        var results = new ComparisonResult[pairs.Count];
        int done = 0;
        ParallelWork.For(pairs.Count, k =>
        {
            var (i, j) = pairs[k];
            results[k] = ProvenanceComparer.Compare(models[i].Fingerprint, models[j].Fingerprint, options);
            progress?.Report((Interlocked.Increment(ref done), pairs.Count));
        });

        var related = new List<(int I, int J, ComparisonResult R, double Closeness)>();
        for (int k = 0; k < pairs.Count; k++)
            if (results[k].Related == true) related.Add((pairs[k].I, pairs[k].J, results[k], Closeness(results[k])));

        // Kruskal: strongest relations first; an edge joins two families or is redundant.
        var parent = Enumerable.Range(0, n).ToArray();
        int Find(int x)
        {
            while (parent[x] != x) x = parent[x] = parent[parent[x]];
            return x;
        }
        var edges = new List<GraphEdge>();
        foreach (var (i, j, r, closeness) in related.OrderByDescending(e => e.Closeness).ThenByDescending(e => e.R.Score))
        {
            int a = Find(i), b = Find(j);
            if (a == b) continue;
            parent[a] = b;
            var (from, to, directed, why) = Direct(models[i], models[j]);
            edges.Add(new GraphEdge(from, to, directed, r.Score, Math.Round(closeness, 4), r.Verdict, r.Transformations, why));
        }
        var families = Enumerable.Range(0, n).GroupBy(Find).Select(g => (IReadOnlyList<string>)[.. g.Select(i => models[i].Id)])
            .OrderByDescending(g => g.Count).ThenBy(g => g[0], StringComparer.Ordinal).ToList();
        var nodes = models.Select(m => new GraphNode(m.Id, m.Fingerprint.Source, m.Fingerprint.Facts.DType, m.Fingerprint.Facts.Layers,
            m.Fingerprint.Facts.Vocab, m.Fingerprint.Facts.Intermediate, m.Fingerprint.Facts.Experts)).ToList();
        return new LineageForest(nodes, edges, families, pairs.Count, related.Count);
    }

    private static double Closeness(ComparisonResult r)
    {
        var direct = r.Signals.FirstOrDefault(s => s.Name == "direct-values");
        var rows = r.Signals.FirstOrDefault(s => s.Name == "matched-rows");
        double value = 0;
        if (direct is { PValue: < 1e-6 }) value = Math.Max(value, direct.Value);
        if (rows is { PValue: < 1e-6 }) value = Math.Max(value, rows.Value);
        return value;
    }

    private static (string From, string To, bool Directed, string Why) Direct((string Id, Fingerprint Fingerprint) x, (string Id, Fingerprint Fingerprint) y)
    {
        var a = x.Fingerprint.Facts;
        var b = y.Fingerprint.Facts;
        (string, string, bool, string) ParentIs(bool xIsParent, string why) => xIsParent ? (x.Id, y.Id, true, why) : (y.Id, x.Id, true, why);
        if (a.Layers != b.Layers && a.Layers > 0 && b.Layers > 0) return ParentIs(a.Layers > b.Layers, "layers removed from the parent");
        if ((a.Experts ?? 0) != (b.Experts ?? 0)) return ParentIs((a.Experts ?? 0) < (b.Experts ?? 0), "MLP upcycled into experts");
        if (a.Intermediate is int ia && b.Intermediate is int ib && ia != ib) return ParentIs(ia > ib, "MLP width pruned");
        if (a.Vocab != b.Vocab && a.Vocab > 0 && b.Vocab > 0) return ParentIs(a.Vocab < b.Vocab, "vocabulary extended");
        if (a.BitsPerWeight > 0 && b.BitsPerWeight > 0 && Math.Abs(a.BitsPerWeight - b.BitsPerWeight) > 0.5)
            return ParentIs(a.BitsPerWeight > b.BitsPerWeight, "precision reduced (cast or quantization)");
        bool foldedA = ProvenanceComparer.GainsFolded(x.Fingerprint), foldedB = ProvenanceComparer.GainsFolded(y.Fingerprint);
        if (foldedA != foldedB) return ParentIs(!foldedA, "norm gains folded into the weights");
        string first = string.CompareOrdinal(x.Id, y.Id) <= 0 ? x.Id : y.Id, second = first == x.Id ? y.Id : x.Id;
        return (first, second, false, "direction not identifiable from the weights");
    }

    public static string ToDot(LineageForest forest)
    {
        ArgumentNullException.ThrowIfNull(forest);
        var sb = new StringBuilder();
        sb.AppendLine("digraph lineage {");
        sb.AppendLine("  rankdir=LR;");
        sb.AppendLine("  node [shape=box, fontname=\"Helvetica\"];");
        foreach (var node in forest.Nodes)
            sb.AppendLine(CultureInfo.InvariantCulture, $"  \"{Escape(node.Id)}\" [label=\"{Escape(node.Id)}\\n{Escape(node.DType ?? "?")}, {node.Layers} layers\"];");
        foreach (var e in forest.Edges)
        {
            string label = e.Transformations.Count > 0 ? string.Join(", ", e.Transformations) : e.Verdict;
            sb.AppendLine(CultureInfo.InvariantCulture, $"  \"{Escape(e.From)}\" -> \"{Escape(e.To)}\" [label=\"{Escape(label)}\"{(e.Directed ? "" : ", dir=none, style=dashed")}];");
        }
        sb.AppendLine("}");
        return sb.ToString();
    }

    public static void WriteText(TextWriter w, LineageForest forest)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(forest);
        w.WriteLine($"{forest.Nodes.Count} models, {forest.PairsCompared} pairs compared, {forest.RelatedPairs} related; {forest.Families.Count} families");
        int index = 1;
        foreach (var family in forest.Families)
        {
            w.WriteLine($"family {index++}: {string.Join(", ", family)}");
            foreach (var e in forest.Edges.Where(e => family.Contains(e.From)))
                w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {e.From} {(e.Directed ? "->" : "--")} {e.To}  ({(e.Transformations.Count > 0 ? string.Join(", ", e.Transformations) : e.Verdict)}; closeness {e.Closeness:F2}; {e.DirectionEvidence})"));
        }
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
