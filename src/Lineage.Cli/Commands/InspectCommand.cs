using System.CommandLine;
using Lineage.Formats;
using Lineage.Inspection;
using Lineage.Reports;

namespace Lineage.Cli.Commands;

internal static class InspectCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder, weights file or sharded index (format detected from content)" };
        var format = CommonOptions.Format("text", "json");
        var noHash = new Option<bool>("--no-hash") { Description = "Skip SHA-256 of every file (hashing reads every byte)" };
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor in text output (JSON always lists them)" };
        var command = new Command("inspect", "Show what is in a model: format, tensors, dtypes, config, tokenizer, file hashes.\n\nExamples:\n  lineage inspect ./my-model\n  lineage inspect model.gguf --format json --no-hash")
        {
            model, format, noHash, tensors,
        };
        command.SetAction(parse => context.Run(() =>
        {
            using var m = ModelLoader.Open(parse.GetValue(model)!);
            var summary = ModelSummary.Create(m, hashFiles: !parse.GetValue(noHash));
            if (parse.GetValue(format) == "json")
                Output.WriteJson(context.Stdout, summary);
            else
                InspectReport.WriteText(context.Stdout, summary, parse.GetValue(tensors));
            return ExitCodes.Success;
        }));
        return command;
    }
}
