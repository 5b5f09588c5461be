using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Lineage.Store;

/// <summary>
/// Where a PostgreSQL registry lives: a <c>postgres://</c> or <c>postgresql://</c> URL
/// (<c>postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME&amp;sslmode=MODE&amp;application_name=NAME]</c>)
/// or an Npgsql connection string (<c>Host=…;Username=…;Database=…</c>). A password left out is taken by
/// Npgsql from <c>PGPASSWORD</c> or the pgpass file. The registry's tables live in their own schema
/// (<c>lineage</c> unless <c>schema=</c> says otherwise), so a database can hold several registries.
/// </summary>
public sealed partial record PostgresLocation
{
    public const string DefaultSchema = "lineage";

    private PostgresLocation(string connectionString, string schema, string display)
    {
        ConnectionString = connectionString;
        Schema = schema;
        Display = display;
    }

    /// <summary>Npgsql connection string (may hold a password: never print it).</summary>
    public string ConnectionString { get; }

    public string Schema { get; }

    /// <summary>The location without its password, for messages.</summary>
    public string Display { get; }

    public override string ToString() => Display;

    /// <summary>True when <paramref name="text"/> names a PostgreSQL registry rather than a SQLite file.</summary>
    public static bool IsPostgres(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return false;
        string t = text.Trim();
        return t.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || t.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            || ConnectionStringKey().IsMatch(t);
    }

    [GeneratedRegex(@"^\s*(host|server|username|user id|database)\s*=", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ConnectionStringKey();

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaName();

    public static PostgresLocation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (!t.Contains("://", StringComparison.Ordinal)) return FromConnectionString(t);
        if (!Uri.TryCreate(t, UriKind.Absolute, out var uri) || (uri.Scheme != "postgres" && uri.Scheme != "postgresql"))
            throw new LineageException("not a PostgreSQL URL (expected postgres://USER@HOST:PORT/DB)", Redact(t));
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = string.IsNullOrEmpty(uri.Host) ? "localhost" : uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            ApplicationName = "lineage",
        };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            string[] parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2) builder.Password = Uri.UnescapeDataString(parts[1]);
        }
        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0) builder.Database = database;
        string schema = DefaultSchema;
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(kv[0]).ToLowerInvariant();
            string value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (key)
            {
                case "schema":
                    schema = value;
                    break;
                case "sslmode":
                    builder.SslMode = Enum.TryParse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode)
                        ? mode : throw new LineageException($"unknown sslmode '{value}'", Redact(t));
                    break;
                case "application_name":
                    builder.ApplicationName = value;
                    break;
                case "connect_timeout":
                    builder.Timeout = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int s) ? s : throw new LineageException($"connect_timeout '{value}' is not a number", Redact(t));
                    break;
                default:
                    throw new LineageException($"unknown parameter '{key}' in the PostgreSQL URL (known: schema, sslmode, application_name, connect_timeout)", Redact(t));
            }
        }
        if (!SchemaName().IsMatch(schema)) throw new LineageException($"schema name '{schema}' must be lower-case letters, digits and _", Redact(t));
        return new PostgresLocation(builder.ConnectionString, schema, Redact(t));
    }

    private static PostgresLocation FromConnectionString(string text)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(text);
        }
        catch (ArgumentException e)
        {
            throw new LineageException($"not a valid Npgsql connection string: {e.Message}", "(connection string)", inner: e);
        }
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = "lineage";
        string display = string.Create(CultureInfo.InvariantCulture, $"postgres://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}");
        return new PostgresLocation(builder.ConnectionString, DefaultSchema, display);
    }

    /// <summary>The URL with any password replaced.</summary>
    private static string Redact(string url)
    {
        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        int at = url.IndexOf('@', StringComparison.Ordinal);
        if (scheme < 0 || at < 0) return url;
        int colon = url.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? url[..colon] + ":***" + url[at..] : url;
    }
}
