using System.Globalization;
using Lineage.Models.Canonical;
using Lineage.Provenance;
using Microsoft.Data.Sqlite;

namespace Lineage.Store;

/// <summary>
/// The embedded fingerprint store: one SQLite file in WAL mode (readers never block the writer or each other),
/// every write in one IMMEDIATE transaction (an interrupted writer leaves nothing partial: SQLite rolls the
/// journal back on the next open), synchronous=FULL so a committed entry survives power loss, and a schema
/// version table migrated on first use. Several processes may open one file; writers wait for each other
/// (busy timeout) instead of failing.
/// </summary>
public sealed class SqliteFingerprintStore : IFingerprintStore
{
    /// <summary>Schema migrations: index i upgrades version i to i + 1.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE fingerprints (
            content_id     TEXT PRIMARY KEY,
            format_version INTEGER NOT NULL,
            bytes          INTEGER NOT NULL,
            data           BLOB NOT NULL
        );
        CREATE TABLE entries (
            id          INTEGER PRIMARY KEY,
            model_id    TEXT NOT NULL UNIQUE,
            family      TEXT,
            content_id  TEXT NOT NULL REFERENCES fingerprints(content_id),
            source      TEXT,
            model_key   TEXT,
            vocab_hash  INTEGER,
            vocab_size  INTEGER NOT NULL,
            hidden      INTEGER NOT NULL,
            layers      INTEGER NOT NULL,
            model_type  TEXT,
            norm_kind   TEXT NOT NULL,
            arch_key    INTEGER NOT NULL,
            sketch      BLOB,
            created_utc TEXT NOT NULL
        );
        CREATE INDEX entries_vocab_hash ON entries(vocab_hash);
        CREATE INDEX entries_hidden ON entries(hidden);
        CREATE INDEX entries_vocab_size ON entries(vocab_size);
        CREATE INDEX entries_arch_key ON entries(arch_key);
        CREATE INDEX entries_model_key ON entries(model_key);
        CREATE INDEX entries_content_id ON entries(content_id);
        CREATE TABLE vocab_keys (
            key   INTEGER NOT NULL,
            entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            PRIMARY KEY (key, entry)
        ) WITHOUT ROWID;
        CREATE INDEX vocab_keys_entry ON vocab_keys(entry);
        CREATE TABLE model_keys (
            key         TEXT PRIMARY KEY,
            lookup_key  TEXT NOT NULL,
            ranges      BLOB NOT NULL,
            content_id  TEXT NOT NULL REFERENCES fingerprints(content_id),
            created_utc TEXT NOT NULL
        );
        CREATE INDEX model_keys_lookup ON model_keys(lookup_key);
        CREATE INDEX model_keys_content_id ON model_keys(content_id);
        """,
        // 2: sketch band keys (SketchBands), filled from the stored sketches by BackfillBands.
        """
        ALTER TABLE entries ADD COLUMN sketched INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE sketch_bands (
            key   INTEGER NOT NULL,
            entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
            PRIMARY KEY (key, entry)
        ) WITHOUT ROWID;
        CREATE INDEX sketch_bands_entry ON sketch_bands(entry);
        CREATE INDEX entries_unsketched ON entries(id) WHERE sketched = 0;
        """,
    ];

    public static int SchemaVersion => Migrations.Length;

    private static readonly SqliteSchema Schema = new()
    {
        Name = "fingerprint database",
        VersionName = "fingerprint database schema",
        VersionTable = "schema_version",
        Migrations = Migrations,
        MissingMessage = "no fingerprint database here (create one with 'lineage db add' or 'lineage db build')",
        NotCurrentReadOnlyMessage = "the fingerprint database is empty or needs a schema upgrade; open it once with write access",
        ForeignFileMessage = "this SQLite file is not a Lineage fingerprint database",
        // 64 MiB of page cache: pruning touches index pages all over a large store, and bulk builds rewrite them.
        ExtraPragmas = ["PRAGMA cache_size = -65536"],
        AfterMigration = (db, tx, version) =>
        {
            if (version == 2) BackfillBands(db, tx);
        },
    };

    private readonly SqliteDatabase _db;

    private SqliteFingerprintStore(SqliteDatabase db) => _db = db;

    public string Location => _db.Location;

    /// <summary>Test seam: called at named points inside write transactions (a throw simulates a crash there).</summary>
    internal Action<string>? FaultPoint { get; set; }

    /// <summary>
    /// Opens a store file, creating it when <paramref name="create"/> is set, and migrates an older schema.
    /// <paramref name="readOnly"/> opens without write access (identify and export on a shipped database).
    /// </summary>
    public static SqliteFingerprintStore Open(string path, bool create = true, bool readOnly = false) =>
        new(SqliteDatabase.Open(path, create, readOnly, Schema));

    /// <summary>Computes the band keys of entries stored before schema version 2 from their sketches.</summary>
    private static void BackfillBands(SqliteDatabase db, SqliteTransaction tx)
    {
        var rows = new List<(long Id, byte[] Sketch)>();
        using (var cmd = db.Command("SELECT id, sketch FROM entries WHERE sketch IS NOT NULL", tx))
        using (var reader = cmd.ExecuteReader())
        {
            while (reader.Read()) rows.Add((reader.GetInt64(0), (byte[])reader.GetValue(1)));
        }
        foreach (var (id, sketch) in rows) WriteBands(db, tx, id, SketchBands.Of(WeightSketch.Parse(sketch)));
    }

    private static void WriteBands(SqliteDatabase db, SqliteTransaction tx, long entry, int[] bands)
    {
        if (bands.Length == 0) return;
        using var cmd = db.Command("INSERT OR IGNORE INTO sketch_bands (key, entry) VALUES ($k, $e)", tx, ("$k", 0), ("$e", entry));
        cmd.Prepare();
        foreach (int band in bands)
        {
            cmd.Parameters["$k"].Value = band;
            cmd.ExecuteNonQuery();
        }
        db.Execute("UPDATE entries SET sketched = 1 WHERE id = $e", tx, ("$e", entry));
    }

    public int Count
    {
        get
        {
            return _db.Guard(() => (int)_db.Scalar<long>("SELECT count(*) FROM entries"));
        }
    }

    public IReadOnlyList<StoreEntry> Add(IEnumerable<NewEntry> entries, ConflictPolicy conflicts = ConflictPolicy.Fail)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var prepared = entries.Select(e =>
        {
            NewEntry.Validate(e, Location);
            var sketch = WeightSketch.From(e.Fingerprint);
            return (Entry: e, ContentId: FingerprintSerializer.Id(e.Serialized), Keys: IndexKeys.From(e.Fingerprint), Sketch: sketch.ToBytes(), Bands: SketchBands.Of(sketch));
        });
        var written = new List<StoreEntry>();
        _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: false);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (entry, contentId, keys, sketch, bands) in prepared)
            {
                if (!seen.Add(entry.ModelId)) throw new LineageException($"model id '{entry.ModelId}' appears twice in one batch", Location);
                long? existing = _db.Scalar<long?>("SELECT id FROM entries WHERE model_id = $id", tx, ("$id", entry.ModelId));
                string? oldContent = null;
                if (existing is not null)
                {
                    if (conflicts == ConflictPolicy.Skip) continue;
                    if (conflicts == ConflictPolicy.Fail) throw new LineageException($"model id '{entry.ModelId}' is already in the database (use --replace to overwrite)", Location);
                    oldContent = _db.Scalar<string>("SELECT content_id FROM entries WHERE id = $e", tx, ("$e", existing.Value));
                    _db.Execute("DELETE FROM entries WHERE id = $e", tx, ("$e", existing.Value));
                }
                PutFingerprint(tx, contentId, entry.Fingerprint.Version, entry.Serialized);
                FaultPoint?.Invoke("after-fingerprint");
                var created = entry.Created ?? DateTimeOffset.UtcNow;
                long id = _db.Scalar<long>("""
                    INSERT INTO entries (model_id, family, content_id, source, model_key, vocab_hash, vocab_size, hidden, layers,
                                         model_type, norm_kind, arch_key, sketch, created_utc)
                    VALUES ($model_id, $family, $content_id, $source, $model_key, $vocab_hash, $vocab_size, $hidden, $layers,
                            $model_type, $norm_kind, $arch_key, $sketch, $created)
                    RETURNING id
                    """, tx,
                    ("$model_id", entry.ModelId), ("$family", entry.Family), ("$content_id", contentId), ("$source", entry.Source),
                    ("$model_key", entry.ModelKey), ("$vocab_hash", keys.VocabularyHash is { } vh ? unchecked((long)vh) : null),
                    ("$vocab_size", keys.VocabSize), ("$hidden", keys.Hidden), ("$layers", keys.Layers), ("$model_type", keys.ModelType),
                    ("$norm_kind", keys.NormKind.ToString()), ("$arch_key", unchecked((long)keys.ArchitectureKey)), ("$sketch", sketch),
                    ("$created", created.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));
                FaultPoint?.Invoke("after-entry");
                foreach (ulong key in keys.VocabularyKeys.Distinct())
                    _db.Execute("INSERT INTO vocab_keys (key, entry) VALUES ($k, $e)", tx, ("$k", unchecked((long)key)), ("$e", id));
                WriteBands(_db, tx, id, bands);
                FaultPoint?.Invoke("after-keys");
                if (oldContent is not null && oldContent != contentId) CollectFingerprint(tx, oldContent);
                written.Add(new StoreEntry
                {
                    ModelId = entry.ModelId, Family = entry.Family, ContentId = contentId, Source = entry.Source, ModelKey = entry.ModelKey,
                    Keys = keys, FingerprintBytes = entry.Serialized.Length, Created = created,
                });
            }
            FaultPoint?.Invoke("before-commit");
            tx.Commit();
            return 0;
        });
        return written;
    }

    private void PutFingerprint(SqliteTransaction tx, string contentId, int version, byte[] serialized)
    {
        _db.Execute("""
            INSERT INTO fingerprints (content_id, format_version, bytes, data) VALUES ($c, $v, $n, $d)
            ON CONFLICT (content_id) DO NOTHING
            """, tx, ("$c", contentId), ("$v", version), ("$n", serialized.Length), ("$d", serialized));
    }

    private void CollectFingerprint(SqliteTransaction tx, string contentId)
    {
        _db.Execute("""
            DELETE FROM fingerprints WHERE content_id = $c
              AND NOT EXISTS (SELECT 1 FROM entries WHERE content_id = $c)
              AND NOT EXISTS (SELECT 1 FROM model_keys WHERE content_id = $c)
            """, tx, ("$c", contentId));
    }

    public bool Remove(string modelId)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        return _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: false);
            string? content = _db.Scalar<string?>("SELECT content_id FROM entries WHERE model_id = $id", tx, ("$id", modelId));
            if (content is null) return false;
            _db.Execute("DELETE FROM entries WHERE model_id = $id", tx, ("$id", modelId));
            FaultPoint?.Invoke("after-delete");
            CollectFingerprint(tx, content);
            tx.Commit();
            return true;
        });
    }

    private const string EntryColumns = "e.model_id, e.family, e.content_id, e.source, e.model_key, e.vocab_hash, e.vocab_size, e.hidden, e.layers, e.model_type, e.norm_kind, e.arch_key, e.created_utc, f.bytes, e.id";

    public StoreEntry? Find(string modelId)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        return QueryEntries($"SELECT {EntryColumns} FROM entries e JOIN fingerprints f ON f.content_id = e.content_id WHERE e.model_id = $id", ("$id", modelId)).FirstOrDefault();
    }

    public IReadOnlyList<StoreEntry> List() =>
        QueryEntries($"SELECT {EntryColumns} FROM entries e JOIN fingerprints f ON f.content_id = e.content_id ORDER BY e.model_id");

    public IReadOnlyList<StoreEntry> FindByModelKey(string modelKey)
    {
        ArgumentNullException.ThrowIfNull(modelKey);
        return QueryEntries($"SELECT {EntryColumns} FROM entries e JOIN fingerprints f ON f.content_id = e.content_id WHERE e.model_key = $k ORDER BY e.model_id", ("$k", modelKey));
    }

    private List<StoreEntry> QueryEntries(string sql, params (string Name, object? Value)[] parameters)
    {
        return _db.Guard<List<StoreEntry>>(() =>
        {
            using var tx = _db.BeginTransaction(deferred: true);
            using var cmd = _db.Command(sql, tx, parameters);
            using var reader = cmd.ExecuteReader();
            var rows = new List<(StoreEntry Entry, long Id)>();
            while (reader.Read()) rows.Add((ReadEntry(reader, []), reader.GetInt64(14)));
            reader.Close();
            return [.. rows.Select(r => r.Entry with { Keys = r.Entry.Keys with { VocabularyKeys = VocabularyKeysOf(r.Id, tx) } })];
        });
    }

    private ulong[] VocabularyKeysOf(long id, SqliteTransaction tx)
    {
        using var cmd = _db.Command("SELECT key FROM vocab_keys WHERE entry = $e", tx, ("$e", id));
        using var reader = cmd.ExecuteReader();
        var keys = new List<ulong>();
        while (reader.Read()) keys.Add(unchecked((ulong)reader.GetInt64(0)));
        keys.Sort();
        return [.. keys];
    }

    private static StoreEntry ReadEntry(SqliteDataReader r, ulong[] vocabularyKeys) =>
        StoreEntryColumns.Read(r, vocabularyKeys, DateTimeOffset.Parse(r.GetString(12), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));

    public byte[]? ReadFingerprint(string contentId)
    {
        ArgumentNullException.ThrowIfNull(contentId);
        return _db.Guard(() =>
        {
            using var cmd = _db.Command("SELECT data FROM fingerprints WHERE content_id = $c", null, ("$c", contentId));
            return cmd.ExecuteScalar() as byte[];
        });
    }

    public IReadOnlyList<CandidateEntry> FindCandidates(CandidateQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var keys = query.Keys;
        var vocabularyKeys = keys.VocabularyKeys.Distinct().Take(IndexKeys.VocabularyKeyCount).Select(k => unchecked((long)k)).ToArray();
        var bands = query.Bands.Distinct().ToArray();
        var parameters = new List<(string, object?)>
        {
            ("$vocab_hash", keys.VocabularyHash is { } vh ? unchecked((long)vh) : null), ("$hidden", keys.Hidden),
            ("$layers", keys.Layers), ("$model_type", keys.ModelType), ("$vocab_size", keys.VocabSize),
        };
        string vocabList = InList("$k", vocabularyKeys, parameters);
        // IndexKeys.Affinity and IndexKeys.IsCandidate in SQL, over a row source that exposes the shared key count.
        const string Affinity = """
            shared_keys
            + CASE WHEN $vocab_hash IS NOT NULL AND e.vocab_hash = $vocab_hash THEN 8 ELSE 0 END
            + CASE WHEN $hidden > 0 AND e.hidden = $hidden THEN 4 ELSE 0 END
            + CASE WHEN $layers > 0 AND e.layers = $layers THEN 2 ELSE 0 END
            + CASE WHEN $model_type IS NOT NULL AND e.model_type = $model_type THEN 1 ELSE 0 END
            + CASE WHEN $vocab_size > 0 AND e.vocab_size = $vocab_size THEN 1 ELSE 0 END
            """;
        string predicate = $"""
            (($vocab_hash IS NOT NULL AND e.vocab_hash = $vocab_hash)
             OR shared_keys >= {IndexKeys.MinimumSharedVocabularyKeys}
             OR (CASE WHEN $hidden > 0 THEN e.hidden = $hidden ELSE ($vocab_size > 0 AND e.vocab_size = $vocab_size) END))
            """;
        string sharedKeys = $"(SELECT count(*) FROM vocab_keys v WHERE v.entry = e.id AND v.key IN ({vocabList}))";
        var queries = new List<(string Sql, int Limit)>();
        if (bands.Length == 0)
        {
            if (query.Limit <= 0) return [];
            // Key pruning alone: each OR branch of the predicate is served by an index (vocab_hash, vocab_keys,
            // hidden or vocab_size); its cost follows the number of key matches.
            string archBranch = keys.Hidden > 0 ? "e.hidden = $hidden" : "($vocab_size > 0 AND e.vocab_size = $vocab_size)";
            queries.Add(($"""
                WITH shared AS (
                    SELECT entry, count(*) AS n FROM vocab_keys WHERE key IN ({vocabList}) GROUP BY entry
                )
                SELECT {EntryColumns}, shared_keys, e.sketch, {Affinity} AS affinity, 0 AS shared_bands
                FROM (SELECT e.*, coalesce(s.n, 0) AS shared_keys FROM entries e LEFT JOIN shared s ON s.entry = e.id
                      WHERE ($vocab_hash IS NOT NULL AND e.vocab_hash = $vocab_hash)
                         OR e.id IN (SELECT entry FROM shared WHERE n >= {IndexKeys.MinimumSharedVocabularyKeys})
                         OR {archBranch}) e
                JOIN fingerprints f ON f.content_id = e.content_id
                ORDER BY affinity DESC, e.model_id
                LIMIT $limit
                """, query.Limit));
        }
        else
        {
            string bandList = InList("$b", bands.Select(b => (long)b).ToArray(), parameters);
            // Band neighbours through the (key, entry) primary key, then the key predicate on those rows only.
            if (query.Limit > 0)
            {
                queries.Add(($"""
                    WITH hits AS (
                        SELECT entry, count(*) AS n FROM sketch_bands WHERE key IN ({bandList}) GROUP BY entry
                    )
                    SELECT {EntryColumns}, shared_keys, e.sketch, {Affinity} AS affinity, shared_bands
                    FROM (SELECT e.*, h.n AS shared_bands, {sharedKeys} AS shared_keys FROM hits h JOIN entries e ON e.id = h.entry) e
                    JOIN fingerprints f ON f.content_id = e.content_id
                    WHERE {predicate}
                    ORDER BY shared_bands DESC, affinity DESC, e.model_id
                    LIMIT $limit
                    """, query.Limit));
            }
            if (query.UnsketchedLimit > 0)
            {
                queries.Add(($"""
                    SELECT {EntryColumns}, shared_keys, e.sketch, {Affinity} AS affinity, 0 AS shared_bands
                    FROM (SELECT e.*, {sharedKeys} AS shared_keys FROM entries e INDEXED BY entries_unsketched WHERE e.sketched = 0) e
                    JOIN fingerprints f ON f.content_id = e.content_id
                    WHERE {predicate}
                    ORDER BY affinity DESC, e.model_id
                    LIMIT $limit
                    """, query.UnsketchedLimit));
            }
        }
        return _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: true);
            var result = new List<CandidateEntry>();
            foreach (var (sql, limit) in queries)
            {
                using var cmd = _db.Command(sql, tx, [.. parameters, ("$limit", limit)]);
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    var entry = ReadEntry(reader, []);
                    int shared = reader.GetInt32(15);
                    var sketch = reader.IsDBNull(16) ? WeightSketch.Parse([]) : WeightSketch.Parse((byte[])reader.GetValue(16));
                    result.Add(new CandidateEntry(entry, shared, reader.GetInt32(17), sketch, reader.GetInt32(18)));
                }
            }
            return result;
        });
    }

    /// <summary>A parameter list for an IN clause ("NULL" when empty, which matches nothing).</summary>
    private static string InList(string prefix, long[] values, List<(string, object?)> parameters)
    {
        if (values.Length == 0) return "NULL";
        var names = new string[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            names[i] = prefix + i.ToString(CultureInfo.InvariantCulture);
            parameters.Add((names[i], values[i]));
        }
        return string.Join(", ", names);
    }

    public IReadOnlyList<CachedModelKey> FindCachedKeys(string lookupKey)
    {
        ArgumentNullException.ThrowIfNull(lookupKey);
        return _db.Guard(() =>
        {
            using var cmd = _db.Command("SELECT key, lookup_key, ranges, content_id FROM model_keys WHERE lookup_key = $l ORDER BY created_utc DESC", null, ("$l", lookupKey));
            using var reader = cmd.ExecuteReader();
            var result = new List<CachedModelKey>();
            while (reader.Read())
                result.Add(new CachedModelKey { Key = reader.GetString(0), LookupKey = reader.GetString(1), Ranges = (byte[])reader.GetValue(2), ContentId = reader.GetString(3) });
            return result;
        });
    }

    public void CacheKey(CachedModelKey key, byte[] serializedFingerprint)
    {
        string contentId = CachedModelKey.CheckedContentId(key, serializedFingerprint);
        _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: false);
            PutFingerprint(tx, contentId, Fingerprint.CurrentVersion, serializedFingerprint);
            string? old = _db.Scalar<string?>("SELECT content_id FROM model_keys WHERE key = $k", tx, ("$k", key.Key));
            _db.Execute("""
                INSERT INTO model_keys (key, lookup_key, ranges, content_id, created_utc) VALUES ($k, $l, $r, $c, $t)
                ON CONFLICT (key) DO UPDATE SET lookup_key = excluded.lookup_key, ranges = excluded.ranges,
                    content_id = excluded.content_id, created_utc = excluded.created_utc
                """, tx, ("$k", key.Key), ("$l", key.LookupKey), ("$r", key.Ranges), ("$c", contentId),
                ("$t", DateTimeOffset.UtcNow.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));
            if (old is not null && old != contentId) CollectFingerprint(tx, old);
            tx.Commit();
            return 0;
        });
    }

    public void Dispose() => _db.Dispose();
}
