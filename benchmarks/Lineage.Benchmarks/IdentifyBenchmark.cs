using System.Diagnostics;
using System.Globalization;
using Lineage.Formats;
using Lineage.Identify;
using Lineage.Provenance;
using Lineage.Store;

namespace Lineage.Benchmarks;

/// <summary>
/// identify against a large database: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- identify
/// [--entries 10000] [--corpus ../shared/corpus] [--db FILE|postgres://…]</c>. Builds (once, kept in --db; PostgreSQL
/// with binary COPY, see <see cref="PostgresFingerprintStore.BulkInsert"/>) a store of the
/// ladder's real base models plus N synthetic entries (<see cref="SyntheticFingerprints"/>; 20% of them a hard
/// cluster with ladder A's exact keys), then times <see cref="Identifier.Identify"/> (warm, median of 5) for
/// derivatives that must find their base and independent models that must find nothing.
/// </summary>
public static class IdentifyBenchmark
{
    public static int Run(string[] args)
    {
        int entries = int.Parse(Arg(args, "--entries") ?? "10000", CultureInfo.InvariantCulture);
        string corpus = Arg(args, "--corpus") ?? Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/corpus"));
        if (!Directory.Exists(Path.Combine(corpus, "ladder"))) corpus = Path.GetFullPath("../shared/corpus");
        if (!Directory.Exists(Path.Combine(corpus, "ladder")))
        {
            Console.Error.WriteLine("identify benchmark: the shared corpus (ladder models) is needed; pass --corpus");
            return 2;
        }
        string db = Arg(args, "--db") ?? Path.Combine(Path.GetTempPath(), $"lineage-identify-bench-{entries}.db");
        bool postgres = PostgresLocation.IsPostgres(db);
        var sw = Stopwatch.StartNew();
        Fingerprint Fp(string name)
        {
            using var m = ModelLoader.Open(Path.Combine(corpus, "ladder", name));
            return FingerprintExtractor.Extract(m);
        }

        var a = Fp("A");
        IEnumerable<NewEntry> All()
        {
            var bases = new[] { "A", "B", "D" }.Select(n => (Id: n, Family: "ladder", Fingerprint: n == "A" ? a : Fp(n)));
            foreach (var e in bases.Concat(SyntheticFingerprints.Generate(entries, corpus, a, hardShare: 0.2)))
                yield return new NewEntry { ModelId = e.Id, Family = e.Family, Fingerprint = e.Fingerprint, Serialized = FingerprintSerializer.Serialize(e.Fingerprint), Created = DateTimeOffset.UnixEpoch };
        }
        using (var store = FingerprintStores.Open(db))
        {
            int have = store.Count;
            if (have != entries + 3)
            {
                Console.WriteLine($"building {store.Location}: {entries} synthetic entries + ladder bases (it holds {have}) ...");
                if (postgres)
                {
                    var pg = (PostgresFingerprintStore)store;
                    if (have > 0) throw new InvalidOperationException("the benchmark schema holds a different number of entries; use a fresh ?schema=");
                    pg.BulkInsert(All(), rebuildIndexes: true, progress: n => Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r  {n:N0} entries, {sw.Elapsed.TotalSeconds:F0} s ")));
                    Console.Error.WriteLine();
                }
                else
                {
                    foreach (var chunk in All().Chunk(25_000))
                    {
                        store.Add(chunk, ConflictPolicy.Skip);
                        Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r  {store.Count:N0} entries, {sw.Elapsed.TotalSeconds:F0} s "));
                    }
                    Console.Error.WriteLine();
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"built in {sw.Elapsed.TotalSeconds:F1} s; {store.Count} entries{(postgres ? "" : $"; {new FileInfo(db).Length / 1e6:F0} MB")}"));
            }
            else
            {
                Console.WriteLine($"using {store.Location} ({have} entries)");
            }
        }

        using var reader = FingerprintStores.Open(db, create: false);
        var queries = new (string Name, string? Expected)[]
        {
            ("A-sft1", "A"), ("A-rotate", "A"), ("A-quant-q8.gguf", "A"), ("A-prune-depth", "A"), ("B-vocab-extend", "B"), ("D-permute", "D"),
            ("A-data2", null), ("F-tok2", null), ("A-distill.gguf", null), ("D-seed2", null),
        };
        Console.WriteLine("query             expected  top-1     candidates  compared   median ms   max ms   prune ms  rank ms  compare ms");
        int failures = 0;
        var medians = new List<double>();
        foreach (var (name, expected) in queries)
        {
            var fp = Fp(name);
            IdentifyResult? result = null;
            var times = new List<double>();
            for (int run = 0; run < 6; run++)
            {
                var t = Stopwatch.StartNew();
                result = Identifier.Identify(fp, reader);
                if (run > 0) times.Add(t.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            string top = result!.Matches.Count > 0 ? result.Matches[0].ModelId : "-";
            bool ok = expected is null ? result.Matches.Count == 0 : top == expected;
            if (!ok) failures++;
            medians.Add(times[times.Count / 2]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-17} {expected ?? "none",-9} {top,-9} {result.Statistics.Candidates,10}  {result.Statistics.Compared,8}  {times[times.Count / 2],10:F1}  {times[^1],7:F1}  {result.Statistics.PruneMs,8:F1}  {result.Statistics.RankMs,7:F1}  {result.Statistics.CompareMs,10:F1}{(ok ? "" : "  WRONG")}"));
        }
        using var self = Process.GetCurrentProcess();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"entries {reader.Count}; worst median {medians.Max():F0} ms; {failures} wrong; peak working set {self.PeakWorkingSet64 / 1e6:F0} MB; managed heap {GC.GetTotalMemory(false) / 1e6:F0} MB"));
        return failures == 0 ? 0 : 1;
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
