using System.CommandLine;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Lineage.Formats;
using Lineage.Models.Canonical;
using Lineage.Provenance;

namespace Lineage.Cli.Commands;

/// <summary>Development aid: raw signal statistics over a labelled pair set (not part of the public contract).</summary>
internal static class DevSignalsCommand
{
    public static Command Create(CliContext context)
    {
        var pairs = new Argument<string>("pairs");
        var command = new Command("dev-signals") { Hidden = true };
        command.Arguments.Add(pairs);
        command.SetAction(parse => context.Run(() =>
        {
            string path = parse.GetValue(pairs)!;
            var root = JsonNode.Parse(File.ReadAllText(path))!;
            string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            var cache = new Dictionary<string, Fingerprint?>();
            Fingerprint? Fp(string rel)
            {
                if (cache.TryGetValue(rel, out var f)) return f;
                try
                {
                    using var m = ModelLoader.Open(Path.Combine(dir, rel));
                    f = FingerprintExtractor.Extract(m);
                }
                catch (LineageException e)
                {
                    context.Stderr.WriteLine($"skip {rel}: {e.Describe()}");
                    f = null;
                }
                cache[rel] = f;
                return f;
            }
            var inv = CultureInfo.InvariantCulture;
            foreach (var p in root["pairs"]!.AsArray())
            {
                string a = p!["a"]!.GetValue<string>(), b = p["b"]!.GetValue<string>();
                bool related = p["related"]!.GetValue<bool>();
                string cat = p["category"]?.GetValue<string>() ?? "";
                var fa = Fp(a);
                var fb = Fp(b);
                if (fa is null || fb is null) continue;
                var al = AnchorAlignment.Build(fa, fb);
                string emb = "-"; _ = fa.Embedding is not null && fb.Embedding is not null && al.Count > 8 ? "" : "";
                string lm = "-"; _ = fa.LmHead is not null && fb.LmHead is not null && al.Count > 8 ? "" : "";
                var roles = new[] { TensorRole.Query, TensorRole.Key, TensorRole.Value, TensorRole.Gate, TensorRole.Up };
                var parts = new List<string>();
                foreach (var role in roles)
                {
                    var ga = fa.Groups.Where(g => g.Role == role).ToList();
                    var gb = fb.Groups.Where(g => g.Role == role).ToList();
                    if (ga.Count == 0 || gb.Count == 0 || al.Count < 8) continue;
                    var zs = new List<double>();
                    foreach (var x in ga)
                    {
                        var sa = AnchorAlignment.Restrict(x, fa.Anchors.Length, al.IndexA);
                        var bestZ = new double[x.Count];
                        Array.Fill(bestZ, double.NegativeInfinity);
                        foreach (var y in gb)
                        {
                            var sb = AnchorAlignment.Restrict(y, fb.Anchors.Length, al.IndexB);
                            int n = al.Count;
                            var row = new double[y.Count];
                            for (int i = 0; i < x.Count; i++)
                            {
                                for (int j = 0; j < y.Count; j++) row[j] = TensorPrimitives.Dot(sa.AsSpan(i * n, n), sb.AsSpan(j * n, n));
                                var abs = row.Select(Math.Abs).OrderDescending().ToArray();
                                double best = abs[0], second = abs.Length > 1 ? abs[1] : 0;
                                var (med, sig) = Lineage.Numerics.Statistics.RobustLocationScale(row.ToArray().AsSpan());
                                double am = Math.Sqrt(2 * Math.Log(Math.Max(2, y.Count)));
                                double z = am * (best - second) / Math.Max(sig, 1e-4);
                                bestZ[i] = Math.Max(bestZ[i], z);
                            }
                        }
                        zs.AddRange(bestZ);
                    }
                    zs.Sort();
                    parts.Add(string.Create(inv, $"{role.ShortName()}: med={zs[zs.Count / 2]:F1} p90={zs[(int)(zs.Count * 0.9)]:F1} max={zs[^1]:F1} f>8={zs.Count(z => z > 8) / (double)zs.Count:F3} f>12={zs.Count(z => z > 12) / (double)zs.Count:F3}"));
                }
                context.Stdout.WriteLine(string.Create(inv, $"{(related ? "REL" : "ind"),-3} {cat,-14} {a,-20} {b,-20} n={al.Count,4}{(al.ByText ? "t" : "i")} emb={emb} lm={lm} {string.Join(" ", parts)}"));
            }
            return 0;
        }));
        return command;
    }

    private static double GramCorr(Fingerprint fa, Fingerprint fb, AnchorAlignment al, bool lm = false)
    {
        var ga = lm ? fa.LmHead! : fa.Embedding!;
        var gb = lm ? fb.LmHead! : fb.Embedding!;
        int n = al.Count;
        var xa = new List<double>();
        var xb = new List<double>();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (!lm && i == j) continue;
                xa.Add(ga.Signatures[al.IndexA[i] * fa.Anchors.Length + al.IndexA[j]]);
                xb.Add(gb.Signatures[al.IndexB[i] * fb.Anchors.Length + al.IndexB[j]]);
            }
        return Pearson(xa, xb);
    }

    private static double Pearson(List<double> x, List<double> y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy + 1e-30);
    }

    private static void Center(float[] s, int rows, int n)
    {
        var mean = new float[n];
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(mean, s.AsSpan(r * n, n), mean);
        TensorPrimitives.Divide(mean, rows, mean);
        for (int r = 0; r < rows; r++)
        {
            var row = s.AsSpan(r * n, n);
            TensorPrimitives.Subtract(row, mean, row);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        }
    }

    private static (double MeanBest, double MeanZ) MatchStats(RowGroup x, RowGroup y, Fingerprint fa, Fingerprint fb, AnchorAlignment al)
    {
        var sa = AnchorAlignment.Restrict(x, fa.Anchors.Length, al.IndexA);
        var sb = AnchorAlignment.Restrict(y, fb.Anchors.Length, al.IndexB);
        int n = al.Count;
        if (Environment.GetEnvironmentVariable("DEV_CENTER") == "1")
        {
            Center(sa, x.Count, n);
            Center(sb, y.Count, n);
        }
        double sumBest = 0, sumZ = 0;
        var row = new float[y.Count];
        for (int i = 0; i < x.Count; i++)
        {
            var ri = sa.AsSpan(i * n, n);
            for (int j = 0; j < y.Count; j++) row[j] = Math.Abs(TensorPrimitives.Dot(ri, sb.AsSpan(j * n, n)));
            float best = TensorPrimitives.Max(row);
            var sorted = row.Order().ToArray();
            double med = sorted[sorted.Length / 2];
            double mad = sorted.Select(v => Math.Abs(v - med)).Order().ElementAt(sorted.Length / 2) * 1.4826 + 1e-6;
            sumBest += best;
            sumZ += (best - med) / mad;
        }
        return (sumBest / x.Count, sumZ / x.Count);
    }
}
