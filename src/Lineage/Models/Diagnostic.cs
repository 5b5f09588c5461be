namespace Lineage.Models;

public enum DiagnosticLevel
{
    Info,
    Warning,
}

/// <summary>A recoverable oddity noticed while reading (structural problems are exceptions instead).</summary>
public sealed record Diagnostic(DiagnosticLevel Level, string Code, string Message, string? File = null, long? Offset = null);
