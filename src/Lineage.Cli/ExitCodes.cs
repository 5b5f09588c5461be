namespace Lineage.Cli;

/// <summary>The exit codes of the brief, shared by every command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Findings = 1;
    public const int Error = 2;
    public const int NothingScannable = 3;
    public const int Usage = 4;

    /// <summary>The exit code of a scan or audit: clean, findings at or above the threshold, unreadable input, or nothing to scan.</summary>
    public static int For(Lineage.Security.ScanOutcome outcome) => outcome switch
    {
        Lineage.Security.ScanOutcome.Clean => Success,
        Lineage.Security.ScanOutcome.Findings => Findings,
        Lineage.Security.ScanOutcome.Error => Error,
        _ => NothingScannable,
    };
}
