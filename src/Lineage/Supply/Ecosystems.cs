using System.Text;

namespace Lineage.Supply;

/// <summary>The package ecosystems Lineage reads, named as OSV names them.</summary>
public static class Ecosystems
{
    public const string PyPI = "PyPI";

    public const string Npm = "npm";

    public const string Debian = "Debian";

    /// <summary>The ecosystem part of an OSV ecosystem string ("Debian:12" → "Debian").</summary>
    public static string Base(string ecosystem)
    {
        ArgumentNullException.ThrowIfNull(ecosystem);
        int colon = ecosystem.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? ecosystem : ecosystem[..colon];
    }

    /// <summary>
    /// The key a package name is stored and looked up under: PEP 503 normalization for PyPI (lower case, runs of
    /// '-', '_' and '.' become one '-'), the name as written for npm (npm names are case-sensitive; new ones
    /// are lower case) and the lower-cased name elsewhere.
    /// </summary>
    public static string NormalizeName(string ecosystem, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Base(ecosystem) switch
        {
            PyPI => Pep503(name),
            Npm => name.Trim(),
            _ => name.Trim().ToLowerInvariant(),
        };
    }

    /// <summary>PEP 503 name normalization.</summary>
    public static string Pep503(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var sb = new StringBuilder(name.Length);
        bool separator = false;
        foreach (char c in name.AsSpan().Trim())
        {
            if (c is '-' or '_' or '.')
            {
                separator = true;
                continue;
            }
            if (separator && sb.Length > 0) sb.Append('-');
            separator = false;
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>A package URL (purl) for a package: pkg:pypi/…, pkg:npm/[%40scope/]…, pkg:deb/{distro}/….</summary>
    public static string Purl(string ecosystem, string name, string? version, string? debianDistro = null, IReadOnlyDictionary<string, string>? qualifiers = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        string type, path;
        switch (Base(ecosystem))
        {
            case PyPI:
                type = "pypi";
                path = Encode(name.Trim().ToLowerInvariant().Replace('_', '-'));
                break;
            case Npm:
                type = "npm";
                string n = name.Trim().ToLowerInvariant();
                int slash = n.IndexOf('/', StringComparison.Ordinal);
                path = n.StartsWith('@') && slash > 0 ? Encode(n[..slash]) + "/" + Encode(n[(slash + 1)..]) : Encode(n);
                break;
            case Debian:
                type = "deb";
                path = Encode(debianDistro ?? "debian") + "/" + Encode(name.Trim().ToLowerInvariant());
                break;
            default:
                type = Encode(Base(ecosystem).ToLowerInvariant());
                path = Encode(name.Trim());
                break;
        }
        var sb = new StringBuilder("pkg:").Append(type).Append('/').Append(path);
        if (!string.IsNullOrEmpty(version)) sb.Append('@').Append(Encode(version));
        if (qualifiers is { Count: > 0 })
        {
            sb.Append('?');
            sb.AppendJoin('&', qualifiers.OrderBy(q => q.Key, StringComparer.Ordinal).Select(q => q.Key.ToLowerInvariant() + "=" + Encode(q.Value)));
        }
        return sb.ToString();
    }

    /// <summary>Percent-encodes everything but the purl spec's unreserved characters.</summary>
    private static string Encode(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            char c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '~') sb.Append(c);
            else sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
