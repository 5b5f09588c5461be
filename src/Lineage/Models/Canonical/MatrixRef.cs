using Lineage.Numerics;

namespace Lineage.Models.Canonical;

/// <summary>
/// A weight matrix in canonical orientation [out, in] (rows are output channels, as in torch.nn.Linear),
/// whatever its storage: plain rows, a transposed Conv1D / llama2.c-style store, a row slice of a fused
/// q|k|v or gate|up tensor, one expert of a stacked 3-D tensor, or GGUF's interleaved rotary row order.
/// Rows are read on demand; transposed stores are read whole once (bounded) because their rows are columns.
/// </summary>
public sealed class MatrixRef
{
    private const long MaxTransposedElements = 1L << 28;
    private readonly int[]? _rowMap;
    private float[]? _transposedCache;

    internal MatrixRef(Tensor tensor, TensorRole role, int layer, int expert, int rows, int cols, long firstStoredRow, bool transposed, int[]? rowMap)
    {
        Tensor = tensor;
        Role = role;
        Layer = layer;
        Expert = expert;
        Rows = rows;
        Cols = cols;
        FirstStoredRow = firstStoredRow;
        Transposed = transposed;
        _rowMap = rowMap;
    }

    public Tensor Tensor { get; }

    public TensorRole Role { get; }

    /// <summary>Layer index, or -1 for model-level tensors.</summary>
    public int Layer { get; }

    /// <summary>Expert index for mixture-of-experts weights, else -1.</summary>
    public int Expert { get; }

    /// <summary>Output channels.</summary>
    public int Rows { get; }

    /// <summary>Input channels.</summary>
    public int Cols { get; }

    /// <summary>True when the store holds [in, out] (Conv1D, some ONNX MatMul weights).</summary>
    public bool Transposed { get; }

    internal long FirstStoredRow { get; }

    public long ElementCount => (long)Rows * Cols;

    public string Describe() => $"{Tensor.Name}{(Transposed ? " (transposed)" : "")}{(Expert >= 0 ? $" expert {Expert}" : "")}";

    /// <summary>Reads canonical rows <paramref name="rows"/> into <paramref name="destination"/> (rows.Length × Cols).</summary>
    public void ReadRows(ReadOnlySpan<int> rows, Span<float> destination)
    {
        if (destination.Length < rows.Length * Cols) throw new ArgumentException("destination too small", nameof(destination));
        if (Transposed)
        {
            var all = ReadTransposedWhole();
            for (int i = 0; i < rows.Length; i++)
                all.AsSpan(rows[i] * Cols, Cols).CopyTo(destination.Slice(i * Cols, Cols));
            return;
        }
        // Consecutive runs of stored rows are read in one call (sampled rows are sorted by the callers). The
        // runs are announced first so a remote source fetches them in parallel rather than one round trip each.
        var runs = new List<(int Start, long Stored, int Count)>();
        int start = 0;
        while (start < rows.Length)
        {
            long stored = StoredRow(rows[start]);
            int run = 1;
            while (start + run < rows.Length && StoredRow(rows[start + run]) == stored + run) run++;
            runs.Add((start, stored, run));
            start += run;
        }
        if (runs.Count > 1) Prefetch(runs);
        foreach (var (first, stored, count) in runs)
            Tensor.ReadRows(stored, count, destination.Slice(first * Cols, count * Cols));
    }

    private void Prefetch(List<(int Start, long Stored, int Count)> runs)
    {
        var ranges = new List<IO.ByteRange>(runs.Count);
        foreach (var (_, stored, count) in runs)
            if (Tensor.TryGetRowBytes(stored, count, out var range)) ranges.Add(range);
        Tensor.Location.Source.Prefetch(ranges);
    }

    /// <summary>Reads the whole matrix (canonical orientation).</summary>
    public float[] ReadAll()
    {
        if (Transposed) return (float[])ReadTransposedWhole().Clone();
        var rows = Enumerable.Range(0, Rows).ToArray();
        var result = new float[ElementCount];
        ReadRows(rows, result);
        return result;
    }

    private long StoredRow(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        return FirstStoredRow + (_rowMap is null ? row : _rowMap[row]);
    }

    private float[] ReadTransposedWhole()
    {
        if (_transposedCache is not null) return _transposedCache;
        if (ElementCount > MaxTransposedElements)
            throw new LineageException($"transposed matrix '{Tensor.Name}' is too large to re-orient in memory", Tensor.Location.Source.Name, Tensor.Location.Offset);
        // Stored as [in, outTotal]; our slice is columns FirstStoredRow..+Rows of each stored row.
        int storedCols = (int)Tensor.RowLength;
        var stored = new float[(long)Cols * storedCols];
        Tensor.ReadRows(0, Cols, stored);
        var result = new float[ElementCount];
        for (int i = 0; i < Cols; i++)
            for (int o = 0; o < Rows; o++)
                result[(long)o * Cols + i] = stored[(long)i * storedCols + FirstStoredRow + (_rowMap is null ? o : _rowMap[o])];
        _transposedCache = result;
        return result;
    }

    internal static bool CanRead(Tensor t) => t.DType.Info().CanDecode;
}
