using Lineage.Security;

namespace Lineage.Supply;

/// <summary>A dependency-audit rule: a stable id (the JSON <c>rule</c> field), default severity, help.</summary>
public sealed record DependencyRule(string Id, Severity DefaultSeverity, string Summary, string Help);

/// <summary>Every rule <c>lineage deps</c> can raise. The ids are stable: tools key on them.</summary>
public static class DependencyRules
{
    public static readonly DependencyRule KnownMalicious = new("known-malicious", Severity.Critical,
        "A dependency is a known malicious package or release",
        "An OSV malicious-package record (MAL- id, or a malicious-packages origin marker) names this package and version. Installing it runs the attacker's code: remove it, rotate every credential the environment could reach, and check for persistence.");

    public static readonly DependencyRule KnownVulnerable = new("known-vulnerable", Severity.Medium,
        "A dependency version has a known vulnerability",
        "An OSV advisory covers this exact version. Severity comes from the advisory's CVSS vector (v3.x, else v2), else from the database's rating, else medium. Upgrade to the fixed version shown.");

    public static readonly DependencyRule Unpinned = new("unpinned", Severity.Low,
        "A dependency has no exact version anywhere",
        "Neither the manifest nor any lock file, constraints file or installed environment fixes one version, so every install may resolve to a different release (including a compromised one published tomorrow). Pin it or commit a lock file.");

    public static readonly DependencyRule Unhashed = new("unhashed", Severity.Low,
        "A requirement has no --hash while others in the same install do",
        "pip's hash-checking mode applies to a whole install once any requirement has --hash; a requirement without one either breaks the install or, with a lenient installer, is fetched without integrity protection.");

    public static readonly DependencyRule VcsUnpinned = new("vcs-unpinned", Severity.Low,
        "A version-control dependency is not fixed to a commit",
        "A branch or tag can be moved by whoever controls the repository. Reference a full commit id.");

    public static readonly DependencyRule Typosquat = new("typosquat", Severity.Medium,
        "A dependency name is a near miss of a popular ML/LLM package",
        "The name is within a small edit distance (or differs only in separators, doubled or swapped letters) of a popular package it is not. Typosquats of AI packages are a common way to get code onto ML machines: check that this is the package you meant.");

    public static IReadOnlyList<DependencyRule> All { get; } = [KnownMalicious, KnownVulnerable, Unpinned, Unhashed, VcsUnpinned, Typosquat];
}

/// <summary>One finding about one dependency (JSON fields: rule, severity, package, version, ecosystem, ids,
/// summary, file, line, fixed_in).</summary>
public sealed record DependencyFinding
{
    public required string Rule { get; init; }

    public required Severity Severity { get; init; }

    public required string Package { get; init; }

    public string? Version { get; init; }

    public required string Ecosystem { get; init; }

    /// <summary>Advisory id first, then its aliases; empty for rules that are not advisory-based.</summary>
    public IReadOnlyList<string> Ids { get; init; } = [];

    public required string Summary { get; init; }

    public string? File { get; init; }

    public int? Line { get; init; }

    public string? FixedIn { get; init; }

    /// <summary>Why the rule fired, in a few words (the matching range, the near-miss name, the ref).</summary>
    public string? Detail { get; init; }
}
