using FsCheck.Xunit;
using Lineage.Supply.Versions;

namespace Lineage.Tests.Supply;

public sealed class Pep440Tests
{
    /// <summary>PEP 440, "Summary of permitted suffixes and relative ordering": these must sort in this order.</summary>
    private static readonly string[] SpecOrder =
    [
        "1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
        "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5",
        "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1",
    ];

    [Fact]
    public void Spec_ordering_example_sorts_exactly()
    {
        for (int i = 0; i < SpecOrder.Length; i++)
        {
            for (int j = 0; j < SpecOrder.Length; j++)
            {
                int c = Pep440Version.Parse(SpecOrder[i]).CompareTo(Pep440Version.Parse(SpecOrder[j]));
                Assert.True(Math.Sign(c) == Math.Sign(i.CompareTo(j)), $"{SpecOrder[i]} vs {SpecOrder[j]}: {c}");
            }
        }
        var shuffled = SpecOrder.OrderBy(s => s.GetHashCode(StringComparison.Ordinal)).Select(Pep440Version.Parse).Order().Select(v => v.ToString()).ToArray();
        Assert.Equal(SpecOrder.Select(s => Pep440Version.Parse(s).ToString()), shuffled);
    }

    [Theory]
    [InlineData("1.82.10", "1.82.8")]
    [InlineData("1!1.0", "2.0")]
    [InlineData("1.0.post1", "1.0")]
    [InlineData("1.0", "1.0rc1")]
    [InlineData("1.0rc1", "1.0b9")]
    [InlineData("1.0b1", "1.0a9")]
    [InlineData("1.0a1", "1.0.dev9")]
    [InlineData("2024.10.1", "2024.9.30")]
    [InlineData("1.0.0.1", "1.0")]
    [InlineData("99999999999999999999999.0", "99999999999999999999998.0")]
    [InlineData("1.0+local.10", "1.0+local.9")]
    [InlineData("1.0+1", "1.0+abc")]
    [InlineData("1.0+abc.1", "1.0+abc")]
    public void Greater(string high, string low)
    {
        Assert.True(Pep440Version.Parse(high) > Pep440Version.Parse(low), $"{high} > {low}");
        Assert.True(Pep440Version.Parse(low) < Pep440Version.Parse(high));
    }

    /// <summary>PEP 440 "Normalization": each spelling reads as the normalized form.</summary>
    [Theory]
    [InlineData("1.0", "1.0.0", true)]
    [InlineData("1.1RC1", "1.1rc1", true)]
    [InlineData("00", "0", true)]
    [InlineData("09000", "9000", true)]
    [InlineData("1.0.02", "1.0.2", true)]
    [InlineData("1.1.a1", "1.1a1", true)]
    [InlineData("1.1-a1", "1.1a1", true)]
    [InlineData("1.1_a1", "1.1a1", true)]
    [InlineData("1.0a.1", "1.0a1", true)]
    [InlineData("1.1alpha1", "1.1a1", true)]
    [InlineData("1.1beta2", "1.1b2", true)]
    [InlineData("1.1c3", "1.1rc3", true)]
    [InlineData("1.1pre4", "1.1rc4", true)]
    [InlineData("1.1preview5", "1.1rc5", true)]
    [InlineData("1.2a", "1.2a0", true)]
    [InlineData("1.2-post2", "1.2.post2", true)]
    [InlineData("1.2post2", "1.2.post2", true)]
    [InlineData("1.2.post-2", "1.2.post2", true)]
    [InlineData("1.0-r4", "1.0.post4", true)]
    [InlineData("1.0-rev4", "1.0.post4", true)]
    [InlineData("1.2.post", "1.2.post0", true)]
    [InlineData("1.0-1", "1.0.post1", true)]
    [InlineData("1.2-dev2", "1.2.dev2", true)]
    [InlineData("1.2dev2", "1.2.dev2", true)]
    [InlineData("1.2.dev", "1.2.dev0", true)]
    [InlineData("1.0+ubuntu-1", "1.0+ubuntu.1", true)]
    [InlineData("1.0+ubuntu_1", "1.0+ubuntu.1", true)]
    [InlineData("v1.0", "1.0", true)]
    [InlineData("  1.0\t", "1.0", true)]
    [InlineData("1.0", "1.0+0", false)]
    public void Normalization(string spelling, string normal, bool equal)
    {
        var a = Pep440Version.Parse(spelling);
        var b = Pep440Version.Parse(normal);
        Assert.Equal(equal, a == b);
        if (equal) Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1.0.")]
    [InlineData("1..0")]
    [InlineData("1.0+")]
    [InlineData("1.0+a..b")]
    [InlineData("1.0-beta-x")]
    [InlineData("1.0 2.0")]
    [InlineData("=1.0")]
    public void Invalid_versions_do_not_parse(string text) => Assert.False(Pep440Version.TryParse(text, out _));

    [Fact]
    public void Very_long_input_is_refused_without_work() => Assert.False(Pep440Version.TryParse(new string('1', 100_000), out _));

    /// <summary>
    /// A version built from components, its text in a randomly chosen legal spelling, and an ordering key computed
    /// independently from the components (tuples as PEP 440 describes them).
    /// </summary>
    private sealed record Parts(int Epoch, int[] Release, int PreKind, int Pre, int Post, int Dev, string[]? Local)
    {
        public string Render(Random r)
        {
            string sep() => r.Next(3) switch { 0 => "", 1 => ".", _ => r.Next(2) == 0 ? "-" : "_" };
            var sb = new System.Text.StringBuilder();
            if (r.Next(4) == 0) sb.Append('v');
            if (Epoch > 0 || r.Next(5) == 0) sb.Append(Epoch).Append('!');
            sb.Append(string.Join('.', Release.Select(x => r.Next(6) == 0 ? "0" + x : x.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            if (PreKind >= 0)
            {
                string[][] names = [["a", "alpha", "A"], ["b", "beta", "B"], ["rc", "c", "pre", "preview", "RC"]];
                sb.Append(sep()).Append(names[PreKind][r.Next(names[PreKind].Length)]).Append(sep()).Append(Pre);
            }
            if (Post >= 0) sb.Append(sep()).Append(r.Next(3) switch { 0 => "post", 1 => "rev", _ => "r" }).Append(sep()).Append(Post);
            if (Dev >= 0) sb.Append(sep()).Append("dev").Append(sep()).Append(Dev);
            if (Local is not null) sb.Append('+').Append(string.Join(r.Next(2) == 0 ? "." : "-", Local));
            return sb.ToString();
        }

        public static int CompareKeys(Parts a, Parts b)
        {
            int c = a.Epoch.CompareTo(b.Epoch);
            if (c != 0) return c;
            int n = Math.Max(a.Release.Length, b.Release.Length);
            for (int i = 0; i < n && c == 0; i++) c = (i < a.Release.Length ? a.Release[i] : 0).CompareTo(i < b.Release.Length ? b.Release[i] : 0);
            if (c != 0) return c;
            // pre: dev-only release < any pre-release < no pre-release
            (int, int, int) PreKey(Parts p) => p.PreKind >= 0 ? (1, p.PreKind, p.Pre) : p.Post < 0 && p.Dev >= 0 ? (0, 0, 0) : (2, 0, 0);
            c = PreKey(a).CompareTo(PreKey(b));
            if (c != 0) return c;
            c = a.Post.CompareTo(b.Post); // -1 (none) sorts first
            if (c != 0) return c;
            c = (a.Dev < 0 ? int.MaxValue : a.Dev).CompareTo(b.Dev < 0 ? int.MaxValue : b.Dev);
            if (c != 0) return c;
            if (a.Local is null || b.Local is null) return (a.Local is null ? 0 : 1).CompareTo(b.Local is null ? 0 : 1);
            for (int i = 0; i < Math.Min(a.Local.Length, b.Local.Length); i++)
            {
                bool na = int.TryParse(a.Local[i], out int ia), nb = int.TryParse(b.Local[i], out int ib);
                c = na && nb ? ia.CompareTo(ib) : na ? 1 : nb ? -1 : string.CompareOrdinal(a.Local[i], b.Local[i]);
                if (c != 0) return c;
            }
            return a.Local.Length.CompareTo(b.Local.Length);
        }

        public static Parts Random(Random r)
        {
            int[] release = [.. Enumerable.Range(0, 1 + r.Next(4)).Select(_ => r.Next(4))];
            string[]? local = r.Next(4) == 0 ? [.. Enumerable.Range(0, 1 + r.Next(2)).Select(_ => r.Next(2) == 0 ? r.Next(3).ToString(System.Globalization.CultureInfo.InvariantCulture) : "ab"[r.Next(2)].ToString())] : null;
            return new Parts(r.Next(5) == 0 ? r.Next(3) : 0, release, r.Next(3) == 0 ? r.Next(3) : -1, r.Next(3), r.Next(3) == 0 ? r.Next(3) : -1, r.Next(3) == 0 ? r.Next(3) : -1, local);
        }
    }

    [Property(MaxTest = 2000)]
    public bool Order_matches_independent_key_for_any_spelling(int seed)
    {
        var r = new Random(seed);
        var a = Parts.Random(r);
        var b = Parts.Random(r);
        var va = Pep440Version.Parse(a.Render(r));
        var vb = Pep440Version.Parse(b.Render(r));
        return Math.Sign(va.CompareTo(vb)) == Math.Sign(Parts.CompareKeys(a, b))
            && Math.Sign(vb.CompareTo(va)) == -Math.Sign(Parts.CompareKeys(a, b));
    }

    [Property(MaxTest = 1000)]
    public bool Normalized_form_round_trips(int seed)
    {
        var r = new Random(seed);
        var v = Pep440Version.Parse(Parts.Random(r).Render(r));
        var again = Pep440Version.Parse(v.ToString());
        return again == v && again.ToString() == v.ToString();
    }

    [Property(MaxTest = 500)]
    public bool Ordering_is_transitive(int seed)
    {
        var r = new Random(seed);
        var vs = Enumerable.Range(0, 3).Select(_ => Pep440Version.Parse(Parts.Random(r).Render(r))).Order().ToArray();
        return vs[0] <= vs[1] && vs[1] <= vs[2] && vs[0] <= vs[2];
    }
}

public sealed class SemVerTests
{
    /// <summary>SemVer 2.0.0 §11 precedence examples, in order.</summary>
    private static readonly string[] SpecOrder =
    [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
        "2.0.0", "2.1.0", "2.1.1",
    ];

    [Fact]
    public void Spec_precedence_example_sorts_exactly()
    {
        for (int i = 0; i < SpecOrder.Length; i++)
            for (int j = 0; j < SpecOrder.Length; j++)
                Assert.Equal(Math.Sign(i.CompareTo(j)), Math.Sign(SemVersion.Parse(SpecOrder[i]).CompareTo(SemVersion.Parse(SpecOrder[j]))));
    }

    [Theory]
    [InlineData("1.0.0+build.1", "1.0.0+build.2")]
    [InlineData("1.0.0-alpha+001", "1.0.0-alpha")]
    [InlineData("v1.2.3", "1.2.3")]
    [InlineData("=1.2.3", "1.2.3")]
    public void Equal_precedence(string a, string b) => Assert.True(SemVersion.Parse(a) == SemVersion.Parse(b));

    [Theory]
    [InlineData("1.0")]
    [InlineData("01.0.0")]
    [InlineData("1.0.0-01")]
    [InlineData("1.0.0-")]
    [InlineData("1.0.0+")]
    [InlineData("1.0.0-a..b")]
    [InlineData("1.0.0-a$")]
    [InlineData("1.2.3.4")]
    [InlineData("latest")]
    public void Invalid(string text) => Assert.False(SemVersion.TryParse(text, out _));

    [Fact]
    public void Huge_numbers_compare_without_overflow() =>
        Assert.True(SemVersion.Parse("1.0.99999999999999999999999") > SemVersion.Parse("1.0.99999999999999999999998"));

    [Property(MaxTest = 2000)]
    public bool Order_matches_independent_key(int seed)
    {
        var r = new Random(seed);
        (int[] Core, string[] Pre) Make() => ([r.Next(3), r.Next(3), r.Next(3)], r.Next(2) == 0 ? [] : [.. Enumerable.Range(0, 1 + r.Next(3)).Select(_ => r.Next(3) == 0 ? "alpha" : r.Next(2) == 0 ? "beta" : r.Next(12).ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        string Render((int[] Core, string[] Pre) v) => string.Join('.', v.Core) + (v.Pre.Length > 0 ? "-" + string.Join('.', v.Pre) : "") + (r.Next(3) == 0 ? "+b" + r.Next(9) : "");
        int Key((int[] Core, string[] Pre) a, (int[] Core, string[] Pre) b)
        {
            for (int i = 0; i < 3; i++) if (a.Core[i] != b.Core[i]) return a.Core[i].CompareTo(b.Core[i]);
            if (a.Pre.Length == 0 || b.Pre.Length == 0) return (a.Pre.Length == 0 ? 1 : 0).CompareTo(b.Pre.Length == 0 ? 1 : 0);
            for (int i = 0; i < Math.Min(a.Pre.Length, b.Pre.Length); i++)
            {
                bool na = int.TryParse(a.Pre[i], out int x), nb = int.TryParse(b.Pre[i], out int y);
                int c = na && nb ? x.CompareTo(y) : na ? -1 : nb ? 1 : string.CompareOrdinal(a.Pre[i], b.Pre[i]);
                if (c != 0) return c;
            }
            return a.Pre.Length.CompareTo(b.Pre.Length);
        }
        var p = Make();
        var q = Make();
        return Math.Sign(SemVersion.Parse(Render(p)).CompareTo(SemVersion.Parse(Render(q)))) == Math.Sign(Key(p, q));
    }
}
