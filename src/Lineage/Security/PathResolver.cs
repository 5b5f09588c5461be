namespace Lineage.Security;

/// <summary>Resolves symbolic links component by component (like realpath) to decide what lies inside a folder.</summary>
internal static class PathResolver
{
    private const int MaxLinkHops = 40;

    /// <summary>The absolute path with every symbolic link along it resolved; throws IOException on a link loop.</summary>
    public static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "/";
        var pending = new List<string>(full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));
        string current = root;
        int hops = 0;
        for (int i = 0; i < pending.Count; i++)
        {
            string next = Path.Combine(current, pending[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++hops > MaxLinkHops) throw new IOException($"too many levels of symbolic links at {next}");
                string resolved = Path.GetFullPath(target, current);
                string newRoot = Path.GetPathRoot(resolved) ?? root;
                var rest = pending.Skip(i + 1).ToList();
                pending = [.. resolved[newRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries), .. rest];
                current = newRoot;
                i = -1;
                continue;
            }
            current = next;
        }
        return current;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="root"/> or lies beneath it.</summary>
    public static bool IsUnder(string path, string root)
    {
        string r = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return string.Equals(path, root, StringComparison.Ordinal) || path.StartsWith(r, StringComparison.Ordinal);
    }
}
