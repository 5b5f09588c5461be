using System.CommandLine;
using Lineage.Provenance;
using Lineage.Store;

namespace Lineage.Cli.Commands;

internal static class GraphCommand
{
    public static Command Create(CliContext context)
    {
        var models = new Argument<string[]>("models") { Description = "Models or fingerprint files", Arity = ArgumentArity.ZeroOrMore };
        var fromDb = new Option<bool>("--from-db") { Description = "Use every fingerprint in the database instead of (or besides) the arguments" };
        var db = DatabasePath.Option();
        var format = CommonOptions.Format("text", "json", "dot");
        var command = new Command("graph", """
            The lineage forest of a collection: which models share weights, joined by their closest relative, with
            a direction (parent -> child) where the evidence has one (precision lost, layers or width removed,
            vocabulary extended, experts added, gains folded). Output as text, JSON or Graphviz DOT.

            Examples:
              lineage graph ./base ./ft ./ft-q8.gguf ./other
              lineage graph --from-db --format dot | dot -Tsvg > lineage.svg
            """)
        {
            models, fromDb, db, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var list = new List<(string Id, Fingerprint Fingerprint)>();
            foreach (var path in parse.GetValue(models) ?? [])
                list.Add((Path.GetFileName(Path.TrimEndingDirectorySeparator(path)), FingerprintSource.Load(path)));
            if (parse.GetValue(fromDb))
            {
                using var store = FingerprintStores.Open(DatabasePath.Resolve(parse.GetValue(db)), create: false, readOnly: true);
                foreach (var entry in store.List()) list.Add((entry.ModelId, store.LoadFingerprint(entry)));
            }
            if (list.Count < 2)
            {
                Output.Error(context.Stderr, "graph needs at least two models (arguments or --from-db)");
                return ExitCodes.Usage;
            }
            var duplicate = list.GroupBy(m => m.Id).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                // Same folder names in different places: qualify them by their paths.
                list = [.. list.Select(m => (m.Fingerprint.Source, m.Fingerprint))];
            }
            using var progress = new ProgressReporter(context.Stderr, "comparing");
            var forest = LineageGraph.Build(list, progress: progress);
            progress.Dispose();
            switch (parse.GetValue(format))
            {
                case "json":
                    Output.WriteJson(context.Stdout, forest);
                    break;
                case "dot":
                    context.Stdout.Write(LineageGraph.ToDot(forest));
                    break;
                default:
                    LineageGraph.WriteText(context.Stdout, forest);
                    break;
            }
            return ExitCodes.Success;
        }));
        return command;
    }
}
