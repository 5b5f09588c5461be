using System.Buffers.Binary;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.Llama2c;

/// <summary>
/// Karpathy's llama2.c checkpoint: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
/// seq_len; a negative vocab_size means an unshared classifier follows), then float32 tensors in a fixed
/// order. There is no magic number, so detection requires the header to predict the file size exactly.
/// </summary>
public static class Llama2cReader
{
    private const int HeaderBytes = 28;

    public readonly record struct Header(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, int SeqLen, bool SharedClassifier)
    {
        public int HeadSize => Dim / Heads;

        public int KvDim => KvHeads * HeadSize;
    }

    public static bool LooksLike(ReadOnlySpan<byte> head, long length)
    {
        if (head.Length < HeaderBytes) return false;
        return TryParseHeader(head, out var header) && ExpectedLength(header) == length;
    }

    private static bool TryParseHeader(ReadOnlySpan<byte> head, out Header header)
    {
        Span<int> v = stackalloc int[7];
        for (int i = 0; i < 7; i++) v[i] = BinaryPrimitives.ReadInt32LittleEndian(head[(i * 4)..]);
        header = new Header(v[0], v[1], v[2], v[3], v[4], Math.Abs(v[5]), v[6], v[5] > 0);
        const int limit = 1 << 20;
        return v[0] > 0 && v[0] < limit && v[1] > 0 && v[1] < limit && v[2] > 0 && v[2] < 1024 && v[3] > 0 && v[3] <= v[0]
            && v[4] > 0 && v[4] <= v[3] && v[3] % v[4] == 0 && v[0] % v[3] == 0 && v[5] != 0 && Math.Abs(v[5]) < (1 << 24)
            && v[6] > 0 && v[6] < limit && (v[0] / v[3]) % 2 == 0;
    }

    private static IEnumerable<(string Name, long[] Shape)> Layout(Header h)
    {
        long d = h.Dim, f = h.HiddenDim, l = h.Layers, v = h.VocabSize, kv = h.KvDim;
        yield return ("tok_embeddings.weight", [v, d]);
        yield return ("rms_att_weight", [l, d]);
        yield return ("wq", [l, d, d]);
        yield return ("wk", [l, kv, d]);
        yield return ("wv", [l, kv, d]);
        yield return ("wo", [l, d, d]);
        yield return ("rms_ffn_weight", [l, d]);
        yield return ("w1", [l, f, d]);
        yield return ("w2", [l, d, f]);
        yield return ("w3", [l, f, d]);
        yield return ("rms_final_weight", [d]);
        yield return ("freq_cis_real", [h.SeqLen, h.HeadSize / 2]);
        yield return ("freq_cis_imag", [h.SeqLen, h.HeadSize / 2]);
        if (!h.SharedClassifier) yield return ("output.weight", [v, d]);
    }

    private static long ExpectedLength(Header h)
    {
        long total = HeaderBytes;
        foreach (var (_, shape) in Layout(h))
            total += shape.Aggregate(4L, (a, b) => a * b);
        return total;
    }

    public static Header ReadHeader(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Length < HeaderBytes)
            throw new LineageException("llama2.c checkpoint shorter than its 28-byte header", source.Name, source.Length);
        Span<byte> head = stackalloc byte[HeaderBytes];
        source.ReadExactly(0, head);
        if (!TryParseHeader(head, out var header))
            throw new LineageException("implausible llama2.c header", source.Name, 0);
        long expected = ExpectedLength(header);
        if (expected != source.Length)
            throw new LineageException($"llama2.c header implies {expected} bytes but the file has {source.Length}", source.Name, 0);
        return header;
    }

    /// <summary>
    /// Splits the stacked per-layer arrays into per-layer tensors named like llama2.c's export script
    /// (layers.N.attention.wq.weight …), so the canonical naming layer treats them as Meta Llama names.
    /// </summary>
    internal static ModelPart Read(IByteSource source)
    {
        var h = ReadHeader(source);
        var part = new ModelPart("llama2c");
        long offset = HeaderBytes;
        foreach (var (name, shape) in Layout(h))
        {
            long bytes = shape.Aggregate(4L, (a, b) => a * b);
            string? perLayer = name switch
            {
                "rms_att_weight" => "attention_norm.weight",
                "wq" => "attention.wq.weight",
                "wk" => "attention.wk.weight",
                "wv" => "attention.wv.weight",
                "wo" => "attention.wo.weight",
                "rms_ffn_weight" => "ffn_norm.weight",
                "w1" => "feed_forward.w1.weight",
                "w2" => "feed_forward.w2.weight",
                "w3" => "feed_forward.w3.weight",
                _ => null,
            };
            if (perLayer is not null)
            {
                long[] inner = shape[1..];
                long layerBytes = bytes / h.Layers;
                for (int layer = 0; layer < h.Layers; layer++)
                    part.Tensors.Add(new Tensor($"layers.{layer}.{perLayer}", DType.F32, inner, new TensorLocation(source, offset + layer * layerBytes, layerBytes)));
            }
            else
            {
                string tensorName = name switch
                {
                    "rms_final_weight" => "norm.weight",
                    _ => name,
                };
                part.Tensors.Add(new Tensor(tensorName, DType.F32, shape, new TensorLocation(source, offset, bytes)));
            }
            offset += bytes;
        }
        part.Config = new ModelConfig
        {
            ModelType = "llama",
            Architecture = "llama2c",
            HiddenSize = h.Dim,
            IntermediateSize = h.HiddenDim,
            NumLayers = h.Layers,
            NumHeads = h.Heads,
            NumKeyValueHeads = h.KvHeads,
            HeadDim = h.HeadSize,
            VocabSize = h.VocabSize,
            MaxPositions = h.SeqLen,
            TieWordEmbeddings = h.SharedClassifier,
            Source = "llama2c-header",
        };
        return part;
    }
}
