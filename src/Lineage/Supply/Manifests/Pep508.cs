namespace Lineage.Supply.Manifests;

/// <summary>A PEP 508 requirement: name, extras, a version specifier or a URL, and an environment marker.</summary>
internal sealed record Requirement(string Name, IReadOnlyList<string> Extras, string? Specifier, string? Url, string? Marker)
{
    /// <summary>The version when the specifier pins exactly one (==X without a wildcard, or ===X).</summary>
    public string? ExactVersion => Pep508.ExactVersion(Specifier);
}

/// <summary>Parser for PEP 508 dependency specifications (the strings in pyproject.toml and requirement lines).</summary>
internal static class Pep508
{
    private static readonly string[] Operators = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];

    /// <summary>Parses a requirement; null when the text is not one (the caller reports where).</summary>
    public static Requirement? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        string? marker = null;
        int i = 0;
        while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || (i > 0 && s[i] is '.' or '-' or '_'))) i++;
        if (i == 0) return null;
        string name = s[..i];
        if (!char.IsAsciiLetterOrDigit(name[^1])) return null;
        var rest = s[i..].TrimStart();
        var extras = new List<string>();
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) return null;
            foreach (var e in rest[1..close].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!e.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')) return null;
                extras.Add(e);
            }
            rest = rest[(close + 1)..].TrimStart();
        }
        string? url = null;
        string? specifier = null;
        if (rest.StartsWith('@'))
        {
            rest = rest[1..].TrimStart();
            // The URL ends at whitespace; a marker may follow after ';' (PEP 508 needs a space before it for URLs).
            int end = 0;
            while (end < rest.Length && !char.IsWhiteSpace(rest[end])) end++;
            url = rest[..end];
            if (url.Length == 0) return null;
            rest = rest[end..].TrimStart();
            if (rest.Length > 0 && !rest.StartsWith(';')) return null;
        }
        else
        {
            int semi = rest.IndexOf(';', StringComparison.Ordinal);
            string spec = (semi < 0 ? rest : rest[..semi]).Trim();
            rest = semi < 0 ? "" : rest[semi..];
            if (spec.StartsWith('(') && spec.EndsWith(')')) spec = spec[1..^1].Trim();
            if (spec.Length > 0)
            {
                var clauses = new List<string>();
                foreach (var clause in spec.Split(','))
                {
                    var c = clause.Trim();
                    var op = Operators.FirstOrDefault(o => c.StartsWith(o, StringComparison.Ordinal));
                    if (op is null) return null;
                    var v = c[op.Length..].Trim();
                    if (v.Length == 0 || v.Any(ch => char.IsWhiteSpace(ch) || ch is '(' or ')' or '[' or ']' or ';' or '@')) return null;
                    clauses.Add(op + v);
                }
                specifier = string.Join(',', clauses);
            }
        }
        if (rest.StartsWith(';'))
        {
            marker = rest[1..].Trim();
            if (marker.Length == 0) return null;
        }
        else if (rest.Length > 0)
        {
            return null;
        }
        return new Requirement(name, extras, specifier, url, marker);
    }

    /// <summary>The one version a specifier allows (==X without '*', ===X), else null.</summary>
    public static string? ExactVersion(string? specifier)
    {
        if (string.IsNullOrEmpty(specifier) || specifier.Contains(',', StringComparison.Ordinal)) return null;
        if (specifier.StartsWith("===", StringComparison.Ordinal)) return specifier[3..];
        if (specifier.StartsWith("==", StringComparison.Ordinal) && !specifier.Contains('*', StringComparison.Ordinal)) return specifier[2..];
        return null;
    }
}
