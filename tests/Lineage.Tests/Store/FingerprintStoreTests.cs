using System.IO.Compression;
using Lineage.Provenance;
using Lineage.Store;
using Lineage.Tests.Support;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Lineage.Tests.Store;

/// <summary>
/// The <see cref="IFingerprintStore"/> contract, run against every backend (one subclass per backend). A test
/// opens stores with <see cref="Open"/> at <see cref="Location"/>; a second location (<see cref="OtherLocation"/>)
/// is an independent store of the same backend.
/// </summary>
public abstract class FingerprintStoreContract : IDisposable
{
    private string? _location;
    private string? _other;

    private protected TempDir Dir { get; } = new();

    protected string Location => _location ??= NewLocation("fp");

    protected string OtherLocation => _other ??= NewLocation("other");

    /// <summary>A fresh, empty store location (a file path or a registry URL in its own schema).</summary>
    protected abstract string NewLocation(string name);

    protected IFingerprintStore Open(bool create = true) => FingerprintStores.Open(Location, create);

    protected abstract void SetFaultPoint(IFingerprintStore store, Action<string>? fault);

    /// <summary>Writes a fingerprint row with id 'partial' in a transaction that is abandoned, as a killed writer's.</summary>
    protected abstract void AbandonHalfWrite();

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public void Entries_round_trip_through_the_file_and_survive_reopening()
    {
        var fp = SyntheticFingerprints.Make(1);
        var entry = SyntheticFingerprints.Entry("model-a", fp, "fam");
        using (var store = Open())
        {
            var added = store.Add(entry);
            Assert.Equal(FingerprintSerializer.Id(entry.Serialized), added.ContentId);
        }
        using (var store = Open(create: false))
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
        using var store = Open();
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
        using var store = Open();
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
        using var store = Open();
        store.Add(SyntheticFingerprints.Entry("kept", SyntheticFingerprints.Make(5)));
        var batch = new[] { SyntheticFingerprints.Entry("x1", SyntheticFingerprints.Make(6)), SyntheticFingerprints.Entry("x2", SyntheticFingerprints.Make(7)) };
        int calls = 0;
        // Fail on the second entry's step (or at commit): the first entry of the batch must vanish too.
        SetFaultPoint(store, p =>
        {
            if (p == point && (point == "before-commit" || ++calls == 2)) throw new IOException("simulated crash at " + p);
        });
        Assert.Throws<IOException>(() => store.Add(batch));
        SetFaultPoint(store, null);
        AssertOnlyKept(store, batch);

        // A fresh connection sees the same: nothing of the batch reached the file.
        using var other = Open(create: false);
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
        using (var store = Open()) store.Add(SyntheticFingerprints.Entry("kept", SyntheticFingerprints.Make(8)));
        // A raw connection writes half an entry and goes away without committing (as a killed process would).
        AbandonHalfWrite();
        using var reopened = Open(create: false);
        Assert.Null(reopened.ReadFingerprint("partial"));
        Assert.Equal(["kept"], reopened.List().Select(e => e.ModelId));
    }

    [Fact]
    public async Task Concurrent_readers_see_only_whole_entries_while_a_writer_adds()
    {
        using (var init = Open()) init.Add(SyntheticFingerprints.Entry("seed", SyntheticFingerprints.Make(9)));
        const int writes = 30;
        using var done = new CancellationTokenSource();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(() =>
        {
            using var store = Open(create: false);
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
        using (var writer = Open(create: false))
        {
            for (int i = 0; i < writes; i++) writer.Add(SyntheticFingerprints.Entry($"w{i:D2}", SyntheticFingerprints.Make(100 + i)));
        }
        done.Cancel();
        var rounds = await Task.WhenAll(readers);
        Assert.Empty(errors);
        Assert.All(rounds, r => Assert.True(r > 0));
        using var check = Open(create: false);
        Assert.Equal(writes + 1, check.Count);
    }

    protected abstract int CurrentSchemaVersion { get; }

    protected abstract long ReadSchemaVersion();

    protected abstract void SetSchemaVersion(int version);

    /// <summary>A location holding something that is not a Lineage store.</summary>
    protected abstract string ForeignLocation();

    [Fact]
    public void Schema_is_versioned_and_foreign_or_newer_stores_are_refused()
    {
        using (Open())
        {
        }
        Assert.Equal(CurrentSchemaVersion, ReadSchemaVersion());
        // Opening again is a no-op: the version stays.
        using (Open())
        {
        }
        Assert.Equal(CurrentSchemaVersion, ReadSchemaVersion());
        SetSchemaVersion(99);
        var newer = Assert.Throws<LineageException>(() => Open());
        Assert.Contains("newer", newer.Message, StringComparison.Ordinal);
        Assert.Throws<LineageException>(() => FingerprintStores.Open(ForeignLocation()));
        Assert.Throws<LineageException>(() => FingerprintStores.Open(NewLocation("missing"), create: false));
    }

    [Fact]
    public void Band_neighbours_are_candidates_and_strangers_with_the_same_keys_are_not()
    {
        using var store = Open();
        var query = SyntheticFingerprints.Make(40);
        var relative = SyntheticFingerprints.Make(40, noise: 0.15, noiseSeed: 7);
        Assert.True(WeightSketch.Correlation(WeightSketch.From(query), WeightSketch.From(relative)) > 0.85);
        // Strangers: same vocabulary and width (every key agrees), independent embedding geometry.
        var vocabulary = Enumerable.Range(0, 1000).Select(i => TokenKeys.ForText($"tok40:{i}")).ToArray();
        var strangers = Enumerable.Range(0, 60).Select(i => SyntheticFingerprints.Entry($"stranger-{i:D2}", SyntheticFingerprints.Make(1000 + i, vocabulary: vocabulary))).ToList();
        store.Add([
            SyntheticFingerprints.Entry("copy", query), SyntheticFingerprints.Entry("relative", relative),
            SyntheticFingerprints.Entry("no-sketch", SyntheticFingerprints.Make(41, anchors: 0, vocabulary: vocabulary)),
            SyntheticFingerprints.Entry("other-width-relative", SyntheticFingerprints.Make(40, hidden: 999, tokenizer: false, noise: 0.1, noiseSeed: 8)),
            .. strangers,
        ]);
        var cq = CandidateQuery.From(query);
        Assert.NotEmpty(cq.Bands);
        var found = store.FindCandidates(cq);
        var ids = found.Select(c => c.Entry.ModelId).ToList();
        Assert.Equal("copy", ids[0]);
        Assert.Equal(2 * SketchBands.BandsPerPart, found[0].SharedBands);
        Assert.Contains("relative", ids);
        Assert.Equal("no-sketch", ids[^1]);
        Assert.Equal(0, found[^1].SharedBands);
        // Band neighbours must also pass the key rule: a relative with another width and no tokenizer is not one.
        Assert.DoesNotContain("other-width-relative", ids);
        // Band pruning leaves out most strangers although every key agrees; what it returns obeys the contract.
        Assert.True(ids.Count(i => i.StartsWith("stranger-", StringComparison.Ordinal)) < 20, string.Join(", ", ids));
        var stored = store.List().ToDictionary(e => e.ModelId, StringComparer.Ordinal);
        var sketched = found.Where(c => c.SharedBands > 0).ToList();
        foreach (var c in found)
        {
            var keys = stored[c.Entry.ModelId].Keys;
            int shared = keys.VocabularyKeys.Intersect(cq.Keys.VocabularyKeys).Count();
            Assert.True(cq.Keys.IsCandidate(keys, shared));
            Assert.Equal(shared, c.SharedVocabularyKeys);
            Assert.Equal(cq.Keys.Affinity(keys, shared), c.Affinity);
            if (c.SharedBands > 0) Assert.Equal(SketchBands.Shared(cq.Bands, SketchBands.Of(c.Sketch)), c.SharedBands);
        }
        Assert.Equal(sketched.OrderByDescending(c => c.SharedBands).ThenByDescending(c => c.Affinity).ThenBy(c => c.Entry.ModelId, StringComparer.Ordinal).Select(c => c.Entry.ModelId),
            sketched.Select(c => c.Entry.ModelId));
        // Every stored entry sharing a band and passing the key rule is returned (the limit is not reached).
        var expected = store.List().Where(e => e.ModelId != "no-sketch")
            .Where(e => SketchBands.Shared(cq.Bands, SketchBands.Of(WeightSketch.From(store.LoadFingerprint(e)))) > 0
                && cq.Keys.IsCandidate(e.Keys, e.Keys.VocabularyKeys.Intersect(cq.Keys.VocabularyKeys).Count()))
            .Select(e => e.ModelId).Order(StringComparer.Ordinal);
        Assert.Equal(expected, sketched.Select(c => c.Entry.ModelId).Order(StringComparer.Ordinal));
        Assert.Single(store.FindCandidates(cq with { Limit = 1, UnsketchedLimit = 0 }));
    }

    [Fact]
    public void Candidates_follow_the_tokenizer_and_architecture_rules()
    {
        using var store = Open();
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
        string bundle = Dir.File("export.lfpb");
        using (var store = Open())
        {
            var shared = SyntheticFingerprints.Make(20);
            store.Add([SyntheticFingerprints.Entry("a", shared, "f1"), SyntheticFingerprints.Entry("b", shared), SyntheticFingerprints.Entry("c", SyntheticFingerprints.Make(21))]);
            Assert.Equal(3, FingerprintBundle.Export(store, bundle));
        }
        using (var target = FingerprintStores.Open(OtherLocation))
        {
            Assert.Equal(3, FingerprintBundle.Import(target, bundle).Count);
            using var source = Open(create: false);
            Assert.Equal(source.List().Select(e => (e.ModelId, e.Family, e.ContentId)), target.List().Select(e => (e.ModelId, e.Family, e.ContentId)));
            // Importing again conflicts: fail by default (nothing changes), skip when asked.
            Assert.Throws<LineageException>(() => FingerprintBundle.Import(target, bundle));
            Assert.Empty(FingerprintBundle.Import(target, bundle, ConflictPolicy.Skip));
        }

        // Flip one byte of one fingerprint member: its content id no longer matches, the whole import is refused.
        string tampered = Dir.File("tampered.lfpb");
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
        using var fresh = FingerprintStores.Open(NewLocation("fresh"));
        var error = Assert.Throws<LineageException>(() => FingerprintBundle.Import(fresh, tampered));
        Assert.Contains("content id", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, fresh.Count);
        Assert.Throws<LineageException>(() => FingerprintBundle.Import(fresh, Dir.Write("not-a-zip.lfpb", "hello"u8.ToArray())));
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

public sealed class SqliteFingerprintStoreTests : FingerprintStoreContract
{
    protected override string NewLocation(string name) => Dir.File(name + ".db");

    protected override void SetFaultPoint(IFingerprintStore store, Action<string>? fault) => ((SqliteFingerprintStore)store).FaultPoint = fault;

    protected override void AbandonHalfWrite()
    {
        using var raw = new SqliteConnection($"Data Source={Location};Pooling=False");
        raw.Open();
        using var tx = raw.BeginTransaction();
        using var cmd = raw.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO fingerprints (content_id, format_version, bytes, data) VALUES ('partial', 1, 1, x'00')";
        cmd.ExecuteNonQuery();
    }

    protected override int CurrentSchemaVersion => SqliteFingerprintStore.SchemaVersion;

    protected override long ReadSchemaVersion() => (long)Raw("SELECT version FROM schema_version")!;

    protected override void SetSchemaVersion(int version) => Raw($"UPDATE schema_version SET version = {version}");

    protected override string ForeignLocation()
    {
        string foreign = Dir.File("foreign.db");
        using var raw = new SqliteConnection($"Data Source={foreign};Pooling=False");
        raw.Open();
        using var cmd = raw.CreateCommand();
        cmd.CommandText = "CREATE TABLE users (name TEXT)";
        cmd.ExecuteNonQuery();
        return foreign;
    }

    private object? Raw(string sql)
    {
        using var raw = new SqliteConnection($"Data Source={Location};Pooling=False");
        raw.Open();
        using var cmd = raw.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    [Fact]
    public void A_file_that_is_not_SQLite_is_refused()
    {
        string notSqlite = Dir.Write("junk.db", "this is not a database, just text that is long enough to be read as a header....."u8.ToArray());
        Assert.Throws<LineageException>(() => SqliteFingerprintStore.Open(notSqlite));
    }

    [Fact]
    public void A_version_1_file_gains_sketch_bands_on_first_open()
    {
        var fp = SyntheticFingerprints.Make(50);
        using (var store = SqliteFingerprintStore.Open(Location)) store.Add(SyntheticFingerprints.Entry("old", fp));
        // Back to version 1: drop what migration 2 added, as a file written by the previous build would be.
        Raw("DROP TABLE sketch_bands; DROP INDEX entries_unsketched; ALTER TABLE entries DROP COLUMN sketched; UPDATE schema_version SET version = 1");
        using var reopened = SqliteFingerprintStore.Open(Location);
        Assert.Equal(SqliteFingerprintStore.SchemaVersion, ReadSchemaVersion());
        var found = reopened.FindCandidates(CandidateQuery.From(fp));
        Assert.Equal("old", found[0].Entry.ModelId);
        Assert.Equal(2 * SketchBands.BandsPerPart, found[0].SharedBands);
    }
}

public sealed class PostgresFingerprintStoreTests(PostgresServer server) : FingerprintStoreContract
{
    protected override string NewLocation(string name) => server.NewUrl(name);

    private string Schema => Location[(Location.IndexOf("schema=", StringComparison.Ordinal) + 7)..];

    protected override void SetFaultPoint(IFingerprintStore store, Action<string>? fault) =>
        ((PostgresFingerprintStore)store).FaultPoint = fault is null ? null : (point, _) => fault(point);

    protected override void AbandonHalfWrite()
    {
        using var raw = server.Admin();
        using var tx = raw.BeginTransaction();
        using var cmd = new NpgsqlCommand($"INSERT INTO {Schema}.fingerprints (content_id, format_version, bytes, data) VALUES ('partial', 1, 1, '\\x00')", raw, tx);
        cmd.ExecuteNonQuery();
        // Disposed without commit: the server rolls the transaction back when the session ends.
    }

    protected override int CurrentSchemaVersion => PostgresFingerprintStore.SchemaVersion;

    protected override long ReadSchemaVersion() => Convert.ToInt64(Raw($"SELECT max(version) FROM {Schema}.schema_version"), System.Globalization.CultureInfo.InvariantCulture);

    protected override void SetSchemaVersion(int version) => Raw($"UPDATE {Schema}.schema_version SET version = {version}");

    protected override string ForeignLocation()
    {
        string url = NewLocation("foreign");
        string schema = url[(url.IndexOf("schema=", StringComparison.Ordinal) + 7)..];
        Raw($"CREATE SCHEMA {schema}; CREATE TABLE {schema}.users (name text)");
        return url;
    }

    private object? Raw(string sql)
    {
        using var raw = server.Admin();
        using var cmd = new NpgsqlCommand(sql, raw);
        return cmd.ExecuteScalar();
    }
}
