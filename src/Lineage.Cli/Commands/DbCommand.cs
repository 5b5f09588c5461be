using System.CommandLine;
using System.Globalization;
using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Store;

namespace Lineage.Cli.Commands;

/// <summary>Where the fingerprint database lives: --db, else LINEAGE_DB, else ~/.lineage/fingerprints.db.</summary>
internal static class DatabasePath
{
    public static Option<string?> Option() => new("--db")
    {
        Description = "Fingerprint database file (default: $LINEAGE_DB, else ~/.lineage/fingerprints.db)",
    };

    public static string Resolve(string? given)
    {
        if (!string.IsNullOrWhiteSpace(given)) return Path.GetFullPath(given);
        string? env = Environment.GetEnvironmentVariable("LINEAGE_DB");
        if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".lineage", "fingerprints.db");
    }
}

internal static class DbCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("db", """
            Manage the fingerprint database that 'lineage identify' searches: one SQLite file (WAL mode, safe with
            concurrent readers; every write is one transaction, so an interrupted write leaves nothing behind).
            Fingerprints are cached under a content key of the model's files: a changed file is fingerprinted again.

            Examples:
              lineage db add ./Llama-2-7b --id llama-2-7b --family llama
              lineage db build --from ./models --family-from-folder
              lineage db list
              lineage db export team.lfpb && lineage db import team.lfpb --db other.db
            """);
        command.Subcommands.Add(Add(context));
        command.Subcommands.Add(List(context));
        command.Subcommands.Add(Remove(context));
        command.Subcommands.Add(Import(context));
        command.Subcommands.Add(Export(context));
        command.Subcommands.Add(Build(context));
        return command;
    }

    private static Command Add(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder, weights file, sharded index or fingerprint file" };
        var id = new Option<string>("--id") { Description = "Name to store the model under (unique)", Required = true };
        var family = new Option<string?>("--family") { Description = "Family label (e.g. llama, qwen)" };
        var replace = new Option<bool>("--replace") { Description = "Overwrite an existing entry with this id" };
        var db = DatabasePath.Option();
        var format = CommonOptions.Format("text", "json");
        var command = new Command("add", "Fingerprint a model (or take a fingerprint file) and store it under --id.") { model, id, family, replace, db, format };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(DatabasePath.Resolve(parse.GetValue(db)));
            string path = parse.GetValue(model)!;
            NewEntry entry;
            bool cached = false;
            if (File.Exists(path) && FingerprintSerializer.LooksLikeFingerprint(path))
            {
                var bytes = File.ReadAllBytes(path);
                entry = new NewEntry { ModelId = parse.GetValue(id)!, Family = parse.GetValue(family), Fingerprint = FingerprintSerializer.Deserialize(bytes, path), Serialized = bytes, Source = Path.GetFullPath(path) };
            }
            else
            {
                var keyed = ContentKey.GetFingerprint(path, store, writeCache: true);
                cached = keyed.FromCache;
                entry = new NewEntry { ModelId = parse.GetValue(id)!, Family = parse.GetValue(family), Fingerprint = keyed.Fingerprint, Serialized = keyed.Serialized, Source = Path.GetFullPath(path), ModelKey = keyed.ModelKey };
            }
            var added = store.Add(entry, parse.GetValue(replace) ? ConflictPolicy.Replace : ConflictPolicy.Fail);
            if (parse.GetValue(format) == "json")
                Output.WriteJson(context.Stdout, new { database = store.Location, added = EntryView.From(added), from_cache = cached });
            else
                context.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"added {added.ModelId}{(added.Family is null ? "" : $" [{added.Family}]")}: fingerprint {added.ContentId[..16]}… ({added.FingerprintBytes:N0} bytes{(cached ? ", from cache" : "")}) → {store.Location}"));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command List(CliContext context)
    {
        var db = DatabasePath.Option();
        var format = CommonOptions.Format("text", "json");
        var command = new Command("list", "List the stored models.") { db, format };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false);
            var entries = store.List();
            if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, new { database = store.Location, count = entries.Count, entries = entries.Select(EntryView.From) });
                return ExitCodes.Success;
            }
            context.Stdout.WriteLine($"{entries.Count} model(s) in {store.Location}");
            foreach (var e in entries)
            {
                var k = e.Keys;
                context.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {e.ModelId,-32} {e.Family ?? "-",-12} {k.ModelType ?? "?",-10} d={k.Hidden} L={k.Layers} V={k.VocabSize}  {(k.VocabularyHash is null ? "no tokenizer" : "tokenizer")}  {e.ContentId[..12]}  {e.Created:yyyy-MM-dd}"));
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Remove(CliContext context)
    {
        var id = new Argument<string>("id") { Description = "Model id to remove" };
        var db = DatabasePath.Option();
        var command = new Command("remove", "Remove a stored model (exit 2 when there is no such id).") { id, db };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false);
            string name = parse.GetValue(id)!;
            if (!store.Remove(name))
            {
                Output.Error(context.Stderr, $"no model '{name}' in {store.Location}");
                return ExitCodes.Error;
            }
            context.Stdout.WriteLine($"removed {name}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Import(CliContext context)
    {
        var file = new Argument<string>("bundle") { Description = "Bundle written by 'lineage db export'" };
        var replace = new Option<bool>("--replace") { Description = "Overwrite entries whose id already exists (default: fail, importing nothing)" };
        var skip = new Option<bool>("--skip-existing") { Description = "Keep entries whose id already exists" };
        var db = DatabasePath.Option();
        var command = new Command("import", "Import a fingerprint bundle (all entries in one transaction, verified against their content ids).") { file, replace, skip, db };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(DatabasePath.Resolve(parse.GetValue(db)));
            var policy = parse.GetValue(replace) ? ConflictPolicy.Replace : parse.GetValue(skip) ? ConflictPolicy.Skip : ConflictPolicy.Fail;
            var added = FingerprintBundle.Import(store, parse.GetValue(file)!, policy);
            context.Stdout.WriteLine($"imported {added.Count} model(s) into {store.Location}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Export(CliContext context)
    {
        var file = new Argument<string>("bundle") { Description = "Bundle file to write (zip: manifest.json + fingerprints/)" };
        var db = DatabasePath.Option();
        var command = new Command("export", "Export every stored fingerprint to a portable bundle.") { file, db };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false);
            int n = FingerprintBundle.Export(store, Path.GetFullPath(parse.GetValue(file)!));
            context.Stdout.WriteLine($"exported {n} model(s) to {parse.GetValue(file)}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Build(CliContext context)
    {
        var from = new Option<string>("--from") { Description = "Folder tree of models", Required = true };
        var familyFromFolder = new Option<bool>("--family-from-folder") { Description = "Label each model with the name of the folder that holds it" };
        var strict = new Option<bool>("--strict") { Description = "Exit 2 when any model cannot be read (default: report and continue)" };
        var db = DatabasePath.Option();
        var format = CommonOptions.Format("text", "json");
        var command = new Command("build", """
            Fingerprints every model folder and weights file under --from and stores it under its relative path
            (file extension dropped). Models already stored with the same content key are skipped; changed ones
            are fingerprinted again and replaced. Progress on stderr; unreadable models are reported and skipped.
            """)
        {
            from, familyFromFolder, strict, db, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteFingerprintStore.Open(DatabasePath.Resolve(parse.GetValue(db)));
            var models = ModelDiscovery.Find(parse.GetValue(from)!);
            var results = new List<object>();
            int added = 0, updated = 0, unchanged = 0, failed = 0;
            using (var progress = new ProgressReporter(context.Stderr, "fingerprinting"))
            {
                for (int i = 0; i < models.Count; i++)
                {
                    progress.Report((i, models.Count));
                    var m = models[i];
                    string id = m.IsFolder ? m.RelativePath : StripExtension(m.RelativePath);
                    string? family = parse.GetValue(familyFromFolder) ? FamilyOf(m.RelativePath) : null;
                    try
                    {
                        var keyed = ContentKey.GetFingerprint(m.Path, store, writeCache: true);
                        var existing = store.Find(id);
                        string status;
                        if (existing is not null && existing.ModelKey == keyed.ModelKey && existing.Family == family)
                        {
                            status = "unchanged";
                            unchanged++;
                        }
                        else
                        {
                            store.Add(new NewEntry { ModelId = id, Family = family, Fingerprint = keyed.Fingerprint, Serialized = keyed.Serialized, Source = m.Path, ModelKey = keyed.ModelKey }, ConflictPolicy.Replace);
                            status = existing is null ? "added" : "updated";
                            if (existing is null) added++;
                            else updated++;
                        }
                        results.Add(new { model_id = id, family, path = m.Path, status, content_id = keyed.ContentId });
                    }
                    catch (LineageException e)
                    {
                        failed++;
                        results.Add(new { model_id = id, family, path = m.Path, status = "failed", error = e.Describe() });
                        if (parse.GetValue(format) == "text") context.Stderr.WriteLine($"lineage: skipped {id}: {e.Describe()}");
                    }
                }
                progress.Report((models.Count, models.Count));
            }
            if (parse.GetValue(format) == "json")
                Output.WriteJson(context.Stdout, new { database = store.Location, models = models.Count, added, updated, unchanged, failed, results });
            else
                context.Stdout.WriteLine($"{models.Count} model(s) under {parse.GetValue(from)}: {added} added, {updated} updated, {unchanged} unchanged, {failed} unreadable → {store.Location} ({store.Count} stored)");
            return failed > 0 && parse.GetValue(strict) ? ExitCodes.Error : ExitCodes.Success;
        }));
        return command;
    }

    private static string StripExtension(string relative)
    {
        string name = Path.GetFileName(relative);
        int dot = name.LastIndexOf('.');
        return dot > 0 ? relative[..(relative.Length - name.Length + dot)] : relative;
    }

    private static string? FamilyOf(string relative)
    {
        int slash = relative.LastIndexOf('/');
        if (slash < 0) return null;
        string parent = relative[..slash];
        int last = parent.LastIndexOf('/');
        return last < 0 ? parent : parent[(last + 1)..];
    }
}

/// <summary>JSON shape of a stored entry.</summary>
internal sealed record EntryView(string ModelId, string? Family, string ContentId, string? Source, string? ModelKey, string? ModelType, int Hidden, int Layers, int VocabSize, bool HasTokenizer, long FingerprintBytes, DateTimeOffset Created)
{
    public static EntryView From(StoreEntry e) => new(e.ModelId, e.Family, e.ContentId, e.Source, e.ModelKey, e.Keys.ModelType, e.Keys.Hidden, e.Keys.Layers, e.Keys.VocabSize, e.Keys.VocabularyHash is not null, e.FingerprintBytes, e.Created);
}
