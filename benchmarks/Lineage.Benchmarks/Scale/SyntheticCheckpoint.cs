using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Lineage.Benchmarks.Scale;

/// <summary>Architecture of a synthetic Llama-layout checkpoint.</summary>
public sealed record Layout(string Name, int Hidden, int Layers, int Heads, int KvHeads, int Ffn, int Vocab)
{
    public int HeadDim => Hidden / Heads;

    public static Layout Parse(string name) => name switch
    {
        "llama-8b" => new Layout(name, 4096, 32, 32, 8, 14336, 128256),
        "llama-3b" => new Layout(name, 3072, 28, 24, 8, 8192, 128256),
        "llama-1b" => new Layout(name, 2048, 16, 32, 8, 8192, 128256),
        "tiny" => new Layout(name, 256, 4, 8, 4, 704, 8000),
        _ => throw new ArgumentException($"unknown layout '{name}' (llama-8b, llama-3b, llama-1b, tiny)"),
    };

    public IEnumerable<(string Name, long[] Shape)> Tensors()
    {
        yield return ("model.embed_tokens.weight", [Vocab, Hidden]);
        for (int i = 0; i < Layers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return (p + "input_layernorm.weight", [Hidden]);
            yield return (p + "self_attn.q_proj.weight", [Heads * HeadDim, Hidden]);
            yield return (p + "self_attn.k_proj.weight", [KvHeads * HeadDim, Hidden]);
            yield return (p + "self_attn.v_proj.weight", [KvHeads * HeadDim, Hidden]);
            yield return (p + "self_attn.o_proj.weight", [Hidden, Heads * HeadDim]);
            yield return (p + "post_attention_layernorm.weight", [Hidden]);
            yield return (p + "mlp.gate_proj.weight", [Ffn, Hidden]);
            yield return (p + "mlp.up_proj.weight", [Ffn, Hidden]);
            yield return (p + "mlp.down_proj.weight", [Hidden, Ffn]);
        }
        yield return ("model.norm.weight", [Hidden]);
        yield return ("lm_head.weight", [Vocab, Hidden]);
    }

    public long Parameters => Tensors().Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
}

/// <summary>
/// Writes a synthetic bf16 checkpoint of a real layout as sharded safetensors with an index and config.json.
/// Values are a deterministic pseudo-random function of (seed, tensor, row), so a derived copy can be made
/// by transforming the generator (neuron/head permutation, per-layer rescaling) without reading the base.
/// With <c>sparse</c>, matrix data is left as file holes (zeros) and only embeddings and norms are written:
/// the file has its full size on paper, costs no disk, and still exercises every read path.
/// </summary>
public static class SyntheticCheckpoint
{
    public static void Write(string dir, Layout layout, int seed, string disguise = "none", bool sparse = false, long shardBytes = 4L << 30, TextWriter? log = null)
    {
        Directory.CreateDirectory(dir);
        var tensors = layout.Tensors().ToList();
        var shards = new List<List<(string Name, long[] Shape)>>();
        long current = 0;
        foreach (var t in tensors)
        {
            long bytes = t.Shape.Aggregate(2L, (a, b) => a * b);
            if (shards.Count == 0 || current + bytes > shardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(t);
            current += bytes;
        }
        var weightMap = new JsonObject();
        for (int s = 0; s < shards.Count; s++)
        {
            string file = $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
            foreach (var t in shards[s]) weightMap[t.Name] = file;
            WriteShard(Path.Combine(dir, file), shards[s], layout, seed, disguise, sparse);
            log?.WriteLine($"  wrote {file}");
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = layout.Parameters * 2 }, ["weight_map"] = weightMap };
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), index.ToJsonString());
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = layout.Hidden,
            ["num_hidden_layers"] = layout.Layers,
            ["num_attention_heads"] = layout.Heads,
            ["num_key_value_heads"] = layout.KvHeads,
            ["intermediate_size"] = layout.Ffn,
            ["vocab_size"] = layout.Vocab,
            ["head_dim"] = layout.HeadDim,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "bfloat16",
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
    }

    private static void WriteShard(string path, List<(string Name, long[] Shape)> tensors, Layout layout, int seed, string disguise, bool sparse)
    {
        var header = new JsonObject();
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            long bytes = shape.Aggregate(2L, (a, b) => a * b);
            header[name] = new JsonObject
            {
                ["dtype"] = "BF16",
                ["shape"] = new JsonArray([.. shape.Select(x => (JsonNode)JsonValue.Create(x))]),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + bytes)),
            };
            offset += bytes;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        fs.Write(len);
        fs.Write(json);
        for (int i = json.Length; i < padded; i++) fs.WriteByte((byte)' ');
        long dataStart = 8 + padded;
        foreach (var (name, shape) in tensors)
        {
            long rows = shape.Length == 1 ? 1 : shape[0];
            int cols = (int)shape[^1];
            bool matrix = shape.Length == 2 && !name.Contains("embed", StringComparison.Ordinal) && !name.Contains("lm_head", StringComparison.Ordinal);
            if (sparse && matrix)
            {
                fs.Seek(rows * cols * 2, SeekOrigin.Current);
                continue;
            }
            var rowBytes = new byte[cols * 2];
            for (long r = 0; r < rows; r++)
            {
                FillRow(rowBytes, name, r, cols, layout, seed, disguise);
                fs.Write(rowBytes);
            }
        }
        fs.SetLength(dataStart + tensors.Sum(t => t.Shape.Aggregate(2L, (a, b) => a * b)));
    }

    /// <summary>
    /// Row r of a tensor: the base model's row π(r) (neuron/head permutation of the disguise), scaled per
    /// layer, with columns of down/o permuted to match. Norm gains are 1 ± noise, matrices ~ N(0, 0.02²).
    /// </summary>
    private static void FillRow(byte[] dst, string name, long r, int cols, Layout layout, int seed, string disguise)
    {
        int layer = LayerOf(name);
        bool disguised = disguise == "permute-scale" && layer >= 0;
        long sourceRow = r;
        float scale = 1;
        int[]? colMap = null;
        if (disguised)
        {
            // A function-preserving disguise: residual-stream permutation (columns of every reader and of the
            // embeddings, rows of every writer, norm gains), key-value head permutation (with their query heads)
            // and MLP neuron permutation, plus up·c / down÷c rescaling.
            var residual = Permutation(layout.Hidden, seed, -1);
            bool reader = name.Contains("q_proj", StringComparison.Ordinal) || name.Contains("k_proj", StringComparison.Ordinal)
                || name.Contains("v_proj", StringComparison.Ordinal) || name.Contains("gate_proj", StringComparison.Ordinal) || name.Contains("up_proj", StringComparison.Ordinal);
            if (reader) colMap = residual;
            if (name.Contains("norm", StringComparison.Ordinal)) colMap = residual;
            if (name.Contains("o_proj", StringComparison.Ordinal) || name.Contains("down_proj", StringComparison.Ordinal)) sourceRow = residual[r];
            if (name.Contains("gate_proj", StringComparison.Ordinal) || name.Contains("up_proj", StringComparison.Ordinal))
                sourceRow = Permutation(layout.Ffn, seed, layer)[r];
            if (name.Contains("k_proj", StringComparison.Ordinal) || name.Contains("v_proj", StringComparison.Ordinal))
                sourceRow = HeadRows(layout, seed, layer, kv: true)[r];
            if (name.Contains("q_proj", StringComparison.Ordinal)) sourceRow = HeadRows(layout, seed, layer, kv: false)[r];
            if (name.Contains("down_proj", StringComparison.Ordinal)) colMap = Permutation(layout.Ffn, seed, layer);
            if (name.Contains("o_proj", StringComparison.Ordinal)) colMap = HeadRows(layout, seed, layer, kv: false);
            if (name.Contains("up_proj", StringComparison.Ordinal)) scale = 1.7f;
            if (name.Contains("down_proj", StringComparison.Ordinal)) scale = 1 / 1.7f;
        }
        else if (disguise == "permute-scale" && (name.Contains("embed", StringComparison.Ordinal) || name.Contains("lm_head", StringComparison.Ordinal) || name == "model.norm.weight"))
        {
            colMap = Permutation(layout.Hidden, seed, -1);
        }
        var rng = new SplitMix(Hash(seed, name, sourceRow));
        bool norm = name.Contains("norm", StringComparison.Ordinal);
        Span<float> values = cols <= 16384 ? stackalloc float[cols] : new float[cols];
        for (int c = 0; c < cols; c++)
            values[c] = norm ? 1 + 0.1f * rng.NextGaussian() : 0.02f * rng.NextGaussian();
        for (int c = 0; c < cols; c++)
        {
            float v = (colMap is null ? values[c] : values[colMap[c]]) * scale;
            BinaryPrimitives.WriteUInt16LittleEndian(dst.AsSpan(c * 2), (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16));
        }
    }

    /// <summary>Row map for q (kv: false) or k/v (kv: true) that moves whole key-value groups and their query heads.</summary>
    private static int[] HeadRows(Layout layout, int seed, int layer, bool kv)
    {
        var groups = Permutation(layout.KvHeads, seed, 1000 + layer);
        int perGroup = layout.Heads / layout.KvHeads, hd = layout.HeadDim;
        var map = new int[(kv ? layout.KvHeads : layout.Heads) * hd];
        for (int g = 0; g < layout.KvHeads; g++)
        {
            if (kv)
                for (int d = 0; d < hd; d++) map[g * hd + d] = groups[g] * hd + d;
            else
                for (int h = 0; h < perGroup; h++)
                    for (int d = 0; d < hd; d++) map[(g * perGroup + h) * hd + d] = (groups[g] * perGroup + h) * hd + d;
        }
        return map;
    }

    private static readonly Dictionary<(int, int, int), int[]> Permutations = [];

    private static int[] Permutation(int n, int seed, int salt)
    {
        lock (Permutations)
        {
            if (Permutations.TryGetValue((n, seed, salt), out var p)) return p;
            p = Enumerable.Range(0, n).ToArray();
            new Random(seed * 7919 + salt).Shuffle(p);
            Permutations[(n, seed, salt)] = p;
            return p;
        }
    }

    private static int LayerOf(string name)
    {
        const string key = "layers.";
        int i = name.IndexOf(key, StringComparison.Ordinal);
        if (i < 0) return -1;
        int j = name.IndexOf('.', i + key.Length);
        return int.Parse(name.AsSpan(i + key.Length, j - i - key.Length), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static ulong Hash(int seed, string name, long row)
    {
        ulong h = 1469598103934665603UL ^ (ulong)seed;
        foreach (char ch in name) h = (h ^ ch) * 1099511628211UL;
        return h ^ (ulong)row * 0x9E3779B97F4A7C15UL;
    }

    private struct SplitMix(ulong state)
    {
        private ulong _state = state;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public float NextGaussian()
        {
            // Sum of four uniforms, rescaled: cheap and smooth enough for synthetic weights.
            ulong a = Next(), b = Next();
            float s = (a & 0xFFFF) + ((a >> 16) & 0xFFFF) + ((b >> 32) & 0xFFFF) + (b >> 48);
            return (s / 65535f - 2f) * 1.7320508f;
        }
    }
}
