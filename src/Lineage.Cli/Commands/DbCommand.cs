using System.CommandLine;
using System.Globalization;
using Lineage.Formats;
using Lineage.Provenance;
using Lineage.Store;

namespace Lineage.Cli.Commands;

/// <summary>
/// Where the fingerprint database lives: --db, else LINEAGE_DB, else ~/.lineage/fingerprints.db. A
/// postgres:// or postgresql:// URL (or an Npgsql connection string) selects the PostgreSQL registry.
/// </summary>
internal static class DatabasePath
{
    public static Option<string?> Option() => new("--db")
    {
        Description = "Fingerprint database: a SQLite file, or a registry URL postgres://USER@HOST:PORT/DB[?schema=NAME] (default: $LINEAGE_DB, else ~/.lineage/fingerprints.db)",
    };

    public static string Resolve(string? given)
    {
        if (!string.IsNullOrWhiteSpace(given)) return Normalize(given);
        string? env = Environment.GetEnvironmentVariable("LINEAGE_DB");
        if (!string.IsNullOrWhiteSpace(env)) return Normalize(env);
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".lineage", "fingerprints.db");
    }

    private static string Normalize(string location) => PostgresLocation.IsPostgres(location) ? location.Trim() : Path.GetFullPath(location);

    /// <summary>Opens the store at a resolved location (SQLite file or PostgreSQL registry).</summary>
    public static IFingerprintStore Open(string location, bool create = true) => FingerprintStores.Open(location, create);

    /// <summary>True when a store exists there (a registry URL is always tried: its errors are reported).</summary>
    public static bool Exists(string location) => PostgresLocation.IsPostgres(location) || File.Exists(location);
}

internal static class DbCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("db", """
            Manage the fingerprint database that 'lineage identify' searches: one SQLite file (WAL mode, safe with
            concurrent readers), or a shared PostgreSQL registry (--db postgres://USER@HOST:PORT/DB, or LINEAGE_DB).
            Every write is one transaction, so an interrupted write leaves nothing behind. Fingerprints are cached
            under a content key of the model's files: a changed file is fingerprinted again.

            Examples:
              lineage db add ./Llama-2-7b --id llama-2-7b --family llama
              lineage db build --from ./models --family-from-folder
              lineage db build --from models.txt --shard 3/16 --db postgres://lineage@db:5432/registry
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
            using var store = DatabasePath.Open(DatabasePath.Resolve(parse.GetValue(db)));
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
            using var store = DatabasePath.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false);
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
            using var store = DatabasePath.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false);
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
            using var store = DatabasePath.Open(DatabasePath.Resolve(parse.GetValue(db)));
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
            using var store = DatabasePath.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false);
            int n = FingerprintBundle.Export(store, Path.GetFullPath(parse.GetValue(file)!));
            context.Stdout.WriteLine($"exported {n} model(s) to {parse.GetValue(file)}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Build(CliContext context) => BuildCommand.Create(context);
}

/// <summary>JSON shape of a stored entry.</summary>
internal sealed record EntryView(string ModelId, string? Family, string ContentId, string? Source, string? ModelKey, string? ModelType, int Hidden, int Layers, int VocabSize, bool HasTokenizer, long FingerprintBytes, DateTimeOffset Created)
{
    public static EntryView From(StoreEntry e) => new(e.ModelId, e.Family, e.ContentId, e.Source, e.ModelKey, e.Keys.ModelType, e.Keys.Hidden, e.Keys.Layers, e.Keys.VocabSize, e.Keys.VocabularyHash is not null, e.FingerprintBytes, e.Created);
}
