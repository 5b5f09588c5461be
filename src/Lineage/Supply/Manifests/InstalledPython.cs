using System.Text.Json;

namespace Lineage.Supply.Manifests;

/// <summary>
/// An installed Python distribution: a <c>*.dist-info</c> folder (METADATA, direct_url.json) or a
/// <c>*.egg-info</c> folder or file (PKG-INFO). Name and version come from the core metadata headers, VCS
/// commit and archive hashes from direct_url.json (PEP 610).
/// </summary>
internal static class InstalledPython
{
    private const int MaxHeaderLines = 10_000;

    public static bool IsDistribution(string path) =>
        path.EndsWith(".dist-info", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".egg-info", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads one distribution; null when it has no metadata file (a stray folder name).</summary>
    public static Dependency? Read(string path)
    {
        string? metadata = Directory.Exists(path)
            ? new[] { "METADATA", "PKG-INFO" }.Select(n => Path.Combine(path, n)).FirstOrDefault(File.Exists)
            : File.Exists(path) ? path : null;
        if (metadata is null) return null;
        string? name = null, version = null;
        int? nameLine = null;
        int count = 0;
        foreach (var (line, text) in TextLines.Read(metadata))
        {
            if (text.Length == 0 || ++count > MaxHeaderLines) break;
            if (char.IsWhiteSpace(text[0])) continue;
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) continue;
            string key = text[..colon].Trim();
            string value = text[(colon + 1)..].Trim();
            if (key.Equals("Name", StringComparison.OrdinalIgnoreCase) && name is null)
            {
                name = value;
                nameLine = line;
            }
            else if (key.Equals("Version", StringComparison.OrdinalIgnoreCase) && version is null)
            {
                version = value;
            }
        }
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(version))
            throw new LineageException("installed package metadata has no Name or Version header", metadata);
        var dep = new Dependency
        {
            Ecosystem = Ecosystems.PyPI, Name = name, Version = version, Origin = DependencyOrigin.Installed, File = metadata, Line = nameLine,
            Format = path.EndsWith(".egg-info", StringComparison.OrdinalIgnoreCase) ? "egg-info" : "dist-info",
        };
        string directUrl = Path.Combine(path, "direct_url.json");
        return Directory.Exists(path) && File.Exists(directUrl) ? WithDirectUrl(dep, directUrl) : dep;
    }

    private static Dependency WithDirectUrl(Dependency dep, string file)
    {
        string text = TextLines.ReadAll(file, 1 << 20);
        using var doc = JsonFiles.Parse(text, file);
        var root = doc.RootElement;
        string? url = JsonFiles.String(root, "url");
        if (root.TryGetProperty("dir_info", out _)) return dep with { Url = url };
        if (root.TryGetProperty("vcs_info", out var vcs) && vcs.ValueKind == JsonValueKind.Object)
        {
            string? commit = JsonFiles.String(vcs, "commit_id");
            return dep with { Url = url, Vcs = JsonFiles.String(vcs, "vcs") ?? "git", VcsRef = commit, VcsPinned = DirectReferences.IsFullCommit(commit) };
        }
        var hashes = new List<string>();
        if (root.TryGetProperty("archive_info", out var archive) && archive.ValueKind == JsonValueKind.Object)
        {
            if (archive.TryGetProperty("hashes", out var hs) && hs.ValueKind == JsonValueKind.Object)
                hashes.AddRange(hs.EnumerateObject().Where(h => h.Value.ValueKind == JsonValueKind.String).Select(h => $"{h.Name}:{h.Value.GetString()}"));
            else if (JsonFiles.String(archive, "hash") is { } legacy)
                hashes.Add(legacy.Replace('=', ':'));
        }
        return dep with { Url = url, Hashes = hashes };
    }
}
