using System.Runtime.Intrinsics;

namespace Lineage.Store;

/// <summary>
/// Locality-sensitive band keys of a <see cref="WeightSketch"/>, so that a store can find the entries whose
/// sketch resembles the query's through an index instead of reading every sketch that shares its tokenizer
/// or width (at a million entries, a popular width alone is hundreds of thousands of rows).
/// <para>Each part of the sketch (text-keyed and id-keyed anchors) is a vector of Gram entries indexed by anchor
/// pairs. The vector is centred (Pearson correlation is the cosine of centred vectors; integer arithmetic, so
/// the bits are the same on every machine) and projected onto
/// <see cref="BandsPerPart"/> × <see cref="BitsPerBand"/> pseudo-random ±1 directions; the direction's
/// coordinate for a pair is a hash of the pair's two anchor keys, so two sketches over the same anchors are
/// projected the same way and anchors one of them lacks only add noise (random-hyperplane hashing). A bit
/// agrees between two sketches with probability 1 − arccos(ρ)/π: 0.82 at ρ = 0.85 (related ladder pairs are
/// there or above), 0.52 at ρ = 0.05 (independent pairs' median). A band is <see cref="BitsPerBand"/> bits;
/// two sketches are band neighbours when any band of a part agrees.</para>
/// <para>With 12 bits and 32 bands per part: a related pair at ρ = 0.85 shares a band of a given part with
/// probability 1 − (1 − 0.82¹²)³² ≈ 96 % (≈ 99.8 % when both parts are present, as with every tokenizer
/// that keeps its ids), at ρ = 0.91 ≈ 99.6 % per part; an unrelated entry is a neighbour with probability
/// ≈ 32/4096 ≈ 0.8 % per part, so a million entries yield about 16,000 band neighbours to rank.</para>
/// </summary>
public static class SketchBands
{
    public const int BandsPerPart = 32;
    public const int BitsPerBand = 12;

    /// <summary>Version of the band scheme; a store recomputes stored bands when it changes.</summary>
    public const int SchemeVersion = 1;

    private const int Bits = BandsPerPart * BitsPerBand;
    private const int Words = (Bits + 63) / 64;

    /// <summary>The band keys of a sketch (empty when the sketch is empty): distinct, ascending.</summary>
    public static int[] Of(WeightSketch sketch)
    {
        ArgumentNullException.ThrowIfNull(sketch);
        var keys = new List<int>(2 * BandsPerPart);
        AddPart(keys, 0, sketch.TextKeys, sketch.TextGram);
        AddPart(keys, 1, sketch.IdKeys, sketch.IdGram);
        keys.Sort();
        return [.. keys];
    }

    /// <summary>A band key: part (1 bit), band index (5 bits) and bucket (12 bits), so it fits an int column.</summary>
    private static int Key(int part, int band, int bucket) => (part << 17) | (band << BitsPerBand) | bucket;

    /// <summary>Lane k of entry b is +1 when bit k of b is set, else −1: eight projection signs per vector add.</summary>
    private static readonly Vector256<int>[] SignTable = BuildSignTable();

    private static Vector256<int>[] BuildSignTable()
    {
        var table = new Vector256<int>[256];
        Span<int> lanes = stackalloc int[8];
        for (int b = 0; b < 256; b++)
        {
            for (int k = 0; k < 8; k++) lanes[k] = ((b >> k) & 1) != 0 ? 1 : -1;
            table[b] = Vector256.Create<int>(lanes);
        }
        return table;
    }

    private static void AddPart(List<int> keys, int part, ulong[] anchorKeys, sbyte[] gram)
    {
        int m = anchorKeys.Length;
        if (m < 2 || gram.Length != m * (m - 1) / 2) return;
        // Centring in integers (g·n − Σg has the sign of g − mean), so the projection is exact and the same on
        // every machine: |value| ≤ 2·127·496 and a sum over 496 pairs stays far below 2³¹.
        int n = gram.Length, sum = 0;
        foreach (sbyte g in gram) sum += g;
        Span<Vector256<int>> projection = stackalloc Vector256<int>[Bits / 8];
        projection.Clear();
        int k = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = i + 1; j < m; j++, k++)
            {
                int v = gram[k] * n - sum;
                if (v == 0) continue;
                var value = Vector256.Create(v);
                ulong pair = Mix(anchorKeys[i] ^ Mix(anchorKeys[j] + 0x9E3779B97F4A7C15UL));
                for (int w = 0; w < Words; w++)
                {
                    ulong signs = Mix(pair + (ulong)(w + 1) * 0xD1B54A32D192ED03UL);
                    int limit = Math.Min(8, (Bits - w * 64) / 8);
                    for (int b = 0; b < limit; b++)
                        projection[w * 8 + b] += value * SignTable[(int)((signs >> (8 * b)) & 0xFF)];
                }
            }
        }
        for (int band = 0; band < BandsPerPart; band++)
        {
            int bucket = 0;
            for (int b = 0; b < BitsPerBand; b++)
            {
                int bit = band * BitsPerBand + b;
                if (projection[bit >> 3].GetElement(bit & 7) > 0) bucket |= 1 << b;
            }
            keys.Add(Key(part, band, bucket));
        }
    }

    /// <summary>SplitMix64 finaliser: a fixed, platform-independent 64-bit mix.</summary>
    private static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return x;
    }

    /// <summary>How many keys two ascending band-key lists share.</summary>
    public static int Shared(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int n = 0;
        for (int i = 0, j = 0; i < a.Count && j < b.Count;)
        {
            if (a[i] == b[j]) { n++; i++; j++; }
            else if (a[i] < b[j]) i++;
            else j++;
        }
        return n;
    }
}
