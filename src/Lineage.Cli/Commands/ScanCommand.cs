using System.CommandLine;
using Lineage.Reports;
using Lineage.Security;
using Lineage.Security.Policy;

namespace Lineage.Cli.Commands;

internal static class ScanCommand
{
    /// <summary>Default threshold: medium catches unknown callables (high), remote code and obfuscation (medium),
    /// while URLs and other low/info notes do not fail a pipeline.</summary>
    public const string DefaultFailOn = "medium";

    public static Command Create(CliContext context)
    {
        var paths = new Argument<string[]>("path") { Description = "Files or folders to scan (folders recursively; formats detected from content)", Arity = ArgumentArity.OneOrMore };
        var format = CommonOptions.Format("text", "json", "sarif");
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Exit 1 when a finding has this severity or worse: info, low, medium, high, critical",
            DefaultValueFactory = _ => DefaultFailOn,
        };
        failOn.AcceptOnlyFromAmong("info", "low", "medium", "high", "critical");
        var profile = new Option<string[]>("--profile")
        {
            Description = $"Allow-list profiles for pickle callables, comma-separated: {string.Join(", ", CallablePolicy.ProfileNames)}, all (default: all)",
            AllowMultipleArgumentsPerToken = true,
        };
        var explain = new Option<bool>("--explain") { Description = "List every file with its status, show each pickle's decompiled program, and explain each rule that fired" };

        var command = new Command("scan", """
            Unsafe-serialization scan of model files and folders: pickles under any name (allow-list of callables,
            nested and embedded pickles, legacy torch and joblib streams), PyTorch/npz/.keras/skops zips, tar, 7z and
            compressed streams, NumPy object arrays, Jinja chat-template sandbox escapes (tokenizer configs, GGUF),
            Keras Lambda layers and foreign module references, ONNX external-data escapes and custom domains,
            TensorFlow risky ops, safetensors header strictness and metadata payloads, remote-code configs. Files that
            cannot be parsed, and formats without an analyzer, are never reported clean.

            Exit codes: 0 clean, 1 findings at or above --fail-on (default medium), 2 a file could not be read,
            parsed or analysed, 3 nothing scannable, 4 usage.

            Examples:
              lineage scan ./my-model
              lineage scan model.safetensors tokenizer_config.json --format json
              lineage scan ./downloads --format sarif > lineage.sarif
              lineage scan ./checkpoint --fail-on high --profile pytorch,numpy
              lineage scan suspicious.h5 --explain
            """)
        {
            paths, format, failOn, profile, explain,
        };
        command.SetAction(parse => context.Run(() =>
        {
            CallablePolicy policy;
            try
            {
                var names = (parse.GetValue(profile) ?? []).SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
                policy = names.Count == 0 ? CallablePolicy.Default : CallablePolicy.ForProfiles(names);
            }
            catch (ArgumentException e)
            {
                Output.Error(context.Stderr, e.Message.Split(" (Parameter", 2)[0]);
                return ExitCodes.Usage;
            }
            var threshold = Enum.Parse<Severity>(parse.GetValue(failOn) ?? DefaultFailOn, ignoreCase: true);
            bool explaining = parse.GetValue(explain) && parse.GetValue(format) is null or "text";
            var report = Scanner.Scan(parse.GetValue(paths)!, new ScanOptions { Policy = policy, KeepDecompiled = explaining });

            switch (parse.GetValue(format))
            {
                case "json":
                    WriteStream(context.Stdout, s => ScanReportWriter.WriteJson(s, report, threshold));
                    break;
                case "sarif":
                    WriteStream(context.Stdout, s => SarifWriter.Write(s, report));
                    break;
                default:
                    ScanReportWriter.WriteText(context.Stdout, report, threshold, parse.GetValue(explain), color: UseColorOnStdout(context));
                    break;
            }
            return report.Outcome(threshold) switch
            {
                ScanOutcome.Clean => ExitCodes.Success,
                ScanOutcome.Findings => ExitCodes.Findings,
                ScanOutcome.Error => ExitCodes.Error,
                _ => ExitCodes.NothingScannable,
            };
        }));
        return command;
    }

    private static void WriteStream(TextWriter stdout, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static bool UseColorOnStdout(CliContext context) =>
        ReferenceEquals(context.Stdout, Console.Out) && !Console.IsOutputRedirected
        && Environment.GetEnvironmentVariable("NO_COLOR") is null or "";
}
