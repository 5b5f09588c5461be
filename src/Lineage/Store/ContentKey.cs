using System.Security.Cryptography;
using System.Text;
using Lineage.Formats;
using Lineage.IO;
using Lineage.Models;
using Lineage.Provenance;

namespace Lineage.Store;

/// <summary>How the content key of a model's files is computed.</summary>
public enum ContentKeyMode
{
    /// <summary><see cref="Full"/> when the files total at most <see cref="ContentKeyOptions.FullHashLimit"/>, else <see cref="Sampled"/>.</summary>
    Auto,

    /// <summary>SHA-256 of every byte of every file: always correct, reads the whole model.</summary>
    Full,

    /// <summary>SHA-256 of the file list, sizes, all structural bytes and exactly the tensor bytes the fingerprint reads.</summary>
    Sampled,
}

public sealed record ContentKeyOptions
{
    public ContentKeyMode Mode { get; init; } = ContentKeyMode.Auto;

    /// <summary>Auto hashes whole files up to this total (1 GiB: about a second of SHA-256 per GiB on one core).</summary>
    public long FullHashLimit { get; init; } = 1L << 30;

    /// <summary>In sampled mode, files other than the chosen weights are hashed whole up to this size, else by size and head.</summary>
    public long SidecarHashLimit { get; init; } = 64L << 20;
}

/// <summary>A model's fingerprint with the content key of the files it came from.</summary>
public sealed record KeyedFingerprint(Fingerprint Fingerprint, byte[] Serialized, string ContentId, string ModelKey, bool FromCache);

/// <summary>
/// Content keys of a model's files, and fingerprints cached under them so that a changed file is never served
/// a stale fingerprint.
/// <para><b>Full keys</b> hash every byte of every file of the model (with relative names and sizes): any change
/// changes the key. Correct without assumptions, but they read the whole model (a 15 GB checkpoint costs ~10 s
/// of SHA-256), while the fingerprint itself reads a small fraction.</para>
/// <para><b>Sampled keys</b> hash (1) the tool identity: fingerprint format version, the extractor's build
/// (the Lineage assembly's deterministic module id) and its options; (2) the file list with relative names
/// and sizes; (3) every byte of every weight file outside its tensors' data ranges (headers, metadata,
/// tokenizer arrays, padding: all a reader parses) and whole sidecar files (config, tokenizer files; files
/// larger than <see cref="ContentKeyOptions.SidecarHashLimit"/> by size and their first bytes, which is all
/// that decides whether the loader picks them); (4) exactly the tensor byte ranges the extraction read,
/// recorded while it ran. The key is sound because the fingerprint is a deterministic function of those
/// bytes: equal (1)–(3) make the loader build the same model layout, so the extractor chooses the same
/// rows and reads the same ranges; equal (4) then makes it compute the same fingerprint. A change anywhere
/// else cannot change the fingerprint, so serving the cached one is still correct, though the key is then
/// not a hash of the whole model. It rests on one invariant of the readers: structure is parsed only from
/// bytes outside tensor data ranges. Lookups first match (1)–(3), then re-hash the recorded ranges of (4).</para>
/// <para>Auto uses full keys up to <see cref="ContentKeyOptions.FullHashLimit"/> and sampled keys above;
/// sampled keys fall back to full ones when a tensor's bytes do not live in a plain file (decompressed
/// archive members).</para>
/// </summary>
public static class ContentKey
{
    private const int MaxRanges = 1 << 20;

    /// <summary>
    /// The fingerprint of the model at <paramref name="path"/>: from <paramref name="cache"/> when a cached key
    /// matches the files now, else extracted (and cached when <paramref name="writeCache"/>).
    /// </summary>
    public static KeyedFingerprint GetFingerprint(string path, IFingerprintStore? cache = null, bool writeCache = false,
        ContentKeyOptions? keyOptions = null, FingerprintOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        keyOptions ??= new ContentKeyOptions();
        options ??= new FingerprintOptions();
        using var model = ModelLoader.Open(path);
        var files = Manifest(path, model);
        string tool = ToolIdentity(options);
        long total = files.Sum(f => f.Size);
        var mode = keyOptions.Mode == ContentKeyMode.Auto ? (total <= keyOptions.FullHashLimit ? ContentKeyMode.Full : ContentKeyMode.Sampled) : keyOptions.Mode;
        var tensorRanges = mode == ContentKeyMode.Sampled ? TensorRanges(model, files) : null;
        if (tensorRanges is null) mode = ContentKeyMode.Full;

        if (mode == ContentKeyMode.Full)
        {
            string key = "full/" + tool + "/" + FullHash(files);
            if (cache is not null && TryCached(cache, cache.FindCachedKeys(key), k => k.Key == key) is { } hit)
                return hit with { ModelKey = key };
            var (fp, bytes, id) = Extract(model, options, null);
            if (writeCache && cache is not null) cache.CacheKey(new CachedModelKey { Key = key, LookupKey = key, ContentId = id }, bytes);
            return new KeyedFingerprint(fp, bytes, id, key, false);
        }

        string lookup = "sampled/" + tool + "/" + StructureHash(files, tensorRanges!, keyOptions);
        if (cache is not null)
        {
            var rows = cache.FindCachedKeys(lookup);
            if (TryCached(cache, rows, k => k.Key == lookup + "/" + DataHash(files, k.Ranges)) is { } hit) return hit;
        }
        var log = new RangeLog(files.Count);
        var (fingerprint, serialized, contentId) = Extract(model, options, (files, log));
        byte[] ranges = log.Encode();
        string dataHash = DataHash(files, ranges) ?? throw new LineageException("recorded byte ranges do not fit the model files", path);
        string fullKey = lookup + "/" + dataHash;
        if (writeCache && cache is not null)
            cache.CacheKey(new CachedModelKey { Key = fullKey, LookupKey = lookup, Ranges = ranges, ContentId = contentId }, serialized);
        return new KeyedFingerprint(fingerprint, serialized, contentId, fullKey, false);
    }

    /// <summary>The content key of a model's files without fingerprinting (full keys only: sampled keys need the read ranges).</summary>
    public static string FullKey(string path, FingerprintOptions? options = null)
    {
        using var model = ModelLoader.Open(path);
        return "full/" + ToolIdentity(options ?? new FingerprintOptions()) + "/" + FullHash(Manifest(path, model));
    }

    private static KeyedFingerprint? TryCached(IFingerprintStore cache, IReadOnlyList<CachedModelKey> rows, Func<CachedModelKey, bool> matches)
    {
        foreach (var row in rows)
        {
            if (!matches(row)) continue;
            var bytes = cache.ReadFingerprint(row.ContentId);
            if (bytes is null || FingerprintSerializer.Id(bytes) != row.ContentId) continue;
            var fp = FingerprintSerializer.Deserialize(bytes, $"{cache.Location}#{row.ContentId}");
            return new KeyedFingerprint(fp, bytes, row.ContentId, row.Key, true);
        }
        return null;
    }

    private static (Fingerprint, byte[], string) Extract(Model model, FingerprintOptions options, (List<FileFact> Files, RangeLog Log)? recording)
    {
        Fingerprint fp;
        if (recording is { } r)
        {
            using var recorded = Recorded(model, r.Files, r.Log);
            fp = FingerprintExtractor.Extract(recorded, options);
        }
        else
        {
            fp = FingerprintExtractor.Extract(model, options);
        }
        var bytes = FingerprintSerializer.Serialize(fp);
        return (fp, bytes, FingerprintSerializer.Id(bytes));
    }

    /// <summary>The byte ranges (per file of the manifest, sorted) a sampled key's recorded range blob covers.</summary>
    internal static List<(long Start, long End)>[]? DecodeRanges(byte[] ranges, int files) => RangeLog.Decode(ranges, files);

    /// <summary>Build identity of the fingerprint code: a new extractor never reuses an old cached fingerprint.</summary>
    internal static string ToolIdentity(FingerprintOptions options)
    {
        var mvid = typeof(Fingerprint).Assembly.ManifestModule.ModuleVersionId;
        string opts = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(options.ToString())))[..16];
        return $"fp{Fingerprint.CurrentVersion}-{mvid:N}-{opts}";
    }

    internal sealed record FileFact(string FullPath, string RelativePath, long Size, string Role);

    private static List<FileFact> Manifest(string path, Model model)
    {
        string full = Path.GetFullPath(path);
        string root = Directory.Exists(full) ? full : Path.GetDirectoryName(full)!;
        var facts = new List<FileFact>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in model.Files)
        {
            string fp = Path.GetFullPath(f.Path);
            if (!seen.Add(fp)) continue;
            long size = new FileInfo(fp).Length;
            facts.Add(new FileFact(fp, Path.GetRelativePath(root, fp).Replace('\\', '/'), size, f.Role));
        }
        facts.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return facts;
    }

    private static string FullHash(List<FileFact> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var f in files)
        {
            using var stream = OpenRead(f.FullPath);
            if (stream.Length != f.Size) throw new LineageException("file changed while it was being read", f.FullPath);
            string fileHash = Convert.ToHexStringLower(SHA256.HashData(stream));
            hash.AppendData(Encoding.UTF8.GetBytes($"{f.RelativePath}\t{f.Size}\t{f.Role}\t{fileHash}\n"));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Tensor data ranges per file (merged, sorted), or null when some tensor's bytes are not in a plain file.</summary>
    private static List<(long Start, long End)>[]? TensorRanges(Model model, List<FileFact> files)
    {
        var result = new List<(long, long)>[files.Count];
        for (int i = 0; i < result.Length; i++) result[i] = [];
        foreach (var t in model.Tensors)
        {
            if (Resolve(t.Location.Source, files) is not { } at) return null;
            long start = at.Base + t.Location.Offset;
            result[at.File].Add((start, start + t.Location.ByteLength));
        }
        return [.. result.Select(Merge)];
    }

    private static (int File, long Base)? Resolve(IByteSource source, List<FileFact> files)
    {
        long offset = 0;
        for (int depth = 0; depth < 16; depth++)
        {
            switch (source)
            {
                case SliceByteSource slice:
                    offset += slice.Start;
                    source = slice.Inner;
                    continue;
                case RandomAccessFile mapped:
                    string full = Path.GetFullPath(mapped.Name);
                    int index = files.FindIndex(f => f.FullPath == full);
                    return index < 0 ? null : (index, offset);
                default:
                    return null;
            }
        }
        return null;
    }

    private static List<(long Start, long End)> Merge(List<(long Start, long End)> ranges)
    {
        ranges.Sort();
        var merged = new List<(long Start, long End)>();
        foreach (var r in ranges)
        {
            if (r.End <= r.Start) continue;
            if (merged.Count > 0 && r.Start <= merged[^1].End)
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, r.End));
            else
                merged.Add(r);
        }
        return merged;
    }

    private static string StructureHash(List<FileFact> files, List<(long Start, long End)>[] tensorRanges, ContentKeyOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        for (int i = 0; i < files.Count; i++)
        {
            var f = files[i];
            hash.AppendData(Encoding.UTF8.GetBytes($"{f.RelativePath}\t{f.Size}\t{f.Role}\n"));
            using var handle = File.OpenHandle(f.FullPath);
            if (RandomAccess.GetLength(handle) != f.Size) throw new LineageException("file changed while it was being read", f.FullPath);
            if (tensorRanges[i].Count > 0)
            {
                // Everything but tensor data: headers, metadata, padding.
                long at = 0;
                foreach (var (start, end) in tensorRanges[i])
                {
                    HashRange(hash, handle, at, start - at, buffer, f.FullPath);
                    at = end;
                }
                HashRange(hash, handle, at, f.Size - at, buffer, f.FullPath);
            }
            else if (f.Size <= options.SidecarHashLimit)
            {
                HashRange(hash, handle, 0, f.Size, buffer, f.FullPath);
            }
            else
            {
                hash.AppendData("head:"u8);
                HashRange(hash, handle, 0, Math.Min(f.Size, FormatDetector.HeadLength), buffer, f.FullPath);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>SHA-256 over the recorded ranges of the files as they are now; null when the ranges do not fit them.</summary>
    private static string? DataHash(List<FileFact> files, byte[] encodedRanges)
    {
        var ranges = RangeLog.Decode(encodedRanges, files.Count);
        if (ranges is null) return null;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        for (int i = 0; i < files.Count; i++)
        {
            if (ranges[i].Count == 0) continue;
            using var handle = File.OpenHandle(files[i].FullPath);
            long length = RandomAccess.GetLength(handle);
            foreach (var (start, end) in ranges[i])
            {
                if (end > length) return null;
                hash.AppendData(Encoding.UTF8.GetBytes($"{i}:{start}:{end}\n"));
                HashRange(hash, handle, start, end - start, buffer, files[i].FullPath);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void HashRange(IncrementalHash hash, Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long count, byte[] buffer, string path)
    {
        while (count > 0)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, count)), offset);
            if (n <= 0) throw new LineageException("file shrank while it was being read", path, offset);
            hash.AppendData(buffer, 0, n);
            offset += n;
            count -= n;
        }
    }

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", path, inner: e);
        }
    }

    /// <summary>A view of the model whose tensor reads are logged in file coordinates.</summary>
    private static Model Recorded(Model model, List<FileFact> files, RangeLog log)
    {
        var wrappers = new Dictionary<IByteSource, IByteSource>(ReferenceEqualityComparer.Instance);
        var tensors = new List<Tensor>(model.Tensors.Count);
        foreach (var t in model.Tensors)
        {
            var source = t.Location.Source;
            if (!wrappers.TryGetValue(source, out var wrapped))
            {
                var at = Resolve(source, files) ?? throw new InvalidOperationException("tensor source is not a file");
                wrapped = new RecordingSource(source, at.File, at.Base, log);
                wrappers[source] = wrapped;
            }
            tensors.Add(new Tensor(t.Name, t.DType, t.Shape, t.Location with { Source = wrapped }));
        }
        return new Model(model.Path, model.Format, tensors, model.Files, model.Metadata, model.Config, model.Tokenizer, model.Diagnostics, []);
    }

    private sealed class RecordingSource(IByteSource inner, int file, long baseOffset, RangeLog log) : IByteSource
    {
        public string Name => inner.Name;

        public long Length => inner.Length;

        public long BytesRead => inner.BytesRead;

        public void ReadExactly(long offset, Span<byte> destination)
        {
            inner.ReadExactly(offset, destination);
            log.Add(file, baseOffset + offset, destination.Length);
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Byte ranges read per file, merged as they arrive; encoded as varints (gap, length) per file.</summary>
    private sealed class RangeLog(int files)
    {
        private readonly List<(long Start, long End)>[] _ranges = [.. Enumerable.Range(0, files).Select(_ => new List<(long, long)>())];
        private readonly Lock _gate = new();
        private int _count;

        public void Add(int file, long offset, int length)
        {
            if (length <= 0) return;
            lock (_gate)
            {
                var list = _ranges[file];
                if (list.Count > 0 && offset >= list[^1].Start && offset <= list[^1].End)
                {
                    list[^1] = (list[^1].Start, Math.Max(list[^1].End, offset + length));
                    return;
                }
                list.Add((offset, offset + length));
                // Fragmented reads (element-wise strided tensors): consolidate so the log stays bounded.
                if (++_count > MaxRanges)
                {
                    for (int i = 0; i < _ranges.Length; i++) _ranges[i] = Merge(_ranges[i]);
                    _count = _ranges.Sum(r => r.Count);
                }
            }
        }

        public byte[] Encode()
        {
            using var stream = new MemoryStream();
            lock (_gate)
            {
                foreach (var list in _ranges)
                {
                    var merged = Merge([.. list]);
                    WriteVarint(stream, (ulong)merged.Count);
                    long at = 0;
                    foreach (var (start, end) in merged)
                    {
                        WriteVarint(stream, (ulong)(start - at));
                        WriteVarint(stream, (ulong)(end - start));
                        at = end;
                    }
                }
            }
            return stream.ToArray();
        }

        public static List<(long Start, long End)>[]? Decode(byte[] bytes, int files)
        {
            var result = new List<(long, long)>[files];
            int pos = 0;
            for (int i = 0; i < files; i++)
            {
                result[i] = [];
                if (!TryVarint(bytes, ref pos, out ulong count) || count > (ulong)bytes.Length) return null;
                long at = 0;
                for (ulong r = 0; r < count; r++)
                {
                    if (!TryVarint(bytes, ref pos, out ulong gap) || !TryVarint(bytes, ref pos, out ulong length)) return null;
                    if (gap > long.MaxValue / 4 || length > long.MaxValue / 4 || at > long.MaxValue / 2) return null;
                    long start = at + (long)gap;
                    result[i].Add((start, start + (long)length));
                    at = start + (long)length;
                }
            }
            return pos == bytes.Length ? result : null;
        }

        private static void WriteVarint(Stream s, ulong v)
        {
            while (v >= 0x80)
            {
                s.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }
            s.WriteByte((byte)v);
        }

        private static bool TryVarint(byte[] b, ref int pos, out ulong value)
        {
            value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (pos >= b.Length) return false;
                byte x = b[pos++];
                value |= (ulong)(x & 0x7F) << shift;
                if (x < 0x80) return true;
            }
            return false;
        }
    }
}
