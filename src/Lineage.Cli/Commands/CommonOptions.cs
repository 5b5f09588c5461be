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

/// <summary><c>--report html FILE</c>: a self-contained HTML page written beside the usual output.</summary>
internal static class HtmlReportOption
{
    public static Option<string[]> Create() => new("--report")
    {
        Description = "Also write a report: --report html FILE (one self-contained HTML page: verdict, signal bars, layer heatmap, findings, hashes)",
        Arity = new ArgumentArity(2, 2),
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>The HTML file to write, null when the option is absent; a usage error message when it is malformed.</summary>
    public static (string? File, string? Error) Parse(string[]? values)
    {
        if (values is null || values.Length == 0) return (null, null);
        if (values.Length != 2 || !values[0].Equals("html", StringComparison.OrdinalIgnoreCase))
            return (null, "--report takes a kind and a file: --report html FILE");
        return (values[1], null);
    }

    /// <summary>Writes the page atomically (a temporary file renamed into place) and says where on stderr.</summary>
    public static void Write(CliContext context, string file, Action<TextWriter> render)
    {
        string full = Path.GetFullPath(file);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using (var writer = new StreamWriter(temp, false, new System.Text.UTF8Encoding(false)))
            render(writer);
        File.Move(temp, full, overwrite: true);
        context.Stderr.WriteLine($"lineage: wrote HTML report {file}");
    }
}
