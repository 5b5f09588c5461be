using System.CommandLine;
using Lineage.Provenance;
using Lineage.Reports;

namespace Lineage.Cli.Commands;

internal static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var a = new Argument<string>("a") { Description = "First model (folder, file, sharded index) or fingerprint file" };
        var b = new Argument<string>("b") { Description = "Second model or fingerprint file" };
        var format = CommonOptions.Format("text", "json");
        var report = HtmlReportOption.Create();
        var command = new Command("compare", """
            Do A and B share a weight lineage? Prints verdict (identical, derived, unrelated, inconclusive),
            a calibrated score, per-signal evidence, the layer correspondence and the transformation it looks like.
            Exit code 0 whatever the verdict; 2 when a model cannot be read.

            Examples:
              lineage compare ./base ./suspect
              lineage compare base.safetensors model-q8_0.gguf --format json
              lineage compare ./base ./suspect --report html compare.html
            """)
        {
            a, b, format, report,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var (html, usage) = HtmlReportOption.Parse(parse.GetValue(report));
            if (usage is not null)
            {
                Output.Error(context.Stderr, usage);
                return ExitCodes.Usage;
            }
            var fa = FingerprintSource.Load(parse.GetValue(a)!);
            var fb = FingerprintSource.Load(parse.GetValue(b)!);
            var result = ProvenanceComparer.Compare(fa, fb);
            if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, result);
            else CompareReport.WriteText(context.Stdout, result);
            if (html is not null) HtmlReportOption.Write(context, html, w => HtmlReport.WriteCompare(w, result));
            return ExitCodes.Success;
        }));
        return command;
    }
}

internal static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var pairs = new Argument<string>("pairs") { Description = "Labelled pair manifest (pairs.json)" };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("bench", """
            Runs compare over a labelled pair set and reports AUC, TPR at 1% and 0.1% FPR, accuracy, per-category
            accuracy, misclassified pairs and time per pair. Each model is fingerprinted once.

            Examples:
              lineage bench ../shared/corpus/ladder/allpairs.json
              lineage bench ../shared/corpus/real/pairs.json --format json
            """)
        {
            pairs, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            using var progress = new ProgressReporter(context.Stderr, "comparing");
            var report = Bench.Run(parse.GetValue(pairs)!, FingerprintSource.Load, progress: progress);
            progress.Dispose();
            if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, report);
            else CompareReport.WriteBench(context.Stdout, report);
            return ExitCodes.Success;
        }));
        return command;
    }
}
