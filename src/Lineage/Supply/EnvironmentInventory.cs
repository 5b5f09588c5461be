using System.Text.Json;
using Lineage.Supply.Manifests;

namespace Lineage.Supply;

/// <summary>A CycloneDX component as Lineage writes it for packages (dependency and environment BOMs).</summary>
public sealed record BomComponent
{
    public string Type { get; init; } = "library";

    public required string BomRef { get; init; }

    public required string Name { get; init; }

    public string? Group { get; init; }

    public string? Version { get; init; }

    public required string Purl { get; init; }

    /// <summary>Hashes as the metadata gives them: "sha256:hex", "sha256=hex" or SRI "sha512-base64".</summary>
    public IReadOnlyList<string> Hashes { get; init; } = [];

    public string? Scope { get; init; }

    public IReadOnlyList<(string Name, string Value)> Properties { get; init; } = [];
}

/// <summary>Writes <see cref="BomComponent"/>s as CycloneDX 1.6 JSON objects (hashes converted to alg + hex content).</summary>
public static class BomComponents
{
    public static void Write(Utf8JsonWriter w, BomComponent c)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(c);
        w.WriteStartObject();
        w.WriteString("type", c.Type);
        w.WriteString("bom-ref", c.BomRef);
        if (c.Group is not null) w.WriteString("group", c.Group);
        w.WriteString("name", c.Name);
        if (c.Version is not null) w.WriteString("version", c.Version);
        if (c.Scope is not null) w.WriteString("scope", c.Scope);
        var hashes = c.Hashes.Select(ToCycloneDx).OfType<(string Alg, string Hex)>().Distinct().ToList();
        if (hashes.Count > 0)
        {
            w.WriteStartArray("hashes");
            foreach (var (alg, hex) in hashes)
            {
                w.WriteStartObject();
                w.WriteString("alg", alg);
                w.WriteString("content", hex);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteString("purl", c.Purl);
        if (c.Properties.Count > 0)
        {
            w.WriteStartArray("properties");
            foreach (var (name, value) in c.Properties)
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("value", value);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>CycloneDX alg name and lower-case hex digest, or null for an unknown algorithm or malformed digest.</summary>
    public static (string Alg, string Hex)? ToCycloneDx(string hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        string alg, value;
        int sep = hash.IndexOfAny([':', '=']);
        int dash = hash.IndexOf('-', StringComparison.Ordinal);
        if (sep > 0 && (dash < 0 || sep < dash))
        {
            alg = hash[..sep];
            value = hash[(sep + 1)..];
        }
        else if (dash > 0)
        {
            // Subresource Integrity: algorithm-base64.
            alg = hash[..dash];
            try
            {
                value = Convert.ToHexStringLower(Convert.FromBase64String(hash[(dash + 1)..]));
            }
            catch (FormatException)
            {
                return null;
            }
        }
        else
        {
            return null;
        }
        (string? name, int hexLength) = alg.ToLowerInvariant() switch
        {
            "md5" => ("MD5", 32),
            "sha1" => ("SHA-1", 40),
            "sha256" => ("SHA-256", 64),
            "sha384" => ("SHA-384", 96),
            "sha512" => ("SHA-512", 128),
            _ => ((string?)null, 0),
        };
        // A digest of the wrong length is not that algorithm's digest (and CycloneDX's schema rejects it).
        if (name is null || value.Length != hexLength || !value.All(char.IsAsciiHexDigit)) return null;
        return (name, value.ToLowerInvariant());
    }
}

/// <summary>
/// The packages installed in an environment (a container root or a virtualenv): Python distributions
/// (*.dist-info, *.egg-info), npm packages (node_modules/**/package.json) and Debian packages
/// (var/lib/dpkg/status, and status.d/* as distroless images keep them), as CycloneDX components with purls
/// and the hashes the metadata records (PEP 610 archive hashes, npm integrity). <c>lineage bom DIR --environment
/// ROOT</c> appends <see cref="Scan"/>'s components to the model BOM's components.
/// </summary>
public static class EnvironmentInventory
{
    private const int MaxDpkgParagraphs = 200_000;

    public static IReadOnlyList<BomComponent> Scan(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        string full = Path.GetFullPath(root);
        if (!Directory.Exists(full)) throw new LineageException("no such folder", full);
        var components = new List<BomComponent>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, kind) in Installed(full))
        {
            var dep = kind == DependencyFileKind.PythonDistribution ? InstalledPython.Read(path) : NpmManifests.Installed(path);
            if (dep is null) continue;
            string purl = Ecosystems.Purl(dep.Ecosystem, dep.Name, dep.Version);
            if (!seen.Add(purl + "|" + dep.File)) continue;
            components.Add(new BomComponent
            {
                BomRef = $"{purl}#{Path.GetRelativePath(full, dep.File).Replace('\\', '/')}",
                Name = dep.Name, Version = dep.Version, Purl = purl, Hashes = dep.Hashes,
                Properties = [("lineage:environment-path", Path.GetRelativePath(full, dep.File).Replace('\\', '/')), ("lineage:ecosystem", dep.Ecosystem)],
            });
        }
        string distro = DebianDistro(full);
        foreach (var status in DpkgStatusFiles(full))
        {
            foreach (var (name, version, arch, line) in ReadDpkgStatus(status))
            {
                var qualifiers = new Dictionary<string, string>(StringComparer.Ordinal);
                if (arch is not null) qualifiers["arch"] = arch;
                string purl = Ecosystems.Purl(Ecosystems.Debian, name, version, distro, qualifiers);
                if (!seen.Add(purl)) continue;
                components.Add(new BomComponent
                {
                    BomRef = purl, Name = name, Version = version, Purl = purl,
                    Properties = [("lineage:environment-path", $"{Path.GetRelativePath(full, status).Replace('\\', '/')}:{line}"), ("lineage:ecosystem", Ecosystems.Debian)],
                });
            }
        }
        return components;
    }

    /// <summary>
    /// Kernel and runtime pseudo-filesystems and scratch space at the top of a root filesystem: nothing is installed
    /// there, and /proc and /sys are not safely walkable (unreadable entries, self-references).
    /// </summary>
    private static readonly HashSet<string> SkippedTopLevel = new(StringComparer.Ordinal) { "proc", "sys", "dev", "run", "tmp", "lost+found" };

    private static IEnumerable<(string Path, DependencyFileKind Kind)> Installed(string root)
    {
        bool isFilesystemRoot = Directory.Exists(Path.Combine(root, "proc")) || Directory.Exists(Path.Combine(root, "usr"));
        IEnumerable<string> starts = [root];
        if (isFilesystemRoot)
        {
            try
            {
                starts = [.. Directory.EnumerateDirectories(root).Where(d => !SkippedTopLevel.Contains(Path.GetFileName(d)) && new DirectoryInfo(d).LinkTarget is null).Order(StringComparer.Ordinal)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LineageException($"cannot list folder: {e.Message}", root, inner: e);
            }
        }
        foreach (var start in starts)
            foreach (var f in DependencyDiscovery.Find(start))
                if (f.Kind is DependencyFileKind.PythonDistribution or DependencyFileKind.NodeModulesPackage) yield return f;
    }

    private static IEnumerable<string> DpkgStatusFiles(string root)
    {
        string status = Path.Combine(root, "var", "lib", "dpkg", "status");
        if (File.Exists(status)) yield return status;
        string statusD = Path.Combine(root, "var", "lib", "dpkg", "status.d");
        if (Directory.Exists(statusD))
            foreach (var f in Directory.EnumerateFiles(statusD).Where(f => !f.EndsWith(".md5sums", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                yield return f;
    }

    /// <summary>The purl namespace for Debian packages: ID from etc/os-release (debian, ubuntu…), else debian.</summary>
    private static string DebianDistro(string root)
    {
        foreach (var candidate in new[] { Path.Combine(root, "etc", "os-release"), Path.Combine(root, "usr", "lib", "os-release") })
        {
            if (!File.Exists(candidate)) continue;
            foreach (var (_, text) in TextLines.Read(candidate).Take(200))
            {
                if (!text.StartsWith("ID=", StringComparison.Ordinal)) continue;
                string id = text[3..].Trim().Trim('"', '\'').ToLowerInvariant();
                if (id.Length > 0 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')) return id;
            }
        }
        return "debian";
    }

    /// <summary>Installed packages of a dpkg status file: paragraphs with Package, Version, Architecture and a Status of "install ok installed".</summary>
    internal static IEnumerable<(string Name, string Version, string? Arch, int Line)> ReadDpkgStatus(string file)
    {
        string? name = null, version = null, arch = null, status = null;
        int start = 0, paragraphs = 0;
        foreach (var (line, text) in TextLines.Read(file).Append((int.MaxValue, "")))
        {
            if (text.Trim().Length == 0)
            {
                if (name is not null)
                {
                    if (++paragraphs > MaxDpkgParagraphs) throw new LineageException($"more than {MaxDpkgParagraphs} packages", file);
                    if (version is null) throw new LineageException($"line {start}: package '{name}' has no Version field", file);
                    bool installed = status is null || status.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [.., "installed"];
                    if (installed) yield return (name, version, arch, start);
                }
                name = version = arch = status = null;
                continue;
            }
            if (char.IsWhiteSpace(text[0])) continue;
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0) throw new LineageException($"line {line}: expected 'Field: value'", file);
            string key = text[..colon];
            string value = text[(colon + 1)..].Trim();
            switch (key)
            {
                case "Package":
                    name = value;
                    start = line;
                    break;
                case "Version": version = value; break;
                case "Architecture": arch = value; break;
                case "Status": status = value; break;
            }
        }
    }

    /// <summary>Writes the components into an open JSON array (the model BOM's "components").</summary>
    public static void WriteComponents(Utf8JsonWriter w, IEnumerable<BomComponent> components)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(components);
        foreach (var c in components) BomComponents.Write(w, c);
    }
}
