using System.Text.Json;
using Lineage.Supply.Versions;
using Tomlyn.Model;

namespace Lineage.Supply.Manifests;

/// <summary>
/// pyproject.toml (PEP 621 [project] dependencies and optional-dependencies, PEP 735 dependency-groups,
/// [build-system] requires, Poetry's [tool.poetry] dependencies, dev-dependencies and groups), Pipfile and the
/// lock files uv.lock, poetry.lock and Pipfile.lock.
/// </summary>
internal static class PythonManifests
{
    public static ManifestResult Pyproject(string file)
    {
        var toml = TomlFile.Read(file);
        var result = new ManifestResult();
        result.Files.Add(file);
        if (TomlFile.Table(toml.Root, "project") is { } project)
        {
            Pep508Array(toml, project, "dependencies", null, result);
            if (TomlFile.Table(project, "optional-dependencies") is { } optional)
                foreach (var key in optional.Keys) Pep508Array(toml, optional, key, key, result);
        }
        if (TomlFile.Table(toml.Root, "dependency-groups") is { } groups)
            foreach (var key in groups.Keys) Pep508Array(toml, groups, key, key, result);
        if (TomlFile.Table(toml.Root, "build-system") is { } build)
            Pep508Array(toml, build, "requires", "build", result);
        if (TomlFile.Table(toml.Root, "tool", "poetry") is { } poetry)
        {
            PoetryTable(toml, TomlFile.Table(poetry, "dependencies"), null, result);
            PoetryTable(toml, TomlFile.Table(poetry, "dev-dependencies"), "dev", result);
            if (TomlFile.Table(poetry, "group") is { } poetryGroups)
                foreach (var key in poetryGroups.Keys)
                    PoetryTable(toml, TomlFile.Table(poetryGroups, key, "dependencies"), key, result);
        }
        return result;
    }

    private static void Pep508Array(TomlFile toml, TomlTable table, string key, string? group, ManifestResult result)
    {
        if (!table.TryGetValue(key, out var value)) return;
        int? keyLine = toml.LineOf(table, key);
        if (value is not TomlArray array) throw new LineageException($"line {keyLine ?? 0}: '{key}' is not an array of requirement strings", toml.Path);
        int? searchFrom = keyLine;
        foreach (var item in array)
        {
            if (item is TomlTable) continue; // {include-group = "..."} in dependency-groups
            if (item is not string text) throw new LineageException($"line {keyLine ?? 0}: '{key}' has an item that is not a string", toml.Path);
            int? line = toml.FindLine(text, searchFrom);
            searchFrom = line;
            var req = Pep508.Parse(text) ?? throw new LineageException($"line {line ?? 0}: not a valid PEP 508 requirement: '{text}'", toml.Path);
            var direct = req.Url is null ? null : DirectReferences.Parse(req.Url);
            result.Dependencies.Add(new Dependency
            {
                Ecosystem = Ecosystems.PyPI, Name = req.Name, Version = req.ExactVersion ?? direct?.Version, Specifier = req.Specifier,
                Origin = DependencyOrigin.Manifest, File = toml.Path, Line = line, Extras = req.Extras, Marker = req.Marker, Url = req.Url,
                Vcs = direct?.Vcs, VcsRef = direct?.Ref, VcsPinned = direct?.Pinned ?? false, Group = group, Format = "pyproject",
                Hashes = direct?.Hash is null ? [] : [direct.Hash],
            });
        }
    }

    /// <summary>A Poetry or Pipfile dependency table: name = "constraint" | { version, git, rev/tag/branch, path, url, extras, markers } | [ … ].</summary>
    private static void PoetryTable(TomlFile toml, TomlTable? table, string? group, ManifestResult result, string format = "pyproject")
    {
        if (table is null) return;
        foreach (var (name, value) in table)
        {
            if (name.Equals("python", StringComparison.OrdinalIgnoreCase)) continue;
            int? line = toml.LineOf(table, name);
            var alternatives = value is TomlArray arr ? arr.Cast<object?>().ToList() : [value];
            foreach (var alt in alternatives)
            {
                string? constraint = null, git = null, reference = null, url = null, marker = null;
                var extras = new List<string>();
                switch (alt)
                {
                    case string s:
                        constraint = s;
                        break;
                    case TomlTable t:
                        constraint = TomlFile.String(t, "version");
                        git = TomlFile.String(t, "git");
                        reference = TomlFile.String(t, "rev") ?? TomlFile.String(t, "ref") ?? TomlFile.String(t, "tag") ?? TomlFile.String(t, "branch");
                        url = TomlFile.String(t, "url") ?? TomlFile.String(t, "path") ?? TomlFile.String(t, "file");
                        marker = TomlFile.String(t, "markers");
                        if (t.TryGetValue("extras", out var ex) && ex is TomlArray exArr) extras.AddRange(exArr.OfType<string>());
                        if (url is not null && TomlFile.String(t, "path") is not null && git is null && constraint is null)
                        {
                            result.Notes.Add($"{toml.Path}:{line}: local path dependency {name} not resolved to a version");
                        }
                        break;
                    default:
                        throw new LineageException($"line {line ?? 0}: dependency '{name}' is neither a version string nor a table", toml.Path);
                }
                bool pinned = git is not null && DirectReferences.IsFullCommit(reference);
                result.Dependencies.Add(new Dependency
                {
                    Ecosystem = Ecosystems.PyPI, Name = name, Version = git is null ? PoetryExact(constraint) : null,
                    Specifier = constraint is null or "*" ? constraint : constraint.Trim(),
                    Origin = DependencyOrigin.Manifest, File = toml.Path, Line = line, Extras = extras, Marker = marker,
                    Url = git ?? url, Vcs = git is null ? null : "git", VcsRef = reference, VcsPinned = pinned, Group = group, Format = format,
                });
            }
        }
    }

    /// <summary>The version a Poetry/Pipfile constraint pins exactly: "1.2.3", "==1.2.3", "=1.2.3" (no wildcard, no range).</summary>
    internal static string? PoetryExact(string? constraint)
    {
        if (constraint is null) return null;
        string c = constraint.Trim();
        if (c.StartsWith("===", StringComparison.Ordinal)) return c[3..].Trim();
        if (c.StartsWith("==", StringComparison.Ordinal)) c = c[2..].Trim();
        else if (c.StartsWith('=')) c = c[1..].Trim();
        if (c.Length == 0 || c.Any(ch => ch is '*' or ',' or '|' or '<' or '>' or '^' or '~' or '!' or ' ')) return null;
        return Pep440Version.TryParse(c, out _) ? c : null;
    }

    public static ManifestResult Pipfile(string file)
    {
        var toml = TomlFile.Read(file);
        var result = new ManifestResult();
        result.Files.Add(file);
        PoetryTable(toml, TomlFile.Table(toml.Root, "packages"), null, result, "pipfile");
        PoetryTable(toml, TomlFile.Table(toml.Root, "dev-packages"), "dev", result, "pipfile");
        return result;
    }

    public static ManifestResult UvLock(string file)
    {
        var toml = TomlFile.Read(file);
        var result = new ManifestResult();
        result.Files.Add(file);
        if (!toml.Root.TryGetValue("package", out var packages)) return result;
        if (packages is not TomlTableArray array) throw new LineageException($"line {toml.LineOf(toml.Root, "package") ?? 0}: 'package' is not an array of tables", file);
        int? searchFrom = 1;
        foreach (var pkg in array)
        {
            string name = TomlFile.String(pkg, "name") ?? throw new LineageException($"line {searchFrom ?? 0}: a [[package]] has no name", file);
            int? line = toml.LineOf(pkg, "name") ?? toml.FindLine($"name = \"{name}\"", searchFrom);
            searchFrom = line;
            string? version = TomlFile.String(pkg, "version");
            var source = TomlFile.Table(pkg, "source");
            // The project itself and local path packages: not registry dependencies.
            if (source is not null && (source.ContainsKey("editable") || source.ContainsKey("virtual") || source.ContainsKey("directory") || source.ContainsKey("path")))
                continue;
            string? git = source is null ? null : TomlFile.String(source, "git");
            string? url = source is null ? null : TomlFile.String(source, "url");
            string? commit = null;
            if (git is not null)
            {
                int hashAt = git.LastIndexOf('#');
                if (hashAt >= 0) commit = git[(hashAt + 1)..];
            }
            var hashes = new List<string>();
            if (TomlFile.Table(pkg, "sdist") is { } sdist && TomlFile.String(sdist, "hash") is { } h) hashes.Add(h);
            if (pkg.TryGetValue("wheels", out var wheels) && wheels is TomlArray wheelArray)
                hashes.AddRange(wheelArray.OfType<TomlTable>().Select(w => TomlFile.String(w, "hash")).OfType<string>());
            result.Dependencies.Add(new Dependency
            {
                Ecosystem = Ecosystems.PyPI, Name = name, Version = version, Origin = DependencyOrigin.Lock, File = file, Line = line,
                Hashes = hashes, Url = git ?? url, Vcs = git is null ? null : "git", VcsRef = commit, VcsPinned = DirectReferences.IsFullCommit(commit),
                Format = "uv.lock",
            });
        }
        return result;
    }

    public static ManifestResult PoetryLock(string file)
    {
        var toml = TomlFile.Read(file);
        var result = new ManifestResult();
        result.Files.Add(file);
        if (!toml.Root.TryGetValue("package", out var packages)) return result;
        if (packages is not TomlTableArray array) throw new LineageException($"line {toml.LineOf(toml.Root, "package") ?? 0}: 'package' is not an array of tables", file);
        var legacyFiles = TomlFile.Table(toml.Root, "metadata", "files");
        int? searchFrom = 1;
        foreach (var pkg in array)
        {
            string name = TomlFile.String(pkg, "name") ?? throw new LineageException($"line {searchFrom ?? 0}: a [[package]] has no name", file);
            int? line = toml.LineOf(pkg, "name") ?? toml.FindLine($"name = \"{name}\"", searchFrom);
            searchFrom = line;
            string? version = TomlFile.String(pkg, "version") ?? throw new LineageException($"line {line ?? 0}: package '{name}' has no version", file);
            var hashes = new List<string>();
            if (pkg.TryGetValue("files", out var files) && files is TomlArray fileArray)
                hashes.AddRange(fileArray.OfType<TomlTable>().Select(f => TomlFile.String(f, "hash")).OfType<string>());
            if (legacyFiles is not null && legacyFiles.TryGetValue(name, out var lf) && lf is TomlArray lfArray)
                hashes.AddRange(lfArray.OfType<TomlTable>().Select(f => TomlFile.String(f, "hash")).OfType<string>());
            var source = TomlFile.Table(pkg, "source");
            string? type = source is null ? null : TomlFile.String(source, "type");
            if (type is "directory" or "file") continue;
            string? git = type == "git" ? TomlFile.String(source!, "url") : null;
            string? commit = type == "git" ? TomlFile.String(source!, "resolved_reference") ?? TomlFile.String(source!, "reference") : null;
            string? group = TomlFile.String(pkg, "category") is "dev" ? "dev" : null;
            result.Dependencies.Add(new Dependency
            {
                Ecosystem = Ecosystems.PyPI, Name = name, Version = version, Origin = DependencyOrigin.Lock, File = file, Line = line,
                Hashes = hashes, Url = git, Vcs = git is null ? null : "git", VcsRef = commit, VcsPinned = DirectReferences.IsFullCommit(commit),
                Group = group, Format = "poetry.lock",
            });
        }
        return result;
    }

    public static ManifestResult PipfileLock(string file)
    {
        string text = TextLines.ReadAll(file);
        var result = new ManifestResult();
        result.Files.Add(file);
        using var doc = JsonFiles.Parse(text, file);
        var lines = new LineIndex(text);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new LineageException("Pipfile.lock is not a JSON object", file);
        foreach (var section in new[] { "default", "develop" })
        {
            if (!doc.RootElement.TryGetProperty(section, out var packages)) continue;
            if (packages.ValueKind != JsonValueKind.Object) throw new LineageException($"'{section}' is not an object", file);
            foreach (var p in packages.EnumerateObject())
            {
                int? line = lines.Find($"\"{p.Name}\"");
                if (p.Value.ValueKind != JsonValueKind.Object) throw new LineageException($"line {line ?? 0}: entry '{p.Name}' is not an object", file);
                string? spec = JsonFiles.String(p.Value, "version");
                string? git = JsonFiles.String(p.Value, "git");
                string? reference = JsonFiles.String(p.Value, "ref");
                var hashes = p.Value.TryGetProperty("hashes", out var h) && h.ValueKind == JsonValueKind.Array
                    ? h.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList() : [];
                if (git is null && spec is null && (JsonFiles.String(p.Value, "path") ?? JsonFiles.String(p.Value, "file")) is not null) continue;
                result.Dependencies.Add(new Dependency
                {
                    Ecosystem = Ecosystems.PyPI, Name = p.Name, Version = PoetryExact(spec), Specifier = spec, Origin = DependencyOrigin.Lock,
                    File = file, Line = line, Hashes = hashes, Marker = JsonFiles.String(p.Value, "markers"), Url = git,
                    Vcs = git is null ? null : "git", VcsRef = reference, VcsPinned = DirectReferences.IsFullCommit(reference),
                    Group = section == "develop" ? "dev" : null, Format = "Pipfile.lock",
                });
            }
        }
        return result;
    }
}
