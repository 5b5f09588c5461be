using System.Text.Json;
using Lineage.Security;
using Lineage.Store;
using Microsoft.Data.Sqlite;

namespace Lineage.Supply.Advisories;

/// <summary>Counts from one import.</summary>
public sealed record AdvisoryImportResult(int Read, int Added, int Updated, int Unchanged, int Older, int Withdrawn);

/// <summary>An advisory as stored: what list/show print and what matching reports.</summary>
public sealed record StoredAdvisory
{
    public required string Id { get; init; }

    public required DateTimeOffset Modified { get; init; }

    public DateTimeOffset? Published { get; init; }

    public DateTimeOffset? Withdrawn { get; init; }

    public IReadOnlyList<string> Aliases { get; init; } = [];

    public string? Summary { get; init; }

    public required Severity Severity { get; init; }

    public required string SeverityBasis { get; init; }

    public double? CvssScore { get; init; }

    public string? CvssVector { get; init; }

    public bool Malicious { get; init; }

    public string? Source { get; init; }

    /// <summary>(ecosystem, package name) pairs the advisory names.</summary>
    public IReadOnlyList<(string Ecosystem, string Name)> Packages { get; init; } = [];
}

/// <summary>One affected entry of a non-withdrawn advisory for a package, with the advisory it belongs to.</summary>
public sealed record AffectedEntry(StoredAdvisory Advisory, OsvAffected Affected);

/// <summary>
/// OSV advisories in the same SQLite file as the fingerprint store (one file for the user), in tables of their
/// own with their own schema-version track (<c>advisory_schema_version</c>), so either store can create, open
/// and migrate the file without knowing the other's tables. The conventions are the fingerprint store's: the
/// file's application_id marks it as Lineage's, WAL, synchronous=FULL, a busy timeout, and every import is one
/// IMMEDIATE transaction: an import that fails anywhere (a bad record, a zip bomb, a crash) leaves the store
/// exactly as it was. A record replaces the stored one with its id only when its <c>modified</c> time is later.
/// Withdrawn records are kept (so a re-import does not resurrect them) but never returned for matching.
/// </summary>
public sealed class SqliteAdvisoryStore : IDisposable
{
    /// <summary>Advisory schema migrations: index i upgrades advisory schema version i to i + 1.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE advisories (
            id            TEXT PRIMARY KEY,
            modified      TEXT NOT NULL,
            published     TEXT,
            withdrawn     TEXT,
            summary       TEXT,
            aliases       TEXT NOT NULL,
            severity      TEXT NOT NULL,
            severity_basis TEXT NOT NULL,
            cvss_score    REAL,
            cvss_vector   TEXT,
            malicious     INTEGER NOT NULL,
            source        TEXT,
            imported_utc  TEXT NOT NULL,
            data          TEXT NOT NULL
        );
        CREATE TABLE advisory_packages (
            advisory  TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
            ecosystem TEXT NOT NULL,
            name      TEXT NOT NULL,
            affected  TEXT NOT NULL
        );
        CREATE INDEX advisory_packages_name ON advisory_packages(ecosystem, name);
        CREATE INDEX advisory_packages_advisory ON advisory_packages(advisory);
        CREATE TABLE advisory_aliases (
            alias    TEXT NOT NULL,
            advisory TEXT NOT NULL REFERENCES advisories(id) ON DELETE CASCADE,
            PRIMARY KEY (alias, advisory)
        ) WITHOUT ROWID;
        CREATE INDEX advisory_aliases_advisory ON advisory_aliases(advisory);
        """,
    ];

    public static int SchemaVersion => Migrations.Length;

    private static readonly SqliteSchema Schema = new()
    {
        Name = "advisory database",
        VersionName = "advisory schema",
        VersionTable = "advisory_schema_version",
        Migrations = Migrations,
        MissingMessage = "no advisory database here (import advisories with 'lineage advisories import')",
        NotCurrentReadOnlyMessage = "no advisories have been imported into this database (or it needs a schema upgrade): run 'lineage advisories import'",
        ForeignFileMessage = "this SQLite file is not a Lineage database",
    };

    private readonly SqliteDatabase _db;

    private SqliteAdvisoryStore(SqliteDatabase db) => _db = db;

    public string Location => _db.Location;

    /// <summary>Test seam: called after each stored record inside the import transaction (a throw simulates a crash).</summary>
    internal Action<int>? FaultAfterRecord { get; set; }

    public static SqliteAdvisoryStore Open(string path, bool create = true, bool readOnly = false) =>
        new(SqliteDatabase.Open(path, create, readOnly, Schema));

    public int Count => _db.Guard(() => (int)_db.Scalar<long>("SELECT count(*) FROM advisories"));

    /// <summary>
    /// Stores records in one transaction. The enumeration may throw (a bad file in the middle of a folder): the
    /// transaction is rolled back and nothing of this import remains.
    /// </summary>
    public AdvisoryImportResult Import(IEnumerable<(OsvRecord Record, string Source)> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        return _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: false);
            int read = 0, added = 0, updated = 0, unchanged = 0, older = 0, withdrawn = 0;
            string now = OsvRecord.FormatTime(DateTimeOffset.UtcNow);
            using var select = _db.Command("SELECT modified FROM advisories WHERE id = $id", tx, ("$id", ""));
            using var delete = _db.Command("DELETE FROM advisories WHERE id = $id", tx, ("$id", ""));
            using var insert = _db.Command("""
                INSERT INTO advisories (id, modified, published, withdrawn, summary, aliases, severity, severity_basis,
                                        cvss_score, cvss_vector, malicious, source, imported_utc, data)
                VALUES ($id, $modified, $published, $withdrawn, $summary, $aliases, $severity, $basis,
                        $score, $vector, $malicious, $source, $imported, $data)
                """, tx, ("$id", ""), ("$modified", ""), ("$published", null), ("$withdrawn", null), ("$summary", null), ("$aliases", ""),
                ("$severity", ""), ("$basis", ""), ("$score", null), ("$vector", null), ("$malicious", 0), ("$source", null), ("$imported", now), ("$data", ""));
            using var insertPackage = _db.Command("INSERT INTO advisory_packages (advisory, ecosystem, name, affected) VALUES ($a, $e, $n, $j)", tx,
                ("$a", ""), ("$e", ""), ("$n", ""), ("$j", ""));
            using var insertAlias = _db.Command("INSERT OR IGNORE INTO advisory_aliases (alias, advisory) VALUES ($alias, $a)", tx, ("$alias", ""), ("$a", ""));
            foreach (var (record, source) in records)
            {
                read++;
                string modified = OsvRecord.FormatTime(record.Modified);
                select.Parameters["$id"].Value = record.Id;
                if (select.ExecuteScalar() is string stored)
                {
                    int cmp = string.CompareOrdinal(modified, stored);
                    if (cmp == 0) { unchanged++; continue; }
                    if (cmp < 0) { older++; continue; }
                    delete.Parameters["$id"].Value = record.Id;
                    delete.ExecuteNonQuery();
                    updated++;
                }
                else
                {
                    added++;
                }
                if (record.Withdrawn is not null) withdrawn++;
                var rating = record.IsMalicious ? new AdvisoryRating(Severity.Critical, "malicious package", null) : AdvisorySeverity.Of(record);
                Set(insert, ("$id", record.Id), ("$modified", modified), ("$published", record.Published is { } p ? OsvRecord.FormatTime(p) : null),
                    ("$withdrawn", record.Withdrawn is { } w ? OsvRecord.FormatTime(w) : null), ("$summary", record.Summary),
                    ("$aliases", JsonSerializer.Serialize(record.Aliases)), ("$severity", rating.Severity.ToString().ToLowerInvariant()),
                    ("$basis", rating.Basis), ("$score", rating.Cvss?.Score), ("$vector", rating.Cvss?.Vector),
                    ("$malicious", record.IsMalicious ? 1 : 0), ("$source", source), ("$data", record.Json));
                insert.ExecuteNonQuery();
                foreach (var a in record.Affected)
                {
                    Set(insertPackage, ("$a", record.Id), ("$e", Ecosystems.Base(a.Ecosystem)), ("$n", Ecosystems.NormalizeName(a.Ecosystem, a.Name)),
                        ("$j", AffectedCodec.Serialize(a)));
                    insertPackage.ExecuteNonQuery();
                }
                foreach (var alias in record.Aliases.Append(record.Id).Distinct(StringComparer.Ordinal))
                {
                    Set(insertAlias, ("$alias", alias), ("$a", record.Id));
                    insertAlias.ExecuteNonQuery();
                }
                FaultAfterRecord?.Invoke(read);
            }
            tx.Commit();
            return new AdvisoryImportResult(read, added, updated, unchanged, older, withdrawn);
        });
    }

    private static void Set(SqliteCommand cmd, params (string Name, object? Value)[] values)
    {
        foreach (var (name, value) in values) cmd.Parameters[name].Value = value ?? DBNull.Value;
    }

    private const string AdvisoryColumns = "a.id, a.modified, a.published, a.withdrawn, a.summary, a.aliases, a.severity, a.severity_basis, a.cvss_score, a.cvss_vector, a.malicious, a.source";

    /// <summary>An advisory by id, or by an alias (CVE, GHSA…) when no id matches; null when none.</summary>
    public (StoredAdvisory Advisory, string Json)? Find(string idOrAlias)
    {
        ArgumentNullException.ThrowIfNull(idOrAlias);
        return _db.Guard<(StoredAdvisory, string)?>(() =>
        {
            using var tx = _db.BeginTransaction(deferred: true);
            string? id = _db.Scalar<string?>("SELECT id FROM advisories WHERE id = $id", tx, ("$id", idOrAlias))
                ?? _db.Scalar<string?>("SELECT advisory FROM advisory_aliases WHERE alias = $id ORDER BY advisory LIMIT 1", tx, ("$id", idOrAlias));
            if (id is null) return null;
            using var cmd = _db.Command($"SELECT {AdvisoryColumns}, a.data FROM advisories a WHERE a.id = $id", tx, ("$id", id));
            using var reader = cmd.ExecuteReader();
            if (!reader.Read()) return null;
            var advisory = ReadAdvisory(reader) with { Packages = PackagesOf(id, tx) };
            return (advisory, reader.GetString(12));
        });
    }

    private List<(string, string)> PackagesOf(string id, SqliteTransaction tx)
    {
        using var cmd = _db.Command("SELECT DISTINCT ecosystem, name FROM advisory_packages WHERE advisory = $id ORDER BY ecosystem, name", tx, ("$id", id));
        using var reader = cmd.ExecuteReader();
        var list = new List<(string, string)>();
        while (reader.Read()) list.Add((reader.GetString(0), reader.GetString(1)));
        return list;
    }

    /// <summary>Stored advisories, optionally only those naming a package (ecosystem and/or name), newest first.</summary>
    public IReadOnlyList<StoredAdvisory> List(string? ecosystem = null, string? package = null, int limit = int.MaxValue, bool includeWithdrawn = true)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)> { ("$limit", limit) };
        if (ecosystem is not null || package is not null)
        {
            var inner = new List<string>();
            if (ecosystem is not null) { inner.Add("p.ecosystem = $e"); parameters.Add(("$e", Ecosystems.Base(ecosystem))); }
            if (package is not null) { inner.Add("p.name = $n"); parameters.Add(("$n", Ecosystems.NormalizeName(ecosystem ?? "", package))); }
            where.Add($"a.id IN (SELECT p.advisory FROM advisory_packages p WHERE {string.Join(" AND ", inner)})");
        }
        if (!includeWithdrawn) where.Add("a.withdrawn IS NULL");
        string sql = $"SELECT {AdvisoryColumns} FROM advisories a {(where.Count > 0 ? "WHERE " + string.Join(" AND ", where) : "")} ORDER BY a.modified DESC, a.id LIMIT $limit";
        return _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: true);
            using var cmd = _db.Command(sql, tx, [.. parameters]);
            using var reader = cmd.ExecuteReader();
            var list = new List<StoredAdvisory>();
            while (reader.Read()) list.Add(ReadAdvisory(reader));
            reader.Close();
            return list.Select(a => a with { Packages = PackagesOf(a.Id, tx) }).ToList();
        });
    }

    /// <summary>Counts of stored advisories per ecosystem (an advisory naming two ecosystems counts in both).</summary>
    public IReadOnlyDictionary<string, int> CountByEcosystem() => _db.Guard(() =>
    {
        using var cmd = _db.Command("SELECT ecosystem, count(DISTINCT advisory) FROM advisory_packages GROUP BY ecosystem ORDER BY ecosystem", null);
        using var reader = cmd.ExecuteReader();
        var d = new SortedDictionary<string, int>(StringComparer.Ordinal);
        while (reader.Read()) d[reader.GetString(0)] = reader.GetInt32(1);
        return (IReadOnlyDictionary<string, int>)d;
    });

    /// <summary>
    /// The affected entries of non-withdrawn advisories for each requested (ecosystem, normalized name), in one
    /// read transaction with one prepared statement (the index on (ecosystem, name) serves every lookup).
    /// </summary>
    public IReadOnlyDictionary<(string Ecosystem, string Name), IReadOnlyList<AffectedEntry>> ForPackages(IEnumerable<(string Ecosystem, string Name)> packages)
    {
        ArgumentNullException.ThrowIfNull(packages);
        var keys = packages.Select(p => (Ecosystems.Base(p.Ecosystem), Ecosystems.NormalizeName(p.Ecosystem, p.Name))).Distinct().ToList();
        return _db.Guard(() =>
        {
            using var tx = _db.BeginTransaction(deferred: true);
            using var cmd = _db.Command($"""
                SELECT {AdvisoryColumns}, p.affected FROM advisory_packages p JOIN advisories a ON a.id = p.advisory
                WHERE p.ecosystem = $e AND p.name = $n AND a.withdrawn IS NULL ORDER BY a.id
                """, tx, ("$e", ""), ("$n", ""));
            cmd.Prepare();
            var rows = new List<(int Key, StoredAdvisory Advisory, string Affected)>();
            var advisories = new Dictionary<string, StoredAdvisory>(StringComparer.Ordinal);
            for (int k = 0; k < keys.Count; k++)
            {
                cmd.Parameters["$e"].Value = keys[k].Item1;
                cmd.Parameters["$n"].Value = keys[k].Item2;
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    string id = reader.GetString(0);
                    if (!advisories.TryGetValue(id, out var advisory)) advisories[id] = advisory = ReadAdvisory(reader);
                    rows.Add((k, advisory, reader.GetString(12)));
                }
            }
            // The connection serves one reader at a time; decoding the stored entries does not need it.
            var decoded = new OsvAffected[rows.Count];
            ParallelWork.For(rows.Count, i => decoded[i] = AffectedCodec.Deserialize(rows[i].Affected));
            var result = new Dictionary<(string, string), IReadOnlyList<AffectedEntry>>();
            for (int i = 0; i < rows.Count;)
            {
                int key = rows[i].Key;
                var list = new List<AffectedEntry>();
                for (; i < rows.Count && rows[i].Key == key; i++) list.Add(new AffectedEntry(rows[i].Advisory, decoded[i]));
                result[keys[key]] = list;
            }
            return (IReadOnlyDictionary<(string, string), IReadOnlyList<AffectedEntry>>)result;
        });
    }

    private static StoredAdvisory ReadAdvisory(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Modified = OsvRecord.ParseStoredTime(r.GetString(1)),
        Published = r.IsDBNull(2) ? null : OsvRecord.ParseStoredTime(r.GetString(2)),
        Withdrawn = r.IsDBNull(3) ? null : OsvRecord.ParseStoredTime(r.GetString(3)),
        Summary = r.IsDBNull(4) ? null : r.GetString(4),
        Aliases = JsonSerializer.Deserialize<string[]>(r.GetString(5)) ?? [],
        Severity = Enum.TryParse<Severity>(r.GetString(6), ignoreCase: true, out var s) ? s : Severity.Medium,
        SeverityBasis = r.GetString(7),
        CvssScore = r.IsDBNull(8) ? null : r.GetDouble(8),
        CvssVector = r.IsDBNull(9) ? null : r.GetString(9),
        Malicious = r.GetInt64(10) != 0,
        Source = r.IsDBNull(11) ? null : r.GetString(11),
    };

    public void Dispose() => _db.Dispose();
}
