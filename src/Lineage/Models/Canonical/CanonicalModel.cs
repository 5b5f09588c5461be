using System.Text.RegularExpressions;

namespace Lineage.Models.Canonical;

public enum NormKind
{
    Unknown,
    Rms,
    LayerNorm,
}

/// <summary>One transformer block, its weights keyed by role (several per role for mixture-of-experts).</summary>
public sealed class CanonicalLayer(string stack, int index)
{
    /// <summary>"" for decoder-only models; "encoder"/"decoder" for encoder-decoder stacks.</summary>
    public string Stack { get; } = stack;

    public int Index { get; } = index;

    public Dictionary<TensorRole, List<MatrixRef>> Matrices { get; } = [];

    public Tensor? AttentionNorm { get; internal set; }

    public Tensor? MlpNorm { get; internal set; }

    public IReadOnlyList<MatrixRef> Get(TensorRole role) => Matrices.TryGetValue(role, out var list) ? list : [];

    public string Label => Stack.Length == 0 ? $"L{Index}" : $"{Stack[0]}{Index}";

    internal void Add(MatrixRef m)
    {
        if (!Matrices.TryGetValue(m.Role, out var list)) Matrices[m.Role] = list = [];
        list.Add(m);
    }
}

/// <summary>
/// The canonical view of a model's weights: one vocabulary of roles (embedding, per-layer q/k/v/o,
/// gate/up/down, norms, lm_head, experts) over Hugging Face, GPT-2 Conv1D, GGUF, llama2.c/Meta, BERT, T5,
/// NeoX and ONNX-exported names. Signals work on this view and never on format-specific names.
/// </summary>
public sealed partial class CanonicalModel
{
    private CanonicalModel(Model model) => Model = model;

    public Model Model { get; }

    public MatrixRef? Embedding { get; private set; }

    public MatrixRef? PositionEmbedding { get; private set; }

    /// <summary>Null when the output projection is tied to the embedding.</summary>
    public MatrixRef? LmHead { get; private set; }

    public Tensor? FinalNorm { get; private set; }

    public IReadOnlyList<CanonicalLayer> Layers { get; private set; } = [];

    public int HiddenSize { get; private set; }

    public int VocabSize => Embedding?.Rows ?? 0;

    public int? Heads { get; private set; }

    public int? KeyValueHeads { get; private set; }

    public NormKind NormKind { get; private set; }

    /// <summary>
    /// What the stored norm weight must be shifted by to give the gain the model multiplies with: Gemma's
    /// Hugging Face checkpoints store w and compute x·(1 + w); llama.cpp adds the 1 when it converts to GGUF.
    /// </summary>
    public float NormGainOffset { get; private set; }

    /// <summary>Tensors the naming layer could not place (reported as evidence context, never silently used).</summary>
    public IReadOnlyList<string> Unmapped { get; private set; } = [];

    public IEnumerable<MatrixRef> AllMatrices =>
        Layers.SelectMany(l => l.Matrices.Values.SelectMany(v => v));

    private sealed record Classified(Tensor Tensor, TensorRole Role, string Stack, int Layer, int Expert);

    public static CanonicalModel Build(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var view = new CanonicalModel(model);
        var classified = new List<Classified>();
        var unmapped = new List<string>();
        bool isGguf = model.Format == "gguf";
        foreach (var t in model.Tensors)
        {
            var c = Classify(t, isGguf);
            if (c is null) unmapped.Add(t.Name);
            else classified.Add(c);
        }

        var config = model.Config;
        view.Heads = config?.NumHeads;
        view.KeyValueHeads = config?.NumKeyValueHeads ?? config?.NumHeads;

        var embedding = classified.FirstOrDefault(c => c.Role == TensorRole.TokenEmbedding && c.Tensor.Rank == 2);
        int hidden = config?.HiddenSize ?? 0;
        if (embedding is not null)
        {
            // The hidden size is the embedding's short side unless the config says otherwise (llama2.c
            // transposed stores and ONNX MatMul layouts make the long side ambiguous only for vocab < d).
            long r = embedding.Tensor.Shape[0], c = embedding.Tensor.Shape[1];
            if (hidden == 0) hidden = (int)Math.Min(r, c);
            bool transposed = c != hidden && r == hidden;
            int vocab = (int)(transposed ? c : r);
            view.Embedding = new MatrixRef(embedding.Tensor, TensorRole.TokenEmbedding, -1, -1, vocab, hidden, 0, transposed, null);
        }
        if (hidden == 0)
            hidden = InferHiddenFromNorms(classified);
        view.HiddenSize = hidden;

        foreach (var c in classified.Where(c => c.Role == TensorRole.PositionEmbedding && c.Tensor.Rank == 2))
            view.PositionEmbedding ??= Orient(c, hidden, wantColsHidden: true);
        foreach (var c in classified.Where(c => c.Role == TensorRole.LmHead && c.Tensor.Rank == 2))
            view.LmHead ??= Orient(c, hidden, wantColsHidden: true);
        view.FinalNorm = classified.FirstOrDefault(c => c.Role == TensorRole.FinalNorm && c.Tensor.Rank == 1)?.Tensor;

        var layers = new SortedDictionary<(string, int), CanonicalLayer>();
        CanonicalLayer LayerFor(Classified c)
        {
            if (!layers.TryGetValue((c.Stack, c.Layer), out var l)) layers[(c.Stack, c.Layer)] = l = new CanonicalLayer(c.Stack, c.Layer);
            return l;
        }

        bool sawNormBias = false;
        foreach (var c in classified.Where(c => c.Layer >= 0))
        {
            var layer = LayerFor(c);
            switch (c.Role)
            {
                case TensorRole.AttentionNorm when c.Tensor.Rank == 1:
                    layer.AttentionNorm ??= c.Tensor;
                    break;
                case TensorRole.MlpNorm when c.Tensor.Rank == 1:
                    layer.MlpNorm ??= c.Tensor;
                    break;
                case TensorRole.FusedQkv:
                    foreach (var m in SplitQkv(c, hidden, view.Heads, view.KeyValueHeads)) layer.Add(m);
                    break;
                case TensorRole.FusedGateUp:
                    foreach (var m in SplitHalves(c, hidden, TensorRole.Gate, TensorRole.Up)) layer.Add(m);
                    break;
                default:
                    if (c.Tensor.Rank == 3 && c.Expert < 0)
                    {
                        // Stacked experts [E, out, in] (GGUF *_exps, fused MoE exports).
                        for (int e = 0; e < c.Tensor.Shape[0]; e++)
                        {
                            var m = OrientExpert(c, e, hidden);
                            if (m is not null) layer.Add(m);
                        }
                    }
                    else if (c.Tensor.Rank == 2)
                    {
                        var m = Orient(c, hidden, wantColsHidden: !c.Role.WritesResidual());
                        if (m is not null)
                        {
                            if (isGguf && c.Role is TensorRole.Query or TensorRole.Key)
                                m = UndoGgufRotaryPermutation(m, c.Role == TensorRole.Query ? view.Heads : view.KeyValueHeads);
                            layer.Add(m);
                        }
                    }
                    break;
            }
        }
        foreach (var t in model.Tensors)
            if (t.Rank == 1 && (t.Name.EndsWith("ln_1.bias", StringComparison.Ordinal) || t.Name.EndsWith("layernorm.bias", StringComparison.OrdinalIgnoreCase)
                || t.Name.EndsWith("LayerNorm.bias", StringComparison.Ordinal) || t.Name.EndsWith("ln1.bias", StringComparison.Ordinal)
                || t.Name.EndsWith("attn_norm.bias", StringComparison.Ordinal) || t.Name.EndsWith("layer_norm.bias", StringComparison.Ordinal)))
                sawNormBias = true;
        view.NormKind = sawNormBias || config?.ModelType is "gpt2" or "bert" or "distilbert" or "gpt_neox" or "opt" or "roberta"
            ? NormKind.LayerNorm : NormKind.Rms;
        view.NormGainOffset = config?.ModelType is { } type && type.StartsWith("gemma", StringComparison.OrdinalIgnoreCase) && !isGguf ? 1f : 0f;
        view.Layers = [.. layers.Values];
        view.Unmapped = unmapped;
        return view;
    }

    private static int InferHiddenFromNorms(List<Classified> classified)
    {
        var norm = classified.FirstOrDefault(c => c.Role is TensorRole.AttentionNorm or TensorRole.FinalNorm && c.Tensor.Rank == 1);
        return norm is null ? 0 : (int)norm.Tensor.Shape[0];
    }

    private static MatrixRef? Orient(Classified c, int hidden, bool wantColsHidden)
    {
        long r = c.Tensor.Shape[0], k = c.Tensor.Shape[1];
        if (r > int.MaxValue || k > int.MaxValue) return null;
        bool transposed;
        if (c.Tensor.InputMajor)
            transposed = true;
        else if (hidden == 0 || (r == hidden && k == hidden))
            transposed = IsConv1DName(c.Tensor.Name);
        else if (wantColsHidden)
            transposed = k != hidden && r == hidden;
        else
            transposed = r != hidden && k == hidden;
        return transposed
            ? new MatrixRef(c.Tensor, c.Role, c.Layer, c.Expert, (int)k, (int)r, 0, true, null)
            : new MatrixRef(c.Tensor, c.Role, c.Layer, c.Expert, (int)r, (int)k, 0, false, null);
    }

    private static MatrixRef? OrientExpert(Classified c, int expert, int hidden)
    {
        long o = c.Tensor.Shape[1], i = c.Tensor.Shape[2];
        if (o > int.MaxValue || i > int.MaxValue) return null;
        // Stacked experts are stored [E, out, in]; GGUF's reversed dims already give this order.
        _ = hidden;
        return new MatrixRef(c.Tensor, c.Role, c.Layer, expert, (int)o, (int)i, expert * o, false, null);
    }

    private static bool IsConv1DName(string name) =>
        name.Contains(".c_attn.", StringComparison.Ordinal) || name.Contains(".c_proj.", StringComparison.Ordinal) || name.Contains(".c_fc.", StringComparison.Ordinal);

    private static IEnumerable<MatrixRef> SplitQkv(Classified c, int hidden, int? heads, int? kvHeads)
    {
        if (c.Tensor.Rank != 2) yield break;
        long r = c.Tensor.Shape[0], k = c.Tensor.Shape[1];
        bool transposed = c.Tensor.InputMajor || hidden != 0 && k != hidden && r == hidden || (r == hidden && k == 3 * hidden && IsConv1DName(c.Tensor.Name));
        long outTotal = transposed ? k : r;
        int inDim = (int)(transposed ? r : k);
        int q, kv;
        if (heads is int h && kvHeads is int g && h > 0 && outTotal % (h + 2 * g) == 0)
        {
            int headDim = (int)(outTotal / (h + 2 * g));
            q = h * headDim;
            kv = g * headDim;
        }
        else if (outTotal % 3 == 0)
        {
            q = kv = (int)(outTotal / 3);
        }
        else
        {
            yield break;
        }
        yield return new MatrixRef(c.Tensor, TensorRole.Query, c.Layer, c.Expert, q, inDim, 0, transposed, null);
        yield return new MatrixRef(c.Tensor, TensorRole.Key, c.Layer, c.Expert, kv, inDim, q, transposed, null);
        yield return new MatrixRef(c.Tensor, TensorRole.Value, c.Layer, c.Expert, kv, inDim, q + kv, transposed, null);
    }

    private static IEnumerable<MatrixRef> SplitHalves(Classified c, int hidden, TensorRole first, TensorRole second)
    {
        if (c.Tensor.Rank != 2) yield break;
        long r = c.Tensor.Shape[0], k = c.Tensor.Shape[1];
        bool transposed = hidden != 0 && k != hidden && r == hidden;
        long outTotal = transposed ? k : r;
        int inDim = (int)(transposed ? r : k);
        if (outTotal % 2 != 0) yield break;
        int half = (int)(outTotal / 2);
        yield return new MatrixRef(c.Tensor, first, c.Layer, c.Expert, half, inDim, 0, transposed, null);
        yield return new MatrixRef(c.Tensor, second, c.Layer, c.Expert, half, inDim, half, transposed, null);
    }

    /// <summary>
    /// llama.cpp's converter reorders q/k rows within each head from Hugging Face's half-split rotary layout
    /// to an interleaved one; map canonical (HF) row h*hd + j*(hd/2) + i to stored row h*hd + 2i + j.
    /// </summary>
    private static MatrixRef UndoGgufRotaryPermutation(MatrixRef m, int? heads)
    {
        if (heads is not int h || h <= 0 || m.Rows % h != 0 || m.Transposed) return m;
        int hd = m.Rows / h;
        if (hd % 2 != 0) return m;
        var map = new int[m.Rows];
        for (int head = 0; head < h; head++)
            for (int j = 0; j < 2; j++)
                for (int i = 0; i < hd / 2; i++)
                    map[head * hd + j * (hd / 2) + i] = head * hd + 2 * i + j;
        return new MatrixRef(m.Tensor, m.Role, m.Layer, m.Expert, m.Rows, m.Cols, m.FirstStoredRow, false, map);
    }

    private static Classified? Classify(Tensor t, bool isGguf)
    {
        string name = t.ModuleName ?? t.Name;
        // ONNX exports sometimes flatten dots to double underscores.
        if (!name.Contains('.', StringComparison.Ordinal) && name.Contains("__", StringComparison.Ordinal))
            name = name.Replace("__", ".", StringComparison.Ordinal);
        if (!name.EndsWith(".weight", StringComparison.Ordinal) && !name.EndsWith("_weight", StringComparison.Ordinal)
            && !isGguf && !name.EndsWith(".w", StringComparison.Ordinal) && name.Contains('.', StringComparison.Ordinal))
            return null;

        var m = LayerPattern().Match(name);
        if (m.Success)
        {
            string stack = StackOf(m.Groups["prefix"].Value);
            int layer = int.Parse(m.Groups["layer"].Value, System.Globalization.CultureInfo.InvariantCulture);
            string rest = m.Groups["rest"].Value;
            int expert = -1;
            var em = ExpertPattern().Match(rest);
            if (em.Success)
            {
                expert = int.Parse(em.Groups["expert"].Value, System.Globalization.CultureInfo.InvariantCulture);
                rest = em.Groups["rest"].Value;
            }
            var role = LayerRole(rest, expert >= 0);
            return role == TensorRole.Unknown ? null : new Classified(t, role, stack, layer, expert);
        }
        var top = TopRole(name);
        return top == TensorRole.Unknown ? null : new Classified(t, top, "", -1, -1);
    }

    private static string StackOf(string prefix) =>
        prefix.Contains("decoder", StringComparison.Ordinal) && !prefix.StartsWith("model.layers", StringComparison.Ordinal) ? "decoder"
        : prefix.Contains("encoder", StringComparison.Ordinal) ? "encoder" : "";

    private static TensorRole TopRole(string name)
    {
        string n = name.ToLowerInvariant();
        if (n.EndsWith("position_embd.weight", StringComparison.Ordinal) || n.Contains("wpe", StringComparison.Ordinal) || n.Contains("position_embeddings", StringComparison.Ordinal))
            return TensorRole.PositionEmbedding;
        if (n.Contains("embed_tokens", StringComparison.Ordinal) || n.Contains("wte", StringComparison.Ordinal) || n.Contains("tok_embeddings", StringComparison.Ordinal)
            || n.StartsWith("token_embd", StringComparison.Ordinal) || n.Contains("word_embeddings", StringComparison.Ordinal) || n == "shared.weight"
            || n.Contains("embed_in", StringComparison.Ordinal) || n == "tok_embeddings.weight")
            return TensorRole.TokenEmbedding;
        if (n.StartsWith("lm_head", StringComparison.Ordinal) || n == "output.weight" || n == "head.weight" || n.Contains("embed_out", StringComparison.Ordinal)
            || n.EndsWith(".lm_head.weight", StringComparison.Ordinal))
            return TensorRole.LmHead;
        if (n is "norm.weight" or "model.norm.weight" or "output_norm.weight" or "lnf.weight" or "ln_f.weight" or "transformer.ln_f.weight"
            || n.EndsWith(".final_layernorm.weight", StringComparison.Ordinal) || n.EndsWith("final_layer_norm.weight", StringComparison.Ordinal)
            || n.EndsWith(".norm.weight", StringComparison.Ordinal) && !n.Contains("layers", StringComparison.Ordinal)
            || n.EndsWith(".ln_f.weight", StringComparison.Ordinal))
            return TensorRole.FinalNorm;
        return TensorRole.Unknown;
    }

    private static TensorRole LayerRole(string rest, bool inExpert)
    {
        string r = rest.ToLowerInvariant();
        if (r.EndsWith(".bias", StringComparison.Ordinal) || r.EndsWith("_bias", StringComparison.Ordinal)) return TensorRole.Unknown;
        bool attn = r.Contains("attn", StringComparison.Ordinal) || r.Contains("attention", StringComparison.Ordinal) || r.StartsWith("sa_", StringComparison.Ordinal);
        bool mlp = inExpert || r.Contains("mlp", StringComparison.Ordinal) || r.Contains("ffn", StringComparison.Ordinal) || r.Contains("feed_forward", StringComparison.Ordinal)
            || r.Contains("densereludense", StringComparison.Ordinal) || r.StartsWith("intermediate", StringComparison.Ordinal);

        // Norms first: their names contain attention/mlp words too.
        if (r.Contains("norm", StringComparison.Ordinal) || r.StartsWith("ln_", StringComparison.Ordinal) || r.StartsWith("ln1", StringComparison.Ordinal) || r.StartsWith("ln2", StringComparison.Ordinal))
        {
            if (r.StartsWith("input_layernorm", StringComparison.Ordinal) || r.StartsWith("ln_1", StringComparison.Ordinal) || r.StartsWith("ln1", StringComparison.Ordinal)
                || r.StartsWith("attention_norm", StringComparison.Ordinal) || r.StartsWith("attn_norm", StringComparison.Ordinal) || r.StartsWith("sa_layer_norm", StringComparison.Ordinal)
                || r.StartsWith("layer.0.layer_norm", StringComparison.Ordinal) || r.StartsWith("attention.output.layernorm", StringComparison.Ordinal)
                || r.StartsWith("self_attn_layer_norm", StringComparison.Ordinal))
                return TensorRole.AttentionNorm;
            if (r.StartsWith("post_attention_layernorm", StringComparison.Ordinal) || r.StartsWith("ln_2", StringComparison.Ordinal) || r.StartsWith("ln2", StringComparison.Ordinal)
                || r.StartsWith("ffn_norm", StringComparison.Ordinal) || r.StartsWith("output_layer_norm", StringComparison.Ordinal) || r.StartsWith("output.layernorm", StringComparison.Ordinal)
                || r.StartsWith("layer.1.layer_norm", StringComparison.Ordinal) || r.StartsWith("final_layer_norm", StringComparison.Ordinal)
                || r.StartsWith("pre_feedforward_layernorm", StringComparison.Ordinal))
                return TensorRole.MlpNorm;
            return TensorRole.Unknown;
        }

        // Fused projections.
        if (r.Contains("qkv", StringComparison.Ordinal) || r.Contains("c_attn", StringComparison.Ordinal) || r.Contains("query_key_value", StringComparison.Ordinal)
            || r.Contains("in_proj_weight", StringComparison.Ordinal))
            return TensorRole.FusedQkv;
        if (r.Contains("gate_up", StringComparison.Ordinal)) return TensorRole.FusedGateUp;

        // Routers.
        if (r.Contains("block_sparse_moe.gate.", StringComparison.Ordinal) || r.StartsWith("ffn_gate_inp", StringComparison.Ordinal)
            || r.Contains("mlp.gate.weight", StringComparison.Ordinal) || r.Contains("router", StringComparison.Ordinal))
            return TensorRole.Router;

        if (attn || !mlp)
        {
            if (Has(r, "q_proj", "attn_q.", "attn_q_", ".wq.", "query.", "q_lin.", "selfattention.q.", "attention.q.", "attn.q.")) return TensorRole.Query;
            if (Has(r, "k_proj", "attn_k.", "attn_k_", ".wk.", "key.", "k_lin.", "selfattention.k.", "attention.k.", "attn.k.")) return TensorRole.Key;
            if (Has(r, "v_proj", "attn_v.", "attn_v_", ".wv.", "value.", "v_lin.", "selfattention.v.", "attention.v.", "attn.v.")) return TensorRole.Value;
            if (Has(r, "o_proj", "attn_output", ".wo.", "out_proj", "out_lin", "attn.c_proj", "attention.output.dense", "attention.dense", "selfattention.o.", "attn.dense", "self_attn.dense"))
                return TensorRole.Output;
        }
        if (Has(r, "gate_proj", "ffn_gate", ".w1.", "feed_forward.w1", "wi_0")) return TensorRole.Gate;
        if (inExpert && r.StartsWith("w1", StringComparison.Ordinal)) return TensorRole.Gate;
        if (inExpert && r.StartsWith("w3", StringComparison.Ordinal)) return TensorRole.Up;
        if (inExpert && r.StartsWith("w2", StringComparison.Ordinal)) return TensorRole.Down;
        if (Has(r, "up_proj", "ffn_up", ".w3.", "feed_forward.w3", "c_fc", "fc1", "mlp.0.", "intermediate.dense", "lin1", "dense_h_to_4h", "wi_1", "densereludense.wi.", "fc_in"))
            return TensorRole.Up;
        if (Has(r, "down_proj", "ffn_down", ".w2.", "feed_forward.w2", "mlp.c_proj", "fc2", "mlp.2.", "lin2", "dense_4h_to_h", "densereludense.wo.", "fc_out")
            || r.StartsWith("output.dense", StringComparison.Ordinal))
            return TensorRole.Down;
        return TensorRole.Unknown;
    }

    private static bool Has(string s, params string[] keys)
    {
        string padded = "." + s;
        foreach (var k in keys)
            if (padded.Contains(k, StringComparison.Ordinal) || padded.Contains("." + k, StringComparison.Ordinal)) return true;
        return false;
    }

    [GeneratedRegex(@"^(?<prefix>.*?)(?:^|\.)(?:layers|layer|h|blk|block|blocks|decoder\.layers|encoder\.layers)\.(?<layer>\d+)\.(?<rest>.+)$")]
    private static partial Regex LayerPattern();

    [GeneratedRegex(@"^(?<pre>.*?)experts\.(?<expert>\d+)\.(?<rest>.+)$")]
    private static partial Regex ExpertPattern();
}
