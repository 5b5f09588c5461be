using System.Diagnostics.CodeAnalysis;

namespace Lineage.Supply.Versions;

/// <summary>
/// A Semantic Versioning 2.0.0 version, MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], ordered by SemVer precedence:
/// numeric core, then a version with a pre-release below the same version without one, pre-release identifiers
/// compared left to right (numeric identifiers numerically and below alphanumeric ones, alphanumeric ones in
/// ASCII order, a shorter list below a longer one it prefixes); build metadata never affects precedence.
/// Parsing accepts what npm accepts from lock files: an optional leading <c>v</c> or <c>=</c> and surrounding
/// spaces; numbers of any length.
/// </summary>
public sealed class SemVersion : IComparable<SemVersion>, IEquatable<SemVersion>
{
    private const int MaxLength = 256;

    private SemVersion(string major, string minor, string patch, string[] pre, string? build)
    {
        Major = major;
        Minor = minor;
        Patch = patch;
        PreRelease = pre;
        Build = build;
    }

    public string Major { get; }

    public string Minor { get; }

    public string Patch { get; }

    public IReadOnlyList<string> PreRelease { get; }

    public string? Build { get; }

    public bool IsPreRelease => PreRelease.Count > 0;

    public static SemVersion Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"'{text}' is not a semantic version");

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out SemVersion? version)
    {
        version = null;
        if (text is null || text.Length > MaxLength) return false;
        var s = text.AsSpan().Trim();
        if (s.Length > 0 && (s[0] == 'v' || s[0] == 'V' || s[0] == '=')) s = s[1..];
        if (s.IsEmpty) return false;
        string? build = null;
        int plus = s.IndexOf('+');
        if (plus >= 0)
        {
            var b = s[(plus + 1)..];
            if (!ValidIdentifiers(b, numericRule: false)) return false;
            build = b.ToString();
            s = s[..plus];
        }
        string[] pre = [];
        int dash = s.IndexOf('-');
        if (dash >= 0)
        {
            var p = s[(dash + 1)..];
            if (!ValidIdentifiers(p, numericRule: true)) return false;
            pre = p.ToString().Split('.');
            s = s[..dash];
        }
        Span<Range> parts = stackalloc Range[4];
        if (s.Split(parts, '.') != 3) return false;
        var major = s[parts[0]];
        var minor = s[parts[1]];
        var patch = s[parts[2]];
        if (!ValidNumber(major) || !ValidNumber(minor) || !ValidNumber(patch)) return false;
        version = new SemVersion(major.ToString(), minor.ToString(), patch.ToString(), pre, build);
        return true;
    }

    /// <summary>Digits without a leading zero (SemVer §2).</summary>
    private static bool ValidNumber(ReadOnlySpan<char> s) => DigitString.IsDigits(s) && (s.Length == 1 || s[0] != '0');

    /// <summary>Dot-separated non-empty [0-9A-Za-z-] identifiers; pre-release numeric ones without leading zeros.</summary>
    private static bool ValidIdentifiers(ReadOnlySpan<char> s, bool numericRule)
    {
        if (s.IsEmpty) return false;
        foreach (var range in s.Split('.'))
        {
            var id = s[range];
            if (id.IsEmpty) return false;
            foreach (char c in id)
                if (!char.IsAsciiLetterOrDigit(c) && c != '-') return false;
            if (numericRule && DigitString.IsDigits(id) && id.Length > 1 && id[0] == '0') return false;
        }
        return true;
    }

    public int CompareTo(SemVersion? other)
    {
        if (other is null) return 1;
        int c = DigitString.Compare(Major, other.Major);
        if (c == 0) c = DigitString.Compare(Minor, other.Minor);
        if (c == 0) c = DigitString.Compare(Patch, other.Patch);
        if (c != 0) return c;
        if (PreRelease.Count == 0 || other.PreRelease.Count == 0)
            return PreRelease.Count == other.PreRelease.Count ? 0 : PreRelease.Count == 0 ? 1 : -1;
        int n = Math.Min(PreRelease.Count, other.PreRelease.Count);
        for (int i = 0; i < n; i++)
        {
            string a = PreRelease[i], b = other.PreRelease[i];
            bool na = DigitString.IsDigits(a), nb = DigitString.IsDigits(b);
            c = na && nb ? DigitString.Compare(a, b) : na ? -1 : nb ? 1 : string.CompareOrdinal(a, b);
            if (c != 0) return c;
        }
        return PreRelease.Count.CompareTo(other.PreRelease.Count);
    }

    public bool Equals(SemVersion? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is SemVersion v && Equals(v);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Major);
        h.Add(Minor);
        h.Add(Patch);
        foreach (var p in PreRelease) h.Add(p);
        return h.ToHashCode();
    }

    public override string ToString() =>
        $"{Major}.{Minor}.{Patch}{(PreRelease.Count > 0 ? "-" + string.Join('.', PreRelease) : "")}{(Build is null ? "" : "+" + Build)}";

    public static bool operator ==(SemVersion? a, SemVersion? b) => a is null ? b is null : a.Equals(b);

    public static bool operator !=(SemVersion? a, SemVersion? b) => !(a == b);

    public static bool operator <(SemVersion a, SemVersion b) => a is null ? b is not null : a.CompareTo(b) < 0;

    public static bool operator >(SemVersion a, SemVersion b) => a is not null && a.CompareTo(b) > 0;

    public static bool operator <=(SemVersion a, SemVersion b) => a is null || a.CompareTo(b) <= 0;

    public static bool operator >=(SemVersion a, SemVersion b) => a is null ? b is null : a.CompareTo(b) >= 0;
}
