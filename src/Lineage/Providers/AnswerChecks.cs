using System.Globalization;
using System.Text.RegularExpressions;

namespace Lineage.Providers;

/// <summary>Judges checkable answers and spots refusals.</summary>
public static partial class AnswerChecks
{
    /// <summary>A suite's regular expression gets this long per answer (suites may come from anywhere).</summary>
    internal static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Phrases that open a refusal. Searched case-insensitively in the first <see cref="RefusalWindow"/>
    /// characters only: refusals lead with them, while a long helpful answer may quote such a phrase later.
    /// </summary>
    public static readonly IReadOnlyList<string> RefusalMarkers =
    [
        "i can't help", "i cannot help", "i can't assist", "i cannot assist", "i can't provide", "i cannot provide",
        "i can't comply", "i cannot comply", "i can't do that", "i cannot do that", "i won't be able", "i will not provide",
        "i'm sorry, but", "i am sorry, but", "i'm not able to", "i am not able to", "i'm unable to", "i am unable to",
        "i must decline", "i have to decline", "against my guidelines", "as an ai", "not able to help with",
        "i can't create", "i cannot create", "i can't write", "i cannot write",
    ];

    internal const int RefusalWindow = 300;

    /// <summary>The refusal markers found in an answer (empty when it is no refusal).</summary>
    public static IReadOnlyList<string> FindRefusalMarkers(string? answer, string? refusalField, string? finishReason)
    {
        var found = new List<string>();
        if (!string.IsNullOrEmpty(refusalField)) found.Add("refusal-field");
        if (string.Equals(finishReason, "content_filter", StringComparison.Ordinal)) found.Add("content-filter");
        if (!string.IsNullOrEmpty(answer))
        {
            string head = (answer.Length > RefusalWindow ? answer[..RefusalWindow] : answer).Replace('\u2019', '\'').ToLowerInvariant();
            foreach (var marker in RefusalMarkers)
            {
                if (head.Contains(marker, StringComparison.Ordinal)) found.Add(marker);
            }
        }
        return found;
    }

    /// <summary>Whether <paramref name="answer"/> meets <paramref name="expect"/> (false for a missing answer).</summary>
    public static bool Passes(Expectation expect, string? answer)
    {
        ArgumentNullException.ThrowIfNull(expect);
        if (answer is null) return false;
        switch (expect.Kind)
        {
            case ExpectationKind.Exact:
                return string.Equals(NormalizeExact(answer), NormalizeExact(expect.Value ?? ""),
                    expect.CaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
            case ExpectationKind.Regex:
                try
                {
                    return Regex.IsMatch(answer, expect.Pattern ?? "", RegexOptions.CultureInvariant, RegexTimeout);
                }
                catch (RegexMatchTimeoutException)
                {
                    return false;
                }
            default:
                return LastNumber(answer) is double x && Math.Abs(x - expect.Number) <= Math.Max(expect.Tolerance, 1e-9 * Math.Max(1, Math.Abs(expect.Number)));
        }
    }

    /// <summary>Trims whitespace, surrounding quotes or backticks and one trailing full stop.</summary>
    internal static string NormalizeExact(string text)
    {
        var s = text.AsSpan().Trim();
        while (s.Length >= 2 && s[0] == s[^1] && s[0] is '"' or '\'' or '`') s = s[1..^1].Trim();
        if (s.Length > 0 && s[^1] == '.') s = s[..^1].TrimEnd();
        return s.ToString();
    }

    /// <summary>The last number written in the text ("1,234.5", "-27", "−27" with a Unicode minus), or null.</summary>
    internal static double? LastNumber(string text)
    {
        double? last = null;
        foreach (Match m in NumberPattern().Matches(text.Replace('\u2212', '-')))
        {
            if (double.TryParse(m.Value.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) last = v;
        }
        return last;
    }

    [GeneratedRegex(@"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex NumberPattern();
}
