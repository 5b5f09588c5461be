namespace Lineage.Provenance;

/// <summary>
/// Which anchors two fingerprints share: by token text when both have tokenizers, else by token id (the
/// evidence says which). Index arrays point into each fingerprint's anchor list.
/// </summary>
public sealed class AnchorAlignment
{
    private AnchorAlignment(int[] a, int[] b, bool byText)
    {
        IndexA = a;
        IndexB = b;
        ByText = byText;
    }

    public int[] IndexA { get; }

    public int[] IndexB { get; }

    public bool ByText { get; }

    public int Count => IndexA.Length;

    public static AnchorAlignment Build(Fingerprint a, Fingerprint b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        bool byText = a.HasTokenizer && b.HasTokenizer;
        var ia = new List<int>();
        var ib = new List<int>();
        if (byText)
        {
            var map = new Dictionary<ulong, int>();
            for (int j = 0; j < b.Anchors.Length; j++) map.TryAdd(b.Anchors[j].TextKey, j);
            for (int i = 0; i < a.Anchors.Length; i++)
                if (map.TryGetValue(a.Anchors[i].TextKey, out int j)) { ia.Add(i); ib.Add(j); }
        }
        else
        {
            var map = new Dictionary<int, int>();
            for (int j = 0; j < b.Anchors.Length; j++) map.TryAdd(b.Anchors[j].Id, j);
            for (int i = 0; i < a.Anchors.Length; i++)
                if (map.TryGetValue(a.Anchors[i].Id, out int j)) { ia.Add(i); ib.Add(j); }
        }
        return new AnchorAlignment([.. ia], [.. ib], byText);
    }

    /// <summary>Restricts a group's signatures to the shared anchors and renormalises each row.</summary>
    public static float[] Restrict(RowGroup group, int anchorCount, int[] index)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(index);
        int n = index.Length;
        var result = new float[(long)group.Count * n];
        for (int r = 0; r < group.Count; r++)
        {
            var src = group.Signatures.AsSpan(r * anchorCount, anchorCount);
            var dst = result.AsSpan(r * n, n);
            for (int k = 0; k < n; k++) dst[k] = src[index[k]];
            float norm = System.Numerics.Tensors.TensorPrimitives.Norm(dst);
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Divide(dst, norm, dst);
        }
        return result;
    }
}
