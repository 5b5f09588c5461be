using System.CommandLine;
using Lineage.Audit;
using Lineage.Catalog;
using Lineage.Reports;
using Lineage.Security;
using Lineage.Store;

namespace Lineage.Cli.Commands;

internal static class AuditCommand
{
    public static Command Create(CliContext context)
    {
        var dir = new Argument<string>("dir") { Description = "Model folder (or a single model file) to audit" };
        var expectBase = new Option<string?>("--expect-base") { Description = "Fail unless the weights descend from this base: a database model id, a model path or a fingerprint file" };
        var manifest = new Option<string?>("--manifest") { Description = "Published manifest to verify every file against: sha256sum list, Lineage manifest, Hugging Face file listing (JSON), a Git LFS pointer, or a folder of pointers" };
        var writeManifest = new Option<string?>("--write-manifest") { Description = "Write a Lineage manifest (paths, sizes, SHA-256) of the folder to this file" };
        var db = DatabasePath.Option();
        var format = CommonOptions.Format("text", "json", "sarif");
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Exit 1 when a finding has this severity or worse: info, low, medium, high, critical (default medium)",
            DefaultValueFactory = _ => ScanCommand.DefaultFailOn,
        };
        failOn.AcceptOnlyFromAmong("info", "low", "medium", "high", "critical");
        var noLineage = new Option<bool>("--no-lineage") { Description = "Skip fingerprinting and identify (files, manifest, scan and format risks only)" };
        var report = HtmlReportOption.Create();
        var command = new Command("audit", """
            One-shot supply-chain check of a model folder: the serialization scan, every file with its SHA-256,
            verification against a published manifest (mismatched, missing and unexpected files are findings),
            claimed base (config.json _name_or_path, README base_model, adapter_config.json base) versus the base
            detected from the weights (fingerprint database), an expected base, and packaging risks (pickle weights
            beside or instead of safetensors, Git LFS pointers, unpinned revisions). Rules: docs/audit-rules.md.

            Exit codes: 0 pass, 1 findings at or above --fail-on (default medium), 2 something could not be read,
            parsed or analysed (never "pass"), 3 nothing scannable, 4 usage.

            Examples:
              lineage audit ./my-model
              lineage audit ./my-model --manifest SHA256SUMS --expect-base meta-llama/Llama-2-7b-hf --db team.db
              lineage audit ./my-model --format sarif > audit.sarif
              lineage audit ./my-model --report html audit.html --fail-on high
              lineage audit ./my-model --write-manifest lineage-manifest.json
            """)
        {
            dir, expectBase, manifest, writeManifest, db, format, failOn, noLineage, report,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var (html, usage) = HtmlReportOption.Parse(parse.GetValue(report));
            if (usage is not null)
            {
                Output.Error(context.Stderr, usage);
                return ExitCodes.Usage;
            }
            string path = parse.GetValue(dir)!;
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                Output.Error(context.Stderr, $"{path}: no such file or folder");
                return ExitCodes.Error;
            }
            var threshold = Enum.Parse<Severity>(parse.GetValue(failOn) ?? ScanCommand.DefaultFailOn, ignoreCase: true);
            bool skipLineage = parse.GetValue(noLineage);
            string dbPath = DatabasePath.Resolve(parse.GetValue(db));
            bool explicitDb = parse.GetValue(db) is not null;
            if (explicitDb && !File.Exists(dbPath))
            {
                Output.Error(context.Stderr, $"no fingerprint database at {dbPath}");
                return ExitCodes.Error;
            }
            using var store = !skipLineage && File.Exists(dbPath) ? SqliteFingerprintStore.Open(dbPath, create: false) : null;

            var result = Auditor.Run(path, new AuditOptions
            {
                ManifestPath = parse.GetValue(manifest),
                ExpectBase = parse.GetValue(expectBase),
                Store = store,
                Catalog = ReferenceCatalog.BuiltIn,
                SkipLineage = skipLineage,
                LoadFingerprint = FingerprintSource.Load,
            });

            if (parse.GetValue(writeManifest) is { } manifestOut)
            {
                using (var stream = File.Create(manifestOut)) PublishedManifest.WriteLineage(stream, result.Files, Auditor.ToolVersion);
                context.Stderr.WriteLine($"lineage: wrote manifest of {result.Files.Count(f => f.Sha256 is not null)} files to {manifestOut}");
            }

            switch (parse.GetValue(format))
            {
                case "json":
                    WriteStream(context.Stdout, s => AuditReportWriter.WriteJson(s, result, threshold));
                    break;
                case "sarif":
                    WriteStream(context.Stdout, s => SarifWriter.Write(s, result.ToScanReport(), Auditor.ToolVersion));
                    break;
                default:
                    AuditReportWriter.WriteText(context.Stdout, result, threshold);
                    break;
            }
            if (html is not null) HtmlReportOption.Write(context, html, w => HtmlReport.WriteAudit(w, result, threshold));
            return result.Outcome(threshold) switch
            {
                ScanOutcome.Clean => ExitCodes.Success,
                ScanOutcome.Findings => ExitCodes.Findings,
                ScanOutcome.Error => ExitCodes.Error,
                _ => ExitCodes.NothingScannable,
            };
        }));
        return command;
    }

    internal static void WriteStream(TextWriter stdout, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
