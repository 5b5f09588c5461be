using System.Text.Json.Nodes;
using Lineage.Formats;
using Lineage.Identify;
using Lineage.Provenance;
using Lineage.Store;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Store;

/// <summary>
/// A database built with 'lineage db build' from the ladder's base models (A, B, C, D) and the independently
/// trained look-alikes (A-seed2, C-seed2, D-seed2, A-data2, B-data2) as distractors.
/// </summary>
public sealed class LadderDatabase : IDisposable
{
    public static readonly string[] Bases = ["A", "B", "C", "D"];
    public static readonly string[] Distractors = ["A-seed2", "C-seed2", "D-seed2", "A-data2", "B-data2"];

    private readonly TempDir _dir = new();

    public LadderDatabase()
    {
        if (Corpus.Root is null) return;
        string tree = Path.Combine(_dir.Path, "models");
        Directory.CreateDirectory(tree);
        foreach (var name in Bases.Concat(Distractors))
            Directory.CreateSymbolicLink(Path.Combine(tree, name), Path.Combine(Corpus.Root, "ladder", name));
        DbPath = _dir.File("ladder.db");
        FirstBuild = CliRunner.Run("db", "build", "--from", tree, "--db", DbPath, "--format", "json");
        SecondBuild = CliRunner.Run("db", "build", "--from", tree, "--db", DbPath, "--format", "json");
        Store = SqliteFingerprintStore.Open(DbPath, create: false);
    }

    public string DbPath { get; } = "";

    internal CliResult? FirstBuild { get; }

    internal CliResult? SecondBuild { get; }

    public SqliteFingerprintStore? Store { get; }

    public void Dispose()
    {
        Store?.Dispose();
        _dir.Dispose();
    }
}

public class IdentifyLadderTests(LadderDatabase db) : IClassFixture<LadderDatabase>
{
    private static JsonArray LadderPairs() =>
        JsonNode.Parse(File.ReadAllText(Corpus.Path("ladder/allpairs.json")))!["pairs"]!.AsArray();

    /// <summary>The fingerprint of a ladder model, or null when this build cannot read its format yet.</summary>
    private static Fingerprint? TryFingerprint(string name)
    {
        try
        {
            using var m = ModelLoader.Open(Corpus.Path("ladder/" + name));
            return FingerprintExtractor.Extract(m);
        }
        catch (LineageException e) when (e.Message.Contains("cannot be read yet", StringComparison.Ordinal))
        {
            return null;
        }
    }

    [Fact]
    public void Build_stores_every_readable_model_and_skips_them_when_run_again()
    {
        Corpus.Path("ladder");
        Assert.Equal(0, db.FirstBuild!.ExitCode);
        var first = JsonNode.Parse(db.FirstBuild.Stdout)!;
        var results = first["results"]!.AsArray();
        Assert.Equal(LadderDatabase.Bases.Length + LadderDatabase.Distractors.Length, results.Count);
        foreach (var r in results)
        {
            string status = r!["status"]!.GetValue<string>();
            Assert.True(status == "added" || (status == "failed" && r["error"]!.GetValue<string>().Contains("cannot be read yet", StringComparison.Ordinal)), r.ToJsonString());
        }
        var second = JsonNode.Parse(db.SecondBuild!.Stdout)!;
        Assert.Equal(0, second["added"]!.GetValue<int>());
        Assert.Equal(0, second["updated"]!.GetValue<int>());
        Assert.Equal(first["added"]!.GetValue<int>(), second["unchanged"]!.GetValue<int>());
        Assert.Contains("A", db.Store!.List().Select(e => e.ModelId));
    }

    [Fact]
    public void Every_readable_derivative_identifies_its_base_first()
    {
        Corpus.Path("ladder");
        var stored = db.Store!.List().Select(e => e.ModelId).ToHashSet(StringComparer.Ordinal);
        var checkedPairs = new List<string>();
        var failures = new List<string>();
        foreach (var p in LadderPairs())
        {
            string a = p!["a"]!.GetValue<string>(), b = p["b"]!.GetValue<string>();
            if (!p["related"]!.GetValue<bool>() || !LadderDatabase.Bases.Contains(a)) continue;
            string baseId = a;
            var query = TryFingerprint(b);
            if (query is null) continue;
            var result = Identifier.Identify(query, db.Store);
            if (!stored.Contains(baseId))
            {
                // The base could not be read into the database: the derivative must not match anything else.
                if (result.Matches.Count > 0) failures.Add($"{b}: base {baseId} is not stored, yet matched {result.Matches[0].ModelId}");
                continue;
            }
            checkedPairs.Add(b);
            if (result.Matches.Count == 0 || result.Matches[0].ModelId != baseId)
                failures.Add($"{b} ({p["category"]}): expected {baseId} first, got [{string.Join(", ", result.Matches.Select(m => $"{m.ModelId} {m.Verdict} {m.Score:F3}"))}]; closest [{string.Join(", ", result.Closest.Select(m => $"{m.ModelId} {m.Verdict} r={m.SketchCorrelation:F2}"))}]");
            else if (result.Matches.Any(m => m.ModelId != baseId))
                failures.Add($"{b}: also matched an unrelated model: {string.Join(", ", result.Matches.Skip(1).Select(m => m.ModelId))}");
        }
        Assert.Empty(failures);
        Assert.True(checkedPairs.Count >= 20, $"only {checkedPairs.Count} derivatives were readable: {string.Join(", ", checkedPairs)}");
    }

    [Fact]
    public void Independent_models_get_no_match()
    {
        Corpus.Path("ladder");
        // A database of the bases only (fingerprints taken from the built one: nothing is recomputed).
        using var dir = new TempDir();
        using var bases = SqliteFingerprintStore.Open(dir.File("bases.db"));
        foreach (var e in db.Store!.List().Where(e => LadderDatabase.Bases.Contains(e.ModelId)))
            bases.Add(new NewEntry { ModelId = e.ModelId, Fingerprint = db.Store.LoadFingerprint(e), Serialized = db.Store.ReadFingerprint(e.ContentId)! });

        string[] independent = ["A-seed2", "A-data2", "B-data2", "C-seed2", "D-seed2", "F-tok2", "A-distill.gguf", "B-distill", "C-distill", "A-sharedinit", "C-sharedinit"];
        int checkedCount = 0;
        foreach (var name in independent)
        {
            var query = TryFingerprint(name);
            if (query is null) continue;
            checkedCount++;
            var result = Identifier.Identify(query, bases);
            Assert.True(result.Matches.Count == 0, $"{name} matched {string.Join(", ", result.Matches.Select(m => $"{m.ModelId} {m.Verdict} {m.Score:F3}"))}");

            // Against the full database, a distractor finds itself (identical) and nothing else.
            if (LadderDatabase.Distractors.Contains(name))
            {
                var full = Identifier.Identify(query, db.Store);
                var match = Assert.Single(full.Matches);
                Assert.Equal(name, match.ModelId);
                Assert.Equal("identical", match.Verdict);
            }
        }
        Assert.True(checkedCount >= 8, $"only {checkedCount} independent models were readable");
    }

    [Fact]
    public void Identify_command_reports_matches_in_the_brief_json_fields()
    {
        Corpus.Path("ladder");
        var r = CliRunner.Run("identify", Corpus.Path("ladder/A-quant-q8.gguf"), "--db", db.DbPath, "--format", "json", "--top-k", "2");
        Assert.Equal(0, r.ExitCode);
        var json = JsonNode.Parse(r.Stdout)!;
        var match = json["matches"]!.AsArray()[0]!;
        Assert.Equal("A", match["model_id"]!.GetValue<string>());
        Assert.True(match["related"]!.GetValue<bool>());
        Assert.InRange(match["score"]!.GetValue<double>(), 0.5, 1.0);
        Assert.NotNull(match["verdict"]);
        Assert.NotEmpty(match["evidence"]!.AsArray());
        Assert.True(json.AsObject().ContainsKey("closest_not_related"));
        Assert.Equal("metadata", json["catalog"]!["level"]!.GetValue<string>());

        var none = CliRunner.Run("identify", Corpus.Path("ladder/F-tok2"), "--db", db.DbPath);
        Assert.Equal(0, none.ExitCode);
        Assert.Contains("no match", none.Stdout, StringComparison.Ordinal);
    }
}
