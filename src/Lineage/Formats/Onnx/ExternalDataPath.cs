namespace Lineage.Formats.Onnx;

/// <summary>
/// Resolves an ONNX external_data location inside the model's folder. A hostile model can name any path, so
/// absolute paths, drive letters, '..' components and symbolic links whose target leaves the folder are refused,
/// and a missing file is an error (never silently "no weights").
/// </summary>
internal static class ExternalDataPath
{
    private const int MaxLinkHops = 40;

    /// <summary>
    /// The external data file as a path under <paramref name="modelDirectory"/> (spelled as the caller spelled the
    /// folder) and its real path with links resolved; throws <see cref="LineageException"/> naming <paramref name="modelFile"/>.
    /// </summary>
    public static (string Path, string RealPath) Resolve(string modelDirectory, string location, string modelFile, long offset)
    {
        if (location.Length == 0)
            throw new LineageException("external data location is empty", modelFile, offset);
        if (location.Contains('\0', StringComparison.Ordinal))
            throw new LineageException("external data location contains a NUL character", modelFile, offset);
        if (location[0] is '/' or '\\' || Path.IsPathRooted(location) || (location.Length >= 2 && location[1] == ':' && char.IsAsciiLetter(location[0])))
            throw new LineageException($"external data location '{location}' is an absolute path; only files inside the model folder are read", modelFile, offset);
        var parts = location.Split('/', '\\');
        if (parts.Any(p => p == ".."))
            throw new LineageException($"external data location '{location}' uses '..' to leave the model folder", modelFile, offset);
        var clean = parts.Where(p => p.Length > 0 && p != ".").ToArray();
        if (clean.Length == 0)
            throw new LineageException($"external data location '{location}' names no file", modelFile, offset);

        string folder = Path.GetFullPath(modelDirectory);
        string candidate = Path.Combine([folder, .. clean]);
        if (!File.Exists(candidate))
        {
            throw Directory.Exists(candidate)
                ? new LineageException($"external data location '{location}' is a folder, not a file", modelFile, offset)
                : new LineageException($"external data file '{location}' not found next to the model", modelFile, offset);
        }
        string realFolder = RealPath(folder, modelFile, offset);
        string realFile = RealPath(candidate, modelFile, offset);
        if (!realFile.StartsWith(realFolder.EndsWith(Path.DirectorySeparatorChar) ? realFolder : realFolder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new LineageException($"external data location '{location}' resolves through a symbolic link to '{realFile}', outside the model folder", modelFile, offset);
        return (Path.Combine([modelDirectory, .. clean]), realFile);
    }

    /// <summary>The path with every symbolic link along it resolved (like POSIX realpath), bounded in link hops.</summary>
    internal static string RealPath(string path, string modelFile, long offset)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "/";
        var pending = new List<string>(Split(full[root.Length..]));
        pending.Reverse();
        string current = root;
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending[^1];
            pending.RemoveAt(pending.Count - 1);
            if (part == ".") continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }
            string next = Path.Combine(current, part);
            string? target;
            try
            {
                target = new FileInfo(next).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LineageException($"cannot inspect '{next}': {e.Message}", modelFile, offset, inner: e);
            }
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxLinkHops)
                throw new LineageException($"more than {MaxLinkHops} symbolic links while resolving '{path}'", modelFile, offset);
            if (Path.IsPathRooted(target))
            {
                string targetRoot = Path.GetPathRoot(target) ?? "/";
                current = targetRoot;
                target = target[targetRoot.Length..];
            }
            var targetParts = Split(target);
            for (int i = targetParts.Length - 1; i >= 0; i--) pending.Add(targetParts[i]);
        }
        return current;
    }

    private static string[] Split(string path) =>
        path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
}
