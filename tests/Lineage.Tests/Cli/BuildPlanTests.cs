using Lineage.Cli.Build;
using Lineage.Tests.Support;

namespace Lineage.Tests.Cli;

public class BuildPlanTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Shard_comes_from_the_option_then_kubernetes_then_slurm()
    {
        Assert.Equal(new Shard(2, 5), Shard.Resolve("2/5", null, Env()).Shard);
        Assert.Equal(Shard.All, Shard.Resolve(null, null, Env()).Shard);
        Assert.Equal(new Shard(3, 8), Shard.Resolve(null, 8, Env(("JOB_COMPLETION_INDEX", "3"))).Shard);
        Assert.Equal(new Shard(3, 8), Shard.Resolve(null, null, Env(("JOB_COMPLETION_INDEX", "3"), ("LINEAGE_SHARD_COUNT", "8"))).Shard);
        Assert.Equal(new Shard(1, 4), Shard.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"))).Shard);
        // A re-run of single tasks (--array=3,7: SLURM_ARRAY_TASK_COUNT=2) keeps its index with a fixed LINEAGE_SHARD_COUNT.
        Assert.Equal(new Shard(7, 16), Shard.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "3"), ("SLURM_ARRAY_TASK_COUNT", "2"), ("LINEAGE_SHARD_COUNT", "16"))).Shard);
        // The option wins over the environment.
        Assert.Equal(new Shard(1, 2), Shard.Resolve("1/2", null, Env(("JOB_COMPLETION_INDEX", "7"))).Shard);
        foreach (var (shard, count, env) in new (string?, int?, Func<string, string?>)[]
        {
            ("5/5", null, Env()), ("x/2", null, Env()), ("1/2", 3, Env()), ("-1/2", null, Env()),
            (null, null, Env(("JOB_COMPLETION_INDEX", "1"))), (null, 4, Env(("JOB_COMPLETION_INDEX", "4"))),
            (null, 4, Env()), (null, null, Env(("SLURM_ARRAY_TASK_ID", "z"), ("SLURM_ARRAY_TASK_COUNT", "2"))),
        })
        {
            var (resolved, error) = Shard.Resolve(shard, count, env);
            Assert.Null(resolved);
            Assert.False(string.IsNullOrEmpty(error));
        }
    }

    [Fact]
    public void Shards_partition_the_ids_deterministically()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => $"org/model-{i}").ToArray();
        var owners = ids.Select(id => Enumerable.Range(0, 7).Where(i => new Shard(i, 7).Owns(id)).ToArray()).ToArray();
        Assert.All(owners, o => Assert.Single(o));
        var sizes = Enumerable.Range(0, 7).Select(i => owners.Count(o => o[0] == i)).ToArray();
        Assert.All(sizes, n => Assert.InRange(n, 200, 380));
        // Stable: the same id always lands in the same shard (a fixed hash, not the list order).
        Assert.True(new Shard(Array.IndexOf(Enumerable.Range(0, 7).Select(i => new Shard(i, 7).Owns("meta-llama/Llama-3.1-8B")).ToArray(), true), 7).Owns("meta-llama/Llama-3.1-8B"));
        Assert.All(ids, id => Assert.True(Shard.All.Owns(id)));
    }

    [Fact]
    public void List_files_give_ids_sources_and_families()
    {
        using var dir = new TempDir();
        string list = dir.Write("list/models.txt", """
            # comment
            hf://meta-llama/Llama-3.1-8B
            https://example.org/files/model.gguf?token=secret
            local/model-a.safetensors
            /abs/path/model-b	custom-id	llama

            """);
        var items = BuildPlan.ReadList(list);
        Assert.Equal(["meta-llama/Llama-3.1-8B", "example.org/files/model.gguf", "local/model-a", "custom-id"], items.Select(i => i.Id));
        Assert.Equal("hf://meta-llama/Llama-3.1-8B", items[0].Source);
        Assert.True(items[0].IsRemote && items[1].IsRemote && !items[2].IsRemote);
        Assert.Equal(Path.Combine(dir.Path, "list", "local", "model-a.safetensors"), items[2].Source);
        Assert.Equal("llama", items[3].Family);
        Assert.Null(items[0].Family);
        string dup = dir.Write("dup.txt", "a.lfp\nb.lfp\ta.lfp\na\n");
        Assert.Throws<LineageException>(() => BuildPlan.ReadList(dup));
    }

    [Fact]
    public void Build_reports_usage_errors_and_reads_a_list_of_fingerprint_files()
    {
        using var dir = new TempDir();
        string db = dir.File("b.db");
        var bad = CliRunner.Run("db", "build", "--from", dir.Path, "--shard", "3/3", "--db", db);
        Assert.Equal(4, bad.ExitCode);
        Assert.Contains("shard index 3", bad.Stderr, StringComparison.Ordinal);
        string a = dir.Write("a.lfp", Lineage.Provenance.FingerprintSerializer.Serialize(Store.SyntheticFingerprints.Make(1)));
        string b = dir.Write("b.lfp", Lineage.Provenance.FingerprintSerializer.Serialize(Store.SyntheticFingerprints.Make(2)));
        string list = dir.Write("models.txt", $"{a}\tone\n{b}\ttwo\n");
        var first = System.Text.Json.Nodes.JsonNode.Parse(CliRunner.Run("db", "build", "--from", list, "--db", db).Stdout)!;
        Assert.Equal(2, first["added"]!.GetValue<int>());
        Assert.Equal(0, first["shard"]!["index"]!.GetValue<int>());
        var again = System.Text.Json.Nodes.JsonNode.Parse(CliRunner.Run("db", "build", "--from", list, "--db", db).Stdout)!;
        Assert.Equal(2, again["unchanged"]!.GetValue<int>());
        // A changed fingerprint under the same id is replaced.
        File.WriteAllBytes(b, Lineage.Provenance.FingerprintSerializer.Serialize(Store.SyntheticFingerprints.Make(3)));
        var changed = System.Text.Json.Nodes.JsonNode.Parse(CliRunner.Run("db", "build", "--from", list, "--db", db).Stdout)!;
        Assert.Equal(1, changed["updated"]!.GetValue<int>());
    }
}
