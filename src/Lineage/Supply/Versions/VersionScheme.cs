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

    /// <summary>
    /// Parsed versions by text: matching compares the same few event versions against many packages, and a
    /// parse costs far more than a comparison. Bounded: cleared when full.
    /// </summary>
    private sealed class ParseCache<T>(Func<string, T?> parse) where T : class
    {
        private const int MaxEntries = 1 << 20;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, T?> _cache = new(StringComparer.Ordinal);

        public T? Get(string text)
        {
            if (_cache.TryGetValue(text, out var v)) return v;
            if (_cache.Count >= MaxEntries) _cache.Clear();
            v = parse(text);
            _cache.TryAdd(text, v);
            return v;
        }
    }

    private sealed class Pep440Scheme : VersionScheme
    {
        private readonly ParseCache<Pep440Version> _cache = new(t => Pep440Version.TryParse(t, out var v) ? v : null);

        public override string Name => "pep440";

        public override bool IsValid(string version) => _cache.Get(version) is not null;

        public override int? Compare(string a, string b) =>
            _cache.Get(a) is { } x && _cache.Get(b) is { } y ? x.CompareTo(y) : null;
    }

    private sealed class SemVerScheme : VersionScheme
    {
        private readonly ParseCache<SemVersion> _cache = new(t => SemVersion.TryParse(t, out var v) ? v : null);

        public override string Name => "semver";

        public override bool IsValid(string version) => _cache.Get(version) is not null;

        public override int? Compare(string a, string b) =>
            _cache.Get(a) is { } x && _cache.Get(b) is { } y ? x.CompareTo(y) : null;
    }
}
