using Lineage.Supply.Versions;

namespace Lineage.Supply.Advisories;

/// <summary>Why a version is affected: the range or list that includes it, and the next fixed version if any.</summary>
public sealed record AffectedMatch(string Reason, string? FixedIn);

/// <summary>
/// OSV's evaluation of one affected entry against one version, as the schema specifies: the version is affected
/// when it is in the explicit <c>versions</c> list, or when any ECOSYSTEM/SEMVER range includes it. A range is
/// evaluated by sorting its events by version ("introduced": "0" first) and walking them: introduced at or below
/// the version turns inclusion on, fixed at or below turns it off, last_affected strictly below turns it off.
/// GIT ranges and "limit" events say nothing about package versions and are ignored. A range whose versions the
/// ecosystem's scheme cannot read is skipped rather than guessed.
/// </summary>
public static class AffectedMatcher
{
    public static AffectedMatch? Match(OsvAffected affected, string version)
    {
        ArgumentNullException.ThrowIfNull(affected);
        ArgumentNullException.ThrowIfNull(version);
        var ecosystemScheme = VersionScheme.ForEcosystem(affected.Ecosystem);
        foreach (var listed in affected.Versions)
        {
            if (string.Equals(listed.Trim(), version.Trim(), StringComparison.Ordinal) || ecosystemScheme?.Compare(listed, version) == 0)
                return new AffectedMatch($"version {listed} is listed as affected", NextFix(affected, version));
        }
        foreach (var range in affected.Ranges)
        {
            var scheme = VersionScheme.For(affected.Ecosystem, range.Type);
            if (scheme is null || !scheme.IsValid(version)) continue;
            if (InRange(range, version, scheme) is { } fixedIn)
                return new AffectedMatch($"in {Describe(range)}", fixedIn.Length == 0 ? null : fixedIn);
        }
        return null;
    }

    /// <summary>True when some range includes every version: introduced "0" with no fixed or last_affected event.</summary>
    public static bool AffectsAllVersions(OsvAffected affected)
    {
        ArgumentNullException.ThrowIfNull(affected);
        return affected.Ranges.Any(r => VersionScheme.For(affected.Ecosystem, r.Type) is not null
            && r.Events.Any(e => e.Kind == OsvEventKind.Introduced && e.Version == "0")
            && !r.Events.Any(e => e.Kind is OsvEventKind.Fixed or OsvEventKind.LastAffected));
    }

    /// <summary>
    /// Null when the range excludes the version; otherwise the lowest fixed version above it in this range, or
    /// "" when the range has none (still affected, no fix known).
    /// </summary>
    private static string? InRange(OsvRange range, string version, VersionScheme scheme)
    {
        var events = new List<OsvEvent>(range.Events.Count);
        foreach (var e in range.Events)
        {
            if (e.Kind == OsvEventKind.Limit) continue;
            if (!(e.Kind == OsvEventKind.Introduced && e.Version == "0") && !scheme.IsValid(e.Version)) return null;
            events.Add(e);
        }
        // Stable sort by version; "introduced: 0" is below everything.
        var sorted = events.Select((e, i) => (e, i)).OrderBy(x => x, Comparer<(OsvEvent e, int i)>.Create((x, y) =>
        {
            bool zx = IsZero(x.e), zy = IsZero(y.e);
            int c = zx && zy ? 0 : zx ? -1 : zy ? 1 : scheme.Compare(x.e.Version, y.e.Version) ?? 0;
            return c != 0 ? c : x.i.CompareTo(y.i);
        })).Select(x => x.e).ToList();
        bool included = false;
        foreach (var e in sorted)
        {
            int cmp = IsZero(e) ? 1 : scheme.Compare(version, e.Version) ?? 0;
            switch (e.Kind)
            {
                case OsvEventKind.Introduced when cmp >= 0:
                    included = true;
                    break;
                case OsvEventKind.Fixed when cmp >= 0:
                case OsvEventKind.LastAffected when cmp > 0:
                    included = false;
                    break;
            }
        }
        if (!included) return null;
        return sorted.Where(e => e.Kind == OsvEventKind.Fixed && scheme.Compare(e.Version, version) > 0).Select(e => e.Version).FirstOrDefault() ?? "";
    }

    private static string? NextFix(OsvAffected affected, string version)
    {
        string? best = null;
        foreach (var range in affected.Ranges)
        {
            var scheme = VersionScheme.For(affected.Ecosystem, range.Type);
            if (scheme is null) continue;
            foreach (var e in range.Events)
            {
                if (e.Kind != OsvEventKind.Fixed || scheme.Compare(e.Version, version) is not > 0) continue;
                if (best is null || scheme.Compare(e.Version, best) < 0) best = e.Version;
            }
        }
        return best;
    }

    private static bool IsZero(OsvEvent e) => e.Kind == OsvEventKind.Introduced && e.Version == "0";

    private static string Describe(OsvRange range) =>
        $"{range.Type.ToLowerInvariant()} range [{string.Join(", ", range.Events.Select(e => $"{Kind(e.Kind)} {e.Version}"))}]";

    private static string Kind(OsvEventKind k) => k switch
    {
        OsvEventKind.Introduced => "introduced",
        OsvEventKind.Fixed => "fixed",
        OsvEventKind.LastAffected => "last_affected",
        _ => "limit",
    };
}
