using System.Buffers.Binary;
using Lineage.Formats;
using Lineage.Formats.Safetensors;
using Lineage.Models;

namespace Lineage.Tests.Provenance;

/// <summary>
/// Function-preserving disguises of a Llama-layout model, written in test code: residual-stream
/// permutation, head and MLP-neuron permutation, residual rotation with the RMSNorm gains folded into the
/// neighbouring matrices, and per-layer rescaling. Each returns new fp32 tensors by name.
/// </summary>
internal sealed class WeightTransforms
{
    private readonly Dictionary<string, (long[] Shape, float[] Data)> _tensors;

    public WeightTransforms(Model model)
    {
        _tensors = model.Tensors.ToDictionary(t => t.Name, t => (t.Shape, t.ReadAll()));
        Hidden = (int)_tensors["model.embed_tokens.weight"].Shape[1];
        Layers = _tensors.Keys.Count(k => k.EndsWith(".input_layernorm.weight", StringComparison.Ordinal));
        HeadDim = model.Config?.HeadDim ?? Hidden / (model.Config?.NumHeads ?? 1);
    }

    public int Hidden { get; }

    public int Layers { get; }

    public int HeadDim { get; }

    private static string L(int i, string rest) => $"model.layers.{i}.{rest}";

    private float[] Get(string name) => _tensors[name].Data;

    /// <summary>A copy of one tensor's values (row-major), for tests that check a transform keeps the function.</summary>
    internal float[] Values(string name) => (float[])Get(name).Clone();

    private (int Rows, int Cols) Shape(string name) => ((int)_tensors[name].Shape[0], (int)_tensors[name].Shape[^1]);

    private void MapColumns(string name, Func<float[], int, int, float[]> f)
    {
        var (rows, cols) = Shape(name);
        _tensors[name] = (_tensors[name].Shape, f(Get(name), rows, cols));
    }

    private IEnumerable<string> ReadersOfResidual(int i) =>
        [L(i, "self_attn.q_proj.weight"), L(i, "self_attn.k_proj.weight"), L(i, "self_attn.v_proj.weight"), L(i, "mlp.gate_proj.weight"), L(i, "mlp.up_proj.weight")];

    private IEnumerable<string> WritersOfResidual(int i) => [L(i, "self_attn.o_proj.weight"), L(i, "mlp.down_proj.weight")];

    /// <summary>x ↦ x·P on the residual stream: permute the columns of every reader and of the embeddings, rows of writers, and the gains.</summary>
    public WeightTransforms PermuteResidual(int seed)
    {
        var p = Permutation(Hidden, seed);
        MapColumns("model.embed_tokens.weight", (w, r, c) => PermuteCols(w, r, c, p));
        MapColumns("lm_head.weight", (w, r, c) => PermuteCols(w, r, c, p));
        PermuteVector("model.norm.weight", p);
        for (int i = 0; i < Layers; i++)
        {
            foreach (var n in ReadersOfResidual(i)) MapColumns(n, (w, r, c) => PermuteCols(w, r, c, p));
            foreach (var n in WritersOfResidual(i)) MapColumns(n, (w, r, c) => PermuteRows(w, r, c, p));
            PermuteVector(L(i, "input_layernorm.weight"), p);
            PermuteVector(L(i, "post_attention_layernorm.weight"), p);
        }
        return this;
    }

    /// <summary>Permutes MLP neurons (gate/up rows, down columns) and key-value head groups with their query heads.</summary>
    public WeightTransforms PermuteNeuronsAndHeads(int seed)
    {
        for (int i = 0; i < Layers; i++)
        {
            var (ff, _) = Shape(L(i, "mlp.up_proj.weight"));
            var p = Permutation(ff, seed + i);
            MapColumns(L(i, "mlp.gate_proj.weight"), (w, r, c) => PermuteRows(w, r, c, p));
            MapColumns(L(i, "mlp.up_proj.weight"), (w, r, c) => PermuteRows(w, r, c, p));
            MapColumns(L(i, "mlp.down_proj.weight"), (w, r, c) => PermuteCols(w, r, c, p));

            var (qRows, _) = Shape(L(i, "self_attn.q_proj.weight"));
            var (kvRows, _) = Shape(L(i, "self_attn.k_proj.weight"));
            int heads = qRows / HeadDim, groups = kvRows / HeadDim, perGroup = heads / groups;
            var g = Permutation(groups, seed + 100 + i);
            var kvMap = new int[kvRows];
            var qMap = new int[qRows];
            for (int ng = 0; ng < groups; ng++)
            {
                for (int d = 0; d < HeadDim; d++) kvMap[ng * HeadDim + d] = g[ng] * HeadDim + d;
                for (int h = 0; h < perGroup; h++)
                    for (int d = 0; d < HeadDim; d++)
                        qMap[(ng * perGroup + h) * HeadDim + d] = (g[ng] * perGroup + h) * HeadDim + d;
            }
            MapColumns(L(i, "self_attn.q_proj.weight"), (w, r, c) => PermuteRows(w, r, c, qMap));
            MapColumns(L(i, "self_attn.k_proj.weight"), (w, r, c) => PermuteRows(w, r, c, kvMap));
            MapColumns(L(i, "self_attn.v_proj.weight"), (w, r, c) => PermuteRows(w, r, c, kvMap));
            MapColumns(L(i, "self_attn.o_proj.weight"), (w, r, c) => PermuteCols(w, r, c, qMap));
        }
        return this;
    }

    /// <summary>Folds every RMSNorm gain into the following matrices, then rotates the residual stream by a random orthogonal Q.</summary>
    public WeightTransforms RotateWithFoldedGains(int seed)
    {
        var q = RandomOrthogonal(Hidden, seed);
        for (int i = 0; i < Layers; i++)
        {
            var attn = Get(L(i, "input_layernorm.weight"));
            var mlp = Get(L(i, "post_attention_layernorm.weight"));
            foreach (var n in ReadersOfResidual(i))
            {
                var gain = n.Contains("mlp", StringComparison.Ordinal) ? mlp : attn;
                MapColumns(n, (w, r, c) => RightMultiply(ScaleCols(w, r, c, gain), r, c, q));
            }
            foreach (var n in WritersOfResidual(i)) MapColumns(n, (w, r, c) => LeftMultiplyTransposed(q, w, r, c));
            Array.Fill(attn, 1f);
            Array.Fill(mlp, 1f);
        }
        var final = Get("model.norm.weight");
        MapColumns("lm_head.weight", (w, r, c) => RightMultiply(ScaleCols(w, r, c, final), r, c, q));
        Array.Fill(final, 1f);
        MapColumns("model.embed_tokens.weight", (w, r, c) => RightMultiply(w, r, c, q));
        return this;
    }

    /// <summary>q·c₁ with k/c₁, up·c₂ with down/c₂, v·c₃ with o/c₃ per layer: the attention scores and MLP output are unchanged.</summary>
    public WeightTransforms RescalePerLayer(int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < Layers; i++)
        {
            float c1 = 0.5f + (float)rng.NextDouble() * 1.5f, c2 = 0.5f + (float)rng.NextDouble() * 1.5f, c3 = 0.5f + (float)rng.NextDouble() * 1.5f;
            Scale(L(i, "self_attn.q_proj.weight"), c1);
            Scale(L(i, "self_attn.k_proj.weight"), 1 / c1);
            Scale(L(i, "mlp.up_proj.weight"), c2);
            Scale(L(i, "mlp.down_proj.weight"), 1 / c2);
            Scale(L(i, "self_attn.v_proj.weight"), c3);
            Scale(L(i, "self_attn.o_proj.weight"), 1 / c3);
        }
        return this;
    }

    /// <summary>
    /// The symmetries inside one attention head that row matching cannot undo: every value head's rows are mixed by
    /// a random well-conditioned M (v ↦ M·v, the output projection's columns of each query head reading it ↦ ·M⁻¹),
    /// and every rotary frequency pair (j, j + d/2) of a key head and of its query heads is rotated by one shared
    /// angle, which commutes with RoPE and keeps every q·k. The function is unchanged.
    /// </summary>
    public WeightTransforms MixWithinHeads(int seed)
    {
        var rng = new Random(seed);
        int half = HeadDim / 2;
        for (int i = 0; i < Layers; i++)
        {
            var (qRows, _) = Shape(L(i, "self_attn.q_proj.weight"));
            var (kvRows, hidden) = Shape(L(i, "self_attn.k_proj.weight"));
            int groups = kvRows / HeadDim, perGroup = qRows / HeadDim / groups;
            var q = Get(L(i, "self_attn.q_proj.weight"));
            var k = Get(L(i, "self_attn.k_proj.weight"));
            var v = Get(L(i, "self_attn.v_proj.weight"));
            var (oRows, oCols) = Shape(L(i, "self_attn.o_proj.weight"));
            var o = Get(L(i, "self_attn.o_proj.weight"));
            for (int g = 0; g < groups; g++)
            {
                for (int j = 0; j < half; j++)
                {
                    double theta = rng.NextDouble() * 2 * Math.PI;
                    RotatePair(k, hidden, g * HeadDim + j, g * HeadDim + j + half, theta);
                    for (int h = 0; h < perGroup; h++)
                    {
                        int head = g * perGroup + h;
                        RotatePair(q, hidden, head * HeadDim + j, head * HeadDim + j + half, theta);
                    }
                }
                // M = Q1 · diag(s) · Q2 with s in [0.5, 2]: invertible and well conditioned; M⁻¹ = Q2ᵀ · diag(1/s) · Q1ᵀ.
                var q1 = RandomOrthogonal(HeadDim, rng.Next());
                var q2 = RandomOrthogonal(HeadDim, rng.Next());
                var s = Enumerable.Range(0, HeadDim).Select(_ => 0.5 + 1.5 * rng.NextDouble()).ToArray();
                var m = new double[HeadDim * HeadDim];
                var inv = new double[HeadDim * HeadDim];
                for (int a = 0; a < HeadDim; a++)
                    for (int b = 0; b < HeadDim; b++)
                    {
                        double sum = 0, sumInv = 0;
                        for (int c = 0; c < HeadDim; c++)
                        {
                            sum += q1[a * HeadDim + c] * s[c] * q2[c * HeadDim + b];
                            sumInv += q2[c * HeadDim + a] / s[c] * q1[b * HeadDim + c];
                        }
                        m[a * HeadDim + b] = sum;
                        inv[a * HeadDim + b] = sumInv;
                    }
                MixRows(v, hidden, g * HeadDim, m);
                for (int h = 0; h < perGroup; h++) MixColumns(o, oRows, oCols, (g * perGroup + h) * HeadDim, inv);
            }
        }
        return this;
    }

    private static void RotatePair(float[] w, int cols, int rowA, int rowB, double theta)
    {
        double c = Math.Cos(theta), s = Math.Sin(theta);
        for (int x = 0; x < cols; x++)
        {
            double a = w[rowA * cols + x], b = w[rowB * cols + x];
            w[rowA * cols + x] = (float)(c * a - s * b);
            w[rowB * cols + x] = (float)(s * a + c * b);
        }
    }

    /// <summary>Rows [first, first+n) ↦ M · rows.</summary>
    private void MixRows(float[] w, int cols, int first, double[] m)
    {
        int n = HeadDim;
        var block = new double[n * cols];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                double f = m[a * n + b];
                for (int x = 0; x < cols; x++) block[a * cols + x] += f * w[(first + b) * cols + x];
            }
        for (int a = 0; a < n; a++)
            for (int x = 0; x < cols; x++) w[(first + a) * cols + x] = (float)block[a * cols + x];
    }

    /// <summary>Columns [first, first+n) ↦ columns · M.</summary>
    private void MixColumns(float[] w, int rows, int cols, int first, double[] m)
    {
        int n = HeadDim;
        var row = new double[n];
        for (int r = 0; r < rows; r++)
        {
            Array.Clear(row);
            for (int a = 0; a < n; a++)
            {
                double x = w[r * cols + first + a];
                for (int b = 0; b < n; b++) row[b] += x * m[a * n + b];
            }
            for (int b = 0; b < n; b++) w[r * cols + first + b] = (float)row[b];
        }
    }

    /// <summary>Writes the tensors (fp32 safetensors) and the source config into <paramref name="folder"/>.</summary>
    public void Save(string folder, string configJson)
    {
        Directory.CreateDirectory(folder);
        var entries = _tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        {
            var bytes = new byte[kv.Value.Data.Length * 4];
            for (int i = 0; i < kv.Value.Data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), kv.Value.Data[i]);
            return (kv.Key, "F32", kv.Value.Shape, bytes);
        });
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), SafetensorsReader.Write(entries));
        File.WriteAllText(Path.Combine(folder, "config.json"), configJson);
    }

    private void Scale(string name, float c)
    {
        var w = Get(name);
        for (int i = 0; i < w.Length; i++) w[i] *= c;
    }

    private void PermuteVector(string name, int[] p)
    {
        var v = Get(name);
        var copy = (float[])v.Clone();
        for (int i = 0; i < v.Length; i++) v[i] = copy[p[i]];
    }

    private static int[] Permutation(int n, int seed)
    {
        var p = Enumerable.Range(0, n).ToArray();
        new Random(seed).Shuffle(p);
        return p;
    }

    private static float[] PermuteCols(float[] w, int rows, int cols, int[] p)
    {
        var r = new float[w.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) r[i * cols + j] = w[i * cols + p[j]];
        return r;
    }

    private static float[] PermuteRows(float[] w, int rows, int cols, int[] p)
    {
        var r = new float[w.Length];
        for (int i = 0; i < rows; i++) Array.Copy(w, p[i] * cols, r, i * cols, cols);
        return r;
    }

    private static float[] ScaleCols(float[] w, int rows, int cols, float[] gain)
    {
        var r = (float[])w.Clone();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) r[i * cols + j] *= gain[j];
        return r;
    }

    /// <summary>W·Q for W rows×d, Q d×d.</summary>
    private static float[] RightMultiply(float[] w, int rows, int cols, double[] q)
    {
        var r = new float[w.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double s = 0;
                for (int k = 0; k < cols; k++) s += w[i * cols + k] * q[k * cols + j];
                r[i * cols + j] = (float)s;
            }
        return r;
    }

    /// <summary>Qᵀ·W for W d×cols.</summary>
    private static float[] LeftMultiplyTransposed(double[] q, float[] w, int rows, int cols)
    {
        var r = new float[w.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                double s = 0;
                for (int k = 0; k < rows; k++) s += q[k * rows + i] * w[k * cols + j];
                r[i * cols + j] = (float)s;
            }
        return r;
    }

    /// <summary>Gram–Schmidt on a Gaussian matrix: a Haar-random orthogonal matrix.</summary>
    internal static double[] RandomOrthogonal(int n, int seed)
    {
        var rng = new Random(seed);
        var m = new double[n * n];
        for (int i = 0; i < m.Length; i++)
            m[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        for (int c = 0; c < n; c++)
        {
            for (int p = 0; p < c; p++)
            {
                double dot = 0;
                for (int r = 0; r < n; r++) dot += m[r * n + c] * m[r * n + p];
                for (int r = 0; r < n; r++) m[r * n + c] -= dot * m[r * n + p];
            }
            double norm = 0;
            for (int r = 0; r < n; r++) norm += m[r * n + c] * m[r * n + c];
            norm = Math.Sqrt(norm);
            for (int r = 0; r < n; r++) m[r * n + c] /= norm;
        }
        return m;
    }

    public static WeightTransforms Load(string folder)
    {
        using var model = ModelLoader.Open(folder);
        return new WeightTransforms(model);
    }
}
