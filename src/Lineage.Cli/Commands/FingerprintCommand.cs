using System.CommandLine;
using System.Globalization;
using Lineage.Formats;
using Lineage.Provenance;

namespace Lineage.Cli.Commands;

internal static class FingerprintCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder, weights file, sharded index, hf://ORG/NAME[@REVISION] or http(s) URL" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the fingerprint to this file (default: stdout)" };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("fingerprint", """
            Extracts a compact, versioned, content-addressed fingerprint: everything compare needs from the weights,
            tokenizer and config, read from a bounded sample of the model's bytes. compare and identify accept
            fingerprint files wherever they accept models.

            Examples:
              lineage fingerprint ./my-model -o my-model.lfp
              lineage compare my-model.lfp ./suspect
              lineage fingerprint hf://ORG/NAME@main -o remote.lfp    (range requests only; HF_TOKEN for gated models)
            """)
        {
            model, output, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            using var m = ModelLoader.Open(parse.GetValue(model)!);
            var fp = FingerprintExtractor.Extract(m);
            var bytes = FingerprintSerializer.Serialize(fp);
            string id = FingerprintSerializer.Id(bytes);
            string? path = parse.GetValue(output);
            if (path is not null) File.WriteAllBytes(path, bytes);
            var summary = new
            {
                id,
                source = fp.Source,
                bytes = bytes.Length,
                bytes_read = fp.BytesRead,
                model_bytes = fp.ModelBytes,
                fraction_read = fp.ModelBytes == 0 ? 0 : Math.Round((double)fp.BytesRead / fp.ModelBytes, 6),
                bytes_transferred = m.BytesTransferred,
                requests = m.Requests,
                anchors = fp.Anchors.Length,
                row_groups = fp.Groups.Count,
                output = path,
            };
            if (path is null && parse.GetValue(format) == "text")
            {
                context.Stdout.Write(System.Text.Encoding.UTF8.GetString(bytes));
                context.Stdout.WriteLine();
            }
            else if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, summary);
            }
            else
            {
                string transfer = m.Requests == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", transferred {m.BytesTransferred:N0} bytes in {m.Requests:N0} HTTP requests");
                context.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"fingerprint {id[..16]}… of {fp.Source}: {bytes.Length:N0} bytes, read {fp.BytesRead:N0} of {fp.ModelBytes:N0} model bytes ({summary.fraction_read:P2}){transfer} → {path}"));
            }
            return ExitCodes.Success;
        }));
        return command;
    }
}
