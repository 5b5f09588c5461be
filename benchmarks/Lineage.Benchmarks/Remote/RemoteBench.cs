using System.Diagnostics;
using System.Globalization;
using Lineage.Benchmarks.Scale;
using Lineage.Formats;
using Lineage.Formats.Remote;
using Lineage.IO.Http;
using Lineage.Models;
using Lineage.Provenance;
using Lineage.Tests.Support;

namespace Lineage.Benchmarks.Remote;

/// <summary>
/// Fingerprint over HTTP versus the file size (benchmarks/REMOTE.md). Serves each model from a local server on
/// 127.0.0.1 (optionally adding a simulated round-trip latency), fingerprints it locally and remotely, and
/// reports bytes handed to the readers, bytes that crossed the wire, requests, wall time, and whether the two
/// fingerprints are identical (apart from their source field).
/// <code>
/// dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- remote [--latency-ms 20] [--parallel 16] [--remote-only] PATH...
/// dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- remote --layout llama-1b [--sparse] [--latency-ms 20]
/// </code>
/// </summary>
public static class RemoteBench
{
    private const string Sha = "0000000000000000000000000000000000000000";

    public static int Run(string[] args)
    {
        int latency = int.Parse(Arg(args, "--latency-ms") ?? "0", CultureInfo.InvariantCulture);
        int parallel = int.Parse(Arg(args, "--parallel") ?? HttpRangeOptions.Default.MaxParallelRequests.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var paths = Positional(args, "--latency-ms", "--layout", "--dir", "--parallel");
        string? generated = null;
        if (Arg(args, "--layout") is { } layoutName)
        {
            var layout = Layout.Parse(layoutName);
            generated = Path.Combine(Arg(args, "--dir") ?? Path.GetTempPath(), $"lineage-remote-{layoutName}");
            if (!Directory.Exists(generated))
                SyntheticCheckpoint.Write(generated, layout, 1, sparse: args.Contains("--sparse"), log: Console.Out);
            paths.Add(generated);
        }
        if (paths.Count == 0)
        {
            Console.Error.WriteLine("usage: remote [--latency-ms N] [--parallel N] [--remote-only] PATH... | remote --layout llama-1b|llama-3b|llama-8b [--sparse] [--dir D] [--latency-ms N]");
            return 4;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"simulated latency per request: {latency} ms; parallel requests: {parallel}"));
        Console.WriteLine("model | file bytes | local s | remote s | handed out | transferred | transferred/file | transferred/handed | requests | identical");
        int failures = 0;
        foreach (var path in paths)
        {
            try
            {
                if (!MeasureOne(Path.GetFullPath(path), latency, parallel, skipLocal: args.Contains("--remote-only"))) failures++;
            }
            catch (LineageException e)
            {
                Console.WriteLine($"{path}: error: {e.Describe()}");
                failures++;
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB"));
        if (generated is not null && !args.Contains("--keep")) Directory.Delete(generated, recursive: true);
        return failures == 0 ? 0 : 1;
    }

    private static bool MeasureOne(string path, int latency, int parallel, bool skipLocal)
    {
        var clock = Stopwatch.StartNew();
        Fingerprint? localFp = null;
        if (!skipLocal)
        {
            using var local = ModelLoader.Open(path);
            localFp = FingerprintExtractor.Extract(local);
        }
        double localSeconds = clock.Elapsed.TotalSeconds;

        bool folder = Directory.Exists(path);
        string root = folder ? path : Path.GetDirectoryName(path)!;
        using var server = new RangeServer(root, new ServerFaults { LatencyMs = latency });
        server.AddRepo("bench/model", root, Sha);
        string remotePath = folder ? "hf://bench/model" : server.FileUrl(Path.GetFileName(path));
        var options = new RemoteOptions { HfEndpoint = new Uri(server.BaseUrl), Http = new HttpRangeOptions { MaxParallelRequests = parallel } };

        clock.Restart();
        Fingerprint remoteFp;
        long transferred, requests, fileBytes;
        using (var remote = RemoteModelLoader.Open(remotePath, options))
        {
            remoteFp = FingerprintExtractor.Extract(remote);
            transferred = remote.BytesTransferred;
            requests = remote.Requests;
            fileBytes = remote.Files.Where(f => f.Role == "weights").Sum(f => f.Size);
        }
        double remoteSeconds = clock.Elapsed.TotalSeconds;
        bool identical = localFp is null || WithoutSource(localFp) == WithoutSource(remoteFp);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(path)} | {fileBytes:N0} | {localSeconds:F2} | {remoteSeconds:F2} | {remoteFp.BytesRead:N0} | {transferred:N0} | {100.0 * transferred / Math.Max(1, fileBytes):F3} % | {(double)transferred / Math.Max(1, remoteFp.BytesRead):F2} | {requests:N0} | {(localFp is null ? "not checked" : identical ? "yes" : "NO")}"));
        return identical;
    }

    private static string WithoutSource(Fingerprint fp) => Convert.ToHexString(FingerprintSerializer.Serialize(fp.WithSource("")));

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static List<string> Positional(string[] args, params string[] withValue)
    {
        var result = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (withValue.Contains(args[i])) i++;
            else if (!args[i].StartsWith("--", StringComparison.Ordinal)) result.Add(args[i]);
        }
        return result;
    }
}
