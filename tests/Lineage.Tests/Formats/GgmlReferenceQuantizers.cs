using Lineage.Numerics;

namespace Lineage.Tests.Formats;

/// <summary>
/// Test-side quantizers transcribed from ggml's quantize_row_*_ref (ggml-quants.c): they pack blocks the way
/// llama.cpp writes them, and also return what each element must decode to, computed from the quantizer's
/// logical (unpacked) levels and scales with ggml's float operation order. A decoder that gets a nibble order,
/// a bit plane or the K-quant scale packing wrong cannot reproduce those values. IQ4_NL / IQ4_XS use a plain
/// nearest-codebook search instead of ggml's iterative scale search (same packing, simpler choice of levels).
/// </summary>
internal static class GgmlReferenceQuantizers
{
    private const float GroupMaxEps = 1e-15f;

    private static readonly sbyte[] IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    private static readonly sbyte[] MXFP4 = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    public static (byte[] Blocks, float[] Expected) Quantize(DType type, float[] x)
    {
        var info = type.Info();
        Assert.Equal(0, x.Length % info.BlockSize);
        int blocks = x.Length / info.BlockSize;
        var packed = new byte[blocks * info.BlockBytes];
        var expected = new float[x.Length];
        for (int b = 0; b < blocks; b++)
        {
            var xb = x.AsSpan(b * info.BlockSize, info.BlockSize);
            var y = packed.AsSpan(b * info.BlockBytes, info.BlockBytes);
            var e = expected.AsSpan(b * info.BlockSize, info.BlockSize);
            switch (type)
            {
                case DType.Q4_0: Q4_0(xb, y, e); break;
                case DType.Q4_1: Q4_1(xb, y, e); break;
                case DType.Q5_0: Q5_0(xb, y, e); break;
                case DType.Q5_1: Q5_1(xb, y, e); break;
                case DType.Q8_0: Q8_0(xb, y, e, withSum: false); break;
                case DType.Q8_1: Q8_0(xb, y, e, withSum: true); break;
                case DType.Q2_K: Q2_K(xb, y, e); break;
                case DType.Q3_K: Q3_K(xb, y, e); break;
                case DType.Q4_K: Q45_K(xb, y, e, nmax: 15); break;
                case DType.Q5_K: Q45_K(xb, y, e, nmax: 31); break;
                case DType.Q6_K: Q6_K(xb, y, e); break;
                case DType.Q8_K: Q8_K(xb, y, e); break;
                case DType.IQ4_NL: IQ4_NL(xb, y, e); break;
                case DType.IQ4_XS: IQ4_XS(xb, y, e); break;
                case DType.TQ1_0: TQ1_0(xb, y, e); break;
                case DType.TQ2_0: TQ2_0(xb, y, e); break;
                case DType.MXFP4: MxFp4(xb, y, e); break;
                default: throw new NotSupportedException(type.ToString());
            }
        }
        return (packed, expected);
    }

    // ---- helpers with ggml's semantics -----------------------------------------------------------------

    /// <summary>ggml's nearest_int: round half to even through the 1.5 * 2^23 trick.</summary>
    private static int NearestInt(float f)
    {
        float v = f + 12582912f;
        int i = BitConverter.SingleToInt32Bits(v);
        return (i & 0x007fffff) - 0x00400000;
    }

    private static ushort H(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    private static float F(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    private static void PutH(Span<byte> y, int at, ushort h)
    {
        y[at] = (byte)h;
        y[at + 1] = (byte)(h >> 8);
    }

    private static (float AbsMax, float SignedMax) AbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (float v in x)
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        return (amax, max);
    }

    // ---- 32-element blocks --------------------------------------------------------------------------------

    private static void Q4_0(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (_, max) = AbsMax(x);
        float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
        ushort dh = H(d);
        PutH(y, 0, dh);
        for (int j = 0; j < 16; j++)
        {
            int xi0 = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
            int xi1 = Math.Min(15, (int)(sbyte)(x[16 + j] * id + 8.5f));
            y[2 + j] = (byte)(xi0 | (xi1 << 4));
            e[j] = (xi0 - 8) * F(dh);
            e[16 + j] = (xi1 - 8) * F(dh);
        }
    }

    private static void Q4_1(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        foreach (float v in x) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
        float d = (max - min) / 15, id = d != 0 ? 1.0f / d : 0.0f;
        ushort dh = H(d), mh = H(min);
        PutH(y, 0, dh);
        PutH(y, 2, mh);
        for (int j = 0; j < 16; j++)
        {
            int xi0 = Math.Min(15, (int)(sbyte)((x[j] - min) * id + 0.5f));
            int xi1 = Math.Min(15, (int)(sbyte)((x[16 + j] - min) * id + 0.5f));
            y[4 + j] = (byte)(xi0 | (xi1 << 4));
            e[j] = xi0 * F(dh) + F(mh);
            e[16 + j] = xi1 * F(dh) + F(mh);
        }
    }

    private static void Q5_0(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (_, max) = AbsMax(x);
        float d = max / -16, id = d != 0 ? 1.0f / d : 0.0f;
        ushort dh = H(d);
        PutH(y, 0, dh);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int xi0 = Math.Min(31, (int)(sbyte)(x[j] * id + 16.5f));
            int xi1 = Math.Min(31, (int)(sbyte)(x[16 + j] * id + 16.5f));
            y[6 + j] = (byte)((xi0 & 0xF) | ((xi1 & 0xF) << 4));
            qh |= (uint)((xi0 & 0x10) >> 4) << j;
            qh |= (uint)((xi1 & 0x10) >> 4) << (j + 16);
            e[j] = (xi0 - 16) * F(dh);
            e[16 + j] = (xi1 - 16) * F(dh);
        }
        BitConverter.TryWriteBytes(y[2..], qh);
    }

    private static void Q5_1(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        foreach (float v in x) { min = MathF.Min(min, v); max = MathF.Max(max, v); }
        float d = (max - min) / 31, id = d != 0 ? 1.0f / d : 0.0f;
        ushort dh = H(d), mh = H(min);
        PutH(y, 0, dh);
        PutH(y, 2, mh);
        uint qh = 0;
        for (int j = 0; j < 16; j++)
        {
            int xi0 = (byte)((x[j] - min) * id + 0.5f);
            int xi1 = (byte)((x[16 + j] - min) * id + 0.5f);
            y[8 + j] = (byte)((xi0 & 0xF) | ((xi1 & 0xF) << 4));
            qh |= (uint)((xi0 & 0x10) >> 4) << j;
            qh |= (uint)((xi1 & 0x10) >> 4) << (j + 16);
            e[j] = xi0 * F(dh) + F(mh);
            e[16 + j] = xi1 * F(dh) + F(mh);
        }
        BitConverter.TryWriteBytes(y[4..], qh);
    }

    private static void Q8_0(ReadOnlySpan<float> x, Span<byte> y, Span<float> e, bool withSum)
    {
        var (amax, _) = AbsMax(x);
        float d = amax / 127, id = d != 0 ? 1.0f / d : 0.0f;
        ushort dh = H(d);
        PutH(y, 0, dh);
        int qs = withSum ? 4 : 2, sum = 0;
        for (int j = 0; j < 32; j++)
        {
            int q = (int)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
            y[qs + j] = (byte)(sbyte)q;
            sum += q;
            e[j] = q * F(dh);
        }
        if (withSum) PutH(y, 2, H(sum * d));
    }

    private static void IQ4_NL(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (_, max) = AbsMax(x);
        float d = max / 127;
        ushort dh = H(d);
        PutH(y, 0, dh);
        float id = F(dh) != 0 ? 1 / F(dh) : 0;
        for (int j = 0; j < 16; j++)
        {
            int i0 = NearestCode(IQ4NL, x[j] * id), i1 = NearestCode(IQ4NL, x[16 + j] * id);
            y[2 + j] = (byte)(i0 | (i1 << 4));
            e[j] = F(dh) * IQ4NL[i0];
            e[16 + j] = F(dh) * IQ4NL[i1];
        }
    }

    private static int NearestCode(sbyte[] values, float v)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (MathF.Abs(values[i] - v) < MathF.Abs(values[best] - v)) best = i;
        return best;
    }

    private static float E8M0Half(byte e) => BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);

    private static void MxFp4(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (amax, _) = AbsMax(x);
        byte exp = amax > 0 ? (byte)(MathF.Floor(MathF.Log2(amax)) - 2 + 127) : (byte)0;
        float d = E8M0Half(exp);
        y[0] = exp;
        for (int j = 0; j < 16; j++)
        {
            int i0 = BestMxFp4(x[j], d), i1 = BestMxFp4(x[16 + j], d);
            y[1 + j] = (byte)(i0 | (i1 << 4));
            e[j] = MXFP4[i0] * d;
            e[16 + j] = MXFP4[i1] * d;
        }
    }

    private static int BestMxFp4(float x, float d)
    {
        int best = 0;
        float bestErr = MathF.Abs(MXFP4[0] * d - x);
        for (int i = 1; i < 16; i++)
        {
            float err = MathF.Abs(MXFP4[i] * d - x);
            if (err < bestErr) { best = i; bestErr = err; }
        }
        return best;
    }

    // ---- K-quants (256-element super-blocks) ---------------------------------------------------------------

    /// <summary>ggml's make_qkx2_quants: scale and (positive) min for an affine quantization of x to 0..nmax.</summary>
    private static float MakeQkx2Quants(int n, int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, Span<byte> l,
        out float theMin, float rmin, float rdelta, int nstep, bool useMad)
    {
        Span<byte> laux = stackalloc byte[n];
        float min = x[0], max = x[0];
        float sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            l[..n].Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int li = NearestInt(iscale * (x[i] - min));
            l[i] = (byte)Math.Max(0, Math.Min(nmax, li));
            float diff = scale * l[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1)
        {
            theMin = -min;
            return scale;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int li = Math.Max(0, Math.Min(nmax, NearestInt(iscale * (x[i] - min))));
                laux[i] = (byte)li;
                float w = weights[i];
                sumL += w * li;
                sumL2 += w * li * li;
                sumXL += w * li * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError)
                {
                    laux[..n].CopyTo(l);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>ggml's make_q3_quants with do_rmse: symmetric levels -nmax..nmax-1, returned shifted to 0..2nmax-1.</summary>
    private static float MakeQ3Quants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> l)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            l[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int li = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            l[i] = (sbyte)li;
            float w = x[i] * x[i];
            sumlx += w * x[i] * li;
            suml2 += w * li * li;
        }
        for (int itry = 0; itry < 5; itry++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * l[i];
                if (slx > 0)
                {
                    float sl2 = suml2 - w * l[i] * l[i];
                    int newL = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(x[i] * sl2 / slx)));
                    if (newL != l[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            l[i] = (sbyte)newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) l[i] += (sbyte)nmax;
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /// <summary>ggml's make_qx_quants with rmse_type 1 and no importance weights.</summary>
    private static float MakeQxQuants(int n, int nmax, ReadOnlySpan<float> x, Span<sbyte> l)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            l[..n].Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int li = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            l[i] = (sbyte)(li + nmax);
            float w = x[i] * x[i];
            sumlx += w * x[i] * li;
            suml2 += w * li * li;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int li = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumlx += w * x[i] * li;
                suml2 += w * li * li;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                    l[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>The 2-bit plane packing shared by Q2_K and Q3_K: per 128 elements, byte l holds elements l, l+32, l+64, l+96.</summary>
    private static void Pack2Bit(ReadOnlySpan<int> levels, Span<byte> qs)
    {
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                qs[j / 4 + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 2) | (levels[j + l + 64] << 4) | (levels[j + l + 96] << 6));
    }

    /// <summary>Q2_K {scales[16]; qs[64]; d; dmin}.</summary>
    private static void Q2_K(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        const float q4scale = 15f;
        Span<byte> lb = stackalloc byte[256];
        Span<float> weights = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 16; j++)
        {
            for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(x[16 * j + l]);
            scales[j] = MakeQkx2Quants(16, 3, x.Slice(16 * j, 16), weights, lb.Slice(16 * j, 16), out mins[j], -0.5f, 0.1f, 15, true);
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }
        var sc = y[..16];
        ushort dh, mh;
        if (maxScale > 0)
        {
            float iscale = q4scale / maxScale;
            for (int j = 0; j < 16; j++) sc[j] = (byte)NearestInt(iscale * scales[j]);
            dh = H(maxScale / q4scale);
        }
        else
        {
            sc.Clear();
            dh = H(0f);
        }
        if (maxMin > 0)
        {
            float iscale = q4scale / maxMin;
            for (int j = 0; j < 16; j++) sc[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
            mh = H(maxMin / q4scale);
        }
        else
        {
            mh = H(0f);
        }
        Span<int> levels = stackalloc int[256];
        for (int i = 0; i < 256; i++) levels[i] = lb[i];
        for (int j = 0; j < 16; j++)
        {
            float d = F(dh) * (sc[j] & 0xF);
            if (d == 0) continue;
            float dm = F(mh) * (sc[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
                levels[16 * j + ii] = Math.Max(0, Math.Min(3, NearestInt((x[16 * j + ii] + dm) / d)));
        }
        Pack2Bit(levels, y.Slice(16, 64));
        PutH(y, 80, dh);
        PutH(y, 82, mh);
        for (int j = 0; j < 16; j++)
        {
            float dl = F(dh) * (sc[j] & 0xF), ml = F(mh) * (sc[j] >> 4);
            for (int l = 0; l < 16; l++) e[16 * j + l] = dl * levels[16 * j + l] - ml;
        }
    }

    /// <summary>Q3_K {hmask[32]; qs[64]; scales[12]; d}.</summary>
    private static void Q3_K(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        Span<sbyte> lq = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, amax = 0;
        for (int j = 0; j < 16; j++)
        {
            scales[j] = MakeQ3Quants(16, 4, x.Slice(16 * j, 16), lq.Slice(16 * j, 16));
            float scale = MathF.Abs(scales[j]);
            if (scale > amax) { amax = scale; maxScale = scales[j]; }
        }
        var packed = y.Slice(96, 12);
        packed.Clear();
        Span<int> logical = stackalloc int[16];
        ushort dh;
        if (maxScale != 0)
        {
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++)
            {
                int l = Math.Max(-32, Math.Min(31, (int)(sbyte)NearestInt(iscale * scales[j]))) + 32;
                logical[j] = l;
                if (j < 8) packed[j] = (byte)(l & 0xF);
                else packed[j - 8] |= (byte)((l & 0xF) << 4);
                packed[j % 4 + 8] |= (byte)((l >> 4) << (2 * (j / 4)));
            }
            dh = H(1 / iscale);
        }
        else
        {
            dh = H(0f);
        }
        Span<int> levels = stackalloc int[256];
        for (int i = 0; i < 256; i++) levels[i] = lq[i];
        for (int j = 0; j < 16; j++)
        {
            int sc = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
            sc = (sc | (((packed[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            float d = F(dh) * sc;
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++)
                levels[16 * j + ii] = Math.Max(-4, Math.Min(3, NearestInt(x[16 * j + ii] / d))) + 4;
        }
        for (int j = 0; j < 16; j++)
        {
            float dl = F(dh) * (logical[j] - 32);
            for (int l = 0; l < 16; l++) e[16 * j + l] = dl * (levels[16 * j + l] - 4);
        }
        // High bit of element j goes to bit (j / 32) of hmask[j % 32].
        var hmask = y[..32];
        hmask.Clear();
        for (int j = 0; j < 256; j++)
        {
            if (levels[j] > 3)
            {
                hmask[j % 32] |= (byte)(1 << (j / 32));
                levels[j] -= 4;
            }
        }
        Pack2Bit(levels, y.Slice(32, 64));
        PutH(y, 108, dh);
    }

    private static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> q) =>
        j < 4 ? (q[j] & 63, q[j + 4] & 63) : ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4));

    /// <summary>Q4_K {d; dmin; scales[12]; qs[128]} (nmax 15) and Q5_K {d; dmin; scales[12]; qh[32]; qs[128]} (nmax 31).</summary>
    private static void Q45_K(ReadOnlySpan<float> x, Span<byte> y, Span<float> e, int nmax)
    {
        Span<byte> lb = stackalloc byte[256];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[32 * j + l] * x[32 * j + l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[32 * j + l]);
            scales[j] = nmax == 15
                ? MakeQkx2Quants(32, 15, x.Slice(32 * j, 32), weights, lb.Slice(32 * j, 32), out mins[j], -1f, 0.1f, 20, false)
                : MakeQkx2Quants(32, 31, x.Slice(32 * j, 32), weights, lb.Slice(32 * j, 32), out mins[j], -0.5f, 0.1f, 15, false);
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        var packed = y.Slice(4, 12);
        packed.Clear();
        Span<int> ls = stackalloc int[8];
        Span<int> lm = stackalloc int[8];
        for (int j = 0; j < 8; j++)
        {
            ls[j] = Math.Min(63, (int)(byte)NearestInt(invScale * scales[j]));
            lm[j] = Math.Min(63, (int)(byte)NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                packed[j] = (byte)ls[j];
                packed[j + 4] = (byte)lm[j];
            }
            else
            {
                packed[j + 4] = (byte)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                packed[j - 4] |= (byte)((ls[j] >> 4) << 6);
                packed[j] |= (byte)((lm[j] >> 4) << 6);
            }
        }
        ushort dh = H(maxScale / 63f), mh = H(maxMin / 63f);
        PutH(y, 0, dh);
        PutH(y, 2, mh);
        Span<int> levels = stackalloc int[256];
        for (int i = 0; i < 256; i++) levels[i] = lb[i];
        for (int j = 0; j < 8; j++)
        {
            var (sc, m) = ScaleMinK4(j, packed);
            float d = F(dh) * sc;
            if (d == 0) continue;
            float dm = F(mh) * m;
            for (int ii = 0; ii < 32; ii++)
                levels[32 * j + ii] = Math.Max(0, Math.Min(nmax, NearestInt((x[32 * j + ii] + dm) / d)));
        }
        for (int j = 0; j < 8; j++)
        {
            float d1 = F(dh) * ls[j], m1 = F(mh) * lm[j];
            for (int l = 0; l < 32; l++) e[32 * j + l] = d1 * levels[32 * j + l] - m1;
        }
        if (nmax == 15)
        {
            var q = y.Slice(16, 128);
            for (int j = 0; j < 256; j += 64)
                for (int l = 0; l < 32; l++) q[j / 2 + l] = (byte)(levels[j + l] | (levels[j + l + 32] << 4));
            return;
        }
        var qh = y.Slice(16, 32);
        var ql = y.Slice(48, 128);
        qh.Clear();
        int m1bit = 1, m2bit = 2;
        for (int n = 0; n < 256; n += 64)
        {
            for (int j = 0; j < 32; j++)
            {
                int l1 = levels[n + j], l2 = levels[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= (byte)m1bit; }
                if (l2 > 15) { l2 -= 16; qh[j] |= (byte)m2bit; }
                ql[n / 2 + j] = (byte)(l1 | (l2 << 4));
            }
            m1bit <<= 2;
            m2bit <<= 2;
        }
    }

    /// <summary>Q6_K {ql[128]; qh[64]; scales[16]; d}.</summary>
    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        Span<sbyte> lq = stackalloc sbyte[256];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++)
        {
            scales[ib] = MakeQxQuants(16, 32, x.Slice(16 * ib, 16), lq.Slice(16 * ib, 16));
            if (MathF.Abs(scales[ib]) > maxAbsScale) { maxAbsScale = MathF.Abs(scales[ib]); maxScale = scales[ib]; }
        }
        if (maxAbsScale < GroupMaxEps)
        {
            y.Clear();
            e.Clear();
            return;
        }
        float iscale = -128f / maxScale;
        ushort dh = H(1 / iscale);
        var sc = y.Slice(192, 16);
        for (int ib = 0; ib < 16; ib++) sc[ib] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
        Span<int> levels = stackalloc int[256];
        for (int i = 0; i < 256; i++) levels[i] = lq[i];
        for (int j = 0; j < 16; j++)
        {
            float d = F(dh) * (sbyte)sc[j];
            if (d == 0) continue;
            for (int ii = 0; ii < 16; ii++)
                levels[16 * j + ii] = Math.Max(-32, Math.Min(31, NearestInt(x[16 * j + ii] / d))) + 32;
        }
        for (int j = 0; j < 16; j++)
            for (int l = 0; l < 16; l++) e[16 * j + l] = F(dh) * (sbyte)sc[j] * (levels[16 * j + l] - 32);
        var ql = y[..128];
        var qh = y.Slice(128, 64);
        for (int j = 0; j < 256; j += 128)
        {
            for (int l = 0; l < 32; l++)
            {
                int q1 = levels[j + l] & 0xF, q2 = levels[j + l + 32] & 0xF, q3 = levels[j + l + 64] & 0xF, q4 = levels[j + l + 96] & 0xF;
                ql[j / 2 + l] = (byte)(q1 | (q3 << 4));
                ql[j / 2 + l + 32] = (byte)(q2 | (q4 << 4));
                qh[j / 4 + l] = (byte)((levels[j + l] >> 4) | ((levels[j + l + 32] >> 4) << 2) | ((levels[j + l + 64] >> 4) << 4) | ((levels[j + l + 96] >> 4) << 6));
            }
        }
        PutH(y, 208, dh);
    }

    /// <summary>Q8_K {float d; qs[256]; i16 bsums[16]}.</summary>
    private static void Q8_K(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (amax, max) = AbsMax(x);
        y.Clear();
        if (amax == 0)
        {
            e.Clear();
            return;
        }
        float iscale = -127f / max;
        for (int j = 0; j < 256; j++) y[4 + j] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * x[j]));
        for (int j = 0; j < 16; j++)
        {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++) sum += (sbyte)y[4 + j * 16 + ii];
            BitConverter.TryWriteBytes(y[(260 + 2 * j)..], (short)sum);
        }
        float d = 1 / iscale;
        BitConverter.TryWriteBytes(y, d);
        for (int j = 0; j < 256; j++) e[j] = d * (sbyte)y[4 + j];
    }

    /// <summary>IQ4_XS {d; scales_h; scales_l[4]; qs[128]}: per-32 scales quantized to 6 bits around a super-block scale.</summary>
    private static void IQ4_XS(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        Span<float> scales = stackalloc float[8];
        float maxScale = 0, amax = 0;
        for (int ib = 0; ib < 8; ib++)
        {
            var (_, max) = AbsMax(x.Slice(32 * ib, 32));
            scales[ib] = max / 127;
            if (MathF.Abs(scales[ib]) > amax) { amax = MathF.Abs(scales[ib]); maxScale = scales[ib]; }
        }
        y.Clear();
        float d = -maxScale / 32;
        ushort dh = H(d);
        PutH(y, 0, dh);
        float id = F(dh) != 0 ? 1 / F(dh) : 0;
        int scalesHigh = 0;
        for (int ib = 0; ib < 8; ib++)
        {
            int l = Math.Max(-32, Math.Min(31, NearestInt(id * scales[ib])));
            float dl = F(dh) * l;
            float idl = dl != 0 ? 1 / dl : 0;
            int ls = l + 32;
            y[4 + ib / 2] |= (byte)((ls & 0xF) << (4 * (ib % 2)));
            scalesHigh |= (ls >> 4) << (2 * ib);
            for (int j = 0; j < 16; j++)
            {
                int i0 = NearestCode(IQ4NL, x[32 * ib + j] * idl), i1 = NearestCode(IQ4NL, x[32 * ib + 16 + j] * idl);
                y[8 + 16 * ib + j] = (byte)(i0 | (i1 << 4));
                e[32 * ib + j] = dl * IQ4NL[i0];
                e[32 * ib + 16 + j] = dl * IQ4NL[i1];
            }
        }
        BitConverter.TryWriteBytes(y[2..], (ushort)scalesHigh);
    }

    // ---- ternary ----------------------------------------------------------------------------------------

    private static void TQ1_0(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (amax, _) = AbsMax(x);
        float id = amax != 0 ? 1.0f / amax : 0.0f;
        ushort dh = H(amax);
        Span<int> digits = stackalloc int[256];
        for (int i = 0; i < 256; i++) digits[i] = (int)MathF.Round(x[i] * id, MidpointRounding.AwayFromZero) + 1;
        int at = 0;
        // 32 bytes of five digits (elements m + 32n), 16 bytes of five digits (160 + m + 16n), 4 bytes of four (240 + j + 4m).
        for (int m = 0; m < 32; m++) y[m] = PackTrits(digits, 0 + m, 32, 5);
        for (int m = 0; m < 16; m++) y[32 + m] = PackTrits(digits, 160 + m, 16, 5);
        for (int j = 0; j < 4; j++) y[48 + j] = PackTrits(digits, 240 + j, 4, 4);
        PutH(y, 52, dh);
        for (int i = 0; i < 256; i++) e[at++] = (digits[i] - 1) * F(dh);
    }

    /// <summary>Digits first-most-significant as a base-3 number scaled to a byte by ceiling division (ggml's layout).</summary>
    private static byte PackTrits(ReadOnlySpan<int> digits, int first, int stride, int count)
    {
        int q = 0;
        for (int n = 0; n < count; n++) q = q * 3 + digits[first + n * stride];
        for (int n = count; n < 5; n++) q *= 3;
        return (byte)((q * 256 + 242) / 243);
    }

    private static void TQ2_0(ReadOnlySpan<float> x, Span<byte> y, Span<float> e)
    {
        var (amax, _) = AbsMax(x);
        float id = amax != 0 ? 1.0f / amax : 0.0f;
        ushort dh = H(amax);
        for (int j = 0; j < 64; j += 32)
        {
            for (int m = 0; m < 32; m++)
            {
                int q = 0;
                for (int n = 0; n < 4; n++)
                {
                    int element = j * 4 + m + n * 32;
                    int xi = (int)MathF.Round(x[element] * id, MidpointRounding.AwayFromZero) + 1;
                    q |= (xi & 3) << (2 * n);
                    e[element] = (xi - 1) * F(dh);
                }
                y[j + m] = (byte)q;
            }
        }
        PutH(y, 64, dh);
    }
}
