using System.CommandLine;
using Lineage.Supply;

namespace Lineage.Cli.Commands;

/// <summary>
/// <c>lineage bom diff OLD NEW</c>: components added, removed and changed between two CycloneDX JSON BOMs
/// (a subcommand of <c>bom</c>).
/// </summary>
internal static class BomDiffCommand
{
    public static Command Create(CliContext context, string name = "diff")
    {
        var oldBom = new Argument<string>("old") { Description = "The earlier CycloneDX JSON BOM" };
        var newBom = new Argument<string>("new") { Description = "The later CycloneDX JSON BOM" };
        var format = CommonOptions.Format("text", "json");
        var failOnChange = new Option<bool>("--fail-on-change") { Description = "Exit 1 when anything was added, removed or changed" };
        var command = new Command(name, """
            Components added, removed and changed (version or hashes) between two CycloneDX JSON BOMs: the ML-BOM
            review of "components updated this release". Components are matched by purl without the version
            (else type, group and name); nested components count.

            Exit codes: 0 (1 with --fail-on-change when they differ), 2 a BOM cannot be read, 4 usage.

            Examples:
              lineage bom diff release-1.cdx.json release-2.cdx.json
              lineage bom diff old.json new.json --format json
            """)
        {
            oldBom, newBom, format, failOnChange,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var diff = BomDiff.Compare(parse.GetValue(oldBom)!, parse.GetValue(newBom)!);
            if (parse.GetValue(format) == "json") StdoutStream.Write(context.Stdout, s => BomDiff.WriteJson(s, diff));
            else BomDiff.WriteText(context.Stdout, diff);
            return parse.GetValue(failOnChange) && !diff.Identical ? ExitCodes.Findings : ExitCodes.Success;
        }));
        return command;
    }
}
