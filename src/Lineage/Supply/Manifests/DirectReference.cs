using System.Text.RegularExpressions;

namespace Lineage.Supply.Manifests;

/// <summary>What a direct URL, path or VCS reference says about a dependency.</summary>
internal sealed record DirectReference(string Url, string? Vcs, string? Ref, bool Pinned, string? Name, string? Version, string? Hash);

/// <summary>Reads pip-style direct references: VCS URLs (git+, hg+, svn+, bzr+ with @ref and #egg=), archive
/// URLs and paths (name and version from wheel or sdist file names, #sha256= fragments).</summary>
internal static partial class DirectReferences
{
    [GeneratedRegex("^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex FullCommit();

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9][A-Za-z0-9._]*)-(?<version>[0-9][^-]*?)(-[^-]+)*\.whl$", RegexOptions.CultureInvariant)]
    private static partial Regex WheelName();

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?<version>[0-9][A-Za-z0-9.+!_-]*)\.(tar\.gz|tar\.bz2|tar\.xz|tgz|zip)$", RegexOptions.CultureInvariant)]
    private static partial Regex SdistName();

    public static bool IsFullCommit(string? s) => s is not null && FullCommit().IsMatch(s);

    public static bool LooksLikeUrlOrPath(string s) =>
        s.Contains("://", StringComparison.Ordinal) || s.StartsWith('.') || s.StartsWith('/') || s.StartsWith('~')
        || s.StartsWith("file:", StringComparison.OrdinalIgnoreCase)
        || s.EndsWith(".whl", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".tar.gz", StringComparison.OrdinalIgnoreCase)
        || s.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);

    public static DirectReference Parse(string url)
    {
        string? fragment = null;
        string body = url;
        int hash = url.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0)
        {
            fragment = url[(hash + 1)..];
            body = url[..hash];
        }
        string? egg = null, digest = null;
        if (fragment is not null)
        {
            foreach (var part in fragment.Split('&'))
            {
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0) continue;
                string key = part[..eq], value = part[(eq + 1)..];
                if (key == "egg") egg = value;
                else if (key is "sha256" or "sha384" or "sha512" or "md5" or "sha1") digest = key + ":" + value;
            }
        }
        string? vcs = null;
        int plus = body.IndexOf('+', StringComparison.Ordinal);
        int scheme = body.IndexOf("://", StringComparison.Ordinal);
        if (plus > 0 && scheme > plus && body[..plus] is "git" or "hg" or "svn" or "bzr") vcs = body[..plus];
        else if (body.StartsWith("git://", StringComparison.Ordinal) || body.StartsWith("git@", StringComparison.Ordinal)) vcs = "git";
        string? reference = null;
        if (vcs is not null)
        {
            int pathStart = scheme >= 0 ? body.IndexOf('/', scheme + 3) : body.IndexOf(':', StringComparison.Ordinal);
            int at = pathStart >= 0 ? body.LastIndexOf('@') : -1;
            if (at > pathStart && pathStart >= 0)
            {
                reference = body[(at + 1)..];
                body = body[..at];
            }
        }
        bool pinned = vcs switch
        {
            null => false,
            "svn" => reference is not null && reference.TrimStart('r').All(char.IsAsciiDigit) && reference.Length > 0,
            _ => IsFullCommit(reference),
        };
        string? name = egg, version = null;
        if (vcs is null)
        {
            string file = body.TrimEnd('/');
            int slash = Math.Max(file.LastIndexOf('/'), file.LastIndexOf('\\'));
            file = Uri.UnescapeDataString(file[(slash + 1)..]);
            var m = WheelName().Match(file);
            if (!m.Success) m = SdistName().Match(file);
            if (m.Success)
            {
                name ??= m.Groups["name"].Value;
                version = m.Groups["version"].Value;
            }
        }
        if (name is not null)
        {
            int dash = name.IndexOf('-', StringComparison.Ordinal);
            if (egg is not null && dash > 0 && dash + 1 < name.Length && char.IsAsciiDigit(name[dash + 1])) name = name[..dash];
        }
        return new DirectReference(url, vcs, reference, pinned, name, version, digest);
    }
}
