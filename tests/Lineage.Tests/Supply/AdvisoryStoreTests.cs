using System.IO.Compression;
using System.Text;
using Lineage.Store;
using Lineage.Supply.Advisories;
using Lineage.Tests.Store;
using Lineage.Tests.Support;
using static Lineage.Tests.Supply.OsvFixtures;

namespace Lineage.Tests.Supply;

public sealed class AdvisoryStoreTests
{
    private static string WriteRecords(TempDir dir, string folder, params string[] records)
    {
        for (int i = 0; i < records.Length; i++) dir.Write($"{folder}/r{i:D3}.json", records[i]);
        return dir.File(folder);
    }

    private static AffectedEntry[] Lookup(SqliteAdvisoryStore store, string ecosystem, string name) =>
        [.. store.ForPackages([(ecosystem, name)]).Values.SelectMany(v => v)];

    [Fact]
    public void Import_stores_records_and_finds_them_by_normalized_name_and_alias()
    {
        using var dir = new TempDir();
        string src = WriteRecords(dir, "osv",
            Record("GHSA-1", "PyPI", "Torch_Vision", [Ecosystem(("introduced", "0"), ("fixed", "1.0"))], aliases: ["CVE-2025-1"]),
            Record("GHSA-2", "npm", "left-pad", [Ecosystem(("introduced", "0"))]));
        using var store = SqliteAdvisoryStore.Open(dir.File("db.sqlite"));
        var result = AdvisoryImporter.Import(store, src);
        Assert.Equal((2, 2, 0), (result.Read, result.Added, result.Updated));
        Assert.Single(Lookup(store, "PyPI", "torch.vision"));
        Assert.Single(Lookup(store, "npm", "left-pad"));
        Assert.Empty(Lookup(store, "npm", "Left-Pad"));
        Assert.Equal("GHSA-1", store.Find("CVE-2025-1")!.Value.Advisory.Id);
        Assert.Contains("\"Torch_Vision\"", store.Find("GHSA-1")!.Value.Json, StringComparison.Ordinal);
    }

    [Fact]
    public void Reimport_replaces_only_records_with_a_later_modified_time()
    {
        using var dir = new TempDir();
        using var store = SqliteAdvisoryStore.Open(dir.File("db.sqlite"));
        AdvisoryImporter.Import(store, WriteRecords(dir, "v1",
            Record("A-1", "PyPI", "pkg", [Ecosystem(("introduced", "0"), ("fixed", "1.0"))], modified: "2025-01-01T00:00:00Z"),
            Record("A-2", "PyPI", "pkg", [Ecosystem(("introduced", "0"), ("fixed", "2.0"))], modified: "2025-01-01T00:00:00Z")));
        var result = AdvisoryImporter.Import(store, WriteRecords(dir, "v2",
            Record("A-1", "PyPI", "pkg", [Ecosystem(("introduced", "0"), ("fixed", "1.5"))], modified: "2025-02-01T00:00:00+01:00"),
            Record("A-2", "PyPI", "pkg", [Ecosystem(("introduced", "0"), ("fixed", "9.0"))], modified: "2024-12-01T00:00:00Z"),
            Record("A-3", "PyPI", "other", modified: "2025-01-01T00:00:00Z")));
        Assert.Equal((3, 1, 1, 0, 1), (result.Read, result.Added, result.Updated, result.Unchanged, result.Older));
        var entries = Lookup(store, "PyPI", "pkg").ToDictionary(e => e.Advisory.Id);
        Assert.NotNull(AffectedMatcher.Match(entries["A-1"].Affected, "1.2"));   // updated: fixed moved to 1.5
        Assert.Null(AffectedMatcher.Match(entries["A-2"].Affected, "3.0"));      // older record ignored: still fixed in 2.0
        var again = AdvisoryImporter.Import(store, dir.File("v2"));
        Assert.Equal(2, again.Unchanged);
        Assert.Equal(3, store.Count);
    }

    [Fact]
    public void Withdrawn_records_are_kept_but_never_matched()
    {
        using var dir = new TempDir();
        using var store = SqliteAdvisoryStore.Open(dir.File("db.sqlite"));
        var result = AdvisoryImporter.Import(store, WriteRecords(dir, "osv",
            Record("W-1", "PyPI", "pkg", [Ecosystem(("introduced", "0"))], withdrawn: "2025-03-01T00:00:00Z"),
            Record("W-2", "PyPI", "pkg", [Ecosystem(("introduced", "0"))])));
        Assert.Equal(1, result.Withdrawn);
        Assert.Equal(2, store.Count);
        Assert.Equal(["W-2"], Lookup(store, "PyPI", "pkg").Select(e => e.Advisory.Id));
        Assert.NotNull(store.Find("W-1")!.Value.Advisory.Withdrawn);
        Assert.DoesNotContain(store.List(includeWithdrawn: false), a => a.Id == "W-1");
    }

    [Fact]
    public void A_bad_record_anywhere_leaves_the_store_unchanged()
    {
        using var dir = new TempDir();
        using var store = SqliteAdvisoryStore.Open(dir.File("db.sqlite"));
        AdvisoryImporter.Import(store, WriteRecords(dir, "good", Record("G-1", "PyPI", "pkg")));
        string bad = WriteRecords(dir, "bad", Record("B-1", "PyPI", "a"), Record("B-2", "PyPI", "b"), "{\"id\": \"B-3\",\n  \"modified\": 12\n}");
        var e = Assert.Throws<LineageException>(() => AdvisoryImporter.Import(store, bad));
        Assert.EndsWith("r002.json", e.File, StringComparison.Ordinal);
        Assert.Equal(1, store.Count);
        Assert.Null(store.Find("B-1"));
    }

    [Fact]
    public void A_crash_inside_the_transaction_rolls_back()
    {
        using var dir = new TempDir();
        string db = dir.File("db.sqlite");
        string src = WriteRecords(dir, "osv", Record("C-1", "PyPI", "a"), Record("C-2", "PyPI", "b"));
        using (var store = SqliteAdvisoryStore.Open(db))
        {
            store.FaultAfterRecord = n => { if (n == 2) throw new InvalidOperationException("simulated crash"); };
            Assert.Throws<InvalidOperationException>(() => AdvisoryImporter.Import(store, src));
        }
        using var reopened = SqliteAdvisoryStore.Open(db);
        Assert.Equal(0, reopened.Count);
    }

    [Fact]
    public void Zip_archives_such_as_all_zip_are_read()
    {
        using var dir = new TempDir();
        string zip = dir.File("all.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            for (int i = 0; i < 50; i++)
            {
                var entry = archive.CreateEntry($"PYSEC-{i}.json", CompressionLevel.Optimal);
                using var s = entry.Open();
                s.Write(Encoding.UTF8.GetBytes(Record($"PYSEC-{i}", "PyPI", $"pkg{i % 5}", [Ecosystem(("introduced", "0"), ("fixed", "1.0"))])));
            }
            archive.CreateEntry("README.txt");
        }
        using var store = SqliteAdvisoryStore.Open(dir.File("db.sqlite"));
        var result = AdvisoryImporter.Import(store, zip);
        Assert.Equal(50, result.Added);
        Assert.Equal(10, Lookup(store, "PyPI", "pkg3").Length);
        Assert.EndsWith("all.zip!PYSEC-0.json", store.Find("PYSEC-0")!.Value.Advisory.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void A_zip_bomb_is_refused_and_nothing_is_imported()
    {
        using var dir = new TempDir();
        string zip = dir.File("bomb.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            using (var s = archive.CreateEntry("A-1.json").Open()) s.Write(Encoding.UTF8.GetBytes(Record("A-1", "PyPI", "a")));
            using var bomb = archive.CreateEntry("B-1.json", CompressionLevel.Optimal).Open();
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 48; i++) bomb.Write(zeros);
        }
        using var store = SqliteAdvisoryStore.Open(dir.File("db.sqlite"));
        var e = Assert.Throws<LineageException>(() => AdvisoryImporter.Import(store, zip));
        Assert.Equal("B-1.json", e.Entry);
        Assert.Equal(zip, e.File);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Advisories_and_fingerprints_share_one_file_in_either_order()
    {
        using var dir = new TempDir();
        string db = dir.File("shared.db");
        using (var advisories = SqliteAdvisoryStore.Open(db))
            AdvisoryImporter.Import(advisories, WriteRecords(dir, "osv", Record("S-1", "PyPI", "a")));
        using (var fingerprints = SqliteFingerprintStore.Open(db))
        {
            fingerprints.Add(SyntheticFingerprints.Entry("model-a", SyntheticFingerprints.Make(1)));
            Assert.Equal(1, fingerprints.Count);
        }
        using (var readOnly = SqliteAdvisoryStore.Open(db, create: false, readOnly: true)) Assert.Equal(1, readOnly.Count);
        using (var fingerprints = SqliteFingerprintStore.Open(db, create: false, readOnly: true)) Assert.Equal(1, fingerprints.Count);

        string db2 = dir.File("fp-first.db");
        using (var fingerprints = SqliteFingerprintStore.Open(db2)) fingerprints.Add(SyntheticFingerprints.Entry("model-b", SyntheticFingerprints.Make(2)));
        var e = Assert.Throws<LineageException>(() => SqliteAdvisoryStore.Open(db2, create: false, readOnly: true));
        Assert.Contains("no advisories", e.Message, StringComparison.Ordinal);
        using (var advisories = SqliteAdvisoryStore.Open(db2)) Assert.Equal(0, advisories.Count);
        using (var fingerprints = SqliteFingerprintStore.Open(db2, create: false, readOnly: true)) Assert.Equal(1, fingerprints.Count);
    }

    [Fact]
    public void A_foreign_sqlite_file_is_refused()
    {
        using var dir = new TempDir();
        string db = dir.File("other.db");
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE t (x INTEGER)";
            cmd.ExecuteNonQuery();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var e = Assert.Throws<LineageException>(() => SqliteAdvisoryStore.Open(db));
        Assert.Contains("not a Lineage database", e.Message, StringComparison.Ordinal);
    }
}
