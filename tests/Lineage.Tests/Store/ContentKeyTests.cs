using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Store;
using Lineage.Tests.Support;

namespace Lineage.Tests.Store;

/// <summary>
/// Cached fingerprints are keyed by the content of the model's files: a changed byte that the fingerprint
/// depends on is never served the old fingerprint. Works on a copy of a ladder model in a temp folder.
/// </summary>
public class ContentKeyTests
{
    /// <summary>A small sampling budget, so that the fingerprint reads only part of the tensors.</summary>
    private static readonly FingerprintOptions Sparse = new() { TextAnchors = 16, IdAnchors = 24, RowsPerMatrix = 8, ValuesPerTensor = 16, TransposeCheckLimit = 0 };

    private static string CopyModel(TempDir dir, string name)
    {
        string source = Corpus.Path("ladder/" + name);
        string target = Path.Combine(dir.Path, name);
        Directory.CreateDirectory(target);
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        return target;
    }

    private static void Flip(string file, long offset, byte mask)
    {
        using var s = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        s.Position = offset;
        int b = s.ReadByte();
        s.Position = offset;
        s.WriteByte((byte)(b ^ mask));
    }

    private static string Fresh(string path, FingerprintOptions? options = null)
    {
        using var m = ModelLoader.Open(path);
        return FingerprintSerializer.Id(FingerprintSerializer.Serialize(FingerprintExtractor.Extract(m, options)));
    }

    [Fact]
    public void Full_keys_serve_the_cache_until_any_byte_changes()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "A");
        using var store = SqliteFingerprintStore.Open(dir.File("cache.db"));
        var options = new ContentKeyOptions { Mode = ContentKeyMode.Full };
        var first = ContentKey.GetFingerprint(model, store, writeCache: true, options);
        Assert.False(first.FromCache);
        Assert.StartsWith("full/", first.ModelKey, StringComparison.Ordinal);
        var second = ContentKey.GetFingerprint(model, store, writeCache: true, options);
        Assert.True(second.FromCache);
        Assert.Equal(first.ContentId, second.ContentId);
        Assert.Equal(first.ModelKey, second.ModelKey);
        Assert.Equal(first.ModelKey, ContentKey.FullKey(model));

        // The last byte of the weights file (inside the last tensor) changes: a new key, a new fingerprint.
        string weights = Path.Combine(model, "model.safetensors");
        Flip(weights, new FileInfo(weights).Length - 1, 0x40);
        var third = ContentKey.GetFingerprint(model, store, writeCache: true, options);
        Assert.False(third.FromCache);
        Assert.NotEqual(first.ModelKey, third.ModelKey);
        Assert.Equal(Fresh(model), third.ContentId);
        Assert.NotEqual(first.ContentId, third.ContentId);
    }

    [Fact]
    public void Sampled_keys_cover_every_byte_the_fingerprint_depends_on()
    {
        using var dir = new TempDir();
        string model = CopyModel(dir, "A");
        string weights = Path.Combine(model, "model.safetensors");
        using var store = SqliteFingerprintStore.Open(dir.File("cache.db"));
        var options = new ContentKeyOptions { Mode = ContentKeyMode.Sampled };
        var first = ContentKey.GetFingerprint(model, store, writeCache: true, options, Sparse);
        Assert.False(first.FromCache);
        Assert.StartsWith("sampled/", first.ModelKey, StringComparison.Ordinal);
        Assert.True(ContentKey.GetFingerprint(model, store, writeCache: true, options, Sparse).FromCache);

        // Which bytes did the fingerprint read? (the recorded ranges of the cache row), and where is tensor data?
        string lookup = first.ModelKey[..first.ModelKey.LastIndexOf('/')];
        var row = Assert.Single(store.FindCachedKeys(lookup));
        var files = Directory.GetFiles(model).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        int weightIndex = files.IndexOf("model.safetensors");
        var read = ContentKey.DecodeRanges(row.Ranges, files.Count)![weightIndex];
        Assert.NotEmpty(read);
        List<(long Start, long End)> tensorData;
        using (var m = ModelLoader.Open(model))
            tensorData = [.. m.Tensors.Select(t => (t.Location.Offset, t.Location.Offset + t.Location.ByteLength)).Order()];
        long readBytes = read.Sum(r => r.End - r.Start);
        Assert.True(readBytes < tensorData.Sum(t => t.Item2 - t.Item1) / 2, $"the sparse fingerprint read {readBytes} bytes");

        // 1. A tensor byte the fingerprint never read: the cached fingerprint is still served, and it is exactly
        //    what a fresh extraction computes (the key is sound, not merely a hash of the file).
        long unread = tensorData.SelectMany(t => new[] { t.Item1, t.Item2 - 1 }).First(o => !read.Any(r => o >= r.Start && o < r.End));
        Flip(weights, unread, 0x40);
        var afterUnread = ContentKey.GetFingerprint(model, store, writeCache: true, options, Sparse);
        Assert.True(afterUnread.FromCache);
        Assert.Equal(Fresh(model, Sparse), afterUnread.ContentId);

        // 2. A byte the fingerprint read (the high byte of a float32 it read): never served stale.
        long readByte = read[read.Count / 2].Start + 3;
        Flip(weights, readByte, 0x40);
        var afterRead = ContentKey.GetFingerprint(model, store, writeCache: true, options, Sparse);
        Assert.False(afterRead.FromCache);
        Assert.NotEqual(first.ContentId, afterRead.ContentId);
        Assert.Equal(Fresh(model, Sparse), afterRead.ContentId);

        // 3. Structure: a byte of the safetensors header, and the config sidecar, both change the key.
        Flip(weights, 8 + 3, 0x01);
        bool servedStale;
        try
        {
            servedStale = ContentKey.GetFingerprint(model, store, writeCache: false, options, Sparse).FromCache;
        }
        catch (LineageException)
        {
            servedStale = false;
        }
        Assert.False(servedStale);
        Flip(weights, 8 + 3, 0x01);
        var restored = ContentKey.GetFingerprint(model, store, writeCache: true, options, Sparse);
        Assert.True(restored.FromCache);
        File.AppendAllText(Path.Combine(model, "config.json"), " ");
        Assert.False(ContentKey.GetFingerprint(model, store, writeCache: true, options, Sparse).FromCache);
    }

    [Fact]
    public void Keys_depend_on_the_fingerprint_options()
    {
        using var dir = new TempDir();
        using var store = SqliteFingerprintStore.Open(dir.File("cache.db"));
        string model = Corpus.Path("ladder/D");
        var a = ContentKey.GetFingerprint(model, store, writeCache: true, new ContentKeyOptions { Mode = ContentKeyMode.Sampled }, Sparse);
        var b = ContentKey.GetFingerprint(model, store, writeCache: true, new ContentKeyOptions { Mode = ContentKeyMode.Sampled }, Sparse with { RowsPerMatrix = 9 });
        Assert.False(b.FromCache);
        Assert.NotEqual(a.ModelKey, b.ModelKey);
    }
}
