using System.CommandLine;
using System.Globalization;
using System.Text;
using Lineage.Security;
using Lineage.Supply;
using Lineage.Supply.Advisories;

namespace Lineage.Cli.Commands;

internal static class DepsCommand
{
    public const string DefaultFailOn = "medium";

    public static Command Create(CliContext context)
    {
        var paths = new Argument<string[]>("path") { Description = "Project folders or dependency files (found by name, or by content for a single file)", Arity = ArgumentArity.OneOrMore };
        var db = AdvisoryDatabaseOption.Create();
        var format = CommonOptions.Format("text", "json", "sarif", "cyclonedx");
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Exit 1 when a finding has this severity or worse: info, low, medium, high, critical",
            DefaultValueFactory = _ => DefaultFailOn,
        };
        failOn.AcceptOnlyFromAmong("info", "low", "medium", "high", "critical");
        var noAdvisories = new Option<bool>("--no-advisories") { Description = "Run only the offline rules (unpinned, unhashed, vcs-unpinned, typosquat) without an advisory database" };
        var noTyposquat = new Option<bool>("--no-typosquat") { Description = "Skip the typosquat rule" };
        var command = new Command("deps", """
            Dependency audit of the code that loads and serves a model, offline: requirements*.txt (-r/-c includes,
            --hash, continuations, extras, markers, URLs, VCS refs), pyproject.toml (PEP 621, Poetry), Pipfile,
            uv.lock, poetry.lock, Pipfile.lock, installed *.dist-info / *.egg-info, package.json with
            package-lock.json (v1-v3) or yarn.lock, node_modules. Lock files and installed versions win over ranges.
            Each exact version is matched against the imported OSV advisories (PEP 440 order for PyPI, SemVer for npm).

            Rules: known-malicious (critical), known-vulnerable (CVSS-derived, else medium), typosquat (medium),
            unpinned, unhashed, vcs-unpinned (low).
            Exit codes: 0 clean, 1 findings at or above --fail-on (default medium), 2 a file could not be read or
            the advisory database is missing, 3 no dependency file found, 4 usage.

            Examples:
              lineage advisories import PyPI-all.zip && lineage deps ./my-service
              lineage deps requirements.txt --format json
              lineage deps ./app --format sarif > deps.sarif
              lineage deps ./app --format cyclonedx > deps.cdx.json
              lineage deps ./venv/lib/python3.12/site-packages --no-advisories
            """)
        {
            paths, db, format, failOn, noAdvisories, noTyposquat,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var threshold = Enum.Parse<Severity>(parse.GetValue(failOn) ?? DefaultFailOn, ignoreCase: true);
            var options = new DependencyAuditOptions { Typosquats = !parse.GetValue(noTyposquat) };
            var inputs = parse.GetValue(paths)!;
            foreach (var p in inputs)
            {
                if (!File.Exists(p) && !Directory.Exists(p))
                {
                    Output.Error(context.Stderr, $"{Path.GetFullPath(p)}: no such file or folder");
                    return ExitCodes.Error;
                }
            }
            DependencyReport report;
            if (parse.GetValue(noAdvisories))
            {
                report = DependencyAuditor.Run(inputs, null, options);
            }
            else
            {
                string dbPath = DatabasePath.Resolve(parse.GetValue(db));
                if (!File.Exists(dbPath))
                {
                    Output.Error(context.Stderr, $"{dbPath}: no advisory database (import advisories with 'lineage advisories import PATH', or pass --no-advisories to run only the offline rules)");
                    return ExitCodes.Error;
                }
                using var store = SqliteAdvisoryStore.Open(dbPath, create: false, readOnly: true);
                if (store.Count == 0)
                {
                    // Fail closed: an empty advisory set would make every dependency look clean.
                    Output.Error(context.Stderr, $"{dbPath}: the database holds no advisories (import them with 'lineage advisories import PATH', or pass --no-advisories to run only the offline rules)");
                    return ExitCodes.Error;
                }
                report = DependencyAuditor.Run(inputs, store, options);
            }
            foreach (var e in report.Errors) Output.Error(context.Stderr, e.Message);
            switch (parse.GetValue(format))
            {
                case "json":
                    StdoutStream.Write(context.Stdout, s => DependencyReportWriter.WriteJson(s, report, threshold));
                    break;
                case "sarif":
                    StdoutStream.Write(context.Stdout, s => DependencyReportWriter.WriteSarif(s, report));
                    break;
                case "cyclonedx":
                    StdoutStream.Write(context.Stdout, s => DependencyReportWriter.WriteCycloneDx(s, report, timestamp: SourceDateEpoch.Timestamp()));
                    break;
                default:
                    DependencyReportWriter.WriteText(context.Stdout, report, threshold);
                    break;
            }
            return ExitCodes.For(report.Outcome(threshold));
        }));
        return command;
    }


}
