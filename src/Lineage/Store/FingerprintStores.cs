namespace Lineage.Store;

/// <summary>Opens the store a location names: a PostgreSQL registry URL or connection string, else a SQLite file.</summary>
public static class FingerprintStores
{
    public static IFingerprintStore Open(string location, bool create = true, bool readOnly = false)
    {
        ArgumentNullException.ThrowIfNull(location);
        return PostgresLocation.IsPostgres(location)
            ? PostgresFingerprintStore.Open(location, create, readOnly)
            : SqliteFingerprintStore.Open(location, create, readOnly);
    }
}
