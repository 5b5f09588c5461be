using System.Diagnostics;
using System.Text.Json.Nodes;
using Lineage.Formats;
using Lineage.Identify;
using Lineage.Provenance;
using Lineage.Store;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;
using Npgsql;

namespace Lineage.Tests.Store;

/// <summary>
/// The PostgreSQL registry under what a shared deployment does to it: dropped connections, concurrent writers
/// and migrators, concurrent sharded builds in separate processes, a worker killed with SIGKILL inside a
/// transaction, and identify answering exactly as the SQLite store does.
/// </summary>
public class PostgresRegistryTests(PostgresServer server)
{
    private static string SchemaOf(string url) => url[(url.IndexOf("schema=", StringComparison.Ordinal) + 7)..];

    private long Scalar(string sql)
    {
        using var admin = server.Admin();
        using var cmd = new NpgsqlCommand(sql, admin);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Terminate(int pid)
    {
        using var admin = server.Admin();
        using var cmd = new NpgsqlCommand("SELECT pg_terminate_backend(@p, 10000)", admin);
        cmd.Parameters.AddWithValue("p", pid);
        cmd.ExecuteScalar();
    }

    /// <summary>Entries, fingerprints no row refers to, and entries with bands but no sketch row.</summary>
    private (long Entries, long Orphans, long Unsketched) Integrity(string schema) => (
        Scalar($"SELECT count(*) FROM {schema}.entries"),
        Scalar($"SELECT count(*) FROM {schema}.fingerprints f WHERE NOT EXISTS (SELECT 1 FROM {schema}.entries e WHERE e.content_id = f.content_id) AND NOT EXISTS (SELECT 1 FROM {schema}.model_keys k WHERE k.content_id = f.content_id)"),
        Scalar($"SELECT count(*) FROM {schema}.entries e WHERE e.bands IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {schema}.sketches s WHERE s.entry = e.id)"));

    [Theory]
    [InlineData("after-fingerprint")]
    [InlineData("after-entry")]
    [InlineData("before-commit")]
    public void A_connection_dropped_mid_write_is_retried_and_the_batch_is_written_once(string point)
    {
        string url = server.NewUrl();
        using var store = PostgresFingerprintStore.Open(url);
        int hits = 0;
        store.FaultPoint = (p, connection) =>
        {
            if (p == point && Interlocked.Increment(ref hits) == 1) Terminate(connection.ProcessID);
        };
        var batch = Enumerable.Range(0, 3).Select(i => SyntheticFingerprints.Entry($"m{i}", SyntheticFingerprints.Make(200 + i))).ToArray();
        var added = store.Add(batch);
        Assert.Equal(3, added.Count);
        Assert.True(hits >= 2, "the write was not retried");
        store.FaultPoint = null;
        Assert.Equal(["m0", "m1", "m2"], store.List().Select(e => e.ModelId));
        foreach (var e in batch) Assert.Equal(e.Serialized, store.ReadFingerprint(FingerprintSerializer.Id(e.Serialized)));
        Assert.Equal((3L, 0L, 0L), Integrity(SchemaOf(url)));
    }

    [Fact]
    public void A_connection_that_keeps_dropping_is_reported_and_nothing_is_written()
    {
        string url = server.NewUrl();
        using var store = PostgresFingerprintStore.Open(url);
        store.Add(SyntheticFingerprints.Entry("kept", SyntheticFingerprints.Make(210)));
        int hits = 0;
        store.FaultPoint = (p, connection) =>
        {
            if (p == "after-entry")
            {
                hits++;
                Terminate(connection.ProcessID);
            }
        };
        var error = Assert.Throws<LineageException>(() => store.Add(SyntheticFingerprints.Entry("lost", SyntheticFingerprints.Make(211))));
        Assert.Contains("nothing was written", error.Message, StringComparison.Ordinal);
        Assert.Equal(PostgresFingerprintStore.MaxAttempts, hits);
        store.FaultPoint = null;
        Assert.Equal(["kept"], store.List().Select(e => e.ModelId));
        Assert.Equal((1L, 0L, 0L), Integrity(SchemaOf(url)));
    }

    [Fact]
    public async Task Concurrent_writers_and_migrators_never_duplicate_or_half_write()
    {
        string url = server.NewUrl();
        var entries = Enumerable.Range(0, 16).Select(i => SyntheticFingerprints.Entry($"c{i:D2}", SyntheticFingerprints.Make(300 + i % 12))).ToArray();
        // Four workers open the fresh schema at once (one migrates, the others wait and find it done), then add
        // the same entries in different orders, half of them replacing, half skipping.
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            using var store = PostgresFingerprintStore.Open(url);
            var order = entries.OrderBy(e => HashCode.Combine(w, e.ModelId)).ToList();
            foreach (var e in order) store.Add([e], w % 2 == 0 ? ConflictPolicy.Replace : ConflictPolicy.Skip);
        })).ToArray();
        await Task.WhenAll(workers);
        string schema = SchemaOf(url);
        Assert.Equal(1, Scalar($"SELECT count(*) FROM {schema}.schema_version"));
        Assert.Equal((16L, 0L, 0L), Integrity(schema));
        Assert.Equal(12, Scalar($"SELECT count(*) FROM {schema}.fingerprints"));
        using var check = PostgresFingerprintStore.Open(url, create: false);
        foreach (var e in entries) Assert.Equal(FingerprintSerializer.Id(e.Serialized), check.Find(e.ModelId)!.ContentId);
    }

    [Fact]
    public void Identify_gives_identical_answers_on_both_backends()
    {
        using var dir = new TempDir();
        var entries = new List<NewEntry>();
        var queries = new List<Fingerprint>();
        if (Corpus.Root is { } root)
        {
            Fingerprint Fp(string name)
            {
                using var m = ModelLoader.Open(Path.Combine(root, "ladder", name));
                return FingerprintExtractor.Extract(m);
            }
            foreach (var name in new[] { "A", "B", "D", "A-seed2" }) entries.Add(SyntheticFingerprints.Entry(name, Fp(name), "ladder"));
            queries.AddRange(new[] { "A-sft1", "B-vocab-extend", "D-permute", "A-data2" }.Select(Fp));
        }
        for (int i = 0; i < 40; i++) entries.Add(SyntheticFingerprints.Entry($"s{i:D2}", SyntheticFingerprints.Make(400 + i % 20, noise: i < 20 ? 0 : 0.1, noiseSeed: i), $"f{i % 3}"));
        entries.Add(SyntheticFingerprints.Entry("no-sketch", SyntheticFingerprints.Make(450, anchors: 0)));
        queries.Add(SyntheticFingerprints.Make(405, noise: 0.05, noiseSeed: 99));
        queries.Add(SyntheticFingerprints.Make(460));
        queries.Add(SyntheticFingerprints.Make(450, anchors: 0));

        using var sqlite = SqliteFingerprintStore.Open(dir.File("same.db"));
        using var postgres = PostgresFingerprintStore.Open(server.NewUrl());
        sqlite.Add(entries);
        postgres.Add(entries);
        foreach (var q in queries)
        {
            var a = Identifier.Identify(q, sqlite);
            var b = Identifier.Identify(q, postgres);
            Assert.Equal(Summary(a), Summary(b));
            var ca = sqlite.FindCandidates(CandidateQuery.From(q));
            var cb = postgres.FindCandidates(CandidateQuery.From(q));
            Assert.Equal(ca.Select(c => (c.Entry.ModelId, c.SharedBands, c.Affinity, c.SharedVocabularyKeys, c.Entry.FingerprintBytes)),
                cb.Select(c => (c.Entry.ModelId, c.SharedBands, c.Affinity, c.SharedVocabularyKeys, c.Entry.FingerprintBytes)));
        }
        if (Corpus.Root is not null)
            Assert.Equal("A", Identifier.Identify(queries[0], postgres).Matches[0].ModelId);

        static string Summary(IdentifyResult r) => string.Join(" | ",
            r.Matches.Concat(r.Closest).Select(m => $"{m.ModelId}:{m.Verdict}:{m.Score:R}:{m.SketchCorrelation:R}:{m.Compared}"))
            + $" # {r.Statistics.Entries} {r.Statistics.Candidates} {r.Statistics.Sketched} {r.Statistics.Compared}";
    }

    [Fact]
    public void Db_commands_take_a_registry_url()
    {
        using var dir = new TempDir();
        string url = server.NewUrl();
        string lfp = dir.Write("m.lfp", FingerprintSerializer.Serialize(SyntheticFingerprints.Make(500)));
        Assert.Equal(0, CliRunner.Run("db", "add", lfp, "--id", "org/model", "--family", "fam", "--db", url).ExitCode);
        var list = JsonNode.Parse(CliRunner.Run("db", "list", "--db", url, "--format", "json").Stdout)!;
        Assert.Equal(1, list["count"]!.GetValue<int>());
        Assert.StartsWith("postgres://postgres@127.0.0.1:", list["database"]!.GetValue<string>(), StringComparison.Ordinal);
        var identify = JsonNode.Parse(CliRunner.Run("identify", lfp, "--db", url, "--format", "json").Stdout)!;
        // The stored copy is found (synthetic fingerprints carry too little for a verdict: matched or listed closest).
        Assert.Contains("org/model", identify["matches"]!.AsArray().Concat(identify["closest_not_related"]!.AsArray()).Select(m => m!["model_id"]!.GetValue<string>()));
        var compare = CliRunner.Run("compare", lfp, "db:org/model", "--db", url, "--format", "json");
        Assert.Equal(0, compare.ExitCode);
        // Synthetic fingerprints carry too few signals for a verdict; what matters is that both sides were loaded.
        Assert.NotEqual("unrelated", JsonNode.Parse(compare.Stdout)!["verdict"]!.GetValue<string>());
        Assert.Equal(2, CliRunner.Run("compare", lfp, "db:org/missing", "--db", url).ExitCode);
        // graph reads the registry too.
        string other = dir.Write("o.lfp", FingerprintSerializer.Serialize(SyntheticFingerprints.Make(501)));
        Assert.Equal(0, CliRunner.Run("db", "add", other, "--id", "org/other", "--db", url).ExitCode);
        var graph = CliRunner.Run("graph", "--from-db", "--db", url, "--format", "json");
        Assert.True(graph.ExitCode == 0, graph.Stderr);
        Assert.Contains("org/other", graph.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, CliRunner.Run("db", "remove", "org/other", "--db", url).ExitCode);
        string bundle = dir.File("x.lfpb");
        Assert.Equal(0, CliRunner.Run("db", "export", bundle, "--db", url).ExitCode);
        Assert.Equal(0, CliRunner.Run("db", "import", bundle, "--db", dir.File("copy.db")).ExitCode);
        Assert.Equal(0, CliRunner.Run("db", "remove", "org/model", "--db", url).ExitCode);
        Assert.Equal(2, CliRunner.Run("db", "remove", "org/model", "--db", url).ExitCode);
        // A schema that holds no registry is an error for list, not an empty registry.
        Assert.Equal(2, CliRunner.Run("db", "list", "--db", server.NewUrl("empty")).ExitCode);
    }

    // ---- sharded builds in separate processes ----

    /// <summary>Writes <paramref name="count"/> fingerprint files (two ids share one fingerprint) and a list of them.</summary>
    private static (string List, string[] Ids) FingerprintList(TempDir dir, int count, int seed)
    {
        var lines = new List<string>();
        var ids = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var fp = SyntheticFingerprints.Make(seed + (i == count - 1 ? 0 : i));
            string file = dir.Write($"fp/{i:D3}.lfp", FingerprintSerializer.Serialize(fp));
            string id = $"org/model-{i:D3}";
            ids.Add(id);
            lines.Add($"{file}\t{id}\tsynthetic");
        }
        return (dir.Write("models.txt", string.Join('\n', lines.Prepend("# synthetic fingerprints"))), [.. ids]);
    }

    private static Process StartCli(params string[] args) => StartCli(new Dictionary<string, string>(), args);

    private static Process StartCli(Dictionary<string, string> environment, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "lineage-cli.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var name in new[] { "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "LINEAGE_SHARD_COUNT", "LINEAGE_DB" })
            info.Environment.Remove(name);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        return Process.Start(info)!;
    }

    private static (int Code, string Stdout, string Stderr) Finish(Process p)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("lineage db build did not finish in 180 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Three_concurrent_shards_store_every_model_exactly_once_and_a_rerun_adds_nothing()
    {
        using var dir = new TempDir();
        string url = server.NewUrl("shards");
        var (list, ids) = FingerprintList(dir, 30, 600);
        JsonNode[] RunShards()
        {
            var processes = Enumerable.Range(0, 3).Select(i => StartCli("db", "build", "--from", list, "--shard", $"{i}/3", "--db", url)).ToArray();
            return [.. processes.Select(p =>
            {
                var (code, stdout, stderr) = Finish(p);
                Assert.True(code == 0, $"exit {code}: {stderr}");
                Assert.Contains("[1/", stderr, StringComparison.Ordinal);
                return JsonNode.Parse(stdout)!;
            })];
        }

        var first = RunShards();
        Assert.Equal(ids.Length, first.Sum(s => s["models"]!.GetValue<int>()));
        Assert.Equal(ids.Length, first.Sum(s => s["added"]!.GetValue<int>()));
        Assert.All(first, s => Assert.Equal(ids.Length, s["models_listed"]!.GetValue<int>()));
        var processed = first.SelectMany(s => s["results"]!.AsArray().Select(r => r!["model_id"]!.GetValue<string>())).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), processed.Order(StringComparer.Ordinal));
        Assert.All(first, s => Assert.InRange(s["models"]!.GetValue<int>(), 1, ids.Length - 1));

        string schema = SchemaOf(url);
        Assert.Equal(((long)ids.Length, 0L, 0L), Integrity(schema));
        Assert.Equal(ids.Length - 1, Scalar($"SELECT count(*) FROM {schema}.fingerprints"));
        using (var store = PostgresFingerprintStore.Open(url, create: false))
            Assert.Equal(ids.Order(StringComparer.Ordinal), store.List().Select(e => e.ModelId));

        var second = RunShards();
        Assert.Equal(0, second.Sum(s => s["added"]!.GetValue<int>() + s["updated"]!.GetValue<int>()));
        Assert.Equal(ids.Length, second.Sum(s => s["unchanged"]!.GetValue<int>()));
        Assert.Equal(((long)ids.Length, 0L, 0L), Integrity(schema));
    }

    [Fact]
    public void Workers_take_their_shard_from_the_scheduler_and_fetch_hf_ids_and_urls_only_once()
    {
        string ladderA = Corpus.Path("ladder/A");
        string url = server.NewUrl("remote");
        using var dir = new TempDir();
        using var hub = new RangeServer(Corpus.Root);
        const string Sha = "0123456789abcdef0123456789abcdef01234567";
        hub.AddRepo("lineage-test/ladder-A", ladderA, Sha);
        hub.AddRepo("lineage-test/ladder-B", Corpus.Path("ladder/B"), Sha);
        string gguf = hub.FileUrl("ladder/A-quant-q8.gguf");
        string list = dir.Write("models.txt", $"hf://lineage-test/ladder-A\nhf://lineage-test/ladder-B\tladder-b\tladder\n{gguf}\n");
        // One worker gets its index as a Kubernetes Indexed Job pod does, the other as a Slurm array task does.
        var workers = new[]
        {
            new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "0", ["LINEAGE_SHARD_COUNT"] = "2", ["LINEAGE_HF_ENDPOINT"] = hub.BaseUrl },
            new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "2", ["LINEAGE_HF_ENDPOINT"] = hub.BaseUrl },
        };
        JsonNode[] Run() => [.. workers.Select(env => StartCli(env, "db", "build", "--from", list, "--db", url)).ToArray().Select(p =>
        {
            var (code, stdout, stderr) = Finish(p);
            Assert.True(code == 0, $"exit {code}: {stderr}");
            return JsonNode.Parse(stdout)!;
        })];

        var first = Run();
        Assert.Equal([0, 1], first.Select(s => s["shard"]!["index"]!.GetValue<int>()));
        Assert.All(first, s => Assert.Equal(2, s["shard"]!["count"]!.GetValue<int>()));
        Assert.Equal(3, first.Sum(s => s["added"]!.GetValue<int>()));
        Assert.Equal(0, first.Sum(s => s["failed"]!.GetValue<int>()));
        int requests = hub.Requests.Count;
        Assert.True(requests > 0);
        using (var store = PostgresFingerprintStore.Open(url, create: false))
        {
            var entries = store.List();
            Assert.Equal(
                new[] { $"127.0.0.1:{hub.Port}/files/ladder/A-quant-q8.gguf", "ladder-b", "lineage-test/ladder-A" },
                entries.Select(e => e.ModelId).Order(StringComparer.Ordinal));
            Assert.Equal("ladder", store.Find("ladder-b")!.Family);
            // Fetched over HTTP Range, the fingerprint is the one the local copy gives.
            Fingerprint local;
            using (var model = ModelLoader.Open(ladderA)) local = FingerprintExtractor.Extract(model);
            Assert.Equal(
                Convert.ToHexString(FingerprintSerializer.Serialize(local.WithSource(""))),
                Convert.ToHexString(FingerprintSerializer.Serialize(store.LoadFingerprint(store.Find("lineage-test/ladder-A")!).WithSource(""))));
        }

        // A re-run finds everything stored from the same sources and asks the hub for nothing.
        var second = Run();
        Assert.Equal(3, second.Sum(s => s["unchanged"]!.GetValue<int>()));
        Assert.Equal(0, second.Sum(s => s["added"]!.GetValue<int>() + s["updated"]!.GetValue<int>()));
        Assert.Equal(requests, hub.Requests.Count);
    }

    [Fact]
    public void A_worker_killed_inside_a_transaction_leaves_nothing_partial_and_a_rerun_completes()
    {
        using var dir = new TempDir();
        string url = server.NewUrl("killed");
        string schema = SchemaOf(url);
        var (list, ids) = FingerprintList(dir, 150, 700);
        using (PostgresFingerprintStore.Open(url))
        {
        }
        var worker = StartCli("db", "build", "--from", list, "--db", url);
        _ = worker.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        _ = worker.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        long committed;
        int blockedPid;
        using (var admin = server.Admin())
        {
            Poll(() => Scalar($"SELECT count(*) FROM {schema}.entries") >= 4, "the worker never stored 4 entries");
            // Hold a lock that the worker's next sketch insert waits for: it is then inside its transaction,
            // with the fingerprint and entry rows written and uncommitted.
            using var hold = admin.BeginTransaction();
            using (var cmd = new NpgsqlCommand($"LOCK TABLE {schema}.sketches IN EXCLUSIVE MODE", admin, hold)) cmd.ExecuteNonQuery();
            blockedPid = 0;
            Poll(() =>
            {
                blockedPid = (int)Scalar($"SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%{schema}%sketches%'");
                return blockedPid != 0;
            }, "the worker never blocked inside a write transaction");
            committed = Scalar($"SELECT count(*) FROM {schema}.entries");
            worker.Kill(entireProcessTree: true); // SIGKILL
            Assert.True(worker.WaitForExit(30_000));
            hold.Rollback();
        }
        Poll(() => Scalar($"SELECT count(*) FROM pg_stat_activity WHERE pid = {blockedPid}") == 0, "the killed worker's session did not end");
        Assert.InRange(committed, 4, ids.Length - 1);
        Assert.Equal((committed, 0L, 0L), Integrity(schema));

        var (code, stdout, stderr) = Finish(StartCli("db", "build", "--from", list, "--db", url));
        Assert.True(code == 0, stderr);
        var summary = JsonNode.Parse(stdout)!;
        Assert.Equal(ids.Length - committed, summary["added"]!.GetValue<int>());
        Assert.Equal(committed, summary["unchanged"]!.GetValue<int>());
        Assert.Equal(((long)ids.Length, 0L, 0L), Integrity(schema));
        Assert.Equal(ids.Length, Scalar($"SELECT count(DISTINCT model_id) FROM {schema}.entries"));
    }

    private static void Poll(Func<bool> condition, string failure)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(90)) Assert.Fail(failure);
            Thread.Sleep(20);
        }
    }
}
