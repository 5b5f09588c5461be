namespace Lineage.Supply;

/// <summary>What kind of file a dependency was read from; decides which version wins.</summary>
public enum DependencyOrigin
{
    /// <summary>A manifest that states what is wanted (requirements, pyproject.toml, Pipfile, package.json).</summary>
    Manifest,

    /// <summary>A constraints file (pip -c): pins versions without adding dependencies.</summary>
    Constraint,

    /// <summary>A lock file with exact resolved versions.</summary>
    Lock,

    /// <summary>An installed package's own metadata (dist-info, egg-info, node_modules).</summary>
    Installed,
}

/// <summary>
/// One dependency as a file states it. <see cref="Version"/> is set only when the file pins exactly one version
/// (==X, ===X, a bare Poetry/npm version, a lock entry, installed metadata); <see cref="Specifier"/> keeps the
/// range as written.
/// </summary>
public sealed record Dependency
{
    public required string Ecosystem { get; init; }

    /// <summary>The name as written.</summary>
    public required string Name { get; init; }

    public string Key => Ecosystems.NormalizeName(Ecosystem, Name);

    public string? Version { get; init; }

    public string? Specifier { get; init; }

    public required DependencyOrigin Origin { get; init; }

    public required string File { get; init; }

    public int? Line { get; init; }

    /// <summary>Artifact hashes the file pins ("sha256:…", "sha512-…").</summary>
    public IReadOnlyList<string> Hashes { get; init; } = [];

    public IReadOnlyList<string> Extras { get; init; } = [];

    /// <summary>Environment marker (PEP 508) as written.</summary>
    public string? Marker { get; init; }

    /// <summary>A direct URL or path the dependency is taken from instead of the registry.</summary>
    public string? Url { get; init; }

    /// <summary>git, hg, svn or bzr when the dependency comes from a version-control repository.</summary>
    public string? Vcs { get; init; }

    /// <summary>The ref named for a VCS dependency (tag, branch or commit), if any.</summary>
    public string? VcsRef { get; init; }

    /// <summary>True when a VCS dependency is fixed to a full commit id.</summary>
    public bool VcsPinned { get; init; }

    /// <summary>Dependency group: "dev", "optional", an extra or Poetry group name, "build"; null for main.</summary>
    public string? Group { get; init; }

    /// <summary>The file kind it came from: requirements, pyproject, uv.lock, package-lock…</summary>
    public required string Format { get; init; }
}
