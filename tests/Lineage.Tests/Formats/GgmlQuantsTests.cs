using Lineage.Numerics;

namespace Lineage.Tests.Formats;

public class GgmlQuantsTests
{
    public static TheoryData<DType> SupportedTypes => new(
        DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q8_0, DType.Q8_1,
        DType.Q2_K, DType.Q3_K, DType.Q4_K, DType.Q5_K, DType.Q6_K, DType.Q8_K,
        DType.IQ4_NL, DType.IQ4_XS, DType.TQ1_0, DType.TQ2_0, DType.MXFP4);

    /// <summary>
    /// Largest error of quantize-then-dequantize relative to the block's largest magnitude, for the test data
    /// below (normal values with a few outliers). For the legacy types this is the quantization step (half a
    /// step for rounding, a full step where ggml clamps the extreme level) plus fp16 rounding of the scale; for
    /// K-quants and codebooks it is measured with margin. Layout bugs scramble elements and give errors near 1.
    /// </summary>
    private static double WorstErrorBound(DType type) => type switch
    {
        DType.Q8_0 or DType.Q8_1 or DType.Q8_K => 0.5 / 127 + 1.0 / 1024,
        DType.Q4_0 => 1.0 / 8 + 1e-3,
        DType.Q5_0 => 1.0 / 16 + 1e-3,
        DType.Q4_1 => 2.0 / 30 + 2e-3,
        DType.Q5_1 => 2.0 / 62 + 2e-3,
        DType.Q6_K => 0.03,
        DType.Q5_K => 0.05,
        DType.Q4_K => 0.09,
        DType.Q3_K => 0.2,
        DType.Q2_K => 0.4,
        DType.IQ4_NL or DType.IQ4_XS => 0.16,
        DType.MXFP4 => 0.26,
        _ => 1e-6,
    };

    /// <summary>Root-mean-square error relative to the signal's RMS (measured values with about 30% margin).</summary>
    private static double RmsErrorBound(DType type) => type switch
    {
        DType.Q8_0 or DType.Q8_1 => 0.01,
        DType.Q8_K => 0.015,
        DType.Q4_0 => 0.16,
        DType.Q4_1 => 0.12,
        DType.Q5_0 => 0.08,
        DType.Q5_1 => 0.06,
        DType.Q6_K => 0.03,
        DType.Q5_K => 0.06,
        DType.Q4_K => 0.11,
        DType.Q3_K => 0.24,
        DType.Q2_K => 0.42,
        DType.IQ4_NL or DType.IQ4_XS => 0.16,
        DType.MXFP4 => 0.2,
        _ => 1e-6,
    };

    private static float[] TestData(int n, int seed, bool ternary = false)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            if (ternary)
            {
                x[i] = (rng.Next(3) - 1) * 0.75f;
                continue;
            }
            // Box-Muller normal values; every 97th is a 6-sigma outlier, and one block is all zeros.
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            x[i] = (float)(i % 97 == 5 ? 6 * Math.Sign(z - 0.01) : z) * 0.02f;
        }
        Array.Clear(x, 256, 256);
        return x;
    }

    [Theory]
    [MemberData(nameof(SupportedTypes))]
    public void Dequantize_reproduces_the_reference_quantizers_levels_exactly(DType type)
    {
        bool ternary = type is DType.TQ1_0 or DType.TQ2_0;
        var x = TestData(4096, 7, ternary);
        var (blocks, expected) = GgmlReferenceQuantizers.Quantize(type, x);
        var decoded = new float[x.Length];
        GgmlQuants.Dequantize(type, blocks, decoded);
        for (int i = 0; i < x.Length; i++)
            Assert.True(expected[i] == decoded[i], $"{type} element {i}: expected {expected[i]}, decoded {decoded[i]}");
    }

    [Theory]
    [MemberData(nameof(SupportedTypes))]
    public void Quantize_then_dequantize_stays_within_the_types_error_bound(DType type)
    {
        bool ternary = type is DType.TQ1_0 or DType.TQ2_0;
        var x = TestData(4096, 11, ternary);
        var (blocks, _) = GgmlReferenceQuantizers.Quantize(type, x);
        var decoded = new float[x.Length];
        ElementDecoder.Decode(type, blocks, decoded);

        int blockSize = type.Info().BlockSize;
        double bound = WorstErrorBound(type), worst = 0, sumSq = 0, sumErrSq = 0;
        for (int b = 0; b < x.Length / blockSize; b++)
        {
            float amax = 0;
            for (int i = b * blockSize; i < (b + 1) * blockSize; i++) amax = Math.Max(amax, Math.Abs(x[i]));
            for (int i = b * blockSize; i < (b + 1) * blockSize; i++)
            {
                double err = Math.Abs(x[i] - decoded[i]);
                if (amax == 0) Assert.Equal(0, err);
                else worst = Math.Max(worst, err / amax);
                sumSq += (double)x[i] * x[i];
                sumErrSq += err * err;
            }
        }
        Assert.True(worst <= bound, $"{type}: worst error {worst:F4} of the block max exceeds {bound:F4}");
        double relativeRms = Math.Sqrt(sumErrSq / sumSq);
        Assert.True(relativeRms <= RmsErrorBound(type), $"{type}: relative RMS error {relativeRms:F4} exceeds {RmsErrorBound(type):F4}");
    }

    [Fact]
    public void Dtype_table_is_truthful_about_ggml_blocks()
    {
        // Block sizes and bytes from ggml-common.h's static_asserts.
        var ggml = new Dictionary<DType, (int Size, int Bytes)>
        {
            [DType.Q4_0] = (32, 18), [DType.Q4_1] = (32, 20), [DType.Q5_0] = (32, 22), [DType.Q5_1] = (32, 24),
            [DType.Q8_0] = (32, 34), [DType.Q8_1] = (32, 36), [DType.Q2_K] = (256, 84), [DType.Q3_K] = (256, 110),
            [DType.Q4_K] = (256, 144), [DType.Q5_K] = (256, 176), [DType.Q6_K] = (256, 210), [DType.Q8_K] = (256, 292),
            [DType.IQ2_XXS] = (256, 66), [DType.IQ2_XS] = (256, 74), [DType.IQ3_XXS] = (256, 98), [DType.IQ1_S] = (256, 50),
            [DType.IQ4_NL] = (32, 18), [DType.IQ3_S] = (256, 110), [DType.IQ2_S] = (256, 82), [DType.IQ4_XS] = (256, 136),
            [DType.IQ1_M] = (256, 56), [DType.TQ1_0] = (256, 54), [DType.TQ2_0] = (256, 66), [DType.MXFP4] = (32, 17),
        };
        foreach (var (type, (size, bytes)) in ggml)
        {
            var info = type.Info();
            Assert.Equal((size, bytes), (info.BlockSize, info.BlockBytes));
            Assert.Equal(GgmlQuants.Supports(type), info.CanDecode);
        }
        foreach (var type in Enum.GetValues<DType>().Where(t => t.Info().IsQuantized))
            Assert.True(ggml.ContainsKey(type), $"{type} has no ggml block layout in the test table");
    }

    [Fact]
    public void Unsupported_quantization_is_refused()
    {
        Assert.False(DType.IQ2_XXS.Info().CanDecode);
        Assert.Throws<NotSupportedException>(() => GgmlQuants.Dequantize(DType.IQ2_XXS, new byte[66], new float[256]));
        Assert.Throws<ArgumentException>(() => GgmlQuants.Dequantize(DType.Q8_0, new byte[33], new float[32]));
        Assert.Throws<ArgumentException>(() => GgmlQuants.Dequantize(DType.Q8_0, new byte[34], new float[31]));
    }

    // ---- hand-built blocks with values worked out from the block layouts -------------------------------------

    private const ushort One = 0x3C00, Two = 0x4000, Half = 0x3800;

    private static float[] Decode(DType type, byte[] block)
    {
        var y = new float[type.Info().BlockSize];
        GgmlQuants.Dequantize(type, block, y);
        return y;
    }

    private static void Put(byte[] b, int at, ushort v)
    {
        b[at] = (byte)v;
        b[at + 1] = (byte)(v >> 8);
    }

    [Fact]
    public void Q4_0_low_nibbles_are_the_first_half()
    {
        var b = new byte[18];
        Put(b, 0, Two);
        for (int j = 0; j < 16; j++) b[2 + j] = 0x88;
        b[2] = 0x9F;   // element 0: 15-8 = 7; element 16: 9-8 = 1
        b[3] = 0x07;   // element 1: 7-8 = -1; element 17: 0-8 = -8
        var y = Decode(DType.Q4_0, b);
        Assert.Equal([14f, -2f], y[..2]);
        Assert.Equal([2f, -16f], y[16..18]);
        Assert.All(y[2..16], v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Q4_1_adds_the_minimum()
    {
        var b = new byte[20];
        Put(b, 0, Half);
        Put(b, 2, 0xBC00); // m = -1
        b[4] = 0xF1;
        var y = Decode(DType.Q4_1, b);
        Assert.Equal(-0.5f, y[0]);
        Assert.Equal(6.5f, y[16]);
        Assert.Equal(-1f, y[1]);
    }

    [Fact]
    public void Q5_0_fifth_bits_come_from_qh_bit_j_and_j_plus_16()
    {
        var b = new byte[22];
        Put(b, 0, One);
        uint qh = (1u << 0) | (1u << 16) | (1u << 31);
        BitConverter.TryWriteBytes(b.AsSpan(2), qh);
        b[6] = 0x21;   // element 0: (1 | 16) - 16 = 1; element 16: (2 | 16) - 16 = 2
        var y = Decode(DType.Q5_0, b);
        Assert.Equal(1f, y[0]);
        Assert.Equal(2f, y[16]);
        Assert.Equal(-16f, y[1]);
        Assert.Equal(0f, y[31]);   // high bit 31 → element 31 = (0 | 16) - 16
    }

    [Fact]
    public void Q5_1_fifth_bits_and_minimum()
    {
        var b = new byte[24];
        Put(b, 0, One);
        Put(b, 2, 0x4200); // m = 3
        BitConverter.TryWriteBytes(b.AsSpan(4), 1u << 17);
        b[8 + 1] = 0x40;   // element 17: 4 | 16 = 20
        var y = Decode(DType.Q5_1, b);
        Assert.Equal(23f, y[17]);
        Assert.Equal(3f, y[0]);
    }

    [Fact]
    public void Q8_variants_place_their_scale_and_quants()
    {
        var q80 = new byte[34];
        Put(q80, 0, Half);
        q80[2] = 0x80; // -128
        q80[33] = 0x7F;
        Assert.Equal(-64f, Decode(DType.Q8_0, q80)[0]);
        Assert.Equal(63.5f, Decode(DType.Q8_0, q80)[31]);

        var q81 = new byte[36];
        Put(q81, 0, Two);
        Put(q81, 2, 0x7BFF); // the stored sum is not part of the value
        q81[4] = 3;
        Assert.Equal(6f, Decode(DType.Q8_1, q81)[0]);

        var q8k = new byte[292];
        BitConverter.TryWriteBytes(q8k, 0.25f);
        q8k[4 + 255] = 0xFC; // -4
        Assert.Equal(-1f, Decode(DType.Q8_K, q8k)[255]);
    }

    [Fact]
    public void Q2_K_scales_mins_and_bit_planes()
    {
        var b = new byte[84];
        b[0] = 0x21;       // sub-block 0: scale 1, min 2
        b[5] = 0x03;       // sub-block 5: scale 3, min 0
        b[16 + 0] = 0b_00_00_00_11;   // element 0 = 3 (plane 0)
        b[16 + 16] = 0b_00_00_10_00;  // element 16 + 32 = 48 (plane 1 of byte 16): sub-block 3
        b[16 + 32 + 17] = 0b_01_00_00_00; // second half, byte 17 of part 1 → element 128 + 96 + 17 = 241 (sub-block 15)
        b[16 + 4] = 0b_00_01_00_00;   // element 4 + 64 = 68: sub-block 4
        b[16 + 20] = 0b_00_10_00_00;  // element 20 + 64 = 84: sub-block 5 → 3 * 2 = 6
        Put(b, 80, One);
        Put(b, 82, Half);
        var y = Decode(DType.Q2_K, b);
        Assert.Equal(1f * 3 - 0.5f * 2, y[0]);
        Assert.Equal(-1f, y[1]);          // q = 0 in sub-block 0
        Assert.Equal(0f, y[48]);          // sub-block 3 has scale 0
        Assert.Equal(0f, y[241]);
        Assert.Equal(0f, y[68]);
        Assert.Equal(6f, y[84]);
        Assert.Equal(0f, y[95]);
    }

    [Fact]
    public void Q3_K_six_bit_scales_and_inverted_high_bits()
    {
        var b = new byte[110];
        var scales = b.AsSpan(96, 12);
        // Scale j is (low nibble | high pair << 4) - 32. Sub-block 0: 33 - 32 = 1; sub-block 9: 63 - 32 = 31;
        // sub-block 15: 0 - 32 = -32.
        scales[0] = 0x01; scales[8] = 0x02;              // j=0: low 1, high 2 (bits 0-1 of byte 8) → 33
        scales[1] |= 0xF0; scales[9] |= 0b_0011_0000;    // j=9: low = byte 1 high nibble 15, high = byte 9 bits 4-5 = 3 → 63
        // All other scales: low 0, high 0 → -32.
        Put(b, 108, Half);
        // Element 0: qs bits 0-1 = 2, hmask bit 0 of byte 0 set → q = 2. Element 1: qs 0, hmask clear → -4.
        b[32] = 2;
        b[0] = 1;
        // Element 144 (second half, part 1, plane 0, l=0 → sub-block 9): qs byte 32+32+16 = 80 bits 0-1 = 1,
        // hmask byte 16 bit 4 set → q = 1.
        b[32 + 48] = 1;
        b[16] = 1 << 4;
        var y = Decode(DType.Q3_K, b);
        Assert.Equal(0.5f * 1 * 2, y[0]);
        Assert.Equal(0.5f * 1 * -4, y[1]);
        Assert.Equal(0.5f * 31 * 1, y[144]);
        Assert.Equal(0.5f * -32 * -4, y[255]);
    }

    [Fact]
    public void Q4_K_packed_scales_reach_all_six_bits()
    {
        var b = new byte[144];
        Put(b, 0, One);
        Put(b, 2, Half);
        var sc = b.AsSpan(4, 12);
        sc[0] = 2 | (1 << 6);   // j=0 scale 2; top bits of j=4's scale = 1
        sc[4] = 5;              // j=0 min 5
        sc[8] = 0x3A;           // j=4: scale low nibble 10, min low nibble 3
        sc[4] |= 2 << 6;        // top bits of j=4's min = 2
        // j=4: scale = 10 | 1<<4 = 26; min = 3 | 2<<4 = 35
        b[16] = 0x73;           // element 0 = 3 (sub-block 0), element 32 = 7 (sub-block 1: scale 0, min 0)
        b[16 + 64] = 0x0F;      // element 128 = 15 (sub-block 4)
        var y = Decode(DType.Q4_K, b);
        Assert.Equal(2f * 3 - 0.5f * 5, y[0]);
        Assert.Equal(0f, y[32]);
        Assert.Equal(26f * 15 - 0.5f * 35, y[128]);
        Assert.Equal(-0.5f * 35, y[129]);
    }

    [Fact]
    public void Q5_K_high_bits_step_by_two_per_pair()
    {
        var b = new byte[176];
        Put(b, 0, One);
        Put(b, 2, 0);
        var sc = b.AsSpan(4, 12);
        sc[2] = 1; sc[3] = 1;   // sub-blocks 2 and 3: scale 1
        b[16 + 5] = 0b_0000_1100; // qh[5]: bit 2 (sub-block 2) and bit 3 (sub-block 3)
        b[48 + 32 + 5] = 0x21;    // pair 1, l=5: element 64+5 = 1, element 96+5 = 2
        var y = Decode(DType.Q5_K, b);
        Assert.Equal(17f, y[69]);
        Assert.Equal(18f, y[101]);
        Assert.Equal(0f, y[5]);
    }

    [Fact]
    public void Q6_K_nibbles_high_pairs_and_signed_scales()
    {
        var b = new byte[210];
        Put(b, 208, One);
        var sc = b.AsSpan(192, 16);
        sc[0] = 1; sc[2] = 2; sc[4] = unchecked((byte)-1); sc[6] = 3; sc[9] = 5;
        // l=0 of the first half: elements 0, 32, 64, 96 with scales 1, 2, -1, 3.
        b[0] = 0x21;            // ql[0]: low 1 (element 0), high 2 (element 64)
        b[32] = 0x43;           // ql[32]: low 3 (element 32), high 4 (element 96)
        b[128] = 0b_11_10_01_00; // qh[0]: element 0 +0, element 32 +16, element 64 +32, element 96 +48
        // second half, l = 16 → scale index 1 + 8 = 9: element 128 + 16 = 144.
        b[64 + 16] = 0x0F;
        b[128 + 32 + 16] = 0b_00_00_00_10;
        var y = Decode(DType.Q6_K, b);
        Assert.Equal(1f * (1 - 32), y[0]);
        Assert.Equal(2f * (3 + 16 - 32), y[32]);
        Assert.Equal(-1f * (2 + 32 - 32), y[64]);
        Assert.Equal(3f * (4 + 48 - 32), y[96]);
        Assert.Equal(5f * (15 + 32 - 32), y[144]);
    }

    [Fact]
    public void Codebook_types_decode_their_tables()
    {
        var nl = new byte[18];
        Put(nl, 0, Half);
        nl[2] = 0xF0;   // element 0 → index 0 (-127), element 16 → index 15 (113)
        var y = Decode(DType.IQ4_NL, nl);
        Assert.Equal(-63.5f, y[0]);
        Assert.Equal(56.5f, y[16]);

        var xs = new byte[136];
        Put(xs, 0, One);
        BitConverter.TryWriteBytes(xs.AsSpan(2), (ushort)(0b_11 << 2)); // sub-block 1 high bits 3
        xs[4] = 0x10;   // sub-block 0 low 0 (scale 0 - 32 = -32); sub-block 1 low 1 → 1 | 48 = 49 → 17
        xs[8 + 16] = 0x08; // sub-block 1, element 32: index 8 (1); element 48: index 0 (-127)
        var z = Decode(DType.IQ4_XS, xs);
        Assert.Equal(17f, z[32]);
        Assert.Equal(17f * -127, z[48]);
        Assert.Equal(-32f * -127, z[0]);

        var mx = new byte[17];
        mx[0] = 128;    // scale 2^(128-128) = 1 for the doubled table
        mx[1] = 0xE7;   // element 0 → index 7 (12), element 16 → index 14 (-8)
        var w = Decode(DType.MXFP4, mx);
        Assert.Equal(12f, w[0]);
        Assert.Equal(-8f, w[16]);
        mx[0] = 0;      // smallest scale: 2^-128, a subnormal
        Assert.Equal(12 * MathF.Pow(2, -128), Decode(DType.MXFP4, mx)[0]);
    }

    [Fact]
    public void Ternary_types_decode_digits()
    {
        var tq2 = new byte[66];
        Put(tq2, 64, Two);
        tq2[0] = 0b_10_01_00_10;   // elements 0, 32, 64, 96 → codes 2, 0, 1, 2 → +1, -1, 0, +1
        var y = Decode(DType.TQ2_0, tq2);
        Assert.Equal([2f, -2f, 0f, 2f], new[] { y[0], y[32], y[64], y[96] });
        Assert.Equal(-2f, y[1]);

        var tq1 = new byte[54];
        Put(tq1, 52, One);
        // Byte 0 holds elements 0, 32, 64, 96, 128 as base-3 digits (2, 0, 1, 2, 1) = 2*81 + 0 + 9 + 6 + 1 = 178,
        // stored as ceil(178 * 256 / 243) = 188.
        tq1[0] = 188;
        var z = Decode(DType.TQ1_0, tq1);
        Assert.Equal([1f, -1f, 0f, 1f, 0f], new[] { z[0], z[32], z[64], z[96], z[128] });
        Assert.Equal(-1f, z[1]);
    }
}
