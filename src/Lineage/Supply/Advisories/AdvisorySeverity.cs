using Lineage.Security;

namespace Lineage.Supply.Advisories;

/// <summary>How severe a vulnerability advisory is, and where that came from.</summary>
public sealed record AdvisoryRating(Severity Severity, string Basis, CvssScore? Cvss);

/// <summary>
/// The severity of a known-vulnerable finding: the highest CVSS base score among the record's (and its affected
/// packages') CVSS v3.x vectors, else v2 vectors; when no vector can be scored (none given, or only CVSS 4.0),
/// the database's own rating (GitHub's LOW/MODERATE/HIGH/CRITICAL); else medium, as the issue prescribes.
/// </summary>
public static class AdvisorySeverity
{
    public static AdvisoryRating Of(OsvRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var entries = record.Severity.Concat(record.Affected.SelectMany(a => a.Severity)).ToList();
        var scored = entries.Select(e => Cvss.Score(e.Score)).OfType<CvssScore>().ToList();
        var best = scored.Where(s => s.Version.StartsWith('3')).MaxBy(s => s.Score)
            ?? scored.Where(s => s.Version.StartsWith('2')).MaxBy(s => s.Score);
        if (best is not null) return new AdvisoryRating(best.Severity, $"CVSS {best.Version} {best.Score:0.0}", best);
        if (FromLabel(record.DatabaseSeverity) is { } label) return new AdvisoryRating(label, $"database rating {record.DatabaseSeverity}", null);
        return new AdvisoryRating(Severity.Medium, "no CVSS vector: default medium", null);
    }

    private static Severity? FromLabel(string? label) => label?.Trim().ToUpperInvariant() switch
    {
        "CRITICAL" => Severity.Critical,
        "HIGH" => Severity.High,
        "MODERATE" or "MEDIUM" => Severity.Medium,
        "LOW" => Severity.Low,
        _ => null,
    };
}
