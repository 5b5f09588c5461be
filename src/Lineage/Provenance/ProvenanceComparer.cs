using System.Globalization;
using System.Numerics.Tensors;
using Lineage.Models.Canonical;
using Lineage.Numerics;

namespace Lineage.Provenance;

/// <summary>Decision settings for <see cref="ProvenanceComparer"/>.</summary>
public sealed record CompareOptions
{
    /// <summary>Per-row probability that an unrelated row clears the match threshold (sets the threshold).</summary>
    public double RowAlpha { get; init; } = 1e-3;

    /// <summary>Combined p-value below which the models are declared related (the stated false-positive rate).</summary>
    public double DecisionPValue { get; init; } = 1e-6;

    /// <summary>
    /// Least energy a matched row must share for a derivation (median |cos| of matched rows, or median
    /// index-to-index r): √0.5, i.e. at least half of each row is common. Models trained from one random
    /// initialization on different data share only the initialization's remnant (|cos| ≈ 0.4 here) and
    /// are reported as such, not as derived.
    /// </summary>
    public double MinimumSharedCosine { get; init; } = 0.7071;

    /// <summary>In deep models, how many layers either side of A's relative depth are searched in B.</summary>
    public int LayerWindow { get; init; } = 3;

    /// <summary>Rows of each A group compared (evenly spaced); B's groups are always searched whole.</summary>
    public int MaxRowsPerGroup { get; init; } = 96;

    /// <summary>Fewest comparable rows (or tensors) for an "unrelated" verdict; below it the answer is inconclusive.</summary>
    public int MinimumRows { get; init; } = 48;
}

/// <summary>
/// Decides whether two fingerprints share a weight lineage.
///
/// Primary signal, "matched-rows": every sampled row of a residual-reading matrix (q, k, v, gate, up,
/// router) is compared, as a whitened token-space signature, with every same-role row of the other model.
/// A row counts as matched when its best cosine clears a threshold set from a null measured on this very
/// pair: cosines between rows of different roles (which never correspond, even in related models) give the
/// pair's own chance level, and the threshold is its (1-α)^(1/m) quantile for m candidates, so an unrelated
/// row clears it with probability ≈ α. The count of matched rows is then tested against Binomial(N, α).
/// This survives permutations, rotations with folded gains, rescaling, quantization, fine-tuning, pruning
/// and upcycling, because none of them changes a row's signature beyond noise.
///
/// Secondary signal, "direct-values": index-to-index correlation of values at fixed canonical positions
/// (also under the transposed-store hypothesis), for casts, quantizations and layout-preserving derivations,
/// and for files without a vocabulary (adapters). The two p-values are combined with Bonferroni's bound.
/// Architecture and tokenizer equality are reported as context and never enter the decision.
/// </summary>
public static class ProvenanceComparer
{
    private static readonly TensorRole[] Roles = [TensorRole.Query, TensorRole.Key, TensorRole.Value, TensorRole.Gate, TensorRole.Up, TensorRole.Router];

    public static ComparisonResult Compare(Fingerprint a, Fingerprint b, CompareOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        options ??= new CompareOptions();
        var inv = CultureInfo.InvariantCulture;
        var evidence = new List<string>();
        var signals = new List<Signal>();
        var transformations = new List<string>();
        var alignment = AnchorAlignment.Build(a, b);
        var context = BuildContext(a, b, alignment);

        // Token-space context signals (semantics leak into them, so they carry no p-value).
        if (a.Embedding is not null && b.Embedding is not null && alignment.Count >= 16)
            signals.Add(new Signal("embedding-gram", GramCorrelation(a.Embedding, b.Embedding, a, b, alignment, skipDiagonal: true), null,
                "correlation of the anchor tokens' embedding similarities (basis-free; context only)"));
        if (a.LmHead is not null && b.LmHead is not null && alignment.Count >= 16)
            signals.Add(new Signal("lm-head", GramCorrelation(a.LmHead, b.LmHead, a, b, alignment, skipDiagonal: false), null,
                "correlation of the output projection at the anchor tokens (basis-free; context only)"));

        // Two looks: a quick pass over few rows and adjacent layers settles clear derivations in a fraction of
        // the time; anything short of overwhelming evidence gets the full search. (Two looks cost a factor 2
        // in the p-value, negligible against the 1e-30 a quick pass must reach to stand on its own.)
        var quick = MatchRows(a, b, alignment, options with { MaxRowsPerGroup = Math.Min(32, options.MaxRowsPerGroup), LayerWindow = Math.Min(1, options.LayerWindow) });
        var rows = quick is not null && quick.Log10P <= QuickPassLog10P && quick.MedianMatchedCos >= options.MinimumSharedCosine
            ? quick
            : MatchRows(a, b, alignment, options);
        var direct = DirectValues(a, b);
        var pValues = new List<double>();
        if (rows is not null)
        {
            signals.Add(rows.Signal);
            if (rows.Rows >= options.MinimumRows) pValues.Add(rows.Log10P);
        }
        if (direct is not null)
        {
            signals.Add(direct.Signal);
            if (direct.Tensors >= 3) pValues.Add(direct.Log10P);
        }

        double log10P = 0;
        if (pValues.Count > 0)
            log10P = Math.Min(0, pValues.Min() + Math.Log10(pValues.Count));
        double threshold = Math.Log10(options.DecisionPValue);
        bool enough = (rows?.Rows ?? 0) >= options.MinimumRows || (direct?.Tensors ?? 0) >= 3;

        // Effect size: how much of a matched row (or tensor) is shared, from whichever signal is significant.
        double shared = 0;
        if (rows is not null && rows.Log10P <= threshold) shared = Math.Max(shared, rows.MedianMatchedCos);
        if (direct is not null && direct.Log10P <= threshold) shared = Math.Max(shared, direct.MedianR);
        bool significant = log10P <= threshold;
        bool initializationOnly = significant && shared < options.MinimumSharedCosine;

        string verdict;
        bool? related;
        if (!enough)
        {
            verdict = "inconclusive";
            related = null;
            evidence.Add(alignment.Count < 16 && (direct?.Tensors ?? 0) == 0
                ? "Not enough evidence: no shared vocabulary to align token spaces and no comparable tensors."
                : "Not enough evidence: too few comparable rows and tensors.");
        }
        else if (significant && !initializationOnly)
        {
            related = true;
            bool identical = direct is not null && direct.Identical && (rows is null || rows.InPlaceFraction > 0.99);
            verdict = identical ? "identical" : "derived";
        }
        else
        {
            related = false;
            verdict = "unrelated";
        }
        if (initializationOnly)
        {
            signals.Add(new Signal("shared-initialization", Math.Round(shared, 4), null,
                "rows match beyond chance but share little energy: the common component looks like an untrained initialization"));
            evidence.Add(string.Create(inv, $"The models share a weak component (median |cos| {shared:F2}, about {shared * shared:P0} of each matched row) far beyond chance: consistent with training from the same random initialization on different data. Weights cannot tell that from siblings of one trained base; reported as unrelated by trained weights."));
        }

        double e = Math.Min(300, -log10P);
        double strength = e / (e + -threshold);
        // The effect-size gate enters the score the same way: 0.5 exactly at the shared-energy bar.
        double effect = significant ? Math.Clamp(0.5 + (shared - options.MinimumSharedCosine) * 2.5, 0, 1) : 1;
        double score = Math.Max(0, Math.Min(strength, effect));
        evidence.Add(string.Create(inv, $"Combined p-value under independent training: 1e{log10P:F1} (decision threshold {options.DecisionPValue:0.#e0}, the stated false-positive rate)."));
        if (rows is not null) evidence.Add(rows.Signal.Detail);
        if (direct is not null) evidence.Add(direct.Signal.Detail);
        evidence.Add($"Architecture: {context.ArchitectureRelation}; tokenizer: {context.TokenizerRelation} (context only, never decisive).");

        if (related == true)
            transformations.AddRange(DescribeTransformations(a, b, rows, direct, context));
        else if (related == false && rows is not null && rows.MatchedFraction is > 0.02 and < 0.2)
            evidence.Add(string.Create(inv, $"{rows.MatchedFraction:P1} of rows matched: weak shared structure (a shared initialization or distillation can leave this much)."));
        if (transformations.Count > 0) evidence.Add("Looks like: " + string.Join(", ", transformations) + ".");

        return new ComparisonResult
        {
            A = a.Source,
            B = b.Source,
            Related = related,
            Verdict = verdict,
            Score = Math.Round(score, 6),
            Log10PValue = Math.Round(log10P, 3),
            FalsePositiveRate = options.DecisionPValue,
            Signals = signals,
            Evidence = evidence,
            Transformations = transformations,
            LayerMap = rows?.LayerMap,
            Context = context,
        };
    }

    private const double QuickPassLog10P = -30;

    private sealed record RowResult(Signal Signal, int Rows, int Matched, double Log10P, double MatchedFraction, double InPlaceFraction, LayerCorrespondence? LayerMap, bool RowsSubset, double MedianMatchedCos);

    private sealed record DirectResult(Signal Signal, int Tensors, int Matched, double Log10P, bool Identical, bool Transposed, double MedianR, bool Rescaled);

    private sealed class GroupData(RowGroup group, float[] signatures, int anchors)
    {
        public RowGroup Group { get; } = group;

        public float[] Signatures { get; } = signatures;

        public int Anchors { get; } = anchors;

        public int Count => Group.Count;

        public ReadOnlySpan<float> Row(int i) => Signatures.AsSpan(i * Anchors, Anchors);
    }

    private static RowResult? MatchRows(Fingerprint a, Fingerprint b, AnchorAlignment al, CompareOptions options)
    {
        if (al.Count < 16) return null;
        int n = al.Count;
        GroupData Restrict(RowGroup g, Fingerprint f, int[] index) => new(g, AnchorAlignment.Restrict(g, f.Anchors.Length, index), n);
        var ga = a.Groups.Select(g => Restrict(g, a, al.IndexA)).ToList();
        var gb = b.Groups.Select(g => Restrict(g, b, al.IndexB)).ToList();

        var layersA = ga.Select(g => LayerLabel(g.Group)).Distinct().ToList();
        var layersB = gb.Select(g => LayerLabel(g.Group)).Distinct().ToList();
        var sim = new double[layersA.Count][];
        for (int i = 0; i < layersA.Count; i++) sim[i] = new double[layersB.Count];

        int totalRows = 0, matched = 0, inPlace = 0, sameLayout = 0;
        bool subset = false;
        var matchedCos = new List<double>();
        var perRole = new List<string>();
        foreach (var role in Roles)
        {
            var xa = ga.Where(g => g.Group.Role == role).ToList();
            var yb = gb.Where(g => g.Group.Role == role).ToList();
            if (xa.Count == 0 || yb.Count == 0) continue;
            // A row is matched when, in some group of the other model, its best |cosine| stands out from the
            // second best by more than chance allows: for the top two of m null values, a_m·(x₁−x₂)/σ is
            // ≈ Exp(1) with a_m = √(2 ln m), so across G groups the bar ln(G/α) is cleared with probability ≈ α.
            int roleRows = 0, roleMatched = 0;
            int lastA = xa.Max(g => g.Group.Layer), lastB = yb.Max(g => g.Group.Layer);
            var bars = new double[xa.Count];
            var results = new (double Z, int Group, int Index, double Cos)[xa.Count][];
            Parallel.For(0, xa.Count, xi =>
            {
                var x = xa[xi];
                // Deep models: search B's layers near A's relative depth (pruning and insertion shift layers by a few).
                var candidates = Enumerable.Range(0, yb.Count).Where(yi => lastA < 8 || lastB < 8
                    || Math.Abs(yb[yi].Group.Layer - (double)x.Group.Layer * lastB / Math.Max(1, lastA)) <= options.LayerWindow).ToList();
                // The bar is set by the number of groups searched, fixed before looking at the data.
                bars[xi] = Math.Log(Math.Max(1, candidates.Count) / options.RowAlpha);
                double bar = bars[xi];
                int[] rowsUsed = x.Count <= options.MaxRowsPerGroup ? Enumerable.Range(0, x.Count).ToArray()
                    : Enumerable.Range(0, options.MaxRowsPerGroup).Select(i => (int)((long)i * x.Count / options.MaxRowsPerGroup)).ToArray();
                var best = new (double Z, int Group, int Index, double Cos)[x.Count];
                for (int r = 0; r < x.Count; r++) best[r] = (double.NegativeInfinity, -1, -1, 0);
                var cos = new double[yb.Max(y => y.Count)];
                var xUsed = new float[rowsUsed.Length * n];
                for (int u = 0; u < rowsUsed.Length; u++) x.Row(rowsUsed[u]).CopyTo(xUsed.AsSpan(u * n, n));
                var products = new float[rowsUsed.Length * cos.Length];
                int li = layersA.IndexOf(LayerLabel(x.Group));
                foreach (int yi in candidates)
                {
                    var y = yb[yi];
                    int lj = layersB.IndexOf(LayerLabel(y.Group));
                    double am = Math.Sqrt(2 * Math.Log(Math.Max(2, y.Count)));
                    int local = 0;
                    RowProducts.Multiply(xUsed, rowsUsed.Length, y.Signatures, y.Count, n, products.AsSpan(0, rowsUsed.Length * y.Count));
                    for (int u = 0; u < rowsUsed.Length; u++)
                    {
                        int r = rowsUsed[u];
                        var rowCos = products.AsSpan(u * y.Count, y.Count);
                        double first = -1, second = -1;
                        int firstIndex = -1;
                        for (int c = 0; c < y.Count; c++)
                        {
                            double v = rowCos[c];
                            cos[c] = v;
                            double abs = Math.Abs(v);
                            if (abs > first) { second = first; first = abs; firstIndex = c; }
                            else if (abs > second) second = abs;
                        }
                        double sigma = Statistics.MadSigma(cos.AsSpan(0, y.Count));
                        double z = y.Count < 2 ? 0 : am * (first - Math.Max(0, second)) / Math.Max(sigma, 1e-4);
                        if (z > bar) local++;
                        if (z > best[r].Z) best[r] = (z, yi, firstIndex, first);
                    }
                    if (li >= 0 && lj >= 0)
                        lock (sim) sim[li][lj] = Math.Max(sim[li][lj], (double)local / rowsUsed.Length);
                }
                results[xi] = best;
            });
            for (int xi = 0; xi < xa.Count; xi++)
            {
                var x = xa[xi];
                for (int r = 0; r < results[xi].Length; r++)
                {
                    var (z, group, index, bestCos) = results[xi][r];
                    if (group < 0) continue;
                    roleRows++;
                    if (z <= bars[xi]) continue;
                    roleMatched++;
                    matchedCos.Add(bestCos);
                    var y = yb[group];
                    if (y.Group.Layer == x.Group.Layer && y.Group.TotalRows == x.Group.TotalRows)
                    {
                        sameLayout++;
                        if (y.Group.RowIndices[index] == x.Group.RowIndices[r]) inPlace++;
                    }
                }
                if (x.Group.TotalRows > yb.Where(y => y.Group.Layer == x.Group.Layer).Select(y => y.Group.TotalRows).DefaultIfEmpty(x.Group.TotalRows).Max())
                    subset = true;
            }
            totalRows += roleRows;
            matched += roleMatched;
            perRole.Add(string.Create(CultureInfo.InvariantCulture, $"{role.ShortName()} {roleMatched}/{roleRows}"));
        }
        if (totalRows == 0) return null;

        double log10P = Statistics.Log10BinomialUpperTail(matched, totalRows, options.RowAlpha);
        matchedCos.Sort();
        double medianCos = matchedCos.Count == 0 ? 0 : matchedCos[matchedCos.Count / 2];
        double fractionMatched = (double)matched / totalRows;
        double inPlaceFraction = sameLayout == 0 ? 0 : (double)inPlace / Math.Max(1, matched);
        var rounded = sim.Select(r => r.Select(v => Math.Round(v, 4)).ToArray()).ToArray();
        var bestPairs = new List<LayerPair>();
        for (int i = 0; i < layersA.Count; i++)
        {
            int j = layersB.Count == 0 ? -1 : Enumerable.Range(0, layersB.Count).MaxBy(j => rounded[i][j]);
            if (j >= 0) bestPairs.Add(new LayerPair(layersA[i], layersB[j], rounded[i][j]));
        }
        var map = new LayerCorrespondence(layersA, layersB, rounded, bestPairs);
        string detail = string.Create(CultureInfo.InvariantCulture,
            $"matched-rows: {matched} of {totalRows} sampled rows ({fractionMatched:P1}) have a distinct near-duplicate in the other model (median |cos| {medianCos:F3}) over {al.Count} shared anchors ({(al.ByText ? "aligned by token text" : "aligned by token id")}); {string.Join(", ", perRole)}; chance alone would match ~{options.RowAlpha * totalRows:F1}.");
        var signal = new Signal("matched-rows", Math.Round(fractionMatched, 6), Math.Pow(10, Math.Max(log10P, -300)), detail);
        return new RowResult(signal, totalRows, matched, log10P, fractionMatched, inPlaceFraction, map, subset, medianCos);
    }

    private static string LayerLabel(RowGroup g) => g.Stack.Length == 0 ? $"L{g.Layer}" : $"{g.Stack[0]}{g.Layer}";

    private static DirectResult? DirectValues(Fingerprint a, Fingerprint b)
    {
        var byKey = b.Samples.GroupBy(s => s.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        int tensors = 0, matched = 0, identical = 0, transposedWins = 0, rescaled = 0;
        var rs = new List<double>();
        foreach (var sa in a.Samples)
        {
            if (!byKey.TryGetValue(sa.Key, out var sb) || sa.Values.Length != sb.Values.Length || sa.Values.Length < 8) continue;
            if (IsBuffer(sa.Key)) continue;
            if (IsConstant(sa.Values) || IsConstant(sb.Values)) continue;
            double r = Pearson(sa.Values, sb.Values);
            double rt = Math.Max(sa.TransposedStore is not null ? Pearson(sa.TransposedStore, sb.Values) : -1,
                sb.TransposedStore is not null ? Pearson(sa.Values, sb.TransposedStore) : -1);
            bool useT = sa.Elements == sb.Elements && rt > r + 0.5;
            double best = useT ? rt : r;
            tensors++;
            rs.Add(best);
            int nEff = sa.Values.Length;
            double zscore = Math.Atanh(Math.Clamp(best, -0.999999, 0.999999)) * Math.Sqrt(Math.Max(1, nEff - 3));
            if (Statistics.NormalUpperTail(zscore) < 1e-4) matched++;
            // Identical means equal values up to storage precision: perfectly correlated and the same scale.
            if (best > 0.9999 && Math.Abs(Math.Log(Std(sa.Values) / Math.Max(1e-12, Std(sb.Values)))) < 0.01) identical++;
            if (useT && rt > 0.9) transposedWins++;
            // A pure rescale keeps the values perfectly correlated; fine-tuning drifts the scale a little too.
            if (best > 0.9995)
            {
                double ratio = Std(sa.Values) / Math.Max(1e-12, Std(sb.Values));
                if (Math.Abs(Math.Log(ratio)) > 0.05) rescaled++;
            }
        }
        if (tensors == 0) return null;
        // Each tensor was tested under up to three layouts; the per-tensor false-match rate is bounded by 3e-4.
        double log10P = Statistics.Log10BinomialUpperTail(matched, tensors, 3e-4);
        rs.Sort();
        double median = rs[rs.Count / 2];
        string detail = string.Create(CultureInfo.InvariantCulture,
            $"direct-values: {matched} of {tensors} tensors correlate index-to-index beyond chance (median r = {median:F4}{(transposedWins > 0 ? $", {transposedWins} only when read as transposed" : "")}); constant tensors and fixed buffers are not evidence.");
        return new DirectResult(new Signal("direct-values", Math.Round(median, 6), Math.Pow(10, Math.Max(log10P, -300)), detail),
            tensors, matched, log10P, identical == tensors && tensors > 0, transposedWins > tensors / 2, median, rescaled > 0);
    }

    /// <summary>Buffers computed from the architecture (rotary tables, causal masks) match across unrelated models.</summary>
    private static bool IsBuffer(string key) =>
        key.Contains("freq", StringComparison.OrdinalIgnoreCase) || key.Contains("rotary", StringComparison.OrdinalIgnoreCase)
        || key.Contains("inv_freq", StringComparison.OrdinalIgnoreCase) || key.Contains("position_ids", StringComparison.OrdinalIgnoreCase)
        || key.EndsWith(".attn.bias", StringComparison.Ordinal) || key.Contains("masked_bias", StringComparison.Ordinal)
        || key.Contains("running_", StringComparison.Ordinal) || key.Contains("num_batches", StringComparison.Ordinal);

    private static bool IsConstant(float[] v)
    {
        float first = v[0];
        int distinct = 0;
        foreach (var x in v)
            if (x != first && ++distinct >= 4) return false;
        return true;
    }

    private static double Std(float[] v)
    {
        double mean = 0;
        foreach (var x in v) mean += x;
        mean /= v.Length;
        double s = 0;
        foreach (var x in v) s += (x - mean) * (x - mean);
        return Math.Sqrt(s / v.Length);
    }

    internal static double Pearson(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double mx = 0, my = 0;
        for (int i = 0; i < x.Length; i++)
        {
            mx += x[i];
            my += y[i];
        }
        mx /= x.Length;
        my /= y.Length;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double dx = x[i] - mx, dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxx <= 0 || syy <= 0 ? 0 : sxy / Math.Sqrt(sxx * syy);
    }

    private static double GramCorrelation(RowGroup ga, RowGroup gb, Fingerprint a, Fingerprint b, AnchorAlignment al, bool skipDiagonal)
    {
        int n = al.Count;
        var xa = new List<float>(n * n);
        var xb = new List<float>(n * n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (skipDiagonal && i == j) continue;
                xa.Add(ga.Signatures[al.IndexA[i] * a.Anchors.Length + al.IndexA[j]]);
                xb.Add(gb.Signatures[al.IndexB[i] * b.Anchors.Length + al.IndexB[j]]);
            }
        return Math.Round(Pearson(xa.ToArray(), xb.ToArray()), 4);
    }

    private static ComparisonContext BuildContext(Fingerprint a, Fingerprint b, AnchorAlignment al)
    {
        var fa = a.Facts;
        var fb = b.Facts;
        var diffs = new List<string>();
        void Diff(string name, object? x, object? y)
        {
            if (!Equals(x, y)) diffs.Add($"{name}: {x?.ToString() ?? "?"} vs {y?.ToString() ?? "?"}");
        }
        Diff("model_type", fa.ModelType, fb.ModelType);
        Diff("hidden", fa.Hidden, fb.Hidden);
        Diff("layers", fa.Layers, fb.Layers);
        Diff("heads", fa.Heads, fb.Heads);
        Diff("kv_heads", fa.KeyValueHeads, fb.KeyValueHeads);
        Diff("intermediate", fa.Intermediate, fb.Intermediate);
        Diff("vocab", fa.Vocab, fb.Vocab);
        Diff("experts", fa.Experts, fb.Experts);
        string arch = diffs.Count == 0 ? "identical architecture" : fa.Hidden == fb.Hidden ? "same width, other differences" : "different architecture";
        return new ComparisonContext(arch, diffs, TokenizerRelation(a, b), al.ByText ? "token text" : "token id", al.Count);
    }

    internal static string TokenizerRelation(Fingerprint a, Fingerprint b)
    {
        if (!a.HasTokenizer || !b.HasTokenizer)
            return a.HasTokenizer || b.HasTokenizer ? "unknown (one side has no tokenizer)" : "unknown (no tokenizers)";
        if (a.VocabularyHash == b.VocabularyHash) return "identical";
        int k = Math.Min(a.VocabularySketch.Length, b.VocabularySketch.Length);
        var union = a.VocabularySketch.Concat(b.VocabularySketch).Distinct().Order().Take(k).ToList();
        var setA = a.VocabularySketch.ToHashSet();
        var setB = b.VocabularySketch.ToHashSet();
        double jaccard = union.Count == 0 ? 0 : union.Count(x => setA.Contains(x) && setB.Contains(x)) / (double)union.Count;
        bool samePrefix = a.VocabularyHead.Take(64).SequenceEqual(b.VocabularyHead.Take(64));
        if (samePrefix && a.Facts.TokenizerVocab < b.Facts.TokenizerVocab && jaccard > 0.5) return $"B extends A ({a.Facts.TokenizerVocab} → {b.Facts.TokenizerVocab} tokens)";
        if (samePrefix && a.Facts.TokenizerVocab > b.Facts.TokenizerVocab && jaccard > 0.5) return $"A extends B ({b.Facts.TokenizerVocab} → {a.Facts.TokenizerVocab} tokens)";
        if (jaccard >= 0.5) return string.Create(CultureInfo.InvariantCulture, $"same lineage with edits (token overlap ≈ {jaccard:P0})");
        return string.Create(CultureInfo.InvariantCulture, $"unrelated (token overlap ≈ {jaccard:P0})");
    }

    private static IEnumerable<string> DescribeTransformations(Fingerprint a, Fingerprint b, RowResult? rows, DirectResult? direct, ComparisonContext context)
    {
        var fa = a.Facts;
        var fb = b.Facts;
        bool layoutKept = direct is not null && direct.MedianR > 0.9;
        if (direct is { Identical: true })
            yield return fa.Format == fb.Format ? "identical weights" : $"same weights re-encoded ({fa.Format} → {fb.Format})";
        else if (layoutKept && direct!.MedianR > 0.999 && direct.Matched < 0.9 * direct.Tensors)
            // Most tensors are the same numbers, some are not even correlated: a cast or a fine-tune changes every
            // tensor alike, so this is a partial re-parametrisation (e.g. mixing inside attention heads) or a splice.
            yield return $"partly re-parametrised ({direct.Tensors - direct.Matched} of {direct.Tensors} tensors changed, the rest identical up to precision)";
        else if (layoutKept && direct!.MedianR > 0.999)
            yield return "cast or quantized";
        else if (layoutKept)
            yield return "fine-tuned";
        if (direct is { Transposed: true }) yield return "transposed";
        if (direct is { Rescaled: true }) yield return "rescaled";
        if (!layoutKept && rows is not null && rows.MatchedFraction > 0.3)
        {
            bool gainsFolded = GainsFolded(a) != GainsFolded(b);
            yield return gainsFolded ? "rotated (norm gains folded)" : rows.InPlaceFraction < 0.5 ? "permuted" : "fine-tuned";
        }
        if (fa.Layers != fb.Layers && rows?.LayerMap is not null) yield return fa.Layers > fb.Layers ? "layers pruned" : "layers added";
        if (fa.Intermediate != fb.Intermediate && fa.Intermediate is not null && fb.Intermediate is not null && fa.Experts == fb.Experts)
            yield return "MLP width pruned";
        if ((fa.Experts ?? 0) != (fb.Experts ?? 0)) yield return "upcycled to experts";
        if (fa.Vocab != fb.Vocab) yield return "vocabulary extended";
        _ = context;
    }

    /// <summary>A model whose every norm gain is constant has had its gains folded into neighbouring weights.</summary>
    internal static bool GainsFolded(Fingerprint f) =>
        f.Norms.Count > 0 && f.Norms.All(n => n.Values.Length > 0 && n.Values.All(v => Math.Abs(v - n.Values[0]) < 1e-6));
}
