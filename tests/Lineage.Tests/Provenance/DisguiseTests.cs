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

    public static TheoryData<string> Disguises => ["permute", "rotate", "scale", "head-mix", "combo", "combo-head-mix"];

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
            "head-mix" => t.MixWithinHeads(37),
            "combo-head-mix" => t.PermuteResidual(41).PermuteNeuronsAndHeads(43).MixWithinHeads(47).RotateWithFoldedGains(53).RescalePerLayer(59),
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
        if (disguise == "head-mix")
            Assert.Contains(related.Transformations, t => t.StartsWith("partly re-parametrised", StringComparison.Ordinal));

        foreach (var independent in new[] { "ladder/A-data2", "ladder/F-tok2", "ladder/A-sharedinit" })
        {
            var other = Fingerprint(Corpus.Path(independent));
            var result = ProvenanceComparer.Compare(disguised, other);
            Assert.False(result.Related == true, $"{disguise} vs {independent}: {string.Join("\n", result.Evidence)}");
            Assert.True(result.Score < 0.5);
        }
    }

    [Fact]
    public void Mixing_within_heads_keeps_attention_scores_and_head_outputs()
    {
        // Sanity check of the test transform itself: for every query head h reading key/value head g,
        // xᵀ·Q_hᵀ·K_g·y (the score before RoPE, which commutes with the pair rotations) and O_h·V_g·y are unchanged.
        string source = Corpus.Path("ladder/A");
        var t = WeightTransforms.Load(source);
        string[] names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight"];
        var before = names.Select(t.Values).ToArray();
        t.MixWithinHeads(5);
        var after = names.Select(t.Values).ToArray();
        int d = t.Hidden, hd = t.HeadDim;
        int heads = before[0].Length / d / hd, groups = before[1].Length / d / hd;
        var rng = new Random(3);
        var x = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var y = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double Dot(float[] w, int row, double[] v) { double s = 0; for (int c = 0; c < d; c++) s += w[row * d + c] * v[c]; return s; }
        for (int h = 0; h < heads; h++)
        {
            int g = h / (heads / groups);
            double Score(float[][] m) => Enumerable.Range(0, hd).Sum(r => Dot(m[0], h * hd + r, x) * Dot(m[1], g * hd + r, y));
            double[] HeadOutput(float[][] m)
            {
                var vy = Enumerable.Range(0, hd).Select(r => Dot(m[2], g * hd + r, y)).ToArray();
                return Enumerable.Range(0, d).Select(o => Enumerable.Range(0, hd).Sum(r => m[3][o * (heads * hd) + h * hd + r] * vy[r])).ToArray();
            }
            double s0 = Score(before), s1 = Score(after);
            Assert.True(Math.Abs(s0 - s1) <= 1e-4 * (1 + Math.Abs(s0)), $"head {h}: score {s0} → {s1}");
            var o0 = HeadOutput(before);
            var o1 = HeadOutput(after);
            double scale = 1 + o0.Max(Math.Abs);
            Assert.All(Enumerable.Range(0, d), i => Assert.True(Math.Abs(o0[i] - o1[i]) <= 1e-4 * scale, $"head {h} output {i}: {o0[i]} → {o1[i]}"));
        }
        Assert.NotEqual(before[2], after[2]); // and the weights themselves did change
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
