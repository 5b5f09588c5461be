using System.IO.Compression;
using Lineage.Provenance;
using Lineage.Store;
using Lineage.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Lineage.Tests.Store;

public class FingerprintStoreTests
{
    private static string Db(TempDir dir) => dir.File("fp.db");

    [Fact]
    public void Entries_round_trip_through_the_file_and_survive_reopening()
    {
        using var dir = new TempDir();
        var fp = SyntheticFingerprints.Make(1);
        var entry = SyntheticFingerprints.Entry("model-a", fp, "fam");
        using (var store = SqliteFingerprintStore.Open(Db(dir)))
        {
            var added = store.Add(entry);
            Assert.Equal(FingerprintSerializer.Id(entry.Serialized), added.ContentId);
        }
        using (var store = SqliteFingerprintStore.Open(Db(dir), create: false))
        {
            var found = store.Find("model-a");
            Assert.NotNull(found);
            Assert.Equal("fam", found.Family);
            Assert.Equal(IndexKeys.From(fp) with { VocabularyKeys = [] }, found.Keys with { VocabularyKeys = [] });
            Assert.Equal(IndexKeys.From(fp).VocabularyKeys, found.Keys.VocabularyKeys);
            Assert.Equal(entry.Serialized, store.ReadFingerprint(found.ContentId));
            var loaded = store.LoadFingerprint(found);
            Assert.Equal(entry.Serialized, FingerprintSerializer.Serialize(loaded));
            Assert.Single(store.List());
            Assert.Equal(1, store.Count);
        }
    }

    [Fact]
    public void Remove_deletes_the_entry_and_its_unshared_fingerprint()
    {
        using var dir = new TempDir();
        using var store = SqliteFingerprintStore.Open(Db(dir));
        var shared = SyntheticFingerprints.Make(2);
        var a = store.Add(SyntheticFingerprints.Entry("a", shared));
        store.Add(SyntheticFingerprints.Entry("b", shared));
        Assert.True(store.Remove("a"));
        Assert.NotNull(store.ReadFingerprint(a.ContentId));
        Assert.True(store.Remove("b"));
        Assert.Null(store.ReadFingerprint(a.ContentId));
        Assert.False(store.Remove("b"));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Conflicting_ids_fail_replace_or_skip_as_asked()
    {
        using var dir = new TempDir();
        using var store = SqliteFingerprintStore.Open(Db(dir));
        var first = store.Add(SyntheticFingerprints.Entry("m", SyntheticFingerprints.Make(3)));
        Assert.Throws<LineageException>(() => store.Add(SyntheticFingerprints.Entry("m", SyntheticFingerprints.Make(4))));
        Assert.Equal(first.ContentId, store.Find("m")!.ContentId);
        Assert.Empty(store.Add([SyntheticFingerprints.Entry("m", SyntheticFingerprints.Make(4))], ConflictPolicy.Skip));
        var replaced = store.Add(SyntheticFingerprints.Entry("m", SyntheticFingerprints.Make(4)), ConflictPolicy.Replace);
        Assert.NotEqual(first.ContentId, replaced.ContentId);
        Assert.Equal(replaced.ContentId, store.Find("m")!.ContentId);
        Assert.Null(store.ReadFingerprint(first.ContentId));
    }

    [Theory]
    [InlineData("after-fingerprint")]
    [InlineData("after-entry")]
    [InlineData("after-keys")]
    [InlineData("before-commit")]
    public void A_failure_mid_write_leaves_nothing(string point)
    {
        using var dir = new TempDir();
        using var store = SqliteFingerprintStore.Open(Db(dir));
        store.Add(SyntheticFingerprints.Entry("kept", SyntheticFingerprints.Make(5)));
        var batch = new[] { SyntheticFingerprints.Entry("x1", SyntheticFingerprints.Make(6)), SyntheticFingerprints.Entry("x2", SyntheticFingerprints.Make(7)) };
        int calls = 0;
        // Fail on the second entry's step (or at commit): the first entry of the batch must vanish too.
        store.FaultPoint = p =>
        {
            if (p == point && (point == "before-commit" || ++calls == 2)) throw new IOException("simulated crash at " + p);
        };
        Assert.Throws<IOException>(() => store.Add(batch));
        store.FaultPoint = null;
        AssertOnlyKept(store, batch);

        // A fresh connection sees the same: nothing of the batch reached the file.
        using var other = SqliteFingerprintStore.Open(Db(dir), create: false);
        AssertOnlyKept(other, batch);
    }

    private static void AssertOnlyKept(IFingerprintStore store, NewEntry[] batch)
    {
        Assert.Equal(["kept"], store.List().Select(e => e.ModelId));
        foreach (var e in batch)
        {
            Assert.Null(store.ReadFingerprint(FingerprintSerializer.Id(e.Serialized)));
            Assert.DoesNotContain(store.FindCandidates(IndexKeys.From(e.Fingerprint), 100), c => c.Entry.ModelId == e.ModelId);
        }
    }

    [Fact]
    public void A_writer_killed_inside_a_transaction_leaves_nothing_on_the_next_open()
    {
        using var dir = new TempDir();
        using (var store = SqliteFingerprintStore.Open(Db(dir))) store.Add(SyntheticFingerprints.Entry("kept", SyntheticFingerprints.Make(8)));
        // A raw connection writes half an entry and goes away without committing (as a killed process would).
        using (var raw = new SqliteConnection($"Data Source={Db(dir)};Pooling=False"))
        {
            raw.Open();
            using var tx = raw.BeginTransaction();
            using var cmd = raw.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO fingerprints (content_id, format_version, bytes, data) VALUES ('partial', 1, 1, x'00')";
            cmd.ExecuteNonQuery();
        }
        using var reopened = SqliteFingerprintStore.Open(Db(dir), create: false);
        Assert.Null(reopened.ReadFingerprint("partial"));
        Assert.Equal(["kept"], reopened.List().Select(e => e.ModelId));
    }

    [Fact]
    public async Task Concurrent_readers_see_only_whole_entries_while_a_writer_adds()
    {
        using var dir = new TempDir();
        using (var init = SqliteFingerprintStore.Open(Db(dir))) init.Add(SyntheticFingerprints.Entry("seed", SyntheticFingerprints.Make(9)));
        const int writes = 30;
        using var done = new CancellationTokenSource();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(Db(dir), create: false);
            int last = 0;
            int rounds = 0;
            while (!done.IsCancellationRequested || rounds == 0)
            {
                rounds++;
                var entries = store.List();
                if (entries.Count < last) errors.Enqueue($"reader {r}: count went from {last} to {entries.Count}");
                last = entries.Count;
                foreach (var e in entries)
                {
                    var bytes = store.ReadFingerprint(e.ContentId);
                    if (bytes is null || FingerprintSerializer.Id(bytes) != e.ContentId) errors.Enqueue($"reader {r}: {e.ModelId} visible without its fingerprint");
                    if (e.Keys.VocabularyKeys.Count != IndexKeys.VocabularyKeyCount) errors.Enqueue($"reader {r}: {e.ModelId} visible without its vocabulary keys");
                }
            }
            return rounds;
        })).ToArray();
        using (var writer = SqliteFingerprintStore.Open(Db(dir), create: false))
        {
            for (int i = 0; i < writes; i++) writer.Add(SyntheticFingerprints.Entry($"w{i:D2}", SyntheticFingerprints.Make(100 + i)));
        }
        done.Cancel();
        var rounds = await Task.WhenAll(readers);
        Assert.Empty(errors);
        Assert.All(rounds, r => Assert.True(r > 0));
        using var check = SqliteFingerprintStore.Open(Db(dir), create: false);
        Assert.Equal(writes + 1, check.Count);
    }

    [Fact]
    public void Schema_is_versioned_and_foreign_or_newer_files_are_refused()
    {
        using var dir = new TempDir();
        using (SqliteFingerprintStore.Open(Db(dir)))
        {
        }
        using (var raw = new SqliteConnection($"Data Source={Db(dir)};Pooling=False"))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "SELECT version FROM schema_version";
            Assert.Equal((long)SqliteFingerprintStore.SchemaVersion, cmd.ExecuteScalar());
            cmd.CommandText = "UPDATE schema_version SET version = 99";
            cmd.ExecuteNonQuery();
        }
        var newer = Assert.Throws<LineageException>(() => SqliteFingerprintStore.Open(Db(dir)));
        Assert.Contains("newer", newer.Message, StringComparison.Ordinal);

        string foreign = dir.File("other.db");
        using (var raw = new SqliteConnection($"Data Source={foreign};Pooling=False"))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = "CREATE TABLE users (name TEXT)";
            cmd.ExecuteNonQuery();
        }
        Assert.Throws<LineageException>(() => SqliteFingerprintStore.Open(foreign));
        string notSqlite = dir.Write("junk.db", "this is not a database, just text that is long enough to be read as a header....."u8.ToArray());
        Assert.Throws<LineageException>(() => SqliteFingerprintStore.Open(notSqlite));
        Assert.Throws<LineageException>(() => SqliteFingerprintStore.Open(dir.File("missing.db"), create: false));
    }

    [Fact]
    public void Candidates_follow_the_tokenizer_and_architecture_rules()
    {
        using var dir = new TempDir();
        using var store = SqliteFingerprintStore.Open(Db(dir));
        var vocab = Enumerable.Range(0, 2000).Select(i => Lineage.Provenance.TokenKeys.ForText("v" + i)).ToArray();
        var extended = vocab.Concat(Enumerable.Range(0, 100).Select(i => Lineage.Provenance.TokenKeys.ForText("new" + i))).ToArray();
        store.Add([
            SyntheticFingerprints.Entry("same-vocab-other-width", SyntheticFingerprints.Make(10, hidden: 128, vocabulary: vocab, vocab: 2000)),
            SyntheticFingerprints.Entry("extended-vocab-other-width", SyntheticFingerprints.Make(11, hidden: 256, vocabulary: extended, vocab: 2100)),
            SyntheticFingerprints.Entry("same-width-no-tokenizer", SyntheticFingerprints.Make(12, hidden: 64, tokenizer: false)),
            SyntheticFingerprints.Entry("unrelated", SyntheticFingerprints.Make(13, hidden: 512)),
        ]);
        var query = IndexKeys.From(SyntheticFingerprints.Make(14, hidden: 64, vocabulary: vocab, vocab: 2000));
        var ids = store.FindCandidates(query, 100).Select(c => c.Entry.ModelId).ToList();
        Assert.Equal("same-vocab-other-width", ids[0]);
        Assert.Contains("extended-vocab-other-width", ids);
        Assert.Contains("same-width-no-tokenizer", ids);
        Assert.DoesNotContain("unrelated", ids);
        // The SQL and the reference predicate agree on every entry.
        foreach (var e in store.List())
        {
            int shared = e.Keys.VocabularyKeys.Intersect(query.VocabularyKeys).Count();
            Assert.Equal(query.IsCandidate(e.Keys, shared), ids.Contains(e.ModelId));
        }
        Assert.Single(store.FindCandidates(query, 1));
    }

    [Fact]
    public void Bundles_round_trip_and_a_tampered_bundle_imports_nothing()
    {
        using var dir = new TempDir();
        string bundle = dir.File("export.lfpb");
        using (var store = SqliteFingerprintStore.Open(Db(dir)))
        {
            var shared = SyntheticFingerprints.Make(20);
            store.Add([SyntheticFingerprints.Entry("a", shared, "f1"), SyntheticFingerprints.Entry("b", shared), SyntheticFingerprints.Entry("c", SyntheticFingerprints.Make(21))]);
            Assert.Equal(3, FingerprintBundle.Export(store, bundle));
        }
        using (var target = SqliteFingerprintStore.Open(dir.File("target.db")))
        {
            Assert.Equal(3, FingerprintBundle.Import(target, bundle).Count);
            using var source = SqliteFingerprintStore.Open(Db(dir), create: false);
            Assert.Equal(source.List().Select(e => (e.ModelId, e.Family, e.ContentId)), target.List().Select(e => (e.ModelId, e.Family, e.ContentId)));
            // Importing again conflicts: fail by default (nothing changes), skip when asked.
            Assert.Throws<LineageException>(() => FingerprintBundle.Import(target, bundle));
            Assert.Empty(FingerprintBundle.Import(target, bundle, ConflictPolicy.Skip));
        }

        // Flip one byte of one fingerprint member: its content id no longer matches, the whole import is refused.
        string tampered = dir.File("tampered.lfpb");
        using (var input = ZipFile.OpenRead(bundle))
        using (var output = ZipFile.Open(tampered, ZipArchiveMode.Create))
        {
            bool flipped = false;
            foreach (var e in input.Entries.OrderBy(e => e.FullName, StringComparer.Ordinal))
            {
                using var s = e.Open();
                using var m = new MemoryStream();
                s.CopyTo(m);
                var bytes = m.ToArray();
                if (!flipped && e.FullName.StartsWith("fingerprints/", StringComparison.Ordinal) && e.FullName.Contains(FingerprintSerializer.Id(FingerprintSerializer.Serialize(SyntheticFingerprints.Make(21))), StringComparison.Ordinal))
                {
                    bytes[bytes.Length / 2] ^= 0x01;
                    flipped = true;
                }
                using var o = output.CreateEntry(e.FullName).Open();
                o.Write(bytes);
            }
            Assert.True(flipped);
        }
        using var fresh = SqliteFingerprintStore.Open(dir.File("fresh.db"));
        var error = Assert.Throws<LineageException>(() => FingerprintBundle.Import(fresh, tampered));
        Assert.Contains("content id", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, fresh.Count);
        Assert.Throws<LineageException>(() => FingerprintBundle.Import(fresh, dir.Write("not-a-zip.lfpb", "hello"u8.ToArray())));
    }

    [Fact]
    public void Weight_sketches_survive_storage_and_rank_a_copy_above_strangers()
    {
        var fp = SyntheticFingerprints.Make(30);
        var sketch = WeightSketch.From(fp);
        var parsed = WeightSketch.Parse(sketch.ToBytes());
        Assert.Equal(1.0, WeightSketch.Correlation(sketch, parsed)!.Value, 3);
        var stranger = WeightSketch.From(SyntheticFingerprints.Make(31, vocabulary: [.. Enumerable.Range(0, 1000).Select(i => TokenKeys.ForText($"tok30:{i}"))]));
        Assert.True(WeightSketch.Correlation(sketch, stranger) < 0.5);
        Assert.True(WeightSketch.Parse([1, 200, 0]).IsEmpty);
        Assert.True(WeightSketch.Parse([]).IsEmpty);
    }
}
