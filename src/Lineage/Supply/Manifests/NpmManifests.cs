using System.Text.Json;
using Lineage.Supply.Versions;

namespace Lineage.Supply.Manifests;

/// <summary>package.json, package-lock.json / npm-shrinkwrap.json (lockfileVersion 1, 2 and 3), yarn.lock (v1 and Berry).</summary>
internal static class NpmManifests
{
    private const int MaxLockDepth = 256;

    public static ManifestResult PackageJson(string file)
    {
        string text = TextLines.ReadAll(file);
        var lines = new LineIndex(text);
        var result = new ManifestResult();
        result.Files.Add(file);
        using var doc = JsonFiles.Parse(text, file);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new LineageException("package.json is not a JSON object", file);
        foreach (var (section, group) in new[] { ("dependencies", (string?)null), ("devDependencies", "dev"), ("optionalDependencies", "optional") })
        {
            if (!doc.RootElement.TryGetProperty(section, out var deps)) continue;
            int sectionLine = lines.Find($"\"{section}\"") ?? 1;
            if (deps.ValueKind != JsonValueKind.Object) throw new LineageException($"line {sectionLine}: '{section}' is not an object", file);
            foreach (var p in deps.EnumerateObject())
            {
                int? line = lines.Find($"\"{p.Name}\"", sectionLine);
                if (p.Value.ValueKind != JsonValueKind.String) throw new LineageException($"line {line ?? sectionLine}: '{p.Name}' is not a version string", file);
                var dep = FromSpec(p.Name, p.Value.GetString()!, file, line, group, result);
                if (dep is not null) result.Dependencies.Add(dep);
            }
        }
        return result;
    }

    /// <summary>A package.json dependency from its spec: a version or range, npm: alias, git/GitHub ref, URL or local path.</summary>
    private static Dependency? FromSpec(string name, string spec, string file, int? line, string? group, ManifestResult result)
    {
        string s = spec.Trim();
        if (s.StartsWith("file:", StringComparison.Ordinal) || s.StartsWith("link:", StringComparison.Ordinal)
            || s.StartsWith("workspace:", StringComparison.Ordinal) || s.StartsWith("portal:", StringComparison.Ordinal)
            || s.StartsWith("./", StringComparison.Ordinal) || s.StartsWith("../", StringComparison.Ordinal) || s.StartsWith('/') || s.StartsWith("~/", StringComparison.Ordinal))
        {
            result.Notes.Add($"{file}:{line}: local dependency {name} ({s}) not resolved to a version");
            return null;
        }
        if (s.StartsWith("npm:", StringComparison.Ordinal))
        {
            string alias = s[4..];
            int at = alias.LastIndexOf('@');
            if (at > 0)
            {
                name = alias[..at];
                s = alias[(at + 1)..];
            }
            else
            {
                name = alias;
                s = "*";
            }
        }
        string? vcs = null, reference = null, url = null;
        bool isGit = s.StartsWith("git+", StringComparison.Ordinal) || s.StartsWith("git://", StringComparison.Ordinal)
            || s.StartsWith("github:", StringComparison.Ordinal) || s.StartsWith("gitlab:", StringComparison.Ordinal)
            || s.StartsWith("bitbucket:", StringComparison.Ordinal) || s.StartsWith("gist:", StringComparison.Ordinal)
            || (!s.Contains(':', StringComparison.Ordinal) && !s.StartsWith('@') && s.Contains('/', StringComparison.Ordinal) && !s.Contains(' ', StringComparison.Ordinal));
        if (isGit)
        {
            vcs = "git";
            url = s;
            int hash = s.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0) reference = s[(hash + 1)..];
            if (reference?.StartsWith("semver:", StringComparison.Ordinal) == true) reference = null;
        }
        else if (s.StartsWith("http://", StringComparison.Ordinal) || s.StartsWith("https://", StringComparison.Ordinal))
        {
            url = s;
        }
        return new Dependency
        {
            Ecosystem = Ecosystems.Npm, Name = name, Version = vcs is null && url is null ? NpmExact(s) : null, Specifier = url is null ? s : null,
            Origin = DependencyOrigin.Manifest, File = file, Line = line, Url = url, Vcs = vcs, VcsRef = reference,
            VcsPinned = DirectReferences.IsFullCommit(reference), Group = group, Format = "package.json",
        };
    }

    /// <summary>The version an npm spec pins exactly ("1.2.3", "=1.2.3", "v1.2.3"), else null.</summary>
    internal static string? NpmExact(string spec)
    {
        string s = spec.Trim();
        if (s.StartsWith('=')) s = s[1..].Trim();
        if (s.Contains(' ', StringComparison.Ordinal) || s.Contains("||", StringComparison.Ordinal)) return null;
        return SemVersion.TryParse(s, out var v) ? v.ToString() : null;
    }

    public static ManifestResult PackageLock(string file)
    {
        string text = TextLines.ReadAll(file);
        var lines = new LineIndex(text);
        var result = new ManifestResult();
        result.Files.Add(file);
        using var doc = JsonFiles.Parse(text, file);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new LineageException("lock file is not a JSON object", file);
        string format = Path.GetFileName(file).Equals("npm-shrinkwrap.json", StringComparison.OrdinalIgnoreCase) ? "npm-shrinkwrap" : "package-lock";
        if (root.TryGetProperty("packages", out var packages))
        {
            if (packages.ValueKind != JsonValueKind.Object) throw new LineageException($"line {lines.Find("\"packages\"") ?? 1}: 'packages' is not an object", file);
            int searchLine = lines.Find("\"packages\"") ?? 1;
            foreach (var p in packages.EnumerateObject())
            {
                int? line = lines.Find($"\"{p.Name}\"", searchLine);
                if (line is { } l) searchLine = l;
                if (p.Name.Length == 0) continue;
                int nm = p.Name.LastIndexOf("node_modules/", StringComparison.Ordinal);
                if (nm < 0) continue; // a workspace folder: the project's own code
                if (p.Value.ValueKind != JsonValueKind.Object) throw new LineageException($"line {line ?? 0}: entry '{p.Name}' is not an object", file);
                if (p.Value.TryGetProperty("link", out var link) && link.ValueKind == JsonValueKind.True) continue;
                string name = JsonFiles.String(p.Value, "name") ?? p.Name[(nm + "node_modules/".Length)..];
                result.Dependencies.Add(LockEntry(name, p.Value, file, line, format));
            }
            return result;
        }
        if (root.TryGetProperty("dependencies", out var deps))
        {
            // lockfileVersion 1: a nested "dependencies" tree, walked with an explicit stack.
            var stack = new Stack<(JsonElement Deps, int Depth)>();
            stack.Push((deps, 0));
            int searchLine = 1;
            while (stack.Count > 0)
            {
                var (current, depth) = stack.Pop();
                if (current.ValueKind != JsonValueKind.Object) throw new LineageException("'dependencies' is not an object", file);
                if (depth > MaxLockDepth) throw new LineageException($"dependency tree deeper than {MaxLockDepth}", file);
                foreach (var p in current.EnumerateObject())
                {
                    int? line = lines.Find($"\"{p.Name}\"", searchLine);
                    if (p.Value.ValueKind != JsonValueKind.Object) throw new LineageException($"line {line ?? 0}: entry '{p.Name}' is not an object", file);
                    result.Dependencies.Add(LockEntry(p.Name, p.Value, file, line, format));
                    if (p.Value.TryGetProperty("dependencies", out var nested)) stack.Push((nested, depth + 1));
                }
            }
        }
        return result;
    }

    private static Dependency LockEntry(string name, JsonElement e, string file, int? line, string format)
    {
        string? version = JsonFiles.String(e, "version");
        string? resolved = JsonFiles.String(e, "resolved");
        string? integrity = JsonFiles.String(e, "integrity");
        string? vcs = null, reference = null;
        string? gitSource = version is not null && (version.StartsWith("git", StringComparison.Ordinal) || version.StartsWith("github:", StringComparison.Ordinal)) ? version
            : resolved is not null && resolved.StartsWith("git", StringComparison.Ordinal) ? resolved : null;
        if (gitSource is not null)
        {
            vcs = "git";
            int hash = gitSource.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0) reference = gitSource[(hash + 1)..];
            if (version == gitSource) version = null;
        }
        string? group = e.TryGetProperty("dev", out var dev) && dev.ValueKind == JsonValueKind.True ? "dev"
            : e.TryGetProperty("optional", out var opt) && opt.ValueKind == JsonValueKind.True ? "optional" : null;
        return new Dependency
        {
            Ecosystem = Ecosystems.Npm, Name = name, Version = version, Origin = DependencyOrigin.Lock, File = file, Line = line,
            Hashes = integrity is null ? [] : [integrity], Url = gitSource ?? resolved, Vcs = vcs, VcsRef = reference,
            VcsPinned = DirectReferences.IsFullCommit(reference), Group = group, Format = format,
        };
    }

    public static ManifestResult YarnLock(string file)
    {
        var result = new ManifestResult();
        result.Files.Add(file);
        string? names = null;
        int headerLine = 0;
        string? version = null, resolved = null, integrity = null;
        bool berry = false;

        void Flush()
        {
            if (names is null) return;
            string first = names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)[0].Trim('"');
            int at = first.IndexOf('@', first.StartsWith('@') ? 1 : 0);
            string name = at > 0 ? first[..at] : first;
            string range = at > 0 ? first[(at + 1)..] : "";
            bool local = range.StartsWith("workspace:", StringComparison.Ordinal) || range.StartsWith("link:", StringComparison.Ordinal)
                || range.StartsWith("file:", StringComparison.Ordinal) || range.StartsWith("portal:", StringComparison.Ordinal);
            if (names == "__metadata") local = true;
            if (!local)
            {
                if (version is null) throw new LineageException($"line {headerLine}: entry '{first}' has no version", file);
                string? gitRef = null;
                string? source = resolved;
                bool git = source is not null && (source.StartsWith("git", StringComparison.Ordinal) || source.Contains("#commit=", StringComparison.Ordinal));
                if (git)
                {
                    int hash = source!.LastIndexOf('#');
                    gitRef = hash >= 0 ? source[(hash + 1)..].Replace("commit=", "", StringComparison.Ordinal) : null;
                }
                result.Dependencies.Add(new Dependency
                {
                    Ecosystem = Ecosystems.Npm, Name = name, Version = version, Origin = DependencyOrigin.Lock, File = file, Line = headerLine,
                    Hashes = integrity is null ? [] : [integrity], Url = source, Vcs = git ? "git" : null, VcsRef = gitRef,
                    VcsPinned = DirectReferences.IsFullCommit(gitRef), Format = "yarn.lock",
                });
            }
            names = null;
            version = resolved = integrity = null;
        }

        foreach (var (line, raw) in TextLines.Read(file))
        {
            if (raw.Length == 0 || raw.TrimStart().StartsWith('#')) continue;
            if (!char.IsWhiteSpace(raw[0]))
            {
                Flush();
                if (!raw.EndsWith(':')) throw new LineageException($"line {line}: expected an entry header ending in ':'", file);
                names = raw[..^1];
                headerLine = line;
                if (names == "__metadata") berry = true;
                continue;
            }
            if (names is null) throw new LineageException($"line {line}: indented line outside an entry", file);
            string t = raw.Trim();
            int indent = raw.Length - raw.TrimStart().Length;
            if (indent != 2) continue;
            var (key, value) = SplitField(t, berry);
            switch (key)
            {
                case "version": version = value; break;
                case "resolved" or "resolution" when key == "resolved" || resolved is null: resolved = value; break;
                case "integrity" or "checksum": integrity = value; break;
            }
        }
        Flush();
        return result;
    }

    /// <summary>"key value" (v1, value possibly quoted) or "key: value" (Berry).</summary>
    private static (string Key, string Value) SplitField(string t, bool berry)
    {
        int sep = berry ? t.IndexOf(':', StringComparison.Ordinal) : t.IndexOf(' ', StringComparison.Ordinal);
        if (sep < 0) return (t.TrimEnd(':'), "");
        string key = t[..sep].Trim().Trim('"');
        string value = t[(sep + 1)..].Trim();
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
        return (key, value);
    }

    /// <summary>An installed package: node_modules/**/package.json (name, version, and npm's _integrity/_resolved when present).</summary>
    public static Dependency? Installed(string packageJson)
    {
        string text = TextLines.ReadAll(packageJson, 16L << 20);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new LineageException($"line {(e.LineNumber ?? 0) + 1}: invalid JSON in installed package metadata", packageJson, inner: e);
        }
        using (doc)
        {
            string? name = JsonFiles.String(doc.RootElement, "name");
            string? version = JsonFiles.String(doc.RootElement, "version");
            if (name is null || version is null) return null;
            string? integrity = JsonFiles.String(doc.RootElement, "_integrity");
            return new Dependency
            {
                Ecosystem = Ecosystems.Npm, Name = name, Version = version, Origin = DependencyOrigin.Installed, File = packageJson, Line = null,
                Hashes = integrity is null ? [] : [integrity], Url = JsonFiles.String(doc.RootElement, "_resolved"), Format = "node_modules",
            };
        }
    }
}
