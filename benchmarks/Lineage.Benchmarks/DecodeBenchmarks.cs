using BenchmarkDotNet.Attributes;
using Lineage.Numerics;

namespace Lineage.Benchmarks;

/// <summary>Element decoding throughput: the inner loop of every weight signal.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private const int Elements = 1 << 20;
    private byte[] _f16 = [];
    private byte[] _bf16 = [];
    private byte[] _q8 = [];
    private byte[] _q4k = [];
    private byte[] _q6k = [];
    private readonly float[] _out = new float[Elements];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _f16 = new byte[Elements * 2];
        _bf16 = new byte[Elements * 2];
        for (int i = 0; i < Elements; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1);
            BitConverter.TryWriteBytes(_f16.AsSpan(i * 2), (Half)v);
            BitConverter.TryWriteBytes(_bf16.AsSpan(i * 2), (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16));
        }
        _q8 = new byte[Elements / 32 * 34];
        rng.NextBytes(_q8);
        for (int b = 0; b < Elements / 32; b++) BitConverter.TryWriteBytes(_q8.AsSpan(b * 34), (Half)0.01f);
        // K-quant super-blocks of random bits with sane fp16 scales (d, dmin first in Q4_K; d last in Q6_K).
        _q4k = new byte[Elements / 256 * 144];
        rng.NextBytes(_q4k);
        for (int b = 0; b < Elements / 256; b++)
        {
            BitConverter.TryWriteBytes(_q4k.AsSpan(b * 144), (Half)0.01f);
            BitConverter.TryWriteBytes(_q4k.AsSpan(b * 144 + 2), (Half)0.001f);
        }
        _q6k = new byte[Elements / 256 * 210];
        rng.NextBytes(_q6k);
        for (int b = 0; b < Elements / 256; b++) BitConverter.TryWriteBytes(_q6k.AsSpan(b * 210 + 208), (Half)0.01f);
    }

    [Benchmark]
    public void F16() => ElementDecoder.Decode(DType.F16, _f16, _out);

    [Benchmark]
    public void BF16() => ElementDecoder.Decode(DType.BF16, _bf16, _out);

    [Benchmark]
    public void Q8_0() => ElementDecoder.Decode(DType.Q8_0, _q8, _out);

    [Benchmark]
    public void Q4_K() => ElementDecoder.Decode(DType.Q4_K, _q4k, _out);

    [Benchmark]
    public void Q6_K() => ElementDecoder.Decode(DType.Q6_K, _q6k, _out);
}
