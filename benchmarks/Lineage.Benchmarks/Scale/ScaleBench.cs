using System.Diagnostics;
using Lineage.Formats;
using Lineage.Provenance;

namespace Lineage.Benchmarks.Scale;

/// <summary>
/// The scale protocol (docs/benchmarks.md): generate a checkpoint of a real layout, then measure fingerprint
/// (bytes read, fraction, wall time, peak memory, throughput), fingerprint-vs-fingerprint compare, and a full
/// sequential read of the same files as the physical floor of a naive tool.
/// </summary>
public static class ScaleBench
{
    public static int Run(string[] args)
    {
        string layoutName = Arg(args, "--layout") ?? "llama-8b";
        string dir = Arg(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "lineage-scale");
        bool sparse = args.Contains("--sparse");
        bool keep = args.Contains("--keep");
        var layout = Layout.Parse(layoutName);
        string baseDir = Path.Combine(dir, layoutName + "-base"), derivedDir = Path.Combine(dir, layoutName + "-permute-scale"), otherDir = Path.Combine(dir, layoutName + "-independent");
        Console.WriteLine($"layout {layout.Name}: {layout.Parameters:N0} parameters, {layout.Parameters * 2 / 1e9:F1} GB bf16{(sparse ? " (sparse: matrices are file holes)" : "")}");
        var sw = Stopwatch.StartNew();
        if (!Directory.Exists(baseDir)) SyntheticCheckpoint.Write(baseDir, layout, 1, sparse: sparse, log: Console.Out);
        if (!Directory.Exists(derivedDir)) SyntheticCheckpoint.Write(derivedDir, layout, 1, "permute-scale", sparse, log: Console.Out);
        if (!Directory.Exists(otherDir)) SyntheticCheckpoint.Write(otherDir, layout, 2, sparse: sparse, log: Console.Out);
        Console.WriteLine($"generated in {sw.Elapsed.TotalSeconds:F1} s");

        var fa = Measure("fingerprint base", baseDir);
        var fb = Measure("fingerprint permuted+rescaled copy", derivedDir);
        var fc = Measure("fingerprint independent", otherDir);
        foreach (var (label, x, y) in new[] { ("base vs permuted+rescaled copy", fa, fb), ("base vs independent", fa, fc) })
        {
            var t = Stopwatch.StartNew();
            var r = ProvenanceComparer.Compare(x, y);
            Console.WriteLine($"compare {label}: {r.Verdict} (score {r.Score:F3}, p≈1e{r.Log10PValue:F0}) in {t.Elapsed.TotalMilliseconds:F0} ms");
        }
        var full = Stopwatch.StartNew();
        long total = 0;
        var buffer = new byte[8 << 20];
        foreach (var f in Directory.EnumerateFiles(baseDir, "*.safetensors"))
        {
            using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            int n;
            while ((n = s.Read(buffer)) > 0) total += n;
        }
        Console.WriteLine($"full sequential read (naive floor): {total / 1e9:F2} GB in {full.Elapsed.TotalSeconds:F1} s ({total / 1e6 / full.Elapsed.TotalSeconds:F0} MB/s)");
        Console.WriteLine($"peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB");
        if (!keep) Directory.Delete(dir, recursive: true);
        return 0;
    }

    private static Fingerprint Measure(string label, string path)
    {
        var sw = Stopwatch.StartNew();
        using var model = ModelLoader.Open(path);
        var fp = FingerprintExtractor.Extract(model);
        double s = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"{label}: {s:F2} s, read {fp.BytesRead / 1e6:F1} MB of {fp.ModelBytes / 1e9:F2} GB ({100.0 * fp.BytesRead / fp.ModelBytes:F2} %), {fp.BytesRead / 1e6 / s:F0} MB/s of sampled data; "
            + $"fingerprint {FingerprintSerializer.Serialize(fp).Length:N0} bytes, weight sketch {Lineage.Store.WeightSketch.From(fp).ToBytes().Length:N0} bytes");
        return fp;
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
