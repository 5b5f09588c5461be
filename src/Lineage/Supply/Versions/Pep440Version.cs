using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.RegularExpressions;

namespace Lineage.Supply.Versions;

/// <summary>
/// A PEP 440 version: <c>[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]</c>, parsed with the spec's normalization
/// rules (case, <c>v</c> prefix, alternative spellings alpha/beta/c/pre/preview/rev/r, optional separators,
/// implicit numbers, implicit post releases <c>1.0-1</c>, local separators) and ordered as the spec says:
/// epoch, then release (trailing zeros insignificant), then dev-only releases before pre-releases, pre-releases
/// (a &lt; b &lt; rc) before the final release, post releases after it, dev releases just before what they
/// develop, and a local version after its public version (numeric local segments above alphanumeric ones).
/// Numbers are compared as digit strings, so no size overflows.
/// </summary>
public sealed partial class Pep440Version : IComparable<Pep440Version>, IEquatable<Pep440Version>
{
    private const int MaxLength = 256;

    [GeneratedRegex("""
        ^\s*v?
        (?:(?<epoch>[0-9]+)!)?
        (?<release>[0-9]+(?:\.[0-9]+)*)
        (?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?
        (?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?
        (?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?
        (?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$
        """, RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace | RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex Pattern();

    private Pep440Version(string epoch, string[] release, int preKind, string? preNumber, string? post, string? dev, string[]? local)
    {
        Epoch = epoch;
        Release = release;
        PreKind = preKind;
        PreNumber = preNumber;
        Post = post;
        Dev = dev;
        Local = local;
        int trimmed = release.Length;
        while (trimmed > 1 && release[trimmed - 1] == "0") trimmed--;
        _keyRelease = trimmed == release.Length ? release : release[..trimmed];
    }

    private readonly string[] _keyRelease;

    /// <summary>Epoch as a normalized digit string ("0" when absent).</summary>
    public string Epoch { get; }

    /// <summary>Release segments as normalized digit strings.</summary>
    public IReadOnlyList<string> Release { get; }

    /// <summary>-1 none, 0 alpha, 1 beta, 2 release candidate.</summary>
    private int PreKind { get; }

    private string? PreNumber { get; }

    /// <summary>Post-release number, or null.</summary>
    public string? Post { get; }

    /// <summary>Development-release number, or null.</summary>
    public string? Dev { get; }

    /// <summary>Local version segments (lower case), or null.</summary>
    public IReadOnlyList<string>? Local { get; }

    public bool IsPreRelease => PreKind >= 0 || Dev is not null;

    public static Pep440Version Parse(string text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"'{text}' is not a PEP 440 version");

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Pep440Version? version)
    {
        version = null;
        if (text is null || text.Length == 0 || text.Length > MaxLength) return false;
        var m = Pattern().Match(text);
        if (!m.Success) return false;
        string epoch = m.Groups["epoch"].Success ? DigitString.Normalize(m.Groups["epoch"].Value) : "0";
        var release = m.Groups["release"].Value.Split('.').Select(DigitString.Normalize).ToArray();
        int preKind = -1;
        string? preNumber = null;
        if (m.Groups["pre"].Success)
        {
            preKind = m.Groups["pre_l"].Value.ToLowerInvariant() switch
            {
                "a" or "alpha" => 0,
                "b" or "beta" => 1,
                _ => 2,
            };
            preNumber = m.Groups["pre_n"].Success ? DigitString.Normalize(m.Groups["pre_n"].Value) : "0";
        }
        string? post = null;
        if (m.Groups["post"].Success)
            post = m.Groups["post_n1"].Success ? DigitString.Normalize(m.Groups["post_n1"].Value)
                : m.Groups["post_n2"].Success ? DigitString.Normalize(m.Groups["post_n2"].Value) : "0";
        string? dev = m.Groups["dev"].Success ? (m.Groups["dev_n"].Success ? DigitString.Normalize(m.Groups["dev_n"].Value) : "0") : null;
        string[]? local = null;
        if (m.Groups["local"].Success)
        {
            local = m.Groups["local"].Value.ToLowerInvariant().Split(['.', '-', '_'])
                .Select(s => DigitString.IsDigits(s) ? DigitString.Normalize(s) : s).ToArray();
        }
        version = new Pep440Version(epoch, release, preKind, preNumber, post, dev, local);
        return true;
    }

    public int CompareTo(Pep440Version? other)
    {
        if (other is null) return 1;
        int c = DigitString.Compare(Epoch, other.Epoch);
        if (c != 0) return c;
        c = CompareRelease(_keyRelease, other._keyRelease);
        if (c != 0) return c;
        c = ComparePre(this, other);
        if (c != 0) return c;
        c = CompareOptional(Post, other.Post, absentIsLow: true);
        if (c != 0) return c;
        c = CompareOptional(Dev, other.Dev, absentIsLow: false);
        if (c != 0) return c;
        return CompareLocal(Local, other.Local);
    }

    private static int CompareRelease(string[] a, string[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            int c = DigitString.Compare(i < a.Length ? a[i] : "0", i < b.Length ? b[i] : "0");
            if (c != 0) return c;
        }
        return 0;
    }

    /// <summary>
    /// The pre-release key: a release with only a dev part (1.0.dev1) sorts below every pre-release of it; a
    /// release with no pre part sorts above every pre-release.
    /// </summary>
    private static int ComparePre(Pep440Version a, Pep440Version b)
    {
        int ra = PreRank(a), rb = PreRank(b);
        if (ra != rb) return ra.CompareTo(rb);
        if (ra != 1) return 0;
        int c = a.PreKind.CompareTo(b.PreKind);
        return c != 0 ? c : DigitString.Compare(a.PreNumber!, b.PreNumber!);
    }

    /// <summary>0: dev-only release (below all pre-releases); 1: a pre-release; 2: no pre-release part.</summary>
    private static int PreRank(Pep440Version v) =>
        v.PreKind >= 0 ? 1 : v.Post is null && v.Dev is not null ? 0 : 2;

    private static int CompareOptional(string? a, string? b, bool absentIsLow)
    {
        if (a is null && b is null) return 0;
        if (a is null) return absentIsLow ? -1 : 1;
        if (b is null) return absentIsLow ? 1 : -1;
        return DigitString.Compare(a, b);
    }

    /// <summary>No local part sorts first; segments compare pairwise (numbers above strings, numbers numerically,
    /// strings lexically); when one is a prefix of the other the shorter sorts first.</summary>
    private static int CompareLocal(IReadOnlyList<string>? a, IReadOnlyList<string>? b)
    {
        if (a is null && b is null) return 0;
        if (a is null) return -1;
        if (b is null) return 1;
        int n = Math.Min(a.Count, b.Count);
        for (int i = 0; i < n; i++)
        {
            bool na = DigitString.IsDigits(a[i]), nb = DigitString.IsDigits(b[i]);
            int c = na && nb ? DigitString.Compare(a[i], b[i])
                : na ? 1
                : nb ? -1
                : string.CompareOrdinal(a[i], b[i]);
            if (c != 0) return c;
        }
        return a.Count.CompareTo(b.Count);
    }

    public bool Equals(Pep440Version? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is Pep440Version v && Equals(v);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Epoch);
        foreach (var s in _keyRelease) h.Add(s);
        h.Add(PreKind);
        h.Add(PreNumber);
        h.Add(Post);
        h.Add(Dev);
        if (Local is not null) foreach (var s in Local) h.Add(s);
        return h.ToHashCode();
    }

    /// <summary>The normalized form (PEP 440 "Normalization").</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Epoch != "0") sb.Append(Epoch).Append('!');
        sb.AppendJoin('.', Release);
        if (PreKind >= 0) sb.Append(PreKind switch { 0 => "a", 1 => "b", _ => "rc" }).Append(PreNumber);
        if (Post is not null) sb.Append(".post").Append(Post);
        if (Dev is not null) sb.Append(".dev").Append(Dev);
        if (Local is not null) sb.Append('+').AppendJoin('.', Local);
        return sb.ToString();
    }

    public static bool operator ==(Pep440Version? a, Pep440Version? b) => a is null ? b is null : a.Equals(b);

    public static bool operator !=(Pep440Version? a, Pep440Version? b) => !(a == b);

    public static bool operator <(Pep440Version a, Pep440Version b) => a is null ? b is not null : a.CompareTo(b) < 0;

    public static bool operator >(Pep440Version a, Pep440Version b) => a is not null && a.CompareTo(b) > 0;

    public static bool operator <=(Pep440Version a, Pep440Version b) => a is null || a.CompareTo(b) <= 0;

    public static bool operator >=(Pep440Version a, Pep440Version b) => a is null ? b is null : a.CompareTo(b) >= 0;
}
