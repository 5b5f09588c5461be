using System.Buffers.Binary;
using System.Runtime.Intrinsics;

namespace Lineage.Numerics;

/// <summary>
/// Dequantization of GGML block formats, following the block layouts of ggml-common.h and the element order
/// of ggml's dequantize_row_* functions exactly (nibble order, high-bit planes, packed 6-bit K-quant scales).
/// Each call decodes whole blocks: the destination length must be a multiple of the block size and the source
/// must hold exactly those blocks. Nothing is allocated per element or per block.
/// </summary>
public static class GgmlQuants
{
    private const int QK = 32;
    private const int QKK = 256;

    /// <summary>Non-linear 4-bit codebook of IQ4_NL and IQ4_XS.</summary>
    private static ReadOnlySpan<sbyte> IQ4NLValues => [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>FP4 (E2M1) values doubled, as ggml stores them; the E8M0 block scale is halved to compensate.</summary>
    private static ReadOnlySpan<sbyte> MXFP4Values => [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    /// <summary>True when <see cref="Dequantize"/> handles <paramref name="type"/>.</summary>
    public static bool Supports(DType type) => type is DType.Q4_0 or DType.Q4_1 or DType.Q5_0 or DType.Q5_1 or DType.Q8_0 or DType.Q8_1
        or DType.Q2_K or DType.Q3_K or DType.Q4_K or DType.Q5_K or DType.Q6_K or DType.Q8_K
        or DType.IQ4_NL or DType.IQ4_XS or DType.TQ1_0 or DType.TQ2_0 or DType.MXFP4;

    public static void Dequantize(DType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        var info = type.Info();
        if (!Supports(type))
            throw new NotSupportedException($"dequantization of {type.DisplayName()} is not supported");
        if (destination.Length % info.BlockSize != 0 || (long)destination.Length / info.BlockSize * info.BlockBytes != source.Length)
            throw new ArgumentException($"{source.Length} bytes do not hold {destination.Length} {info.Name} elements");
        int blocks = destination.Length / info.BlockSize;
        int bytes = info.BlockBytes;
        for (int b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * bytes, bytes);
            var y = destination.Slice(b * info.BlockSize, info.BlockSize);
            switch (type)
            {
                case DType.Q4_0: Q4_0(block, y); break;
                case DType.Q4_1: Q4_1(block, y); break;
                case DType.Q5_0: Q5_0(block, y); break;
                case DType.Q5_1: Q5_1(block, y); break;
                case DType.Q8_0: Q8(Half(block), block.Slice(2, QK), y); break;
                case DType.Q8_1: Q8(Half(block), block.Slice(4, QK), y); break;
                case DType.Q2_K: Q2_K(block, y); break;
                case DType.Q3_K: Q3_K(block, y); break;
                case DType.Q4_K: Q4_K(block, y); break;
                case DType.Q5_K: Q5_K(block, y); break;
                case DType.Q6_K: Q6_K(block, y); break;
                case DType.Q8_K: Q8(BinaryPrimitives.ReadSingleLittleEndian(block), block.Slice(4, QKK), y); break;
                case DType.IQ4_NL: Codebook(Half(block), block.Slice(2, 16), IQ4NLValues, y); break;
                case DType.IQ4_XS: IQ4_XS(block, y); break;
                case DType.TQ1_0: TQ1_0(block, y); break;
                case DType.TQ2_0: TQ2_0(block, y); break;
                case DType.MXFP4: Codebook(E8M0Half(block[0]), block.Slice(1, 16), MXFP4Values, y); break;
            }
        }
    }

    private static float Half(ReadOnlySpan<byte> s) => (float)BinaryPrimitives.ReadHalfLittleEndian(s);

    /// <summary>2^(e-128): the E8M0 scale halved (ggml's GGML_E8M0_TO_FP32_HALF), exact for every e.</summary>
    private static float E8M0Half(byte e) =>
        BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);

    /// <summary>Q8_0 / Q8_1 / Q8_K: y = d * q for signed bytes (Q8_1's stored sum is only for dot products).</summary>
    private static void Q8(float d, ReadOnlySpan<byte> qs, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // 32 signed bytes → four vectors of 8 floats; int → float is exact, so results equal the scalar loop.
            var scale = Vector256.Create(d);
            for (; i + 32 <= y.Length; i += 32)
            {
                var bytes = Vector256.Create<byte>(qs.Slice(i, 32)).AsSByte();
                var (lo, hi) = Vector256.Widen(bytes);
                var (a, b) = Vector256.Widen(lo);
                var (c, e) = Vector256.Widen(hi);
                (Vector256.ConvertToSingle(a) * scale).CopyTo(y.Slice(i, 8));
                (Vector256.ConvertToSingle(b) * scale).CopyTo(y.Slice(i + 8, 8));
                (Vector256.ConvertToSingle(c) * scale).CopyTo(y.Slice(i + 16, 8));
                (Vector256.ConvertToSingle(e) * scale).CopyTo(y.Slice(i + 24, 8));
            }
        }
        for (; i < y.Length; i++) y[i] = d * (sbyte)qs[i];
    }

    /// <summary>Q4_0 {half d; u8 qs[16]}: low nibbles are elements 0..15, high nibbles 16..31, offset by 8.</summary>
    private static void Q4_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x);
        var qs = x.Slice(2, 16);
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0x0F) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    /// <summary>Q4_1 {half d; half m; u8 qs[16]}: y = q * d + m.</summary>
    private static void Q4_1(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x), m = Half(x[2..]);
        var qs = x.Slice(4, 16);
        for (int j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0x0F) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    /// <summary>Q5_0 {half d; u8 qh[4]; u8 qs[16]}: bit j of qh is the fifth bit of element j; offset by 16.</summary>
    private static void Q5_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(x[2..]);
        var qs = x.Slice(6, 16);
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((qs[j] & 0x0F) | h0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
        }
    }

    /// <summary>Q5_1 {half d; half m; u8 qh[4]; u8 qs[16]}: y = q * d + m with 5-bit q.</summary>
    private static void Q5_1(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x), m = Half(x[2..]);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(x[4..]);
        var qs = x.Slice(8, 16);
        for (int j = 0; j < 16; j++)
        {
            int h0 = (int)((qh >> j) << 4) & 0x10;
            int h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((qs[j] & 0x0F) | h0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }

    /// <summary>
    /// Q2_K {u8 scales[16]; u8 qs[64]; half d; half dmin}: 16 sub-blocks of 16; scale byte = 4-bit scale (low)
    /// and 4-bit min (high). Each 128-element half uses 32 bytes of qs, four 2-bit planes of 32 elements.
    /// </summary>
    private static void Q2_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        var scales = x[..16];
        var qs = x.Slice(16, 64);
        float d = Half(x[80..]), dmin = Half(x[82..]);
        int sub = 0, o = 0;
        for (int half = 0; half < 2; half++)
        {
            var q = qs.Slice(half * 32, 32);
            for (int shift = 0; shift < 8; shift += 2)
            {
                for (int part = 0; part < 2; part++)
                {
                    byte sc = scales[sub++];
                    float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
                    var qp = q.Slice(part * 16, 16);
                    for (int l = 0; l < 16; l++) y[o + l] = dl * ((qp[l] >> shift) & 3) - ml;
                    o += 16;
                }
            }
        }
    }

    /// <summary>
    /// Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d}: 2 low bits in qs (as Q2_K), the third bit in
    /// hmask (bit k of hmask[l] for the k-th group of 32); a cleared high bit subtracts 4. Sixteen 6-bit
    /// scales: low nibbles in bytes 0..7, high 2-bit pairs in bytes 8..11; stored with a +32 offset.
    /// </summary>
    private static void Q3_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        var hmask = x[..32];
        var qs = x.Slice(32, 64);
        var packed = x.Slice(96, 12);
        float d = Half(x[108..]);
        Span<float> dl = stackalloc float[16];
        for (int j = 0; j < 16; j++)
        {
            int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
            int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
            dl[j] = d * ((low | (high << 4)) - 32);
        }
        int sub = 0, o = 0, m = 1;
        for (int half = 0; half < 2; half++)
        {
            var q = qs.Slice(half * 32, 32);
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
            {
                for (int part = 0; part < 2; part++)
                {
                    float scale = dl[sub++];
                    var qp = q.Slice(part * 16, 16);
                    var hp = hmask.Slice(part * 16, 16);
                    for (int l = 0; l < 16; l++)
                        y[o + l] = scale * (((qp[l] >> shift) & 3) - ((hp[l] & m) != 0 ? 0 : 4));
                    o += 16;
                }
            }
        }
    }

    /// <summary>
    /// The 6-bit (scale, min) pair of sub-block j of Q4_K / Q5_K (ggml's get_scale_min_k4): for j &lt; 4 the low
    /// 6 bits of bytes j and j+4; otherwise a nibble of byte j+4 plus the top two bits of bytes j-4 and j.
    /// </summary>
    private static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q)
    {
        if (j < 4) return (q[j] & 63, q[j + 4] & 63);
        return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }

    /// <summary>Q4_K {half d; half dmin; u8 scales[12]; u8 qs[128]}: 8 sub-blocks of 32; each 32 bytes of qs hold two sub-blocks (low, then high nibbles).</summary>
    private static void Q4_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x), dmin = Half(x[2..]);
        var scales = x.Slice(4, 12);
        var qs = x.Slice(16, 128);
        for (int pair = 0; pair < 4; pair++)
        {
            var (s1, m1) = ScaleMinK4(2 * pair, scales);
            var (s2, m2) = ScaleMinK4(2 * pair + 1, scales);
            float d1 = d * s1, o1 = dmin * m1, d2 = d * s2, o2 = dmin * m2;
            var q = qs.Slice(pair * 32, 32);
            var y1 = y.Slice(pair * 64, 32);
            var y2 = y.Slice(pair * 64 + 32, 32);
            for (int l = 0; l < 32; l++)
            {
                y1[l] = d1 * (q[l] & 0xF) - o1;
                y2[l] = d2 * (q[l] >> 4) - o2;
            }
        }
    }

    /// <summary>Q5_K {half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: Q4_K plus a fifth bit, bit 2k / 2k+1 of qh[l] for sub-blocks 2k / 2k+1.</summary>
    private static void Q5_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x), dmin = Half(x[2..]);
        var scales = x.Slice(4, 12);
        var qh = x.Slice(16, 32);
        var qs = x.Slice(48, 128);
        for (int pair = 0; pair < 4; pair++)
        {
            var (s1, m1) = ScaleMinK4(2 * pair, scales);
            var (s2, m2) = ScaleMinK4(2 * pair + 1, scales);
            float d1 = d * s1, o1 = dmin * m1, d2 = d * s2, o2 = dmin * m2;
            int u1 = 1 << (2 * pair), u2 = 2 << (2 * pair);
            var q = qs.Slice(pair * 32, 32);
            var y1 = y.Slice(pair * 64, 32);
            var y2 = y.Slice(pair * 64 + 32, 32);
            for (int l = 0; l < 32; l++)
            {
                y1[l] = d1 * ((q[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - o1;
                y2[l] = d2 * ((q[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - o2;
            }
        }
    }

    /// <summary>
    /// Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; half d}: per 128-element half, ql[l] / ql[l+32] hold the low
    /// nibbles of elements l, l+64 / l+32, l+96; qh[l] their 2-bit high parts; values offset by 32; 16 signed scales.
    /// </summary>
    private static void Q6_K(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x[208..]);
        for (int half = 0; half < 2; half++)
        {
            var ql = x.Slice(half * 64, 64);
            var qh = x.Slice(128 + half * 32, 32);
            var yh = y.Slice(half * 128, 128);
            for (int s = 0; s < 2; s++)
            {
                // ggml computes (d * scale) * q; hoisting d * scale keeps every product bit-identical.
                int sc = 192 + half * 8 + s;
                float d1 = d * (sbyte)x[sc], d2 = d * (sbyte)x[sc + 2], d3 = d * (sbyte)x[sc + 4], d4 = d * (sbyte)x[sc + 6];
                for (int l = s * 16; l < s * 16 + 16; l++)
                {
                    int low = ql[l], high = ql[l + 32], bits = qh[l];
                    yh[l] = d1 * (((low & 0xF) | ((bits & 3) << 4)) - 32);
                    yh[l + 32] = d2 * (((high & 0xF) | (((bits >> 2) & 3) << 4)) - 32);
                    yh[l + 64] = d3 * (((low >> 4) | (((bits >> 4) & 3) << 4)) - 32);
                    yh[l + 96] = d4 * (((high >> 4) | (((bits >> 6) & 3) << 4)) - 32);
                }
            }
        }
    }

    /// <summary>IQ4_NL and MXFP4: a 4-bit index into a 16-value codebook, low nibbles first half, high nibbles second.</summary>
    private static void Codebook(float d, ReadOnlySpan<byte> qs, ReadOnlySpan<sbyte> values, Span<float> y)
    {
        for (int j = 0; j < 16; j++)
        {
            y[j] = d * values[qs[j] & 0xF];
            y[j + 16] = d * values[qs[j] >> 4];
        }
    }

    /// <summary>IQ4_XS {half d; u16 scales_h; u8 scales_l[4]; u8 qs[128]}: 8 IQ4_NL sub-blocks with 6-bit scales offset by 32.</summary>
    private static void IQ4_XS(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x);
        int scalesHigh = BinaryPrimitives.ReadUInt16LittleEndian(x[2..]);
        var scalesLow = x.Slice(4, 4);
        var qs = x.Slice(8, 128);
        for (int ib = 0; ib < 8; ib++)
        {
            int ls = ((scalesLow[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesHigh >> (2 * ib)) & 3) << 4);
            Codebook(d * (ls - 32), qs.Slice(ib * 16, 16), IQ4NLValues, y.Slice(ib * 32, 32));
        }
    }

    /// <summary>
    /// TQ1_0 {u8 qs[48]; u8 qh[4]; half d}: ternary digits packed five per byte (qs) and four per byte (qh) as a
    /// fixed-point fraction of 3^5; digit n of byte q is ((q * 3^n mod 256) * 3) >> 8, minus 1.
    /// </summary>
    private static void TQ1_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        ReadOnlySpan<byte> pow3 = [1, 3, 9, 27, 81, 243];
        var qs = x[..48];
        var qh = x.Slice(48, 4);
        float d = Half(x[52..]);
        int o = 0;
        for (int n = 0; n < 5; n++)
            for (int m = 0; m < 32; m++) y[o++] = (Trit(qs[m], pow3[n]) - 1) * d;
        for (int n = 0; n < 5; n++)
            for (int m = 0; m < 16; m++) y[o++] = (Trit(qs[32 + m], pow3[n]) - 1) * d;
        for (int n = 0; n < 4; n++)
            for (int j = 0; j < 4; j++) y[o++] = (Trit(qh[j], pow3[n]) - 1) * d;
    }

    private static int Trit(byte q, byte pow3) => (byte)(q * pow3) * 3 >> 8;

    /// <summary>TQ2_0 {u8 qs[64]; half d}: 2-bit codes minus 1; each 32 bytes hold four planes of 32 elements.</summary>
    private static void TQ2_0(ReadOnlySpan<byte> x, Span<float> y)
    {
        float d = Half(x[64..]);
        int o = 0;
        for (int j = 0; j < 64; j += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int m = 0; m < 32; m++) y[o++] = (((x[j + m] >> shift) & 3) - 1) * d;
    }
}
