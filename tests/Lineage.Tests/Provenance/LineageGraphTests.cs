using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Tests.Support;

namespace Lineage.Tests.Provenance;

public class LineageGraphTests
{
    private static (string, Fingerprint) Load(string name)
    {
        using var m = ModelLoader.Open(Corpus.Path("ladder/" + name));
        return (name, FingerprintExtractor.Extract(m));
    }

    [Fact]
    public void Families_separate_lineages_and_edges_point_from_parent_to_child_where_evidence_allows()
    {
        var models = new[] { "A", "A-quant-q8.gguf", "A-prune-depth", "A-upcycle", "A-seed2", "D", "D-cpt" }.Select(Load).ToList();
        var forest = LineageGraph.Build(models);
        var family = forest.Families.Single(f => f.Contains("A"));
        Assert.Equal(["A", "A-prune-depth", "A-quant-q8.gguf", "A-upcycle"], family.Order(StringComparer.Ordinal));
        Assert.Contains(forest.Families, f => f.SequenceEqual(["A-seed2"]));
        Assert.Contains(forest.Families, f => f.Order(StringComparer.Ordinal).SequenceEqual(["D", "D-cpt"]));
        Assert.Contains(forest.Edges, e => e is { From: "A", To: "A-quant-q8.gguf", Directed: true });
        Assert.Contains(forest.Edges, e => e.Directed && e.To == "A-prune-depth");
        Assert.Contains(forest.Edges, e => e.Directed && e.To == "A-upcycle");
        var dot = LineageGraph.ToDot(forest);
        Assert.StartsWith("digraph lineage {", dot, StringComparison.Ordinal);
        Assert.Contains("\"A\" -> \"A-quant-q8.gguf\"", dot, StringComparison.Ordinal);
    }
}
