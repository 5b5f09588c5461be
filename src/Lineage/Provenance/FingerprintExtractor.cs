using System.Numerics.Tensors;
using Lineage.Models;
using Lineage.Models.Canonical;
using Lineage.Numerics;

namespace Lineage.Provenance;

/// <summary>Sampling budget for fingerprints; the same options give the same fingerprint for any model size.</summary>
public sealed record FingerprintOptions
{
    /// <summary>Anchors chosen by token text (bottom-k of text keys).</summary>
    public int TextAnchors { get; init; } = 256;

    /// <summary>Anchors chosen by token id (used when one side has no tokenizer).</summary>
    public int IdAnchors { get; init; } = 64;

    /// <summary>Values sampled per tensor for index-to-index comparison.</summary>
    public int ValuesPerTensor { get; init; } = 512;

    /// <summary>Matrices up to this many elements are also sampled under the transposed-store hypothesis.</summary>
    public long TransposeCheckLimit { get; init; } = 1 << 18;

    /// <summary>Rows sampled per matrix (all rows when the matrix has fewer).</summary>
    public int RowsPerMatrix { get; init; } = 128;

    public int VocabularySketchSize { get; init; } = 1024;
}

/// <summary>Computes a <see cref="Fingerprint"/> from a model, reading only anchor embedding rows and sampled matrix rows.</summary>
public static class FingerprintExtractor
{
    public static Fingerprint Extract(Model model, FingerprintOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new FingerprintOptions();
        var timing = Environment.GetEnvironmentVariable("LINEAGE_TIMING") == "1" ? System.Diagnostics.Stopwatch.StartNew() : null;
        void Mark(string what)
        {
            if (timing is null) return;
            Console.Error.WriteLine($"  [{timing.Elapsed.TotalMilliseconds,8:F0} ms] {what} (heap {GC.GetTotalMemory(false) >> 20} MB, working set {Environment.WorkingSet >> 20} MB)");
        }
        var view = CanonicalModel.Build(model);
        long before = model.BytesRead;
        var tokenizer = model.Tokenizer;
        int vocab = view.VocabSize;
        ulong[]? textKeys = tokenizer is not null && tokenizer.VocabSize > 0 ? TokenKeys.ForVocabulary(tokenizer) : null;

        var anchors = ChooseAnchors(textKeys, vocab, options);
        Mark("anchors");
        RowGroup? embedding = null;
        RowGroup? lmHead = null;
        var groups = new List<RowGroup>();
        var norms = new List<NormVector>();
        var samples = new List<TensorSample>();
        float[]? probe = null;
        int d = view.HiddenSize;

        if (view.Embedding is { } emb && anchors.Length > 0 && d > 0)
        {
            var ids = anchors.Select(a => a.Id).ToArray();
            probe = ReadSorted(emb, ids);
            NormalizeRows(probe, ids.Length, d, view.NormKind);
            CenterColumns(probe, ids.Length, d);
            var gramProbe = probe;
            Mark("probe read");
            probe = Whiten(probe, ids.Length, d);
            Mark("whitened");
            embedding = Signatures(gramProbe, gramProbe, anchors.Length, d, new RowGroup
            {
                Stack = "", Layer = -1, Role = TensorRole.TokenEmbedding, TotalRows = emb.Rows, RowIndices = ids, Signatures = [],
            });
            if (view.LmHead is { } head && head.Rows == emb.Rows && head.Cols == d)
            {
                var rows = ReadSorted(head, ids);
                FoldGain(rows, ids.Length, d, ReadVector(view.FinalNorm, d, view.NormGainOffset));
                lmHead = Signatures(probe, rows, anchors.Length, d, new RowGroup
                {
                    Stack = "", Layer = -1, Role = TensorRole.LmHead, TotalRows = head.Rows, RowIndices = ids, Signatures = [],
                });
            }
        }

        if (view.FinalNorm is { } fn && fn.ElementCount == d) norms.Add(new NormVector("", -1, "final", fn.ReadAll()));
        Mark("embedding + lm_head signatures");
        samples.AddRange(SampleValues(view, options));
        Mark("value samples");
        foreach (var layer in view.Layers)
        {
            float[]? attnGain = ReadVector(layer.AttentionNorm, d, view.NormGainOffset);
            float[]? mlpGain = ReadVector(layer.MlpNorm, d, view.NormGainOffset);
            if (attnGain is not null) norms.Add(new NormVector(layer.Stack, layer.Index, "attn", attnGain));
            if (mlpGain is not null) norms.Add(new NormVector(layer.Stack, layer.Index, "mlp", mlpGain));
            if (probe is null) continue;
            foreach (var (role, list) in layer.Matrices.OrderBy(kv => kv.Key))
            {
                if (!role.ReadsResidual()) continue;
                float[]? gain = role.IsAttention() ? attnGain : mlpGain;
                foreach (var m in list)
                {
                    if (m.Cols != d || !MatrixRef.CanRead(m.Tensor)) continue;
                    int[] rows = ChooseRows(m.Rows, options.RowsPerMatrix, layer.Index, role, m.Expert);
                    var data = new float[(long)rows.Length * d];
                    m.ReadRows(rows, data);
                    FoldGain(data, rows.Length, d, gain);
                    groups.Add(Signatures(probe, data, anchors.Length, d, new RowGroup
                    {
                        Stack = layer.Stack, Layer = layer.Index, Role = role, Expert = m.Expert, TotalRows = m.Rows, RowIndices = rows, Signatures = [],
                    }));
                }
            }
        }

        Mark("row signatures");
        DType? dominant = model.Tensors.Count == 0 ? null
            : model.Tensors.GroupBy(t => t.DType).MaxBy(g => g.Sum(t => t.ElementCount))!.Key;
        var facts = new ModelFacts
        {
            ModelType = model.Config?.ModelType,
            Architecture = model.Config?.Architecture,
            Hidden = d,
            Layers = view.Layers.Count,
            Heads = view.Heads,
            KeyValueHeads = view.KeyValueHeads,
            Intermediate = model.Config?.IntermediateSize ?? view.Layers.FirstOrDefault()?.Get(TensorRole.Up).FirstOrDefault()?.Rows,
            Vocab = vocab,
            Experts = model.Config?.NumExperts,
            NormKind = view.NormKind,
            Parameters = model.ParameterCount,
            Format = model.Format,
            TiedEmbeddings = view.LmHead is null,
            TokenizerKind = tokenizer?.Kind.ToString(),
            TokenizerVocab = tokenizer?.VocabSize ?? 0,
            DType = dominant?.DisplayName(),
            BitsPerWeight = dominant is { } dt && dt.Info().BlockBytes > 0 ? 8.0 * dt.Info().BlockBytes / dt.Info().BlockSize : 0,
        };
        return new Fingerprint
        {
            Source = model.Path,
            Facts = facts,
            HasTokenizer = textKeys is not null,
            VocabularySketch = textKeys is null ? [] : [.. textKeys.Distinct().Order().Take(options.VocabularySketchSize)],
            VocabularyHash = textKeys is null ? 0 : textKeys.Aggregate(0xCBF29CE484222325UL, (h, k) => TokenKeys.Mix(h ^ k)),
            VocabularyHead = textKeys is null ? [] : [.. textKeys.Take(64), .. textKeys.Skip(Math.Max(64, textKeys.Length - 64))],
            Anchors = anchors,
            Embedding = embedding,
            LmHead = lmHead,
            Groups = groups,
            Norms = norms,
            Samples = samples,
            BytesRead = model.BytesRead - before,
            ModelBytes = model.Tensors.Sum(t => t.Location.ByteLength),
        };
    }

    /// <summary>
    /// Anchors: the tokens with the smallest text keys (a consistent sample: two vocabularies sharing most
    /// tokens pick mostly the same anchors) plus the tokens with the smallest id keys (for files without a
    /// tokenizer, where only ids can be aligned).
    /// </summary>
    private static Anchor[] ChooseAnchors(ulong[]? textKeys, int vocab, FingerprintOptions options)
    {
        if (vocab <= 0) return [];
        var chosen = new SortedDictionary<int, Anchor>();
        if (textKeys is not null)
        {
            var seen = new HashSet<ulong>();
            foreach (var id in Enumerable.Range(0, Math.Min(vocab, textKeys.Length)).OrderBy(i => textKeys[i]))
            {
                if (chosen.Count >= options.TextAnchors) break;
                if (seen.Add(textKeys[id])) chosen[id] = new Anchor(textKeys[id], id);
            }
        }
        int idBudget = textKeys is null ? options.TextAnchors + options.IdAnchors : options.IdAnchors;
        int added = 0;
        foreach (var id in Enumerable.Range(0, vocab).OrderBy(i => TokenKeys.ForId(i)))
        {
            if (added >= idBudget) break;
            ulong key = textKeys is not null && id < textKeys.Length ? textKeys[id] : 0;
            if (chosen.TryAdd(id, new Anchor(key, id))) added++;
        }
        return [.. chosen.Values];
    }

    /// <summary>
    /// Values at deterministic positions of every matrix (canonical keys, so a GGUF and a safetensors file
    /// of one model sample the same entries) and of every norm vector. Positions come from a few sampled
    /// rows, so large matrices cost a handful of row reads.
    /// </summary>
    private static IEnumerable<TensorSample> SampleValues(CanonicalModel view, FingerprintOptions options)
    {
        var matrices = new List<(string Key, MatrixRef M)>();
        if (view.Embedding is { } e) matrices.Add(("embed", e));
        if (view.LmHead is { } h) matrices.Add(("lm_head", h));
        foreach (var layer in view.Layers)
            foreach (var (role, list) in layer.Matrices)
                for (int i = 0; i < list.Count; i++)
                {
                    var m = list[i];
                    // Several matrices of one role in a layer that are not experts (e.g. cross-attention) get an ordinal.
                    string suffix = m.Expert >= 0 ? $"[e{m.Expert}]" : i > 0 ? $"#{i}" : "";
                    matrices.Add(($"{layer.Label}.{role.ShortName()}{suffix}", m));
                }
        foreach (var (key, m) in matrices)
        {
            if (!MatrixRef.CanRead(m.Tensor) || m.Rows == 0 || m.Cols == 0) continue;
            int rowCount = Math.Min(m.Rows, 8);
            int perRow = Math.Max(1, options.ValuesPerTensor / rowCount);
            var rows = ChooseRows(m.Rows, rowCount, (int)(TokenKeys.ForText(key) & 0x7FFF), TensorRole.Unknown, -1);
            var data = new float[(long)rows.Length * m.Cols];
            m.ReadRows(rows, data);
            var cols = ChooseRows(m.Cols, Math.Min(perRow, m.Cols), (int)(TokenKeys.ForText(key + "/c") & 0x7FFF), TensorRole.Unknown, -1);
            var values = new float[rows.Length * cols.Length];
            for (int r = 0; r < rows.Length; r++)
                for (int c = 0; c < cols.Length; c++)
                    values[r * cols.Length + c] = data[(long)r * m.Cols + cols[c]];
            float[]? transposed = null;
            if (m.ElementCount <= options.TransposeCheckLimit && !m.Transposed)
            {
                var all = m.ReadAll();
                transposed = new float[values.Length];
                for (int r = 0; r < rows.Length; r++)
                    for (int c = 0; c < cols.Length; c++)
                        transposed[r * cols.Length + c] = all[(long)cols[c] * m.Rows + rows[r]];
            }
            yield return new TensorSample { Key = key, Elements = m.ElementCount, Values = values, TransposedStore = transposed };
        }
        foreach (var layer in view.Layers)
        {
            if (layer.AttentionNorm is { } an && an.DType.Info().CanDecode) yield return new TensorSample { Key = layer.Label + ".attn_norm", Elements = an.ElementCount, Values = SampleVector(an, options.ValuesPerTensor) };
            if (layer.MlpNorm is { } mn && mn.DType.Info().CanDecode) yield return new TensorSample { Key = layer.Label + ".mlp_norm", Elements = mn.ElementCount, Values = SampleVector(mn, options.ValuesPerTensor) };
        }
        if (view.FinalNorm is { } fnorm && fnorm.DType.Info().CanDecode)
            yield return new TensorSample { Key = "final_norm", Elements = fnorm.ElementCount, Values = SampleVector(fnorm, options.ValuesPerTensor) };
        // Tensors the naming layer could not place are still compared by their stored names (adapters, heads).
        foreach (var name in view.Unmapped)
        {
            var t = view.Model.FindTensor(name);
            if (t is null || !t.DType.Info().CanDecode || t.ElementCount < 2 || t.DType.Info().IsQuantized) continue;
            yield return new TensorSample { Key = "raw:" + name, Elements = t.ElementCount, Values = SampleVector(t, options.ValuesPerTensor) };
        }
    }

    private static float[] SampleVector(Models.Tensor t, int budget)
    {
        if (t.ElementCount <= budget) return t.ReadAll();
        long rows = t.RowCount;
        int take = (int)Math.Min(rows, 8);
        var picked = ChooseRows((int)Math.Min(rows, int.MaxValue), take, (int)(TokenKeys.ForText(t.Name) & 0x7FFF), TensorRole.Unknown, -1);
        int perRow = Math.Max(1, budget / take);
        var values = new List<float>(budget);
        var row = new float[t.RowLength];
        foreach (int r in picked)
        {
            t.ReadRows(r, 1, row);
            var cols = ChooseRows((int)t.RowLength, (int)Math.Min(perRow, t.RowLength), r & 0x7FFF, TensorRole.Unknown, -1);
            foreach (int c in cols) values.Add(row[c]);
        }
        return [.. values];
    }

    internal static int[] ChooseRows(int total, int budget, int layer, TensorRole role, int expert)
    {
        if (total <= budget) return Enumerable.Range(0, total).ToArray();
        ulong seed = TokenKeys.Mix((ulong)(uint)layer * 0x9E37UL ^ (ulong)role << 32 ^ (ulong)(uint)(expert + 1) << 48);
        return [.. Enumerable.Range(0, total).OrderBy(i => TokenKeys.Mix(seed ^ (ulong)i)).Take(budget).Order()];
    }

    private static float[] ReadSorted(MatrixRef m, int[] sortedRows)
    {
        var data = new float[(long)sortedRows.Length * m.Cols];
        m.ReadRows(sortedRows, data);
        return data;
    }

    private static float[]? ReadVector(Models.Tensor? t, int d, float offset = 0)
    {
        if (t is null || t.ElementCount != d || !t.DType.Info().CanDecode) return null;
        var values = t.ReadAll();
        if (offset != 0) TensorPrimitives.Add(values, offset, values);
        return values;
    }

    internal static void NormalizeRows(float[] data, int rows, int d, NormKind kind)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * d, d);
            if (kind == NormKind.LayerNorm)
            {
                float mean = TensorPrimitives.Sum(row) / d;
                TensorPrimitives.Subtract(row, mean, row);
            }
            float rms = MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / d);
            if (rms > 0) TensorPrimitives.Divide(row, rms, row);
        }
    }

    /// <summary>
    /// Whitens the probe (all singular values set to one): Ê_w = U·Vᵀ for Ê = U·Σ·Vᵀ. Every residual
    /// direction then weighs the same in a signature, so the few high-variance directions that independently
    /// trained models share (frequency, position, outlier dimensions) stop dominating the cosine, while the
    /// many low-variance directions where only related models agree count fully. Still basis-free:
    /// Ê·Q whitens to U·Vᵀ·Q.
    /// </summary>
    internal static float[] Whiten(float[] probe, int k, int d)
    {
        bool small = d <= k;
        int n = small ? d : k;
        // Gram on the smaller side: ÊᵀÊ (d×d) or ÊÊᵀ (k×k).
        var transposed = Transpose(probe, k, d);
        var gramF = new float[n * n];
        if (small) RowProducts.MultiplyParallel(transposed, d, transposed, d, k, gramF);
        else RowProducts.MultiplyParallel(probe, k, probe, k, d, gramF);
        var gram = Array.ConvertAll(gramF, x => (double)x);
        var (values, vectors) = SymmetricEigen.Decompose(gram, n);
        double max = values.Length == 0 ? 0 : values[^1];
        // W = V·Λ^(-1/2)·Vᵀ over the non-negligible spectrum.
        var scaled = new float[n * n];
        var plain = new float[n * n];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < n; c++)
            {
                double v = vectors[i * n + c];
                plain[i * n + c] = (float)v;
                scaled[i * n + c] = values[c] > max * 1e-6 ? (float)(v / Math.Sqrt(values[c])) : 0f;
            }
        var w = new float[n * n];
        RowProducts.MultiplyParallel(scaled, n, plain, n, n, w);
        var result = new float[probe.Length];
        if (small)
            RowProducts.MultiplyParallel(probe, k, w, d, d, result);       // Ê·W (W symmetric)
        else
            RowProducts.MultiplyParallel(w, k, transposed, d, k, result);  // W·Ê
        return result;
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[(long)c * rows + r] = m[(long)r * cols + c];
        return t;
    }

    /// <summary>
    /// Removes the mean anchor embedding. Trained embeddings share a large common direction (tied output
    /// layers push every token away from the hidden state); left in, it makes unrelated models look alike.
    /// </summary>
    internal static void CenterColumns(float[] data, int rows, int d)
    {
        var mean = new float[d];
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(mean, data.AsSpan(r * d, d), mean);
        TensorPrimitives.Divide(mean, rows, mean);
        for (int r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * d, d);
            TensorPrimitives.Subtract(row, mean, row);
        }
    }

    private static void FoldGain(float[] data, int rows, int d, float[]? gain)
    {
        if (gain is null) return;
        for (int r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * d, d);
            TensorPrimitives.Multiply(row, gain, row);
        }
    }

    /// <summary>signature[r, a] = probe[a] · rows[r], each signature scaled to unit length.</summary>
    private static RowGroup Signatures(float[] probe, float[] rows, int anchors, int d, RowGroup shell)
    {
        int n = rows.Length / d;
        var sig = new float[(long)n * anchors];
        RowProducts.MultiplyParallel(rows, n, probe, anchors, d, sig);
        for (int r = 0; r < n; r++)
        {
            var dst = sig.AsSpan(r * anchors, anchors);
            float norm = TensorPrimitives.Norm(dst);
            if (norm > 0) TensorPrimitives.Divide(dst, norm, dst);
        }
        FingerprintSerializer.RoundToStoredPrecision(sig, anchors);
        return new RowGroup
        {
            Stack = shell.Stack, Layer = shell.Layer, Role = shell.Role, Expert = shell.Expert, TotalRows = shell.TotalRows,
            RowIndices = shell.RowIndices, Signatures = sig,
        };
    }
}
