using System.CommandLine;

namespace Lineage.Cli.Commands;

internal static class CommonOptions
{
    public static Option<string> Format(params string[] allowed)
    {
        var option = new Option<string>("--format", "-f")
        {
            Description = $"Output format: {string.Join(", ", allowed)}",
            DefaultValueFactory = _ => "text",
        };
        option.AcceptOnlyFromAmong(allowed);
        return option;
    }
}
