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
        var environment = new Option<string?>("--environment") { Description = "Root of the environment that loads the model (a container filesystem, a venv, /): its installed Python dist-info/egg-info, npm node_modules and Debian dpkg packages become components with purls and hashes" };
        var command = new Command("bom", """
            CycloneDX 1.6 ML-BOM of a model: a machine-learning-model component with its name, version (when the
            weights state one), SHA-256 hashes and every file as a nested file component; a modelCard with the
            architecture family, model architecture, task when the architecture implies one, datasets unknown,
            considerations, and properties for parameters, tokenizer, detected base and evidence score; the scan
            results as lineage:scan:* properties; and the detected base model as a component the model depends on.
            --environment ROOT adds the installed packages of the environment that loads the model (Python
            *.dist-info / *.egg-info, npm node_modules/*/package.json, Debian var/lib/dpkg/status) as library
            components with purls and the hashes their metadata records, which the model depends on.
            $SOURCE_DATE_EPOCH fixes the timestamp for reproducible output. Exit code 0; 2 when the model or the
            environment cannot be read.
            'lineage bom diff OLD NEW' lists the components added, removed and changed between two BOMs.

            Examples:
              lineage bom ./my-model -o my-model.cdx.json
              lineage bom model.gguf --db team.db
              lineage bom ./my-model --environment /srv/container-rootfs -o release-2.cdx.json
              lineage bom diff release-1.cdx.json release-2.cdx.json
            """)
        {
            model, format, output, db, noLineage, environment,
        };
        command.Subcommands.Add(BomDiffCommand.Create(context));
        command.SetAction(parse => context.Run(() =>
        {
            string path = parse.GetValue(model)!;
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                Output.Error(context.Stderr, $"{path}: no such file or folder");
                return ExitCodes.Error;
            }
            string? environmentRoot = parse.GetValue(environment);
            if (environmentRoot is not null && !Directory.Exists(environmentRoot))
            {
                Output.Error(context.Stderr, $"{environmentRoot}: no such folder (--environment takes the root of an installed environment)");
                return ExitCodes.Error;
            }
            bool skipLineage = parse.GetValue(noLineage);
            string dbPath = DatabasePath.Resolve(parse.GetValue(db));
            if (parse.GetValue(db) is not null && !DatabasePath.Exists(dbPath))
            {
                Output.Error(context.Stderr, $"no fingerprint database at {dbPath}");
                return ExitCodes.Error;
            }
            using var store = !skipLineage && DatabasePath.Exists(dbPath) ? DatabasePath.Open(dbPath, create: false) : null;
            var report = Auditor.Run(path, new AuditOptions { Store = store, Catalog = ReferenceCatalog.BuiltIn, SkipLineage = skipLineage });
            if (report.Model is null)
            {
                Output.Error(context.Stderr, $"{path}: {report.Lineage.Error ?? "no model weights found"}");
                return ExitCodes.Error;
            }
            var installed = environmentRoot is null ? [] : Supply.EnvironmentInventory.Scan(environmentRoot);
            var options = new BomOptions { Timestamp = SourceDateEpoch.Timestamp(), Environment = installed };
            if (parse.GetValue(format) == "text")
            {
                WriteText(context.Stdout, report);
                if (environmentRoot is not null)
                    context.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"environment {environmentRoot}: {installed.Count} installed packages ({string.Join(", ", installed.GroupBy(c => c.Properties.FirstOrDefault(p => p.Name == "lineage:ecosystem").Value ?? "?").Select(g => $"{g.Key} {g.Count()}"))})"));
                return ExitCodes.Success;
            }
            if (parse.GetValue(output) is { } file)
            {
                using (var stream = File.Create(file)) CycloneDxWriter.Write(stream, report, options);
                context.Stderr.WriteLine($"lineage: wrote CycloneDX {CycloneDxWriter.SpecVersion} BOM to {file}");
            }
            else
            {
                StdoutStream.Write(context.Stdout, s => CycloneDxWriter.Write(s, report, options));
            }
            return ExitCodes.Success;
        }));
        return command;
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
