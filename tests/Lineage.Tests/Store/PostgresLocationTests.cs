using Lineage.Store;
using Npgsql;

namespace Lineage.Tests.Store;

public class PostgresLocationTests
{
    [Fact]
    public void Urls_and_connection_strings_select_postgres_and_keep_passwords_out_of_messages()
    {
        Assert.True(PostgresLocation.IsPostgres("postgres://u@h:5433/db"));
        Assert.True(PostgresLocation.IsPostgres("PostgreSQL://u@h/db"));
        Assert.True(PostgresLocation.IsPostgres("Host=h;Username=u;Database=db"));
        Assert.False(PostgresLocation.IsPostgres("/home/me/.lineage/fingerprints.db"));
        Assert.False(PostgresLocation.IsPostgres("fingerprints.db"));

        var url = PostgresLocation.Parse("postgres://reader:s%40cret@db.example.org:5433/registry?schema=team_a&sslmode=require");
        var cs = new NpgsqlConnectionStringBuilder(url.ConnectionString);
        Assert.Equal(("db.example.org", 5433, "registry", "reader", "s@cret", SslMode.Require), (cs.Host, cs.Port, cs.Database, cs.Username, cs.Password, cs.SslMode));
        Assert.Equal("team_a", url.Schema);
        Assert.DoesNotContain("cret", url.Display, StringComparison.Ordinal);
        Assert.Equal(PostgresLocation.DefaultSchema, PostgresLocation.Parse("postgresql://u@h/db").Schema);
        Assert.Equal(5432, new NpgsqlConnectionStringBuilder(PostgresLocation.Parse("postgresql://u@h/db").ConnectionString).Port);

        var fromString = PostgresLocation.Parse("Host=h;Port=6000;Username=u;Password=pw;Database=d");
        Assert.Equal("postgres://u@h:6000/d", fromString.Display);

        var unknown = Assert.Throws<LineageException>(() => PostgresLocation.Parse("postgres://u:topsecret@h/db?options=-c%20x"));
        Assert.DoesNotContain("topsecret", unknown.Describe(), StringComparison.Ordinal);
        Assert.Throws<LineageException>(() => PostgresLocation.Parse("postgres://u@h/db?schema=Bad-Name"));
        Assert.Throws<LineageException>(() => PostgresLocation.Parse("postgres://u@h/db?schema=x;drop"));
    }

    [Fact]
    public void An_unreachable_registry_is_an_error_naming_it_without_its_password()
    {
        // A port nothing listens on (connections are refused at once): every attempt fails, the error says where.
        var error = Assert.Throws<LineageException>(() => PostgresFingerprintStore.Open("postgres://u:hidden@127.0.0.1:1/db?connect_timeout=2"));
        Assert.Contains("127.0.0.1:1", error.Describe(), StringComparison.Ordinal);
        Assert.DoesNotContain("hidden", error.Describe(), StringComparison.Ordinal);
    }
}
