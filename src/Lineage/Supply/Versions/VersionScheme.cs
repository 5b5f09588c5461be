namespace Lineage.Supply.Versions;

/// <summary>
/// How versions of one ecosystem are ordered: PEP 440 for PyPI, SemVer 2.0 for npm and for OSV ranges of type
/// SEMVER. Compare returns null when either version cannot be read under the scheme (never a guessed order).
/// </summary>
public abstract class VersionScheme
{
    public static VersionScheme Pep440 { get; } = new Pep440Scheme();

    public static VersionScheme SemVer { get; } = new SemVerScheme();

    public abstract string Name { get; }

    /// <summary>The scheme for an OSV range of <paramref name="rangeType"/> on <paramref name="ecosystem"/>, or null (GIT ranges, unknown ecosystems).</summary>
    public static VersionScheme? For(string ecosystem, string rangeType)
    {
        ArgumentNullException.ThrowIfNull(ecosystem);
        ArgumentNullException.ThrowIfNull(rangeType);
        if (rangeType.Equals("SEMVER", StringComparison.OrdinalIgnoreCase)) return SemVer;
        if (!rangeType.Equals("ECOSYSTEM", StringComparison.OrdinalIgnoreCase)) return null;
        return Ecosystems.Base(ecosystem) switch
        {
            Ecosystems.PyPI => Pep440,
            Ecosystems.Npm => SemVer,
            _ => null,
        };
    }

    /// <summary>The scheme an ecosystem's own versions follow, or null.</summary>
    public static VersionScheme? ForEcosystem(string ecosystem) => For(ecosystem, "ECOSYSTEM");

    public abstract bool IsValid(string version);

    public abstract int? Compare(string a, string b);

    /// <summary>True when the version is exactly one release under this scheme (no wildcard, no range).</summary>
    public bool AreEqual(string a, string b) => string.Equals(a.Trim(), b.Trim(), StringComparison.Ordinal) || Compare(a, b) == 0;

    private sealed class Pep440Scheme : VersionScheme
    {
        public override string Name => "pep440";

        public override bool IsValid(string version) => Pep440Version.TryParse(version, out _);

        public override int? Compare(string a, string b) =>
            Pep440Version.TryParse(a, out var x) && Pep440Version.TryParse(b, out var y) ? x.CompareTo(y) : null;
    }

    private sealed class SemVerScheme : VersionScheme
    {
        public override string Name => "semver";

        public override bool IsValid(string version) => SemVersion.TryParse(version, out _);

        public override int? Compare(string a, string b) =>
            SemVersion.TryParse(a, out var x) && SemVersion.TryParse(b, out var y) ? x.CompareTo(y) : null;
    }
}
