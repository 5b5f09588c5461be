namespace Lineage.Cli;

/// <summary>The exit codes of the brief, shared by every command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Findings = 1;
    public const int Error = 2;
    public const int NothingScannable = 3;
    public const int Usage = 4;
}
