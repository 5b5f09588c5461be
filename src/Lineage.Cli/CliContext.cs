namespace Lineage.Cli;

/// <summary>Streams and error policy shared by all commands (tests swap the writers).</summary>
internal sealed class CliContext(TextWriter stdout, TextWriter stderr)
{
    public TextWriter Stdout { get; } = stdout;

    public TextWriter Stderr { get; } = stderr;

    /// <summary>
    /// Runs a command body: library errors become one line on stderr and exit code 2; nothing escapes as a
    /// stack trace (set LINEAGE_DEBUG=1 to see one for an unexpected failure).
    /// </summary>
    public int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (LineageException e)
        {
            Output.Error(Stderr, e.Describe());
            return ExitCodes.Error;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Output.Error(Stderr, e.Message);
            return ExitCodes.Error;
        }
        catch (OperationCanceledException)
        {
            Output.Error(Stderr, "cancelled");
            return ExitCodes.Error;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Output.Error(Stderr, $"internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            if (Environment.GetEnvironmentVariable("LINEAGE_DEBUG") == "1") Stderr.WriteLine(e);
            return ExitCodes.Error;
        }
    }
}
