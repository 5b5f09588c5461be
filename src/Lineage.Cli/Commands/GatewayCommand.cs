using System.CommandLine;
using Lineage.Providers;
using Lineage.Security;

namespace Lineage.Cli.Commands;

/// <summary><c>lineage gateway check</c>: lint an LLM gateway configuration (LiteLLM proxy config.yaml).</summary>
internal static class GatewayCommand
{
    public const string DefaultFailOn = "medium";

    public static Command Create(CliContext context)
    {
        var command = new Command("gateway", "Gateway configurations: pinned model versions, fallbacks, no inline secrets.");
        command.Subcommands.Add(Check(context));
        return command;
    }

    private static Command Check(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "LiteLLM proxy config.yaml" };
        var format = CommonOptions.Format("text", "json");
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Exit 1 when a finding has this severity or worse: info, low, medium, high, critical (default medium)",
            DefaultValueFactory = _ => DefaultFailOn,
        };
        failOn.AcceptOnlyFromAmong("info", "low", "medium", "high", "critical");
        var command = new Command("check", """
            Lints a LiteLLM proxy config.yaml (model_list, litellm_params, router_settings / litellm_settings
            fallbacks). Rules (stable ids; each finding names the model_name it concerns):
              inline-secret           (high)   a literal key, password or credential URL instead of os.environ/NAME;
                                               the value is redacted in every output
              unpinned-model          (medium) gpt-4o, *-latest, undated names where the provider publishes dated
                                               snapshots, wildcard routes
              no-fallback             (medium) a model group that is not itself a fallback has no fallback
              same-provider-fallback  (low)    its fallbacks are all on the same provider
              unknown-field           (low)    a key LiteLLM does not read (often a typo)

            Exit codes: 0 clean, 1 findings at or above --fail-on (default medium), 2 the file cannot be read or is
                        not a LiteLLM config (fail closed), 4 usage.

            Examples:
              lineage gateway check config.yaml
              lineage gateway check deploy/litellm.yaml --format json --fail-on high
            """)
        {
            file, format, failOn,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var threshold = Enum.Parse<Severity>(parse.GetValue(failOn) ?? DefaultFailOn, ignoreCase: true);
            var report = GatewayCheck.CheckFile(parse.GetValue(file)!);
            if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, new
                {
                    file = report.File,
                    kind = report.Kind,
                    model_groups = report.ModelGroups,
                    deployments = report.Deployments,
                    findings = report.Findings,
                    summary = new
                    {
                        findings = report.Findings.Count,
                        by_severity = Enum.GetValues<Severity>().Reverse().ToDictionary(s => s.ToString().ToLowerInvariant(), s => report.Findings.Count(f => f.Severity == s)),
                        fail_on = threshold.ToString().ToLowerInvariant(),
                        failed = report.HasFindingsAtOrAbove(threshold),
                    },
                });
            }
            else
            {
                foreach (var f in report.Findings)
                {
                    string where = f.Line is long line ? $"{report.File}:{line}" : report.File;
                    string model = f.ModelName is null ? "" : $" [{f.ModelName}]";
                    context.Stdout.WriteLine($"{where}: {f.Severity.ToString().ToLowerInvariant()} {f.Rule}{model}: {f.Message}");
                }
                context.Stdout.WriteLine(report.Findings.Count == 0
                    ? $"{report.File}: clean ({report.ModelGroups} model groups, {report.Deployments} deployments)"
                    : $"{report.File}: {report.Findings.Count} findings ({report.ModelGroups} model groups, {report.Deployments} deployments)");
            }
            return report.HasFindingsAtOrAbove(threshold) ? ExitCodes.Findings : ExitCodes.Success;
        }));
        return command;
    }
}
