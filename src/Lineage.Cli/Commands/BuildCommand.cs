using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Lineage.Cli.Build;
using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Store;

namespace Lineage.Cli.Commands;

/// <summary>
/// <c>lineage db build</c>: fingerprints a folder tree or a list of models into a store, one worker's shard at
/// a time. Each model is its own transaction, so a killed worker loses at most the model it was writing, and
/// a re-run skips what the store already holds (idempotent, resumable). Scheduling is left to an existing
/// engine (Kubernetes Indexed Jobs, Slurm arrays): the worker only needs its shard index.
/// </summary>
internal static class BuildCommand
{
    public static Command Create(CliContext context)
    {
        var from = new Option<string>("--from") { Description = "Folder tree of models, or a list file (one path, hf:// id or URL per line; optional TAB id TAB family)", Required = true };
        var familyFromFolder = new Option<bool>("--family-from-folder") { Description = "Label each model with the name of the folder that holds it (folder trees)" };
        var shard = new Option<string?>("--shard") { Description = "This worker's share: INDEX/COUNT, e.g. 3/16 (default: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID with --shard-count, else everything)" };
        var shardCount = new Option<int?>("--shard-count") { Description = "Number of shards when the index comes from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (default: $LINEAGE_SHARD_COUNT, else $SLURM_ARRAY_TASK_COUNT)" };
        var strict = new Option<bool>("--strict") { Description = "Exit 2 when any model cannot be read (default: report and continue)" };
        var db = DatabasePath.Option();
        var format = CommonOptions.Format("json", "text");
        // A worker's result is read by machines (job logs, dashboards): JSON unless asked otherwise.
        format.DefaultValueFactory = _ => "json";
        format.Description = "Output format: json (default), text";
        var command = new Command("build", """
            Fingerprints every model under a folder tree, or every line of a list file (paths, hf:// ids, URLs), and
            stores each under its id (folder trees: the relative path without extension; lists: hf://ORG/NAME gives
            ORG/NAME, a URL its host and path, or give an id after a TAB). With --shard I/N (or JOB_COMPLETION_INDEX /
            SLURM_ARRAY_TASK_ID) only the models whose id hashes to shard I are processed, so N workers split a list
            without coordinating. Models the store already holds are skipped: local models when their content key
            is unchanged, remote ones when stored from the same source, fingerprint files when the content id is the
            same; changed ones are replaced. Progress on stderr, one JSON summary per worker on stdout.

            Examples:
              lineage db build --from ./models --family-from-folder
              lineage db build --from models.txt --shard 0/8 --db postgres://lineage@db:5432/registry
              JOB_COMPLETION_INDEX=3 lineage db build --from models.txt --shard-count 8 --db "$LINEAGE_DB"
            """)
        {
            from, familyFromFolder, shard, shardCount, strict, db, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var (resolved, error) = Shard.Resolve(parse.GetValue(shard), parse.GetValue(shardCount), Environment.GetEnvironmentVariable);
            if (resolved is null)
            {
                Output.Error(context.Stderr, error!);
                return ExitCodes.Usage;
            }
            string source = parse.GetValue(from)!;
            var all = BuildPlan.From(source, parse.GetValue(familyFromFolder));
            var mine = all.Where(i => resolved.Owns(i.Id)).ToList();
            using var store = DatabasePath.Open(DatabasePath.Resolve(parse.GetValue(db)));
            context.Stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"lineage: shard {resolved}: {mine.Count} of {all.Count} model(s) from {source} → {store.Location}"));
            var results = new List<BuildResult>();
            var total = Stopwatch.StartNew();
            for (int i = 0; i < mine.Count; i++)
            {
                var item = mine[i];
                var watch = Stopwatch.StartNew();
                BuildResult result;
                try
                {
                    result = BuildOne(store, item);
                }
                catch (LineageException e)
                {
                    result = new BuildResult(item.Id, item.Family, item.Source, "failed", null, e.Describe());
                }
                result = result with { Seconds = Math.Round(watch.Elapsed.TotalSeconds, 3) };
                results.Add(result);
                context.Stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"lineage: [{i + 1}/{mine.Count}] {result.Status} {item.Id} ({watch.Elapsed.TotalSeconds:F1} s){(result.Error is null ? "" : ": " + result.Error)}"));
            }
            double seconds = total.Elapsed.TotalSeconds;
            int added = results.Count(r => r.Status == "added"), updated = results.Count(r => r.Status == "updated");
            int unchanged = results.Count(r => r.Status == "unchanged"), failed = results.Count(r => r.Status == "failed");
            if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, new
                {
                    database = store.Location,
                    from = source,
                    shard = new { index = resolved.Index, count = resolved.Count },
                    models_listed = all.Count,
                    models = mine.Count,
                    added,
                    updated,
                    unchanged,
                    failed,
                    seconds = Math.Round(seconds, 3),
                    fingerprinted_per_hour = added + updated == 0 || seconds <= 0 ? 0 : Math.Round((added + updated) * 3600 / seconds),
                    results,
                });
            }
            else
            {
                context.Stdout.WriteLine($"shard {resolved}: {mine.Count} model(s) of {all.Count} from {source}: {added} added, {updated} updated, {unchanged} unchanged, {failed} unreadable → {store.Location} ({store.Count} stored)");
            }
            return failed > 0 && parse.GetValue(strict) ? ExitCodes.Error : ExitCodes.Success;
        }));
        return command;
    }

    internal sealed record BuildResult(string ModelId, string? Family, string Path, string Status, string? ContentId, string? Error = null)
    {
        public double Seconds { get; init; }
    }

    private static BuildResult BuildOne(IFingerprintStore store, BuildItem item)
    {
        var existing = store.Find(item.Id);
        NewEntry entry;
        if (!item.IsRemote && File.Exists(item.Source) && FingerprintSerializer.LooksLikeFingerprint(item.Source))
        {
            var bytes = File.ReadAllBytes(item.Source);
            string id = FingerprintSerializer.Id(bytes);
            if (existing is not null && existing.ContentId == id && existing.Family == item.Family)
                return new BuildResult(item.Id, item.Family, item.Source, "unchanged", id);
            entry = new NewEntry { ModelId = item.Id, Family = item.Family, Fingerprint = FingerprintSerializer.Deserialize(bytes, item.Source), Serialized = bytes, Source = item.Source };
        }
        else if (item.IsRemote)
        {
            // Resumable without refetching: a remote model stored from the same source is not read again.
            if (existing is not null && existing.Source == item.Source && existing.Family == item.Family)
                return new BuildResult(item.Id, item.Family, item.Source, "unchanged", existing.ContentId);
            Fingerprint fp;
            using (var model = ModelLoader.Open(item.Source)) fp = FingerprintExtractor.Extract(model);
            entry = new NewEntry { ModelId = item.Id, Family = item.Family, Fingerprint = fp, Serialized = FingerprintSerializer.Serialize(fp), Source = item.Source };
        }
        else
        {
            var keyed = ContentKey.GetFingerprint(item.Source, store, writeCache: true);
            if (existing is not null && existing.ModelKey == keyed.ModelKey && existing.Family == item.Family)
                return new BuildResult(item.Id, item.Family, item.Source, "unchanged", keyed.ContentId);
            entry = new NewEntry { ModelId = item.Id, Family = item.Family, Fingerprint = keyed.Fingerprint, Serialized = keyed.Serialized, Source = item.Source, ModelKey = keyed.ModelKey };
        }
        var stored = store.Add(entry, ConflictPolicy.Replace);
        return new BuildResult(item.Id, item.Family, item.Source, existing is null ? "added" : "updated", stored.ContentId);
    }
}
