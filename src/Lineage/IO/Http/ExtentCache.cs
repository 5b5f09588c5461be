namespace Lineage.IO.Http;

/// <summary>
/// Bounded, least-recently-used cache of byte extents of one remote object. Extents are exactly the spans that
/// were fetched (no fixed block size): sampled rows of a large matrix are a few KiB each and scattered, and
/// rounding every row up to a large aligned block would multiply the bytes moved by the block/row ratio.
/// Extents never overlap; a fetch that raced with another and overlaps it keeps only the new bytes.
/// Thread-safe.
/// </summary>
internal sealed class ExtentCache(long capacity)
{
    private readonly List<Extent> _extents = [];
    private readonly Lock _lock = new();
    private long _bytes;
    private long _clock;

    public long Capacity { get; } = capacity;

    /// <summary>Bytes held now (never more than <see cref="Capacity"/> after an insertion returns).</summary>
    public long Bytes
    {
        get
        {
            lock (_lock) return _bytes;
        }
    }

    public int Count
    {
        get
        {
            lock (_lock) return _extents.Count;
        }
    }

    /// <summary>
    /// Copies the cached parts of [<paramref name="offset"/>, offset + destination.Length) into
    /// <paramref name="destination"/> and returns the parts that are not cached, in ascending order.
    /// </summary>
    public List<ByteRange> CopyOut(long offset, Span<byte> destination)
    {
        var gaps = new List<ByteRange>();
        long end = offset + destination.Length;
        lock (_lock)
        {
            long position = offset;
            for (int i = FirstEndingAfter(offset); i < _extents.Count && _extents[i].Start < end; i++)
            {
                var e = _extents[i];
                if (e.Start > position) gaps.Add(new ByteRange(position, e.Start - position));
                long from = Math.Max(position, e.Start), to = Math.Min(end, e.End);
                e.Data.AsSpan((int)(from - e.Start), (int)(to - from)).CopyTo(destination[(int)(from - offset)..]);
                e.LastUse = ++_clock;
                position = to;
            }
            if (position < end) gaps.Add(new ByteRange(position, end - position));
        }
        return gaps;
    }

    /// <summary>The uncached parts of a range, without copying (for prefetch planning).</summary>
    public List<ByteRange> Gaps(long offset, long length)
    {
        var gaps = new List<ByteRange>();
        long end = offset + length;
        lock (_lock)
        {
            long position = offset;
            for (int i = FirstEndingAfter(offset); i < _extents.Count && _extents[i].Start < end; i++)
            {
                var e = _extents[i];
                if (e.Start > position) gaps.Add(new ByteRange(position, e.Start - position));
                position = Math.Min(end, e.End);
            }
            if (position < end) gaps.Add(new ByteRange(position, end - position));
        }
        return gaps;
    }

    /// <summary>Start of the first cached extent at or after <paramref name="position"/> (long.MaxValue when none).</summary>
    public long NextCachedStart(long position)
    {
        lock (_lock)
        {
            int i = FirstEndingAfter(position);
            if (i >= _extents.Count) return long.MaxValue;
            return Math.Max(position, _extents[i].Start);
        }
    }

    /// <summary>Caches <paramref name="data"/> as the bytes at <paramref name="start"/>, then evicts down to capacity.</summary>
    public void Add(long start, byte[] data)
    {
        if (data.Length == 0 || data.Length > Capacity) return;
        long end = start + data.Length;
        lock (_lock)
        {
            int i = FirstEndingAfter(start);
            if (i >= _extents.Count || _extents[i].Start >= end)
            {
                Insert(i, new Extent(start, data));
            }
            else
            {
                // Another reader cached part of this span meanwhile: keep only the uncovered pieces (copied, so
                // a small leftover never pins a large buffer).
                long position = start;
                var pieces = new List<Extent>();
                for (int j = i; j < _extents.Count && _extents[j].Start < end; j++)
                {
                    var e = _extents[j];
                    if (e.Start > position) pieces.Add(new Extent(position, data.AsSpan((int)(position - start), (int)(e.Start - position)).ToArray()));
                    position = Math.Max(position, e.End);
                }
                if (position < end) pieces.Add(new Extent(position, data.AsSpan((int)(position - start), (int)(end - position)).ToArray()));
                foreach (var piece in pieces) Insert(FirstEndingAfter(piece.Start), piece);
            }
            if (_bytes > Capacity) Evict(Capacity - Capacity / 4);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _extents.Clear();
            _bytes = 0;
        }
    }

    private void Insert(int index, Extent extent)
    {
        extent.LastUse = ++_clock;
        _extents.Insert(index, extent);
        _bytes += extent.Data.Length;
    }

    private void Evict(long target)
    {
        // Batch eviction: one sort per overflow, down to three quarters of capacity.
        var byAge = _extents.OrderBy(e => e.LastUse).ToList();
        var gone = new HashSet<Extent>();
        foreach (var e in byAge)
        {
            if (_bytes <= target) break;
            gone.Add(e);
            _bytes -= e.Data.Length;
        }
        _extents.RemoveAll(gone.Contains);
    }

    /// <summary>Index of the first extent whose end lies after <paramref name="offset"/> (extents are sorted and disjoint, so ends are sorted too).</summary>
    private int FirstEndingAfter(long offset)
    {
        int lo = 0, hi = _extents.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_extents[mid].End <= offset) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private sealed class Extent(long start, byte[] data)
    {
        public long Start { get; } = start;

        public byte[] Data { get; } = data;

        public long End => Start + Data.Length;

        public long LastUse { get; set; }
    }
}
