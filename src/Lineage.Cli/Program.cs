using System.CommandLine;
using Lineage.Cli.Commands;

namespace Lineage.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Entry point shared by the executable and the tests.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var context = new CliContext(stdout, stderr);
        var root = new RootCommand("""
            Lineage: AI model supply-chain security, offline.
              Provenance: do two models share a weight lineage? Which known base is this derived from?
              Safety:     can this file execute code when loaded?
              Evidence:   JSON, SARIF, CycloneDX ML-BOM, hashes.

            Exit codes: 0 success/clean, 1 findings at or above --fail-on, 2 error (unreadable input),
                        3 nothing scannable, 4 usage.
            """);
        root.Subcommands.Add(InspectCommand.Create(context));
        root.Subcommands.Add(ScanCommand.Create(context));
        root.Subcommands.Add(FingerprintCommand.Create(context));
        root.Subcommands.Add(CompareCommand.Create(context));
        root.Subcommands.Add(IdentifyCommand.Create(context));
        root.Subcommands.Add(DbCommand.Create(context));
        root.Subcommands.Add(AuditCommand.Create(context));
        root.Subcommands.Add(BomCommand.Create(context));
        root.Subcommands.Add(ConvertCommand.Create(context));
        root.Subcommands.Add(BenchCommand.Create(context));
        root.Subcommands.Add(GraphCommand.Create(context));
        root.Subcommands.Add(AdvisoriesCommand.Create(context));
        root.Subcommands.Add(DepsCommand.Create(context));
        root.Subcommands.Add(ProviderCommand.Create(context));
        root.Subcommands.Add(GatewayCommand.Create(context));
        root.Subcommands.Add(SignCommand.Create(context));
        root.Subcommands.Add(VerifyCommand.Create(context));
        root.Subcommands.Add(DevSignalsCommand.Create(context));
        root.Subcommands.Add(DevCatalogCommand.Create(context));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && !IsHelp(args))
        {
            foreach (var error in parse.Errors) Output.Error(stderr, error.Message);
            stderr.WriteLine("Run 'lineage --help' for usage.");
            return ExitCodes.Usage;
        }
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        return parse.Invoke(config);
    }

    private static bool IsHelp(string[] args) => args.Any(a => a is "-h" or "--help" or "-?");
}
