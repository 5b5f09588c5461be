using Lineage.Security;
using Lineage.Supply.Advisories;
using Lineage.Supply.Manifests;
using Lineage.Supply.Versions;

namespace Lineage.Supply;

public sealed record DependencyAuditOptions
{
    public static DependencyAuditOptions Default { get; } = new();

    /// <summary>Run the typosquat rule (on by default).</summary>
    public bool Typosquats { get; init; } = true;
}

/// <summary>
/// <c>lineage deps</c> as a library call: find the dependency files under one or more paths, read them, resolve
/// each package to an exact version (lock files and installed metadata win over manifest ranges; constraints
/// files pin), match every (ecosystem, name, version) against the OSV advisories in the store, and apply the
/// offline rules (unpinned, unhashed, vcs-unpinned, typosquat). <c>lineage audit</c> calls
/// <see cref="Run(string, string?, DependencyAuditOptions?)"/> on the model folder and on --code.
/// </summary>
public static class DependencyAuditor
{
    /// <summary>
    /// Audits <paramref name="path"/> against the advisory database at <paramref name="databasePath"/> (opened
    /// read-only; null skips the advisory rules). A database path that does not exist, or holds no advisories, is
    /// an error: an audit must not silently run without the advisories it was pointed at.
    /// </summary>
    public static DependencyReport Run(string path, string? databasePath, DependencyAuditOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (databasePath is null) return Run([path], null, options);
        using var store = SqliteAdvisoryStore.Open(databasePath, create: false, readOnly: true);
        return Run([path], store, options);
    }

    public static DependencyReport Run(IReadOnlyList<string> paths, SqliteAdvisoryStore? advisories, DependencyAuditOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        options ??= DependencyAuditOptions.Default;
        var files = new List<DependencyFile>();
        var errors = new List<DependencyError>();
        var all = new ManifestResult();
        var seenFiles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            IReadOnlyList<(string Path, DependencyFileKind Kind)> found;
            try
            {
                found = DependencyDiscovery.Find(path);
            }
            catch (LineageException e)
            {
                errors.Add(new DependencyError(e.File ?? path, e.Describe()));
                continue;
            }
            foreach (var (file, kind) in found)
            {
                if (!seenFiles.Add(file)) continue;
                try
                {
                    var result = Read(file, kind);
                    all.Add(result);
                    files.Add(new DependencyFile(file, kind, result.Dependencies.Count(d => d.File == file)));
                }
                catch (LineageException e)
                {
                    errors.Add(new DependencyError(e.File ?? file, e.Describe()));
                }
            }
        }
        // A file read twice (a requirements file included by another and also found by name) counts once.
        var dependencies = all.Dependencies.DistinctBy(d => (d.File, d.Line, d.Key, d.Version, d.Origin)).ToList();
        var packages = Resolve(dependencies);
        var findings = new List<DependencyFinding>(all.Findings.DistinctBy(f => (f.Rule, f.File, f.Line, f.Package)));
        // The advisory lookups wait on SQLite most of the time: run the offline rules meanwhile.
        var advisoryFindings = advisories is null ? null : Task.Run(() => AdvisoryRules(packages, advisories).ToList());
        findings.AddRange(OfflineRules(dependencies, options));
        if (advisoryFindings is not null) findings.AddRange(advisoryFindings.GetAwaiter().GetResult());
        findings = [.. findings.OrderByDescending(f => f.Severity).ThenBy(f => f.Ecosystem, StringComparer.Ordinal)
            .ThenBy(f => f.Package, StringComparer.OrdinalIgnoreCase).ThenBy(f => f.Rule, StringComparer.Ordinal).ThenBy(f => f.File, StringComparer.Ordinal)];
        return new DependencyReport
        {
            Paths = [.. paths.Select(Path.GetFullPath)],
            Files = files,
            Packages = packages,
            Findings = findings,
            Errors = errors,
            Notes = all.Notes,
            AdvisoryDatabase = advisories?.Location,
            AdvisoryCount = advisories?.Count ?? 0,
        };
    }

    private static ManifestResult Read(string file, DependencyFileKind kind)
    {
        switch (kind)
        {
            case DependencyFileKind.Requirements: return RequirementsParser.Parse(file);
            case DependencyFileKind.Constraints: return Constraints(file);
            case DependencyFileKind.Pyproject: return PythonManifests.Pyproject(file);
            case DependencyFileKind.Pipfile: return PythonManifests.Pipfile(file);
            case DependencyFileKind.PipfileLock: return PythonManifests.PipfileLock(file);
            case DependencyFileKind.UvLock: return PythonManifests.UvLock(file);
            case DependencyFileKind.PoetryLock: return PythonManifests.PoetryLock(file);
            case DependencyFileKind.PackageJson: return NpmManifests.PackageJson(file);
            case DependencyFileKind.PackageLock: return NpmManifests.PackageLock(file);
            case DependencyFileKind.YarnLock: return NpmManifests.YarnLock(file);
            case DependencyFileKind.PythonDistribution:
            {
                var r = new ManifestResult();
                string dist = File.Exists(file) && Path.GetFileName(file) is "METADATA" or "PKG-INFO" ? Path.GetDirectoryName(file)! : file;
                if (InstalledPython.Read(dist) is { } d)
                {
                    r.Dependencies.Add(d);
                    r.Files.Add(d.File);
                }
                return r;
            }
            case DependencyFileKind.NodeModulesPackage:
            {
                var r = new ManifestResult();
                if (NpmManifests.Installed(file) is { } d)
                {
                    r.Dependencies.Add(d);
                    r.Files.Add(file);
                }
                return r;
            }
            default: throw new LineageException($"no reader for {kind}", file);
        }
    }

    /// <summary>A constraints file found by name: its lines pin versions without adding dependencies.</summary>
    private static ManifestResult Constraints(string file)
    {
        var r = RequirementsParser.Parse(file);
        var result = new ManifestResult();
        result.Files.UnionWith(r.Files);
        result.Notes.AddRange(r.Notes);
        result.Dependencies.AddRange(r.Dependencies.Select(d => d with { Origin = DependencyOrigin.Constraint, Format = "constraints" }));
        return result;
    }

    private static string CanonicalVersion(string ecosystem, string version) => Ecosystems.Base(ecosystem) switch
    {
        Ecosystems.PyPI when Pep440Version.TryParse(version, out var v) => v.ToString(),
        Ecosystems.Npm when SemVersion.TryParse(version, out var s) => s.ToString(),
        _ => version.Trim(),
    };

    private static int OriginRank(DependencyOrigin o) => o switch
    {
        DependencyOrigin.Lock => 0,
        DependencyOrigin.Installed => 1,
        DependencyOrigin.Manifest => 2,
        _ => 3,
    };

    /// <summary>
    /// One entry per (ecosystem, name, exact version) from locks, installed metadata and pinned manifest lines;
    /// a manifest line with a range gets the version a lock, installation or constraint pins for its name, or
    /// stays versionless when nothing does.
    /// </summary>
    private static List<PackageEntry> Resolve(List<Dependency> dependencies)
    {
        var direct = dependencies.Where(d => d.Origin == DependencyOrigin.Manifest).Select(d => (d.Ecosystem, d.Key)).ToHashSet();
        var pinnedKeys = dependencies.Where(d => d.Version is not null && d.Origin != DependencyOrigin.Constraint).Select(d => (d.Ecosystem, d.Key)).ToHashSet();
        var constraintPins = dependencies.Where(d => d.Origin == DependencyOrigin.Constraint && d.Version is not null)
            .GroupBy(d => (d.Ecosystem, d.Key)).ToDictionary(g => g.Key, g => g.First());
        var specifiers = dependencies.Where(m => m.Origin == DependencyOrigin.Manifest && m.Specifier is not null)
            .GroupBy(m => (m.Ecosystem, m.Key)).ToDictionary(g => g.Key, g => g.First().Specifier);
        var entries = new Dictionary<(string, string, string?), PackageEntry>();
        foreach (var d in dependencies.Where(d => d.Origin != DependencyOrigin.Constraint).OrderBy(d => OriginRank(d.Origin)))
        {
            var key = (d.Ecosystem, d.Key);
            string? version = d.Version;
            var source = d;
            if (version is null)
            {
                if (pinnedKeys.Contains(key)) continue; // a lock or installation gives this name its version
                if (constraintPins.TryGetValue(key, out var pin))
                {
                    version = pin.Version;
                    source = pin;
                }
            }
            string? canonical = version is null ? null : CanonicalVersion(d.Ecosystem, version);
            if (entries.ContainsKey((d.Ecosystem, d.Key, canonical))) continue;
            entries[(d.Ecosystem, d.Key, canonical)] = new PackageEntry
            {
                Name = d.Name, Version = version, Ecosystem = d.Ecosystem, Purl = Ecosystems.Purl(d.Ecosystem, d.Name, version),
                SourceFile = source.File, Line = source.Line, Format = source.Format, Origin = source.Origin,
                Specifier = specifiers.GetValueOrDefault(key),
                Hashes = source.Hashes, Group = d.Group, Direct = direct.Contains(key),
            };
        }
        return [.. entries.Values.OrderBy(e => e.Ecosystem, StringComparer.Ordinal).ThenBy(e => e.Name, StringComparer.OrdinalIgnoreCase).ThenBy(e => e.Version, StringComparer.Ordinal)];
    }

    private static IEnumerable<DependencyFinding> OfflineRules(List<Dependency> dependencies, DependencyAuditOptions options)
    {
        var exact = dependencies.Where(d => d.Version is not null).Select(d => (d.Ecosystem, d.Key)).ToHashSet();
        var lockedCommits = dependencies.Where(d => d.Origin is DependencyOrigin.Lock or DependencyOrigin.Installed && d.VcsPinned).Select(d => (d.Ecosystem, d.Key)).ToHashSet();
        foreach (var d in dependencies)
        {
            if (d.Origin == DependencyOrigin.Manifest && d.Vcs is null && !exact.Contains((d.Ecosystem, d.Key)))
            {
                yield return new DependencyFinding
                {
                    Rule = DependencyRules.Unpinned.Id, Severity = DependencyRules.Unpinned.DefaultSeverity, Package = d.Name, Ecosystem = d.Ecosystem,
                    Summary = $"{d.Name} {(string.IsNullOrEmpty(d.Specifier) ? "has no version constraint" : $"is only constrained to '{d.Specifier}'")} and no lock file, constraints file or installation pins it",
                    File = d.File, Line = d.Line, Detail = d.Url,
                };
            }
            if (d.Vcs is not null && !d.VcsPinned && !lockedCommits.Contains((d.Ecosystem, d.Key)))
            {
                yield return new DependencyFinding
                {
                    Rule = DependencyRules.VcsUnpinned.Id, Severity = DependencyRules.VcsUnpinned.DefaultSeverity, Package = d.Name, Version = d.Version,
                    Ecosystem = d.Ecosystem, File = d.File, Line = d.Line, Detail = d.Url,
                    Summary = d.VcsRef is null ? $"{d.Name} comes from {d.Vcs} without a ref: whatever the default branch holds at install time"
                        : $"{d.Name} comes from {d.Vcs} ref '{d.VcsRef}', a branch or tag, not a commit id",
                };
            }
        }
        if (!options.Typosquats) yield break;
        foreach (var g in dependencies.GroupBy(d => (d.Ecosystem, d.Key)))
        {
            var first = g.OrderBy(d => d.Origin == DependencyOrigin.Manifest ? 0 : 1).First();
            if (Typosquats.Check(first.Ecosystem, first.Name) is not { } match) continue;
            yield return new DependencyFinding
            {
                Rule = DependencyRules.Typosquat.Id, Severity = DependencyRules.Typosquat.DefaultSeverity, Package = first.Name,
                Version = first.Version, Ecosystem = first.Ecosystem, File = first.File, Line = first.Line,
                Summary = $"'{first.Name}' looks like the popular package '{match.Popular}' ({match.How}): check this is the package you meant",
                Detail = match.Popular,
            };
        }
    }

    private static IEnumerable<DependencyFinding> AdvisoryRules(List<PackageEntry> packages, SqliteAdvisoryStore store)
    {
        var candidates = packages.Where(p => Ecosystems.Base(p.Ecosystem) is Ecosystems.PyPI or Ecosystems.Npm).ToList();
        var affected = store.ForPackages(candidates.Select(p => (p.Ecosystem, p.Name)));
        // Packages are independent and version parsing dominates a cold run: match them on every core, then
        // report in package order so the output does not depend on scheduling.
        var perPackage = new List<DependencyFinding>[candidates.Count];
        ParallelWork.For(candidates.Count, i => perPackage[i] = [.. AdvisoryFindings(candidates[i], affected)]);
        return perPackage.SelectMany(f => f);
    }

    private static IEnumerable<DependencyFinding> AdvisoryFindings(PackageEntry p, IReadOnlyDictionary<(string Ecosystem, string Name), IReadOnlyList<AffectedEntry>> affected)
    {
        if (!affected.TryGetValue((Ecosystems.Base(p.Ecosystem), Ecosystems.NormalizeName(p.Ecosystem, p.Name)), out var entries)) yield break;
        foreach (var byAdvisory in entries.GroupBy(e => e.Advisory.Id, StringComparer.Ordinal))
        {
            var advisory = byAdvisory.First().Advisory;
            AffectedMatch? match = null;
            OsvAffected? which = null;
            foreach (var e in byAdvisory)
            {
                if (Ecosystems.Base(e.Affected.Ecosystem) != Ecosystems.Base(p.Ecosystem)) continue;
                if (p.Version is null)
                {
                    // No exact version: only a record that condemns every version of the package applies.
                    if ((advisory.Malicious || e.Affected.MarkedMalicious) && AffectedMatcher.AffectsAllVersions(e.Affected))
                    {
                        match = new AffectedMatch("every version is affected", null);
                        which = e.Affected;
                    }
                }
                else if (AffectedMatcher.Match(e.Affected, p.Version) is { } m)
                {
                    match = m;
                    which = e.Affected;
                }
                if (match is not null) break;
            }
            if (match is null || which is null) continue;
            bool malicious = advisory.Malicious || which.MarkedMalicious;
            var rule = malicious ? DependencyRules.KnownMalicious : DependencyRules.KnownVulnerable;
            yield return new DependencyFinding
            {
                Rule = rule.Id, Severity = malicious ? Severity.Critical : advisory.Severity, Package = p.Name, Version = p.Version,
                Ecosystem = p.Ecosystem, Ids = [advisory.Id, .. advisory.Aliases.Where(a => a != advisory.Id)],
                Summary = advisory.Summary ?? (malicious ? $"{p.Name} is a known malicious package" : $"{p.Name} {p.Version} has a known vulnerability"),
                File = p.SourceFile, Line = p.Line, FixedIn = match.FixedIn,
                Detail = malicious ? match.Reason : $"{match.Reason}; severity from {advisory.SeverityBasis}",
            };
        }
    }
}
