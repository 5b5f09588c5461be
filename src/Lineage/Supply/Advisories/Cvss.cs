using Lineage.Security;

namespace Lineage.Supply.Advisories;

/// <summary>A CVSS base score computed from a vector string.</summary>
public sealed record CvssScore(string Version, double Score, string Vector)
{
    /// <summary>The CVSS qualitative rating: 0 none (info), 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10 critical.</summary>
    public Severity Severity => Cvss.Rating(Score);
}

/// <summary>
/// CVSS base scores from vector strings, with the formulas of the FIRST specifications: version 3.0 and 3.1
/// (3.1's round-up that avoids floating-point artefacts), and version 2. Version 4.0 is not scored here (its
/// score comes from the specification's macro-vector lookup table): callers fall back to the database's own
/// rating. Malformed vectors (unknown values, missing base metrics, duplicates) give null, never a guess.
/// </summary>
public static class Cvss
{
    public static Severity Rating(double score) => score switch
    {
        >= 9.0 => Severity.Critical,
        >= 7.0 => Severity.High,
        >= 4.0 => Severity.Medium,
        > 0.0 => Severity.Low,
        _ => Severity.Info,
    };

    /// <summary>Scores a CVSS:3.0/…, CVSS:3.1/… or v2 vector; null for anything else.</summary>
    public static CvssScore? Score(string? vector)
    {
        if (string.IsNullOrWhiteSpace(vector) || vector.Length > 512) return null;
        vector = vector.Trim();
        if (vector.StartsWith("CVSS:3.0/", StringComparison.Ordinal) || vector.StartsWith("CVSS:3.1/", StringComparison.Ordinal))
            return V3(vector);
        if (vector.StartsWith("CVSS:", StringComparison.Ordinal)) return null;
        string v2 = vector.StartsWith("(", StringComparison.Ordinal) && vector.EndsWith(')') ? vector[1..^1] : vector;
        if (v2.StartsWith("CVSS:2.0/", StringComparison.Ordinal)) v2 = v2["CVSS:2.0/".Length..];
        return V2(v2, vector);
    }

    private static Dictionary<string, string>? Metrics(string body)
    {
        var metrics = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in body.Split('/'))
        {
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == part.Length - 1) return null;
            if (!metrics.TryAdd(part[..colon], part[(colon + 1)..])) return null;
        }
        return metrics;
    }

    private static CvssScore? V3(string vector)
    {
        bool v31 = vector[7] == '1';
        var m = Metrics(vector[9..]);
        if (m is null) return null;
        double? av = Get(m, "AV", ("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2));
        double? ac = Get(m, "AC", ("L", 0.77), ("H", 0.44));
        double? ui = Get(m, "UI", ("N", 0.85), ("R", 0.62));
        double? c = Get(m, "C", ("H", 0.56), ("L", 0.22), ("N", 0.0));
        double? i = Get(m, "I", ("H", 0.56), ("L", 0.22), ("N", 0.0));
        double? a = Get(m, "A", ("H", 0.56), ("L", 0.22), ("N", 0.0));
        if (!m.TryGetValue("S", out var scope) || scope is not ("U" or "C")) return null;
        bool changed = scope == "C";
        double? pr = Get(m, "PR", ("N", 0.85), ("L", changed ? 0.68 : 0.62), ("H", changed ? 0.5 : 0.27));
        if (av is null || ac is null || ui is null || c is null || i is null || a is null || pr is null) return null;
        double iss = 1 - ((1 - c.Value) * (1 - i.Value) * (1 - a.Value));
        double impact = changed ? (7.52 * (iss - 0.029)) - (3.25 * Math.Pow(iss - 0.02, 15)) : 6.42 * iss;
        double exploitability = 8.22 * av.Value * ac.Value * pr.Value * ui.Value;
        double score = impact <= 0 ? 0
            : RoundUp(Math.Min(changed ? 1.08 * (impact + exploitability) : impact + exploitability, 10), v31);
        return new CvssScore(v31 ? "3.1" : "3.0", score, vector);
    }

    /// <summary>The specification's round-up to one decimal (3.1 works on integers to avoid 4.000000001 → 4.1).</summary>
    private static double RoundUp(double x, bool v31)
    {
        if (!v31) return Math.Ceiling(x * 10) / 10;
        long n = (long)Math.Round(x * 100000);
        return n % 10000 == 0 ? n / 100000.0 : (Math.Floor(n / 10000.0) + 1) / 10.0;
    }

    private static CvssScore? V2(string body, string vector)
    {
        var m = Metrics(body);
        if (m is null) return null;
        double? av = Get(m, "AV", ("L", 0.395), ("A", 0.646), ("N", 1.0));
        double? ac = Get(m, "AC", ("H", 0.35), ("M", 0.61), ("L", 0.71));
        double? au = Get(m, "Au", ("M", 0.45), ("S", 0.56), ("N", 0.704));
        double? c = Get(m, "C", ("N", 0.0), ("P", 0.275), ("C", 0.660));
        double? i = Get(m, "I", ("N", 0.0), ("P", 0.275), ("C", 0.660));
        double? a = Get(m, "A", ("N", 0.0), ("P", 0.275), ("C", 0.660));
        if (av is null || ac is null || au is null || c is null || i is null || a is null) return null;
        double impact = 10.41 * (1 - ((1 - c.Value) * (1 - i.Value) * (1 - a.Value)));
        double exploitability = 20 * av.Value * ac.Value * au.Value;
        double f = impact == 0 ? 0 : 1.176;
        double score = Math.Round((((0.6 * impact) + (0.4 * exploitability)) - 1.5) * f, 1, MidpointRounding.AwayFromZero);
        return new CvssScore("2.0", Math.Max(0, score), vector);
    }

    private static double? Get(Dictionary<string, string> m, string key, params (string Code, double Value)[] table)
    {
        if (!m.TryGetValue(key, out var code)) return null;
        foreach (var (c, v) in table)
            if (c == code) return v;
        return null;
    }
}
