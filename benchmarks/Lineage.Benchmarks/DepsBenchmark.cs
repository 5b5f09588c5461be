using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Lineage.Supply;
using Lineage.Supply.Advisories;

namespace Lineage.Benchmarks;

/// <summary>
/// Dependency-audit scale protocol (docs/dependencies.md): generates a realistic synthetic PyPI advisory set
/// (default 20,000 OSV records over 6,000 package names: 1–3 affected ranges with several introduced/fixed/
/// last_affected events, explicit version lists, aliases, CVSS v3 vectors, 3% malicious, 1% withdrawn) as an
/// all.zip, imports it, then audits a 2,000-package lock file (pip-compile style requirements with --hash, and a
/// uv.lock) against it, reporting wall times and the finding counts.
/// <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- deps [--records 20000] [--packages 2000] [--dir D] [--keep]</c>
/// </summary>
public static class DepsBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        int records = Arg(args, "--records", 20_000);
        int packages = Arg(args, "--packages", 2_000);
        string dir = args.SkipWhile(a => a != "--dir").Skip(1).FirstOrDefault() ?? Path.Combine(Path.GetTempPath(), "lineage-deps-bench-" + Environment.ProcessId.ToString(Inv));
        bool keep = args.Contains("--keep");
        Directory.CreateDirectory(dir);
        try
        {
            var rng = new Random(20260325);
            var names = Enumerable.Range(0, 6_000).Select(i => PackageName(rng, i)).Distinct().ToList();
            string zip = Path.Combine(dir, "PyPI-all.zip");
            var sw = Stopwatch.StartNew();
            WriteAdvisories(zip, names, records, rng);
            Console.WriteLine(string.Create(Inv, $"generated {records} OSV records over {names.Count} packages: {new FileInfo(zip).Length / 1e6:F1} MB zip in {sw.Elapsed.TotalSeconds:F1} s"));

            string db = Path.Combine(dir, "lineage.db");
            if (File.Exists(db)) File.Delete(db);
            sw.Restart();
            AdvisoryImportResult imported;
            using (var store = SqliteAdvisoryStore.Open(db)) imported = AdvisoryImporter.Import(store, zip);
            Console.WriteLine(string.Create(Inv, $"import: {imported.Added} added, {imported.Withdrawn} withdrawn in {sw.Elapsed.TotalSeconds:F2} s; database {new FileInfo(db).Length / 1e6:F1} MB"));
            sw.Restart();
            using (var store = SqliteAdvisoryStore.Open(db)) imported = AdvisoryImporter.Import(store, zip);
            Console.WriteLine(string.Create(Inv, $"re-import (all unchanged: {imported.Unchanged}) in {sw.Elapsed.TotalSeconds:F2} s"));

            var chosen = names.OrderBy(_ => rng.Next()).Take(packages).ToList();
            string req = Path.Combine(dir, "req", "requirements.txt");
            Directory.CreateDirectory(Path.GetDirectoryName(req)!);
            File.WriteAllLines(req, chosen.Select(n => $"{n}=={Version(rng)} --hash=sha256:{Convert.ToHexStringLower(RandomBytes(rng, 32))}"));
            string uv = Path.Combine(dir, "uv", "uv.lock");
            Directory.CreateDirectory(Path.GetDirectoryName(uv)!);
            var sb = new StringBuilder("version = 1\nrequires-python = \">=3.10\"\n");
            foreach (var n in chosen)
                sb.Append(Inv, $"\n[[package]]\nname = \"{n}\"\nversion = \"{Version(rng)}\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\nsdist = {{ url = \"https://files/{n}.tar.gz\", hash = \"sha256:{Convert.ToHexStringLower(RandomBytes(rng, 32))}\" }}\n");
            File.WriteAllText(uv, sb.ToString());
            Console.WriteLine(string.Create(Inv, $"lock files: requirements.txt {File.ReadAllLines(req).Length} lines, uv.lock {sb.ToString().Split('\n').Length} lines ({packages} packages)"));

            foreach (var (label, path) in new[] { ("requirements.txt", req), ("uv.lock", uv) })
            {
                for (int run = 0; run < 2; run++)
                {
                    sw.Restart();
                    var offline = DependencyAuditor.Run([path], null);
                    double parse = sw.Elapsed.TotalMilliseconds;
                    sw.Restart();
                    using var store = SqliteAdvisoryStore.Open(db, create: false, readOnly: true);
                    var lookups = store.ForPackages(offline.Packages.Select(p => (p.Ecosystem, p.Name)));
                    double lookup = sw.Elapsed.TotalMilliseconds;
                    sw.Restart();
                    int matched = 0;
                    foreach (var p in offline.Packages)
                        if (lookups.TryGetValue((p.Ecosystem, Ecosystems.NormalizeName(p.Ecosystem, p.Name)), out var es))
                            foreach (var e in es) if (AffectedMatcher.Match(e.Affected, p.Version!) is not null) matched++;
                    Console.WriteLine(string.Create(Inv, $"  breakdown {label}: read+offline rules {parse:F0} ms, advisory lookups {lookup:F0} ms ({lookups.Values.Sum(v => v.Count)} affected entries), matching {sw.Elapsed.TotalMilliseconds:F0} ms ({matched} hits)"));
                }
                for (int run = 0; run < 3; run++)
                {
                    sw.Restart();
                    DependencyReport report;
                    using (var store = SqliteAdvisoryStore.Open(db, create: false, readOnly: true)) report = DependencyAuditor.Run([path], store);
                    double seconds = sw.Elapsed.TotalSeconds;
                    Console.WriteLine(string.Create(Inv,
                        $"deps {label} run {run + 1}: {seconds * 1000:F0} ms; {report.Packages.Count} packages, {report.Findings.Count(f => f.Rule == "known-vulnerable")} known-vulnerable, {report.Findings.Count(f => f.Rule == "known-malicious")} known-malicious, {report.Findings.Count(f => f.Rule == "typosquat")} typosquat"));
                }
            }
            return 0;
        }
        finally
        {
            if (!keep) Directory.Delete(dir, recursive: true);
        }
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], Inv) : fallback;
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    private static readonly string[] Syllables = ["py", "data", "ml", "torch", "net", "core", "api", "fast", "lite", "ai", "flow", "graph", "text", "vision", "json", "http", "cloud", "auth", "log", "cache", "tensor", "vec", "lang", "chain", "opt", "kit", "tools", "hub", "serve", "model"];

    private static string PackageName(Random rng, int i) =>
        string.Join(rng.Next(3) == 0 ? "-" : "", Enumerable.Range(0, 2 + rng.Next(2)).Select(_ => Syllables[rng.Next(Syllables.Length)])) + (i % 7 == 0 ? "" : i.ToString(Inv));

    private static string Version(Random rng) => rng.Next(10) switch
    {
        0 => $"{rng.Next(3)}.{rng.Next(20)}.{rng.Next(12)}rc{1 + rng.Next(3)}",
        1 => $"{rng.Next(3)}.{rng.Next(20)}.{rng.Next(12)}.post{rng.Next(3)}",
        2 => $"20{20 + rng.Next(6)}.{1 + rng.Next(12)}.{rng.Next(30)}",
        _ => $"{rng.Next(3)}.{rng.Next(20)}.{rng.Next(12)}",
    };

    private static void WriteAdvisories(string zip, List<string> names, int count, Random rng)
    {
        using var archive = ZipFile.Open(zip, ZipArchiveMode.Create);
        for (int i = 0; i < count; i++)
        {
            bool malicious = rng.Next(100) < 3;
            string id = malicious ? $"MAL-2025-{i:D5}" : rng.Next(2) == 0 ? $"PYSEC-2024-{i:D5}" : $"GHSA-{i:x4}-{rng.Next(0x10000):x4}-{rng.Next(0x10000):x4}";
            string name = names[(int)Math.Min(names.Count - 1, Math.Abs(rng.NextDouble() * rng.NextDouble()) * names.Count)];
            var affected = new List<object>();
            int nAffected = malicious ? 1 : 1 + rng.Next(3);
            for (int a = 0; a < nAffected; a++)
            {
                var ranges = new List<object>();
                var events = new List<Dictionary<string, string>> { new() { ["introduced"] = rng.Next(3) == 0 ? "0" : $"{rng.Next(2)}.{rng.Next(10)}.0" } };
                int intervals = 1 + rng.Next(3);
                for (int k = 0; k < intervals; k++)
                {
                    events.Add(new() { [rng.Next(5) == 0 ? "last_affected" : "fixed"] = $"{k + rng.Next(2)}.{10 + rng.Next(10)}.{rng.Next(12)}" });
                    if (k + 1 < intervals) events.Add(new() { ["introduced"] = $"{k + 1}.{rng.Next(5)}.0" });
                }
                ranges.Add(new { type = "ECOSYSTEM", events });
                var versions = Enumerable.Range(0, rng.Next(30)).Select(_ => Version(rng)).Distinct().ToList();
                affected.Add(new Dictionary<string, object>
                {
                    ["package"] = new { ecosystem = "PyPI", name, purl = $"pkg:pypi/{name}" },
                    ["ranges"] = malicious ? new object[] { new { type = "ECOSYSTEM", events = new[] { new Dictionary<string, string> { ["introduced"] = "0" } } } } : ranges,
                    ["versions"] = versions,
                });
            }
            var record = new Dictionary<string, object>
            {
                ["schema_version"] = "1.6.0",
                ["id"] = id,
                ["modified"] = $"2025-{1 + rng.Next(12):D2}-{1 + rng.Next(28):D2}T12:00:00Z",
                ["published"] = "2024-01-01T00:00:00Z",
                ["aliases"] = malicious ? Array.Empty<string>() : new[] { $"CVE-2024-{10000 + i}" },
                ["summary"] = malicious ? $"Malicious code in {name} (PyPI)" : $"Synthetic vulnerability {i} in {name}",
                ["details"] = new string('x', 200 + rng.Next(1500)),
                ["affected"] = affected,
                ["references"] = new[] { new { type = "WEB", url = $"https://example.invalid/{id}" } },
            };
            if (!malicious) record["severity"] = new[] { new { type = "CVSS_V3", score = $"CVSS:3.1/AV:{"NALP"[rng.Next(4)]}/AC:{"LH"[rng.Next(2)]}/PR:{"NLH"[rng.Next(3)]}/UI:{"NR"[rng.Next(2)]}/S:{"UC"[rng.Next(2)]}/C:{"HLN"[rng.Next(3)]}/I:{"HLN"[rng.Next(3)]}/A:{"HLN"[rng.Next(3)]}" } };
            if (rng.Next(100) == 0) record["withdrawn"] = "2025-06-01T00:00:00Z";
            var entry = archive.CreateEntry($"{id}.json", CompressionLevel.Fastest);
            using var s = entry.Open();
            JsonSerializer.Serialize(s, record);
        }
    }
}
