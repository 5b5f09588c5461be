using System.CommandLine;
using System.Globalization;
using Lineage.Supply;
using Lineage.Supply.Advisories;

namespace Lineage.Cli.Commands;

/// <summary>Where advisories live: the same database file as fingerprints (--db, $LINEAGE_DB, ~/.lineage/fingerprints.db).</summary>
internal static class AdvisoryDatabaseOption
{
    public static Option<string?> Create() => new("--db")
    {
        Description = "Database file; advisories share it with fingerprints (default: $LINEAGE_DB, else ~/.lineage/fingerprints.db)",
    };
}

internal static class AdvisoriesCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("advisories", """
            Offline vulnerability and malicious-package advisories (OSV schema) for 'lineage deps' and 'lineage audit'.
            They are stored in the fingerprint database file, in tables of their own. Import a folder of OSV JSON
            files or a zip such as OSV's per-ecosystem all.zip; re-importing replaces records whose 'modified' time
            is newer. Withdrawn advisories are kept but never reported. An import is one transaction: a bad record
            or archive anywhere aborts it and leaves the database as it was (exit 2).

            Examples:
              lineage advisories import ~/Downloads/PyPI-all.zip
              lineage advisories import ./osv-records/ --db team.db
              lineage advisories list --ecosystem PyPI --package litellm
              lineage advisories show GHSA-xxxx-xxxx-xxxx
            """);
        command.Subcommands.Add(Import(context));
        command.Subcommands.Add(List(context));
        command.Subcommands.Add(Show(context));
        return command;
    }

    private static Command Import(CliContext context)
    {
        var path = new Argument<string[]>("path") { Description = "OSV JSON files, folders of them, or zips (e.g. all.zip)", Arity = ArgumentArity.OneOrMore };
        var db = AdvisoryDatabaseOption.Create();
        var format = CommonOptions.Format("text", "json");
        var command = new Command("import", "Import OSV advisories (JSON files, folders, zips) in one transaction.") { path, db, format };
        command.SetAction(parse => context.Run(() =>
        {
            var paths = parse.GetValue(path)!;
            foreach (var p in paths)
                if (!File.Exists(p) && !Directory.Exists(p)) throw new LineageException("no such file or folder", Path.GetFullPath(p));
            string dbPath = Path.GetFullPath(DatabasePath.Resolve(parse.GetValue(db)));
            bool created = !File.Exists(dbPath);
            using var store = SqliteAdvisoryStore.Open(dbPath);
            AdvisoryImportResult result;
            try
            {
                result = store.Import(paths.SelectMany(p => AdvisoryImporter.Read(p)));
            }
            catch (LineageException)
            {
                // The import rolled back; a database file this failed run created would hold no advisories and
                // could later pass for an (empty) advisory set, so it goes too.
                if (created)
                {
                    store.Dispose();
                    foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" }) File.Delete(dbPath + suffix);
                }
                throw;
            }
            if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, new
                {
                    database = store.Location, read = result.Read, added = result.Added, updated = result.Updated, unchanged = result.Unchanged,
                    older = result.Older, withdrawn = result.Withdrawn, total = store.Count,
                });
            }
            else
            {
                context.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"imported {result.Read} records into {store.Location}: {result.Added} added, {result.Updated} updated, {result.Unchanged} unchanged, {result.Older} older than stored (kept), {result.Withdrawn} withdrawn; {store.Count} advisories in total"));
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command List(CliContext context)
    {
        var db = AdvisoryDatabaseOption.Create();
        var ecosystem = new Option<string?>("--ecosystem") { Description = "Only advisories for this ecosystem (PyPI, npm, …)" };
        var package = new Option<string?>("--package") { Description = "Only advisories naming this package" };
        var limit = new Option<int>("--limit") { Description = "At most this many (newest first; default 100, 0 = all)", DefaultValueFactory = _ => 100 };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("list", "List stored advisories, newest first, with counts per ecosystem.") { db, ecosystem, package, limit, format };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteAdvisoryStore.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false, readOnly: true);
            int max = parse.GetValue(limit) is > 0 and var l ? l : int.MaxValue;
            var list = store.List(parse.GetValue(ecosystem), parse.GetValue(package), max);
            var counts = store.CountByEcosystem();
            if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, new
                {
                    database = store.Location, total = store.Count, ecosystems = counts,
                    advisories = list.Select(View).ToList(),
                });
                return ExitCodes.Success;
            }
            context.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{store.Count} advisories in {store.Location} ({string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"))})"));
            foreach (var a in list)
            {
                string packages = string.Join(", ", a.Packages.Take(3).Select(p => $"{p.Ecosystem}/{p.Name}")) + (a.Packages.Count > 3 ? ", …" : "");
                string flags = (a.Malicious ? " MALICIOUS" : "") + (a.Withdrawn is null ? "" : " (withdrawn)");
                context.Stdout.WriteLine($"{a.Id,-22} {DependencyReportWriter.SeverityName(a.Severity),-8} {a.Modified:yyyy-MM-dd} {packages}{flags}: {a.Summary}");
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Show(CliContext context)
    {
        var id = new Argument<string>("id") { Description = "Advisory id or alias (CVE-…, GHSA-…, PYSEC-…, MAL-…)" };
        var db = AdvisoryDatabaseOption.Create();
        var format = CommonOptions.Format("text", "json");
        var command = new Command("show", "Show one stored advisory (json: the OSV record as imported).") { id, db, format };
        command.SetAction(parse => context.Run(() =>
        {
            using var store = SqliteAdvisoryStore.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false, readOnly: true);
            var found = store.Find(parse.GetValue(id)!);
            if (found is null)
            {
                Output.Error(context.Stderr, $"no advisory '{parse.GetValue(id)}' in {store.Location}");
                return ExitCodes.Error;
            }
            var (advisory, json) = found.Value;
            if (parse.GetValue(format) == "json")
            {
                context.Stdout.WriteLine(json);
                return ExitCodes.Success;
            }
            var w = context.Stdout;
            w.WriteLine($"{advisory.Id}{(advisory.Aliases.Count > 0 ? " (" + string.Join(", ", advisory.Aliases) + ")" : "")}");
            w.WriteLine($"summary:   {advisory.Summary}");
            w.WriteLine($"severity:  {DependencyReportWriter.SeverityName(advisory.Severity)} ({advisory.SeverityBasis}){(advisory.CvssVector is null ? "" : " " + advisory.CvssVector)}");
            if (advisory.Malicious) w.WriteLine("malicious: yes (reported as known-malicious, critical)");
            w.WriteLine($"modified:  {OsvRecord.FormatTime(advisory.Modified)}");
            if (advisory.Published is { } p) w.WriteLine($"published: {OsvRecord.FormatTime(p)}");
            if (advisory.Withdrawn is { } wd) w.WriteLine($"withdrawn: {OsvRecord.FormatTime(wd)} (never reported)");
            w.WriteLine($"packages:  {string.Join(", ", advisory.Packages.Select(x => $"{x.Ecosystem}/{x.Name}"))}");
            if (advisory.Source is not null) w.WriteLine($"imported from: {advisory.Source}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static object View(StoredAdvisory a) => new
    {
        id = a.Id, aliases = a.Aliases, summary = a.Summary, severity = DependencyReportWriter.SeverityName(a.Severity), severity_basis = a.SeverityBasis,
        cvss_score = a.CvssScore, cvss_vector = a.CvssVector, malicious = a.Malicious,
        modified = OsvRecord.FormatTime(a.Modified), published = a.Published is { } p ? OsvRecord.FormatTime(p) : null,
        withdrawn = a.Withdrawn is { } w ? OsvRecord.FormatTime(w) : null,
        packages = a.Packages.Select(x => new { ecosystem = x.Ecosystem, name = x.Name }).ToList(),
    };
}
