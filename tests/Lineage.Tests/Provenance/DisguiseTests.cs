using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Tests.Support;

namespace Lineage.Tests.Provenance;

/// <summary>
/// Function-preserving disguises applied in test code to a real trained ladder model: the verdict must stay
/// "related", and the disguised copy must stay unrelated to an independently trained model.
/// </summary>
public class DisguiseTests
{
    private static Fingerprint Fingerprint(string path)
    {
        using var m = ModelLoader.Open(path);
        return FingerprintExtractor.Extract(m);
    }

    public static TheoryData<string> Disguises => ["permute", "rotate", "scale", "combo"];

    [Theory]
    [MemberData(nameof(Disguises))]
    public void Disguised_copy_is_derived_and_unrelated_models_stay_unrelated(string disguise)
    {
        string source = Corpus.Path("ladder/A");
        var t = WeightTransforms.Load(source);
        _ = disguise switch
        {
            "permute" => t.PermuteResidual(7).PermuteNeuronsAndHeads(11),
            "rotate" => t.RotateWithFoldedGains(13),
            "scale" => t.RescalePerLayer(17),
            _ => t.PermuteResidual(19).PermuteNeuronsAndHeads(23).RotateWithFoldedGains(29).RescalePerLayer(31),
        };
        using var dir = new TempDir();
        t.Save(dir.Path, File.ReadAllText(Path.Combine(source, "config.json")));

        var original = Fingerprint(source);
        var disguised = Fingerprint(dir.Path);
        var related = ProvenanceComparer.Compare(original, disguised);
        Assert.True(related.Related, string.Join("\n", related.Evidence));
        Assert.Equal("derived", related.Verdict);
        Assert.True(related.Score > 0.5);

        foreach (var independent in new[] { "ladder/A-data2", "ladder/F-tok2", "ladder/A-sharedinit" })
        {
            var other = Fingerprint(Corpus.Path(independent));
            var result = ProvenanceComparer.Compare(disguised, other);
            Assert.False(result.Related == true, $"{disguise} vs {independent}: {string.Join("\n", result.Evidence)}");
            Assert.True(result.Score < 0.5);
        }
    }

    [Fact]
    public void Disguise_is_function_preserving_on_the_embedding_gram()
    {
        // Sanity check of the test transform itself: rotation keeps E·Eᵀ.
        var q = WeightTransforms.RandomOrthogonal(8, 1);
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++)
            {
                double dot = 0;
                for (int k = 0; k < 8; k++) dot += q[k * 8 + i] * q[k * 8 + j];
                Assert.Equal(i == j ? 1.0 : 0.0, dot, 9);
            }
    }

    [Fact]
    public void Unrelated_pairs_of_the_same_recipe_are_unrelated()
    {
        var a = Fingerprint(Corpus.Path("ladder/A"));
        foreach (var other in new[] { "ladder/A-data2", "ladder/A-sharedinit" })
        {
            var r = ProvenanceComparer.Compare(a, Fingerprint(Corpus.Path(other)));
            Assert.False(r.Related == true, other + ": " + string.Join("\n", r.Evidence));
        }
        var d = ProvenanceComparer.Compare(Fingerprint(Corpus.Path("ladder/D")), Fingerprint(Corpus.Path("ladder/D-seed2")));
        Assert.Equal(false, d.Related);
    }

    [Fact]
    public void Shared_initialization_is_called_out_in_the_evidence()
    {
        var r = ProvenanceComparer.Compare(Fingerprint(Corpus.Path("ladder/C-rotate")), Fingerprint(Corpus.Path("ladder/C-sharedinit")));
        Assert.NotEqual(true, r.Related);
        Assert.Contains(r.Signals, s => s.Name == "shared-initialization");
    }
}
