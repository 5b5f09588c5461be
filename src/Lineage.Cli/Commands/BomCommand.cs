using System.CommandLine;
using System.Globalization;
using Lineage.Audit;
using Lineage.Catalog;
using Lineage.Reports;
using Lineage.Store;

namespace Lineage.Cli.Commands;

internal static class BomCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder or weights file" };
        var format = CommonOptions.Format("cyclonedx", "json", "text");
        format.DefaultValueFactory = _ => "cyclonedx";
        format.Description = "Output format: cyclonedx (CycloneDX 1.6 JSON, the default), json (the same document), text (a summary)";
        var output = new Option<string?>("--output", "-o") { Description = "Write the BOM to this file instead of stdout" };
        var db = DatabasePath.Option();
        var noLineage = new Option<bool>("--no-lineage") { Description = "Skip fingerprinting and identify (no detected base)" };
        var command = new Command("bom", """
            CycloneDX 1.6 ML-BOM of a model: a machine-learning-model component with its name, version (when the
            weights state one), SHA-256 hashes and every file as a nested file component; a modelCard with the
            architecture family, model architecture, task when the architecture implies one, datasets unknown,
            considerations, and properties for parameters, tokenizer, detected base and evidence score; the scan
            results as lineage:scan:* properties; and the detected base model as a component the model depends on.
            $SOURCE_DATE_EPOCH fixes the timestamp for reproducible output. Exit code 0; 2 when the model cannot be read.

            Examples:
              lineage bom ./my-model -o my-model.cdx.json
              lineage bom model.gguf --db team.db
            """)
        {
            model, format, output, db, noLineage,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string path = parse.GetValue(model)!;
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                Output.Error(context.Stderr, $"{path}: no such file or folder");
                return ExitCodes.Error;
            }
            bool skipLineage = parse.GetValue(noLineage);
            string dbPath = DatabasePath.Resolve(parse.GetValue(db));
            if (parse.GetValue(db) is not null && !File.Exists(dbPath))
            {
                Output.Error(context.Stderr, $"no fingerprint database at {dbPath}");
                return ExitCodes.Error;
            }
            using var store = !skipLineage && File.Exists(dbPath) ? SqliteFingerprintStore.Open(dbPath, create: false) : null;
            var report = Auditor.Run(path, new AuditOptions { Store = store, Catalog = ReferenceCatalog.BuiltIn, SkipLineage = skipLineage });
            if (report.Model is null)
            {
                Output.Error(context.Stderr, $"{path}: {report.Lineage.Error ?? "no model weights found"}");
                return ExitCodes.Error;
            }
            var options = new BomOptions { Timestamp = SourceDateEpoch() };
            if (parse.GetValue(format) == "text")
            {
                WriteText(context.Stdout, report);
                return ExitCodes.Success;
            }
            if (parse.GetValue(output) is { } file)
            {
                using (var stream = File.Create(file)) CycloneDxWriter.Write(stream, report, options);
                context.Stderr.WriteLine($"lineage: wrote CycloneDX {CycloneDxWriter.SpecVersion} BOM to {file}");
            }
            else
            {
                AuditCommand.WriteStream(context.Stdout, s => CycloneDxWriter.Write(s, report, options));
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private static DateTimeOffset? SourceDateEpoch()
    {
        string? value = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
    }

    private static void WriteText(TextWriter w, AuditReport report)
    {
        var m = report.Model!;
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine($"model: {m.Name ?? report.Path}{(m.Version is null ? "" : " " + m.Version)} ({m.Config?.Architecture ?? m.Config?.ModelType ?? "unknown architecture"}, {m.Format})");
        w.WriteLine(string.Create(inv, $"parameters: {m.Parameters:N0}; task: {CycloneDxWriter.TaskOf(m.Config?.Architecture) ?? "unknown"}; datasets: unknown"));
        w.WriteLine($"files: {report.Files.Count}; content digest {CycloneDxWriter.ContentDigest(report.Files)}");
        var best = report.Lineage.Detected.FirstOrDefault();
        w.WriteLine(best is null ? "detected base: none" : string.Create(inv, $"detected base: {best.ModelId} ({best.Verdict}, evidence score {best.Score:F3})"));
        w.WriteLine($"scan: {ScanReportWriter.OutcomeName(report.Scan.Outcome(Security.Severity.Medium))}, {report.AllFindings.Count()} findings");
    }
}
