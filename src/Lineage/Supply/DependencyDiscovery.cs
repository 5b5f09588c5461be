using Lineage.Supply.Manifests;

namespace Lineage.Supply;

/// <summary>The kinds of dependency files <c>lineage deps</c> reads.</summary>
public enum DependencyFileKind
{
    Requirements,
    Constraints,
    Pyproject,
    Pipfile,
    PipfileLock,
    UvLock,
    PoetryLock,
    PythonDistribution,
    PackageJson,
    PackageLock,
    YarnLock,
    NodeModulesPackage,
}

/// <summary>
/// Finds dependency files in a folder (by name; installed distributions by folder name; node_modules packages
/// as installed packages, never as manifests) or classifies one file (by name, else by content). The walk is
/// iterative, bounded in entries and depth, does not follow symbolic links, and skips VCS and cache folders.
/// </summary>
public static class DependencyDiscovery
{
    public const int MaxEntries = 2_000_000;
    public const int MaxDepth = 64;

    private static readonly HashSet<string> SkippedFolders = new(StringComparer.Ordinal)
    {
        ".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache",
    };

    public static IReadOnlyList<(string Path, DependencyFileKind Kind)> Find(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
            return Classify(full, sniff: true) is { } kind ? [(full, kind)] : [];
        if (!Directory.Exists(full)) throw new LineageException("no such file or folder", full);
        if (InstalledPython.IsDistribution(full)) return [(full, DependencyFileKind.PythonDistribution)];
        var found = new List<(string, DependencyFileKind)>();
        var pending = new Stack<(string Dir, int Depth, bool InNodeModules)>();
        pending.Push((full, 0, Path.GetFileName(full) == "node_modules"));
        int entries = 0;
        while (pending.Count > 0)
        {
            var (dir, depth, inNodeModules) = pending.Pop();
            List<FileSystemInfo> children;
            try
            {
                children = [.. new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(c => c.Name, StringComparer.Ordinal)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LineageException($"cannot list folder: {e.Message}", dir, inner: e);
            }
            entries += children.Count;
            if (entries > MaxEntries) throw new LineageException($"more than {MaxEntries} files and folders under the path", full);
            var subdirs = new List<(string, int, bool)>();
            foreach (var child in children)
            {
                if (child.LinkTarget is not null) continue;
                if (child is DirectoryInfo d)
                {
                    if (SkippedFolders.Contains(d.Name)) continue;
                    if (InstalledPython.IsDistribution(d.Name))
                    {
                        found.Add((d.FullName, DependencyFileKind.PythonDistribution));
                        continue;
                    }
                    if (depth + 1 > MaxDepth) throw new LineageException($"folders nested deeper than {MaxDepth}", d.FullName);
                    subdirs.Add((d.FullName, depth + 1, inNodeModules || d.Name == "node_modules"));
                    continue;
                }
                if (inNodeModules)
                {
                    // Inside node_modules only package roots count: node_modules/<name>/package.json or
                    // node_modules/@scope/<name>/package.json.
                    if (child.Name == "package.json" && IsPackageRoot(dir)) found.Add((child.FullName, DependencyFileKind.NodeModulesPackage));
                    continue;
                }
                if (child.Name.EndsWith(".egg-info", StringComparison.OrdinalIgnoreCase))
                {
                    found.Add((child.FullName, DependencyFileKind.PythonDistribution));
                    continue;
                }
                if (Classify(child.FullName, sniff: false) is { } kind) found.Add((child.FullName, kind));
            }
            for (int i = subdirs.Count - 1; i >= 0; i--) pending.Push(subdirs[i]);
        }
        return found;
    }

    private static bool IsPackageRoot(string dir)
    {
        string? parent = Path.GetDirectoryName(dir);
        if (parent is null) return false;
        string parentName = Path.GetFileName(parent);
        if (parentName == "node_modules") return true;
        return parentName.StartsWith('@') && Path.GetFileName(Path.GetDirectoryName(parent)) == "node_modules";
    }

    /// <summary>The kind of a file from its name; with <paramref name="sniff"/>, from its content when the name says nothing.</summary>
    public static DependencyFileKind? Classify(string file, bool sniff)
    {
        ArgumentNullException.ThrowIfNull(file);
        string name = Path.GetFileName(file);
        string lower = name.ToLowerInvariant();
        string? parent = Path.GetFileName(Path.GetDirectoryName(file));
        switch (name)
        {
            case "pyproject.toml": return DependencyFileKind.Pyproject;
            case "Pipfile": return DependencyFileKind.Pipfile;
            case "Pipfile.lock": return DependencyFileKind.PipfileLock;
            case "uv.lock": return DependencyFileKind.UvLock;
            case "poetry.lock": return DependencyFileKind.PoetryLock;
            case "package.json": return DependencyFileKind.PackageJson;
            case "package-lock.json" or "npm-shrinkwrap.json": return DependencyFileKind.PackageLock;
            case "yarn.lock": return DependencyFileKind.YarnLock;
            case "METADATA" or "PKG-INFO" when parent is not null && InstalledPython.IsDistribution(parent):
                return DependencyFileKind.PythonDistribution;
        }
        bool text = lower.EndsWith(".txt", StringComparison.Ordinal) || lower.EndsWith(".in", StringComparison.Ordinal);
        if (text && (lower.StartsWith("constraints", StringComparison.Ordinal) || lower.Contains("-constraints", StringComparison.Ordinal)))
            return DependencyFileKind.Constraints;
        if (text && (lower.Contains("requirements", StringComparison.Ordinal) || parent is "requirements" || parent is "requirements.d"))
            return DependencyFileKind.Requirements;
        return sniff ? Sniff(file) : null;
    }

    private static DependencyFileKind? Sniff(string file)
    {
        string head = TextLines.Head(file).TrimStart('\uFEFF');
        string t = head.TrimStart();
        if (t.StartsWith('{'))
        {
            if (head.Contains("\"lockfileVersion\"", StringComparison.Ordinal)) return DependencyFileKind.PackageLock;
            if (head.Contains("\"_meta\"", StringComparison.Ordinal)) return DependencyFileKind.PipfileLock;
            if (head.Contains("\"dependencies\"", StringComparison.Ordinal) || head.Contains("\"devDependencies\"", StringComparison.Ordinal)
                || head.Contains("\"name\"", StringComparison.Ordinal))
                return DependencyFileKind.PackageJson;
            return null;
        }
        if (head.Contains("# yarn lockfile v1", StringComparison.Ordinal) || head.StartsWith("__metadata:", StringComparison.Ordinal)
            || head.Contains("\n__metadata:", StringComparison.Ordinal))
            return DependencyFileKind.YarnLock;
        if (t.StartsWith("Metadata-Version:", StringComparison.OrdinalIgnoreCase)) return DependencyFileKind.PythonDistribution;
        if (head.Contains("[[package]]", StringComparison.Ordinal))
            return head.Contains("content-hash", StringComparison.Ordinal) || head.Contains("lock-version", StringComparison.Ordinal)
                || head.Contains("@generated by Poetry", StringComparison.OrdinalIgnoreCase)
                ? DependencyFileKind.PoetryLock : DependencyFileKind.UvLock;
        if (head.Contains("[project]", StringComparison.Ordinal) || head.Contains("[tool.poetry", StringComparison.Ordinal)
            || head.Contains("[build-system]", StringComparison.Ordinal))
            return DependencyFileKind.Pyproject;
        if (head.Contains("[packages]", StringComparison.Ordinal) || head.Contains("[dev-packages]", StringComparison.Ordinal))
            return DependencyFileKind.Pipfile;
        // Requirements by content: every meaningful line of the head is a requirement or a pip option.
        var lines = head.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Take(50).ToList();
        if (head.Length == 4096 && lines.Count > 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count > 0 && lines.All(l => l.StartsWith('-') || Pep508.Parse(l.Split(" --")[0].TrimEnd('\\').Trim()) is not null || DirectReferences.LooksLikeUrlOrPath(l)))
            return DependencyFileKind.Requirements;
        return null;
    }
}
