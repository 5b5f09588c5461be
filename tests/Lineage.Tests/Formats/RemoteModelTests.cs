using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Lineage.Formats;
using Lineage.Formats.Remote;
using Lineage.IO.Http;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Provenance;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats;

/// <summary>
/// Remote models against a local server on 127.0.0.1 that serves the corpus in place: a remote model must be
/// the same model (tensors, config, tokenizer, fingerprint) as the local files, however the server behaves.
/// </summary>
public sealed class RemoteModelTests
{
    private const string Sha = "0123456789abcdef0123456789abcdef01234567";

    private static readonly HttpRangeOptions Fast = new()
    {
        BaseRetryDelay = TimeSpan.FromMilliseconds(1),
        MaxRetryDelay = TimeSpan.FromMilliseconds(5),
        ResponseTimeout = TimeSpan.FromSeconds(20),
        IdleTimeout = TimeSpan.FromSeconds(20),
    };

    private static RemoteOptions Options(RangeServer hub, string? token = null) =>
        new() { HfEndpoint = new Uri(hub.BaseUrl), HfToken = token, Http = Fast };

    private static RemoteOptions Options() => new() { Http = Fast };

    [Fact]
    public void Hf_repository_opens_as_the_same_model_as_the_local_folder_pinned_and_without_leaking_the_token()
    {
        string folder = Corpus.Path("ladder/A");
        using var cdn = new RangeServer();
        using var hub = new RangeServer { Cdn = cdn };
        hub.AddRepo("lineage-test/ladder-A", folder, Sha);

        using var local = ModelLoader.Open(folder);
        using var remote = RemoteModelLoader.Open("hf://lineage-test/ladder-A", Options(hub, token: "secret-token"));

        Assert.Equal($"hf://lineage-test/ladder-A@{Sha}", remote.Path);
        AssertSameModel(local, remote);
        Assert.Contains(remote.Files, f => f.Role == "weights" && f.Path == $"{hub.BaseUrl}/lineage-test/ladder-A/resolve/{Sha}/model.safetensors");
        Assert.Contains(remote.Files, f => f.Role == "config" && f.Path.EndsWith($"/resolve/{Sha}/config.json", StringComparison.Ordinal));
        Assert.Contains(remote.Files, f => f.Role == "tokenizer" && f.Path.EndsWith($"/resolve/{Sha}/tokenizer.model", StringComparison.Ordinal));
        Assert.Equal(Fingerprintless(local), Fingerprintless(remote));

        // Every file was read at the pinned commit; the token went to the hub and never to the CDN.
        var hubRequests = hub.Requests;
        Assert.Contains(hubRequests, r => r.Path == "/api/models/lineage-test/ladder-A/revision/main" && r.Authorization == "Bearer secret-token");
        Assert.All(hubRequests.Where(r => r.Path.Contains("/resolve/", StringComparison.Ordinal)), r => Assert.Contains($"/resolve/{Sha}/", r.Path, StringComparison.Ordinal));
        Assert.NotEmpty(cdn.Requests);
        Assert.All(cdn.Requests, r => Assert.Null(r.Authorization));
        Assert.True(remote.BytesTransferred > 0);
        Assert.True(remote.Requests >= 3);
    }

    [Fact]
    public void Gguf_url_opens_as_the_same_model_as_the_local_file()
    {
        string file = Corpus.Path("ladder/A-quant-q8.gguf");
        using var server = new RangeServer(Corpus.Root);
        using var local = ModelLoader.Open(file);
        string url = server.FileUrl("ladder/A-quant-q8.gguf");
        using var remote = RemoteModelLoader.Open(url, Options());
        Assert.Equal(url, remote.Path);
        Assert.Equal("gguf", remote.Format);
        AssertSameModel(local, remote);
        Assert.Equal(Fingerprintless(local), Fingerprintless(remote));
        // Only range requests: nothing was asked for whole.
        Assert.All(server.Requests, r => Assert.NotNull(r.Range));
    }

    [Fact]
    public void Sharded_index_opens_over_hf_and_over_a_plain_url()
    {
        using var temp = new TempDir();
        WriteShardedCopy(Corpus.Path("ladder/A"), temp.Path);
        using var local = ModelLoader.Open(temp.Path);
        Assert.Equal(2, local.Files.Count(f => f.Role == "weights"));

        using var hub = new RangeServer(temp.Path);
        hub.AddRepo("lineage-test/sharded", temp.Path, Sha);
        using (var viaHub = RemoteModelLoader.Open($"hf://lineage-test/sharded@{Sha}", Options(hub)))
        {
            AssertSameModel(local, viaHub);
            Assert.Contains(viaHub.Files, f => f.Role == "index");
            Assert.Equal(Fingerprintless(local), Fingerprintless(viaHub));
        }
        using var viaUrl = RemoteModelLoader.Open(hub.FileUrl("model.safetensors.index.json"), Options());
        AssertSameModel(local, viaUrl);
        Assert.Equal(Fingerprintless(local), Fingerprintless(viaUrl));
    }

    [Fact]
    public void Dropped_connections_and_transient_errors_do_not_change_the_model()
    {
        string file = Corpus.Path("ladder/C-quant-q8.gguf");
        using var local = ModelLoader.Open(file);
        var expected = Fingerprintless(local);
        using (var dropping = new RangeServer(Corpus.Root, new ServerFaults { DropAfterBytes = 20_000 }))
        using (var remote = RemoteModelLoader.Open(dropping.FileUrl("ladder/C-quant-q8.gguf"), Options()))
        {
            Assert.Equal(expected, Fingerprintless(remote));
            Assert.True(remote.Tensors.Select(t => t.Location.Source).Distinct().OfType<HttpRangeSource>().Single().Resumes > 0);
        }
        using var flaky = new RangeServer(Corpus.Root, new ServerFaults { FailFirst = [503, 429, 502] });
        using var retried = RemoteModelLoader.Open(flaky.FileUrl("ladder/C-quant-q8.gguf"), Options());
        Assert.Equal(expected, Fingerprintless(retried));
        Assert.Equal(new[] { 503, 429, 502 }, flaky.Requests.Take(3).Select(r => r.Status));
    }

    [Fact]
    public void Small_model_on_a_server_without_range_support_is_read_whole()
    {
        string file = Corpus.Path("ladder/A-quant-q8.gguf");
        using var local = ModelLoader.Open(file);
        using var server = new RangeServer(Corpus.Root, new ServerFaults { IgnoreRange = true });
        using var remote = RemoteModelLoader.Open(server.FileUrl("ladder/A-quant-q8.gguf"), Options());
        Assert.Equal(Fingerprintless(local), Fingerprintless(remote));
        Assert.Equal(new FileInfo(file).Length, remote.BytesTransferred);
    }

    [Fact]
    public void Model_that_changes_mid_read_fails_naming_the_url()
    {
        using var server = new RangeServer(Corpus.Root, new ServerFaults { ChangeEtagAfter = 1 });
        string url = server.FileUrl("ladder/C-quant-q8.gguf");
        var e = Assert.Throws<LineageException>(() =>
        {
            using var remote = RemoteModelLoader.Open(url, Options());
            FingerprintExtractor.Extract(remote);
        });
        Assert.Equal(url, e.File);
        Assert.NotNull(e.Offset);
        Assert.Contains("changed during the read", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_repository_file_or_escaping_shard_is_a_clear_error()
    {
        using var hub = new RangeServer();
        hub.AddRepo("lineage-test/ladder-A", Corpus.Path("ladder/A"), Sha);
        var missingRepo = Assert.Throws<LineageException>(() => RemoteModelLoader.Open("hf://lineage-test/nothing", Options(hub)));
        Assert.Contains("404", missingRepo.Message, StringComparison.Ordinal);
        Assert.Contains("/api/models/lineage-test/nothing/revision/main", missingRepo.File, StringComparison.Ordinal);
        var missingFile = Assert.Throws<LineageException>(() => RemoteModelLoader.Open("hf://lineage-test/ladder-A/model.gguf", Options(hub)));
        Assert.Contains("has no file 'model.gguf'", missingFile.Message, StringComparison.Ordinal);

        using var temp = new TempDir();
        temp.Write("model.safetensors.index.json", """{"weight_map": {"a": "../../etc/passwd"}}""");
        using var files = new RangeServer(temp.Path);
        var escaping = Assert.Throws<LineageException>(() => RemoteModelLoader.Open(files.FileUrl("model.safetensors.index.json"), Options()));
        Assert.Contains("escapes", escaping.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(files.Requests, r => r.Path.Contains("passwd", StringComparison.Ordinal));
    }

    [Fact]
    public void Files_inside_a_repository_are_addressed_by_path_and_an_ambiguous_gguf_folder_asks_for_one()
    {
        using var hub = new RangeServer();
        hub.AddRepo("lineage-test/ladder", Corpus.Path("ladder"), Sha);
        using (var local = ModelLoader.Open(Corpus.Path("ladder/A-quant-q8.gguf")))
        using (var remote = RemoteModelLoader.Open("hf://lineage-test/ladder/A-quant-q8.gguf", Options(hub)))
        {
            Assert.Equal($"hf://lineage-test/ladder@{Sha}/A-quant-q8.gguf", remote.Path);
            AssertSameModel(local, remote);
        }
        using (var local = ModelLoader.Open(Corpus.Path("ladder/A/model.safetensors")))
        using (var remote = RemoteModelLoader.Open($"hf://lineage-test/ladder@{Sha}/A/model.safetensors", Options(hub)))
            AssertSameModel(local, remote);
        var e = Assert.Throws<LineageException>(() => RemoteModelLoader.Open("hf://lineage-test/ladder", Options(hub)));
        Assert.Contains("GGUF files", e.Message, StringComparison.Ordinal);
        Assert.Contains("A-quant-q8.gguf", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hf://org/name", "org/name", null, null)]
    [InlineData("hf://org/name@v1.0", "org/name", "v1.0", null)]
    [InlineData("hf://org/name@refs%2Fpr%2F1/sub/model.gguf", "org/name", "refs/pr/1", "sub/model.gguf")]
    [InlineData("hf://Org-1/Name_2.x/model.safetensors.index.json", "Org-1/Name_2.x", null, "model.safetensors.index.json")]
    public void Hf_references_parse(string text, string repo, string? revision, string? file)
    {
        var r = HfReference.Parse(text);
        Assert.Equal(repo, r.Repo);
        Assert.Equal(revision, r.Revision);
        Assert.Equal(file, r.File);
    }

    [Theory]
    [InlineData("hf://org")]
    [InlineData("hf://org/")]
    [InlineData("hf://../name")]
    [InlineData("hf://org/na me")]
    [InlineData("hf://org/name@../x")]
    [InlineData("hf://org/name/../secret")]
    [InlineData("hf://org/name/a//b")]
    [InlineData("hf://org/name@main/a\\b")]
    public void Bad_hf_references_are_refused(string text) =>
        Assert.Throws<LineageException>(() => HfReference.Parse(text));

    [Fact]
    public void Cli_fingerprint_of_a_url_and_of_hf_equals_the_local_fingerprint()
    {
        string folder = Corpus.Path("ladder/A");
        string gguf = Corpus.Path("ladder/A-quant-q8.gguf");
        using var temp = new TempDir();
        using var server = new RangeServer(Corpus.Root);
        server.AddRepo("lineage-test/ladder-A", folder, Sha);

        var localGguf = CliRunner.Run("fingerprint", gguf, "-o", temp.File("local-gguf.lfp"));
        var remoteGguf = CliRunner.Run("fingerprint", server.FileUrl("ladder/A-quant-q8.gguf"), "-o", temp.File("remote-gguf.lfp"), "--format", "json");
        Assert.Equal(0, localGguf.ExitCode);
        Assert.True(remoteGguf.ExitCode == 0, remoteGguf.Stderr);
        Assert.Equal(WithoutSource(File.ReadAllBytes(temp.File("local-gguf.lfp"))), WithoutSource(File.ReadAllBytes(temp.File("remote-gguf.lfp"))));
        var summary = JsonNode.Parse(remoteGguf.Stdout)!;
        Assert.True(summary["bytes_transferred"]!.GetValue<long>() > 0);
        Assert.True(summary["requests"]!.GetValue<long>() > 0);

        string? previous = Environment.GetEnvironmentVariable("LINEAGE_HF_ENDPOINT");
        Environment.SetEnvironmentVariable("LINEAGE_HF_ENDPOINT", server.BaseUrl);
        try
        {
            var localFolder = CliRunner.Run("fingerprint", folder, "-o", temp.File("local.lfp"));
            var remoteFolder = CliRunner.Run("fingerprint", "hf://lineage-test/ladder-A@main", "-o", temp.File("remote.lfp"));
            Assert.Equal(0, localFolder.ExitCode);
            Assert.True(remoteFolder.ExitCode == 0, remoteFolder.Stderr);
            Assert.Contains("transferred", remoteFolder.Stdout, StringComparison.Ordinal);
            Assert.Equal(WithoutSource(File.ReadAllBytes(temp.File("local.lfp"))), WithoutSource(File.ReadAllBytes(temp.File("remote.lfp"))));
            Assert.Equal($"hf://lineage-test/ladder-A@{Sha}", FingerprintSerializer.Read(temp.File("remote.lfp")).Source);

            var bad = CliRunner.Run("fingerprint", "hf://lineage-test/absent");
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("404", bad.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("LINEAGE_HF_ENDPOINT", previous);
        }
    }

    private static void AssertSameModel(Model local, Model remote)
    {
        Assert.Equal(local.Format, remote.Format);
        Assert.Equal(local.Tensors.Select(t => t.Name), remote.Tensors.Select(t => t.Name));
        foreach (var t in local.Tensors)
        {
            var r = remote.FindTensor(t.Name)!;
            Assert.Equal(t.DType, r.DType);
            Assert.Equal(t.Shape, r.Shape);
            Assert.Equal(t.Location.Offset, r.Location.Offset);
            if (t.DType.Info().CanDecode) Assert.Equal(t.ReadAll(), r.ReadAll());
        }
        Assert.Equal(local.Config is null, remote.Config is null);
        if (local.Config is { } lc) Assert.Equal(lc with { Raw = null, Source = "" }, remote.Config! with { Raw = null, Source = "" });
        Assert.Equal(local.Tokenizer?.Tokens, remote.Tokenizer?.Tokens);
        Assert.Equal(local.Tokenizer?.Kind, remote.Tokenizer?.Kind);
        Assert.Equal(local.Metadata.Keys.Order(), remote.Metadata.Keys.Order());
    }

    /// <summary>The serialized fingerprint without its source field (which names the path or URL).</summary>
    private static string Fingerprintless(Model model) => WithoutSource(FingerprintSerializer.Serialize(FingerprintExtractor.Extract(model)));

    private static string WithoutSource(byte[] serialized)
    {
        // Binary fingerprint: "LNFP", version, JSON length, JSON header, blobs. Drop the header's source field
        // and compare everything else, blobs included.
        int jsonLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(serialized.AsSpan(8));
        var root = JsonNode.Parse(serialized.AsSpan(12, jsonLength))!.AsObject();
        Assert.True(root.Remove("source"));
        return root.ToJsonString() + Convert.ToHexString(serialized.AsSpan(12 + jsonLength));
    }

    /// <summary>Rewrites a single-file safetensors folder as two shards plus an index (config and tokenizer copied alongside).</summary>
    private static void WriteShardedCopy(string folder, string target)
    {
        var bytes = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, headerLength))!.AsObject();
        var names = header.Select(kv => kv.Key).Where(k => k != "__metadata__").Order(StringComparer.Ordinal).ToList();
        var weightMap = new JsonObject();
        var halves = new[] { names.Take(names.Count / 2).ToList(), names.Skip(names.Count / 2).ToList() };
        for (int s = 0; s < 2; s++)
        {
            string shardName = $"model-{s + 1:D5}-of-00002.safetensors";
            var shardHeader = new JsonObject();
            using var data = new MemoryStream();
            foreach (var name in halves[s])
            {
                var info = header[name]!.AsObject();
                var offsets = info["data_offsets"]!.AsArray();
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                long start = data.Length;
                data.Write(bytes, 8 + headerLength + (int)begin, (int)(end - begin));
                shardHeader[name] = new JsonObject { ["dtype"] = info["dtype"]!.DeepClone(), ["shape"] = info["shape"]!.DeepClone(), ["data_offsets"] = new JsonArray(start, data.Length) };
                weightMap[name] = shardName;
            }
            var json = Encoding.UTF8.GetBytes(shardHeader.ToJsonString());
            int padded = (json.Length + 7) / 8 * 8;
            using var output = File.Create(Path.Combine(target, shardName));
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            output.Write(length);
            output.Write(json);
            for (int i = json.Length; i < padded; i++) output.WriteByte((byte)' ');
            data.Position = 0;
            data.CopyTo(output);
        }
        File.WriteAllText(Path.Combine(target, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = weightMap }.ToJsonString());
        foreach (var sidecar in new[] { "config.json", "tokenizer.model" })
            File.Copy(Path.Combine(folder, sidecar), Path.Combine(target, sidecar));
    }
}
