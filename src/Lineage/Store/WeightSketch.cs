using System.Buffers.Binary;
using Lineage.Provenance;

namespace Lineage.Store;

/// <summary>
/// A ~1.5 KB summary of a fingerprint's embedding geometry that ranks thousands of candidates in
/// milliseconds, so the full comparison (hundreds of milliseconds) runs only on the few that can be related.
/// It holds the normalised anchor Gram block of <see cref="Fingerprint.Embedding"/> over a few anchors: the
/// ones with the smallest token-text keys (aligned by what the token spells) and the ones with the smallest
/// token-id keys (aligned by id, for files without a tokenizer). Gram entries are invariant to residual
/// permutations, rotations and rescaling, so every function-preserving disguise keeps the sketch.
/// On the ladder, related pairs correlate at 0.85 or more and independent pairs at 0.05 (median, 0.77 at
/// most for two models trained on the same data and tokenizer): a ranking signal and a permissive gate,
/// never a verdict.
/// </summary>
public sealed class WeightSketch
{
    /// <summary>Anchors kept per part.</summary>
    public const int AnchorCount = 32;

    private const byte FormatVersion = 1;
    private const int MinimumSharedAnchors = 12;

    private WeightSketch(ulong[] textKeys, sbyte[] textGram, ulong[] idKeys, sbyte[] idGram)
    {
        TextKeys = textKeys;
        TextGram = textGram;
        IdKeys = idKeys;
        IdGram = idGram;
    }

    internal ulong[] TextKeys { get; }

    /// <summary>Upper triangle (i &lt; j, row-major) of the Gram block, quantised to [-127, 127].</summary>
    internal sbyte[] TextGram { get; }

    internal ulong[] IdKeys { get; }

    internal sbyte[] IdGram { get; }

    public bool IsEmpty => TextKeys.Length == 0 && IdKeys.Length == 0;

    public static WeightSketch From(Fingerprint fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var embedding = fingerprint.Embedding;
        var anchors = fingerprint.Anchors;
        int n = anchors.Length;
        if (embedding is null || n == 0 || embedding.Signatures.Length != (long)n * n)
            return new WeightSketch([], [], [], []);
        var byText = Enumerable.Range(0, n).Where(i => fingerprint.HasTokenizer && anchors[i].TextKey != 0)
            .Select(i => (Key: anchors[i].TextKey, Index: i));
        var byId = Enumerable.Range(0, n).Select(i => (Key: TokenKeys.ForId(anchors[i].Id), Index: i));
        var (textKeys, textGram) = Part(byText, embedding.Signatures, n);
        var (idKeys, idGram) = Part(byId, embedding.Signatures, n);
        return new WeightSketch(textKeys, textGram, idKeys, idGram);
    }

    private static (ulong[] Keys, sbyte[] Gram) Part(IEnumerable<(ulong Key, int Index)> anchors, float[] signatures, int n)
    {
        var chosen = anchors.DistinctBy(a => a.Key).OrderBy(a => a.Key).Take(AnchorCount).ToArray();
        if (chosen.Length < MinimumSharedAnchors) return ([], []);
        int m = chosen.Length;
        var gram = new sbyte[m * (m - 1) / 2];
        int k = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = i + 1; j < m; j++)
            {
                float v = signatures[(long)chosen[i].Index * n + chosen[j].Index];
                gram[k++] = (sbyte)Math.Clamp(MathF.Round(float.IsFinite(v) ? v * 127f : 0f), -127f, 127f);
            }
        }
        return ([.. chosen.Select(c => c.Key)], gram);
    }

    /// <summary>
    /// Pearson correlation of the Gram entries over anchors both sketches hold: by text when both have
    /// enough text anchors in common, otherwise by token id. Null when too few anchors are shared.
    /// </summary>
    public static double? Correlation(WeightSketch a, WeightSketch b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return PartCorrelation(a.TextKeys, a.TextGram, b.TextKeys, b.TextGram)
            ?? PartCorrelation(a.IdKeys, a.IdGram, b.IdKeys, b.IdGram);
    }

    private static double? PartCorrelation(ulong[] keysA, sbyte[] gramA, ulong[] keysB, sbyte[] gramB)
    {
        if (keysA.Length == 0 || keysB.Length == 0) return null;
        // Both key lists are ascending: merge to find shared anchors.
        Span<int> ia = stackalloc int[AnchorCount];
        Span<int> ib = stackalloc int[AnchorCount];
        int shared = 0;
        for (int i = 0, j = 0; i < keysA.Length && j < keysB.Length && shared < AnchorCount;)
        {
            if (keysA[i] == keysB[j]) { ia[shared] = i++; ib[shared++] = j++; }
            else if (keysA[i] < keysB[j]) i++;
            else j++;
        }
        if (shared < MinimumSharedAnchors) return null;
        int ma = keysA.Length, mb = keysB.Length;
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        int count = 0;
        for (int s = 0; s < shared; s++)
        {
            for (int t = s + 1; t < shared; t++)
            {
                double x = gramA[Triangle(ia[s], ia[t], ma)];
                double y = gramB[Triangle(ib[s], ib[t], mb)];
                sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
                count++;
            }
        }
        double cov = sxy - sx * sy / count, vx = sxx - sx * sx / count, vy = syy - sy * sy / count;
        if (vx <= 0 || vy <= 0) return null;
        return cov / Math.Sqrt(vx * vy);
    }

    /// <summary>Index of (i, j), i &lt; j, in the row-major upper triangle of an m×m matrix.</summary>
    private static int Triangle(int i, int j, int m) => i * (2 * m - i - 1) / 2 + (j - i - 1);

    public byte[] ToBytes()
    {
        var buffer = new byte[1 + Size(TextKeys, TextGram) + Size(IdKeys, IdGram)];
        buffer[0] = FormatVersion;
        int offset = 1;
        offset = Write(buffer, offset, TextKeys, TextGram);
        Write(buffer, offset, IdKeys, IdGram);
        return buffer;
    }

    /// <summary>Reads a stored sketch; a malformed or foreign-version blob reads as empty (it only ranks).</summary>
    public static WeightSketch Parse(ReadOnlySpan<byte> bytes)
    {
        var empty = new WeightSketch([], [], [], []);
        if (bytes.Length < 1 || bytes[0] != FormatVersion) return empty;
        int offset = 1;
        if (!TryRead(bytes, ref offset, out var textKeys, out var textGram)) return empty;
        if (!TryRead(bytes, ref offset, out var idKeys, out var idGram)) return empty;
        return new WeightSketch(textKeys, textGram, idKeys, idGram);
    }

    private static int Size(ulong[] keys, sbyte[] gram) => 1 + keys.Length * 8 + gram.Length;

    private static int Write(byte[] buffer, int offset, ulong[] keys, sbyte[] gram)
    {
        buffer[offset++] = (byte)keys.Length;
        foreach (ulong k in keys)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(offset), k);
            offset += 8;
        }
        for (int i = 0; i < gram.Length; i++) buffer[offset++] = unchecked((byte)gram[i]);
        return offset;
    }

    private static bool TryRead(ReadOnlySpan<byte> bytes, ref int offset, out ulong[] keys, out sbyte[] gram)
    {
        keys = [];
        gram = [];
        if (offset >= bytes.Length) return false;
        int m = bytes[offset++];
        if (m > AnchorCount || (m != 0 && m < MinimumSharedAnchors)) return false;
        int triangle = m * (m - 1) / 2;
        if (bytes.Length - offset < m * 8 + triangle) return false;
        keys = new ulong[m];
        for (int i = 0; i < m; i++, offset += 8) keys[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes[offset..]);
        for (int i = 1; i < m; i++)
            if (keys[i] <= keys[i - 1]) return false;
        gram = new sbyte[triangle];
        for (int i = 0; i < triangle; i++) gram[i] = unchecked((sbyte)bytes[offset++]);
        return true;
    }
}
