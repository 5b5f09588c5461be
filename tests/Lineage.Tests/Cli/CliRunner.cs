namespace Lineage.Tests.Cli;

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr);

internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Lineage.Cli.Program.Run(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }
}
