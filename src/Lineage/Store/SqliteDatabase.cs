using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Lineage.Store;

/// <summary>
/// What one store keeps in a Lineage SQLite file: its own migrations, its own schema-version table and its own
/// wording in errors. Several stores share one file (fingerprints and advisories), each migrating only its tables.
/// </summary>
internal sealed record SqliteSchema
{
    /// <summary>The store in error messages: "cannot open {Name}: …", "{Name} error: …".</summary>
    public required string Name { get; init; }

    /// <summary>The schema in the "newer than this build" error: "{VersionName} version 3 is newer …".</summary>
    public required string VersionName { get; init; }

    /// <summary>The single-row table that holds this store's schema version.</summary>
    public required string VersionTable { get; init; }

    /// <summary>Index i upgrades schema version i to i + 1.</summary>
    public required IReadOnlyList<string> Migrations { get; init; }

    /// <summary>The error when the file does not exist and may not be created.</summary>
    public required string MissingMessage { get; init; }

    /// <summary>The error when a read-only open finds the schema absent or out of date.</summary>
    public required string NotCurrentReadOnlyMessage { get; init; }

    /// <summary>The error when the file is some other application's SQLite database.</summary>
    public required string ForeignFileMessage { get; init; }

    /// <summary>Pragmas set on every open after the shared ones.</summary>
    public IReadOnlyList<string> ExtraPragmas { get; init; } = [];

    /// <summary>Called inside the migration transaction after each migration, with the version it reached.</summary>
    public Action<SqliteDatabase, SqliteTransaction, int>? AfterMigration { get; init; }
}

/// <summary>
/// One connection to a Lineage SQLite file with the conventions every store follows: the file's application_id
/// marks it as Lineage's (a foreign database is refused, never migrated), WAL (readers never block the writer),
/// synchronous=FULL, foreign keys, a busy timeout (writers in other processes wait instead of failing), and the
/// store's schema migrated in one IMMEDIATE transaction on open. Every use of the connection goes through
/// <see cref="Guard{T}"/>: one caller at a time, and SQLite failures become <see cref="LineageException"/>.
/// </summary>
internal sealed class SqliteDatabase : IDisposable
{
    /// <summary>"LNFP": the application id of a Lineage database file (PRAGMA application_id).</summary>
    private const int ApplicationId = 0x4C4E4650;

    private const int BusyTimeoutMs = 30_000;

    private readonly SqliteConnection _connection;
    private readonly SqliteSchema _schema;
    private readonly Lock _gate = new();
    private bool _disposed;

    private SqliteDatabase(string path, SqliteConnection connection, SqliteSchema schema)
    {
        Location = path;
        _connection = connection;
        _schema = schema;
    }

    /// <summary>The full path of the file.</summary>
    public string Location { get; }

    /// <summary>
    /// Opens a file, creating it when <paramref name="create"/> is set, and migrates the schema's tables.
    /// <paramref name="readOnly"/> opens without write access and requires the schema to be current.
    /// </summary>
    public static SqliteDatabase Open(string path, bool create, bool readOnly, SqliteSchema schema)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(schema);
        string full = Path.GetFullPath(path);
        if ((!create || readOnly) && !File.Exists(full))
            throw new LineageException(schema.MissingMessage, full);
        if (create && !readOnly) Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = BusyTimeoutMs / 1000,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            var database = new SqliteDatabase(full, connection, schema);
            database.Initialize(readOnly);
            return database;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new LineageException($"cannot open {schema.Name}: {e.Message}", full, inner: e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private void Initialize(bool readOnly)
    {
        Execute($"PRAGMA busy_timeout = {BusyTimeoutMs}");
        Execute("PRAGMA foreign_keys = ON");
        Execute("PRAGMA synchronous = FULL");
        foreach (string pragma in _schema.ExtraPragmas) Execute(pragma);
        if (IsCurrent()) return;
        if (readOnly) throw new LineageException(_schema.NotCurrentReadOnlyMessage, Location);
        // WAL is a property of the file, set once; it needs a writable directory for its -wal and -shm files.
        Execute("PRAGMA journal_mode = WAL");
        using var tx = _connection.BeginTransaction(deferred: false);
        long appId = Scalar<long>("PRAGMA application_id", tx);
        bool hasTables = Scalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'table'", tx) > 0;
        if (appId != ApplicationId)
        {
            if (appId != 0 || hasTables)
                throw new LineageException(_schema.ForeignFileMessage, Location);
            Execute($"PRAGMA application_id = {ApplicationId}", tx);
        }
        string table = _schema.VersionTable;
        var migrations = _schema.Migrations;
        Execute($"CREATE TABLE IF NOT EXISTS {table} (version INTEGER NOT NULL)", tx);
        long version = Scalar<long?>($"SELECT max(version) FROM {table}", tx) ?? 0;
        if (version > migrations.Count) throw Newer(version);
        for (int v = (int)version; v < migrations.Count; v++)
        {
            Execute(migrations[v], tx);
            _schema.AfterMigration?.Invoke(this, tx, v + 1);
            Execute($"DELETE FROM {table}", tx);
            Execute($"INSERT INTO {table} (version) VALUES ({v + 1})", tx);
        }
        tx.Commit();
    }

    /// <summary>True when the file is Lineage's and the schema is at this build's version (a read, no lock held).</summary>
    private bool IsCurrent()
    {
        string table = _schema.VersionTable;
        if (Scalar<long>("PRAGMA application_id") != ApplicationId) return false;
        if (Scalar<long>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $t", null, ("$t", table)) == 0) return false;
        long version = Scalar<long?>($"SELECT max(version) FROM {table}") ?? 0;
        if (version > _schema.Migrations.Count) throw Newer(version);
        return version == _schema.Migrations.Count;
    }

    private LineageException Newer(long version) =>
        new($"{_schema.VersionName} version {version} is newer than this build supports ({_schema.Migrations.Count}); upgrade Lineage", Location);

    /// <summary>Runs a body under the connection lock; SQLite failures become <see cref="LineageException"/>.</summary>
    public T Guard<T>(Func<T> body)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                return body();
            }
            catch (SqliteException e)
            {
                throw new LineageException($"{_schema.Name} error: {e.Message}", Location, inner: e);
            }
        }
    }

    /// <summary>Begins a transaction: IMMEDIATE (takes the write lock now) unless <paramref name="deferred"/>.</summary>
    public SqliteTransaction BeginTransaction(bool deferred) => _connection.BeginTransaction(deferred);

    public SqliteCommand Command(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] parameters)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    public void Execute(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(sql, tx, parameters);
        cmd.ExecuteNonQuery();
    }

    public T Scalar<T>(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(sql, tx, parameters);
        object? value = cmd.ExecuteScalar();
        if (value is null || value is DBNull) return default!;
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _connection.Dispose();
        }
    }
}
