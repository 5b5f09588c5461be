using System.CommandLine;
using System.Globalization;
using Lineage.Conversion;
using Lineage.Reports;
using Lineage.Security;

namespace Lineage.Cli.Commands;

internal static class ConvertCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "PyTorch checkpoint (.pt/.pth/.bin, zip or legacy) or NumPy .npy/.npz; a folder holding exactly one" };
        var to = new Option<string>("--to") { Description = "Target format (only safetensors)", Required = true };
        to.AcceptOnlyFromAmong("safetensors");
        var output = new Option<string>("--output", "-o") { Description = "Output file", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace the output file if it exists" };
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Refuse when a scanner or allow-list finding has this severity or worse: info, low, medium, high, critical (default medium)",
            DefaultValueFactory = _ => ScanCommand.DefaultFailOn,
        };
        failOn.AcceptOnlyFromAmong("info", "low", "medium", "high", "critical");
        var format = CommonOptions.Format("text", "json");
        var command = new Command("convert", """
            Rewrites a PyTorch or NumPy checkpoint as safetensors without executing anything. Only plain tensor
            pickles convert: every global is checked against the scanner's allow-list and the reader accepts nothing
            but tensor-rebuild calls, storages, dtypes and OrderedDict; anything else is refused with the findings.
            Tensors are copied byte for byte (strided views materialised in row-major order, shared storages written
            as separate tensors); __metadata__ records format "pt", converted_by "lineage" and the source's SHA-256.
            The output is then re-opened and every tensor's bytes and values are compared with the source.

            Exit codes: 0 converted and verified bit-identical, 1 refused (findings), 2 not convertible or
            verification failed (no output is left behind), 4 usage.

            Examples:
              lineage convert pytorch_model.bin --to safetensors -o model.safetensors
              lineage convert ./checkpoint --to safetensors -o out/model.safetensors --format json
            """)
        {
            model, to, output, force, failOn, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            var options = new ConvertOptions
            {
                RefuseAt = Enum.Parse<Severity>(parse.GetValue(failOn) ?? ScanCommand.DefaultFailOn, ignoreCase: true),
                Overwrite = parse.GetValue(force),
            };
            var result = SafetensorsConverter.Convert(parse.GetValue(model)!, parse.GetValue(output)!, options);
            if (parse.GetValue(format) == "json") Output.WriteJson(context.Stdout, result);
            else WriteText(context.Stdout, result);
            if (result.Status != ConversionStatus.Converted) Output.Error(context.Stderr, $"{result.Source}: not converted: {result.Reason}");
            return result.Status switch
            {
                ConversionStatus.Converted => ExitCodes.Success,
                ConversionStatus.Refused => ExitCodes.Findings,
                _ => ExitCodes.Error,
            };
        }));
        return command;
    }

    private static void WriteText(TextWriter w, ConversionResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine($"source: {r.Source} ({r.SourceFormat ?? "?"}, sha256 {r.SourceSha256 ?? "?"})");
        foreach (var f in r.Findings)
        {
            string where = (f.Entry is null ? "" : $" in {f.Entry}") + (f.Offset is { } o ? string.Create(inv, $" at byte {o}") : "");
            w.WriteLine($"  {ScanReportWriter.SeverityName(f.Severity).ToUpperInvariant(),-8} {f.Rule}  {f.Message}{where}");
        }
        switch (r.Status)
        {
            case ConversionStatus.Converted:
                var v = r.Verification!;
                w.WriteLine($"output: {r.Output} ({r.OutputBytes.ToString("N0", inv)} bytes, sha256 {r.OutputSha256})");
                w.WriteLine(string.Create(inv, $"converted {r.Tensors.Count} tensors ({r.Tensors.Count(t => t.Strided)} strided views materialised, {r.Tensors.Count(t => t.SharedStorage)} sharing a storage)"));
                w.WriteLine(string.Create(inv, $"verified: {v.Identical}/{v.Tensors} tensors bit-identical after re-opening the output ({v.BytesCompared:N0} bytes and {v.ValuesCompared:N0} decoded values compared)"));
                if (r.NotConverted.Count > 0)
                    w.WriteLine($"not tensors, not carried over: {string.Join(", ", r.NotConverted.Take(20))}{(r.NotConverted.Count > 20 ? ", …" : "")}");
                break;
            case ConversionStatus.Refused:
                w.WriteLine($"REFUSED: {r.Reason}");
                break;
            default:
                w.WriteLine($"FAILED: {r.Reason}");
                break;
        }
    }
}
