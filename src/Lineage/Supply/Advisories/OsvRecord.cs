using System.Globalization;
using System.Text.Json;

namespace Lineage.Supply.Advisories;

/// <summary>What one OSV range event says (OSV schema "events").</summary>
public enum OsvEventKind
{
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

public sealed record OsvEvent(OsvEventKind Kind, string Version);

/// <summary>An OSV range: its type (SEMVER, ECOSYSTEM, GIT) and its events in the order written.</summary>
public sealed record OsvRange(string Type, IReadOnlyList<OsvEvent> Events);

/// <summary>One <c>affected</c> entry: a package and the versions of it the advisory covers.</summary>
public sealed record OsvAffected
{
    public required string Ecosystem { get; init; }

    public required string Name { get; init; }

    public string? Purl { get; init; }

    public IReadOnlyList<OsvRange> Ranges { get; init; } = [];

    public IReadOnlyList<string> Versions { get; init; } = [];

    /// <summary>CVSS entries given for this package only (OSV allows them per affected package).</summary>
    public IReadOnlyList<OsvSeverity> Severity { get; init; } = [];

    /// <summary>True when the entry's database_specific / ecosystem_specific data marks the package malicious.</summary>
    public bool MarkedMalicious { get; init; }
}

public sealed record OsvSeverity(string Type, string Score);

/// <summary>An OSV advisory (https://ossf.github.io/osv-schema/), with the fields Lineage uses and the raw JSON.</summary>
public sealed record OsvRecord
{
    public required string Id { get; init; }

    public required DateTimeOffset Modified { get; init; }

    public DateTimeOffset? Published { get; init; }

    public DateTimeOffset? Withdrawn { get; init; }

    public IReadOnlyList<string> Aliases { get; init; } = [];

    public string? Summary { get; init; }

    public string? Details { get; init; }

    public IReadOnlyList<OsvSeverity> Severity { get; init; } = [];

    public IReadOnlyList<OsvAffected> Affected { get; init; } = [];

    /// <summary>The severity label of database_specific.severity (GitHub: LOW, MODERATE, HIGH, CRITICAL), if any.</summary>
    public string? DatabaseSeverity { get; init; }

    /// <summary>True for a malicious-package report: a MAL- id or alias, or a malicious-packages origin marker.</summary>
    public bool IsMalicious { get; init; }

    /// <summary>The record exactly as it was read (UTF-8 JSON).</summary>
    public required string Json { get; init; }

    /// <summary>Timestamps as stored: UTC, fixed width, so text order is time order.</summary>
    public static string FormatTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseStoredTime(string s) =>
        DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    internal static JsonDocumentOptions DocumentOptions { get; } = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false };
}
