using System.CommandLine;
using Lineage.Catalog;
using Lineage.Identify;
using Lineage.Provenance;
using Lineage.Reports;
using Lineage.Store;

namespace Lineage.Cli.Commands;

internal static class IdentifyCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder, weights file, sharded index or fingerprint file" };
        var db = DatabasePath.Option();
        var topK = new Option<int>("--top-k", "-k") { Description = "Matches to report (default 5)", DefaultValueFactory = _ => 5 };
        var noCatalog = new Option<bool>("--no-catalog") { Description = "Leave out the built-in reference catalog" };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("identify", """
            Which known model is this derived from? Searches the fingerprint database: candidates are pruned by
            tokenizer and architecture keys, ranked by a weight sketch, and decided by the same comparison as
            'lineage compare' (each match carries its score, verdict and evidence). Only related models are
            matches: an unrelated model gets none, with the nearest entries listed as "closest, not related".
            The built-in reference catalog adds the family and tokenizer lineage as metadata-level evidence.
            Exit code 0 whether or not there is a match; 2 when the model cannot be read.

            Examples:
              lineage identify ./suspect-model
              lineage identify model-q8_0.gguf --db team.db --top-k 3 --format json
            """)
        {
            model, db, topK, noCatalog, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string dbPath = DatabasePath.Resolve(parse.GetValue(db));
            using var store = DatabasePath.Exists(dbPath) ? DatabasePath.Open(dbPath, create: false) : null;
            if (store is null) context.Stderr.WriteLine($"lineage: no fingerprint database at {dbPath}; using the reference catalog only");
            string path = parse.GetValue(model)!;
            var fingerprint = File.Exists(path) && FingerprintSerializer.LooksLikeFingerprint(path)
                ? FingerprintSerializer.Read(path)
                : ContentKey.GetFingerprint(path, store, writeCache: false).Fingerprint;
            var catalog = parse.GetValue(noCatalog) ? null : ReferenceCatalog.BuiltIn;
            int k = parse.GetValue(topK);
            if (k < 1)
            {
                Output.Error(context.Stderr, "--top-k must be at least 1");
                return ExitCodes.Usage;
            }
            var result = Identifier.Identify(fingerprint, store, catalog, new IdentifyOptions { TopK = k, MaxComparisons = Math.Max(8, k + 3) });
            if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, IdentifyReport.ToJson(result, store?.Location));
            else IdentifyReport.WriteText(context.Stdout, result, store?.Location);
            return ExitCodes.Success;
        }));
        return command;
    }
}
