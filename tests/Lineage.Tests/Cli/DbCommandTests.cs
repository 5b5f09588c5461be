using System.Text.Json.Nodes;
using Lineage.Provenance;
using Lineage.Tests.Support;

namespace Lineage.Tests.Cli;

public class DbCommandTests
{
    [Fact]
    public void Add_list_export_import_remove_work_end_to_end()
    {
        using var dir = new TempDir();
        string db = dir.File("a.db");
        // A fingerprint file is accepted wherever a model is.
        var fp = Store.SyntheticFingerprints.Make(1);
        string lfp = dir.Write("m.lfp", FingerprintSerializer.Serialize(fp));

        var add = CliRunner.Run("db", "add", lfp, "--id", "model-one", "--family", "fam", "--db", db, "--format", "json");
        Assert.Equal(0, add.ExitCode);
        Assert.Equal("model-one", JsonNode.Parse(add.Stdout)!["added"]!["model_id"]!.GetValue<string>());
        Assert.Equal(2, CliRunner.Run("db", "add", lfp, "--id", "model-one", "--db", db).ExitCode);
        Assert.Equal(0, CliRunner.Run("db", "add", lfp, "--id", "model-two", "--db", db).ExitCode);

        var list = JsonNode.Parse(CliRunner.Run("db", "list", "--db", db, "--format", "json").Stdout)!;
        Assert.Equal(2, list["count"]!.GetValue<int>());
        Assert.Equal("fam", list["entries"]![0]!["family"]!.GetValue<string>());

        string bundle = dir.File("out.lfpb");
        Assert.Equal(0, CliRunner.Run("db", "export", bundle, "--db", db).ExitCode);
        string other = dir.File("b.db");
        var import = CliRunner.Run("db", "import", bundle, "--db", other);
        Assert.Equal(0, import.ExitCode);
        Assert.Contains("imported 2", import.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, CliRunner.Run("db", "import", bundle, "--db", other).ExitCode);
        Assert.Equal(0, CliRunner.Run("db", "import", bundle, "--db", other, "--skip-existing").ExitCode);

        // compare takes a stored fingerprint as db:MODEL_ID.
        var compare = CliRunner.Run("compare", "db:model-one", "db:model-two", "--db", other, "--format", "json");
        Assert.Equal(0, compare.ExitCode);
        // Synthetic fingerprints carry too few signals for a verdict; what matters is that both sides were loaded.
        Assert.NotEqual("unrelated", JsonNode.Parse(compare.Stdout)!["verdict"]!.GetValue<string>());
        Assert.Equal(0, CliRunner.Run("db", "remove", "model-one", "--db", other).ExitCode);
        Assert.Equal(2, CliRunner.Run("db", "remove", "model-one", "--db", other).ExitCode);
        Assert.Contains("1 model(s)", CliRunner.Run("db", "list", "--db", other).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_database_is_an_error_for_list_and_catalog_only_for_identify()
    {
        using var dir = new TempDir();
        var list = CliRunner.Run("db", "list", "--db", dir.File("none.db"));
        Assert.Equal(2, list.ExitCode);
        Assert.False(File.Exists(dir.File("none.db")));
        string lfp = dir.Write("m.lfp", FingerprintSerializer.Serialize(Store.SyntheticFingerprints.Make(2)));
        var identify = CliRunner.Run("identify", lfp, "--db", dir.File("none.db"), "--format", "json");
        Assert.Equal(0, identify.ExitCode);
        Assert.Empty(JsonNode.Parse(identify.Stdout)!["matches"]!.AsArray());
        Assert.Contains("reference catalog only", identify.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_database_path_comes_from_LINEAGE_DB()
    {
        using var dir = new TempDir();
        Assert.Equal(Path.GetFullPath(dir.File("x.db")), Lineage.Cli.Commands.DatabasePath.Resolve(dir.File("x.db")));
        string? old = Environment.GetEnvironmentVariable("LINEAGE_DB");
        try
        {
            Environment.SetEnvironmentVariable("LINEAGE_DB", dir.File("env.db"));
            Assert.Equal(dir.File("env.db"), Lineage.Cli.Commands.DatabasePath.Resolve(null));
            Environment.SetEnvironmentVariable("LINEAGE_DB", null);
            Assert.EndsWith(Path.Combine(".lineage", "fingerprints.db"), Lineage.Cli.Commands.DatabasePath.Resolve(null), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LINEAGE_DB", old);
        }
    }
}
