using System.Runtime.InteropServices;

namespace Lineage.Signing;

/// <summary>A file of the model: its name in the manifest (POSIX path relative to the model; "." when the model is a
/// single file), where its bytes are read from (the link target for an allowed symlink) and its length.</summary>
internal sealed record LocalFile(string Name, string ContentPath, long Length);

/// <summary>
/// The files that make up a model, found the way model_signing serializes one: every regular file under the model
/// folder except ignored paths (a directory ignores everything below it), the git metadata paths by default, and the
/// signature file itself. Symbolic links are refused unless the signature's serialization allows them; other kinds
/// of file (FIFOs, devices, sockets) are refused always: a FIFO would block a reader and can feed a loader anything.
/// </summary>
internal sealed class ModelTree
{
    public static readonly IReadOnlyList<string> GitPaths = [".git", ".gitattributes", ".github", ".gitignore"];

    private const int MaxFiles = 10_000_000;

    private ModelTree(string root, bool isSingleFile, List<LocalFile> files, List<string> problems)
    {
        Root = root;
        IsSingleFile = isSingleFile;
        Files = files;
        Problems = problems;
    }

    /// <summary>Full path of the model folder, or of the file when the model is a single file.</summary>
    public string Root { get; }

    public bool IsSingleFile { get; }

    public IReadOnlyList<LocalFile> Files { get; }

    /// <summary>Paths that cannot be part of a model (refused symlinks, special files), one message each.</summary>
    public IReadOnlyList<string> Problems { get; }

    public static string FullPath(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    /// <summary>
    /// The full paths to skip. Relative user paths are read both from the current directory (as the reference
    /// tool's shell usage does: <c>--ignore-paths ./model/ignore-me</c>) and from the model folder
    /// (<c>--ignore-paths ignore-me</c>); only paths inside the model matter.
    /// </summary>
    public static List<string> IgnoredPaths(string modelRoot, IEnumerable<string> userPaths, IEnumerable<string> modelRelativePaths, bool ignoreGitPaths, IEnumerable<string> alwaysIgnored)
    {
        var result = new List<string>();
        foreach (string p in userPaths)
        {
            if (string.IsNullOrEmpty(p)) continue;
            result.Add(FullPath(p));
            if (!Path.IsPathRooted(p)) result.Add(FullPath(Path.Combine(modelRoot, p)));
        }
        foreach (string p in modelRelativePaths)
            if (p.Length > 0 && p != "." && !p.StartsWith('/')) result.Add(FullPath(Path.Combine(modelRoot, p)));
        if (ignoreGitPaths)
            foreach (string p in GitPaths) result.Add(Path.Combine(modelRoot, p));
        foreach (string p in alwaysIgnored) result.Add(FullPath(p));
        return result;
    }

    public static bool IsIgnored(string fullPath, IReadOnlyList<string> ignored)
    {
        foreach (string p in ignored)
        {
            if (fullPath.Length == p.Length && string.Equals(fullPath, p, StringComparison.Ordinal)) return true;
            if (fullPath.Length > p.Length && fullPath.StartsWith(p, StringComparison.Ordinal) && fullPath[p.Length] == Path.DirectorySeparatorChar) return true;
        }
        return false;
    }

    /// <summary>Lists the model's files. Throws <see cref="LineageException"/> when the model path does not exist or
    /// cannot be listed.</summary>
    public static ModelTree Scan(string modelPath, IReadOnlyList<string> ignored, bool allowSymlinks)
    {
        string root = FullPath(modelPath);
        var files = new List<LocalFile>();
        var problems = new List<string>();
        try
        {
            if (File.Exists(root) && !Directory.Exists(root))
            {
                var info = new FileInfo(root);
                if (info.LinkTarget is not null && !allowSymlinks)
                    problems.Add($"'{modelPath}' is a symbolic link, which the serialization does not allow");
                else if (FileKind.Of(root, followLinks: true) is FileKindResult.Other)
                    problems.Add($"'{modelPath}' is not a regular file");
                else
                    files.Add(new LocalFile(".", root, new FileInfo(root).Length));
                return new ModelTree(root, true, files, problems);
            }
            if (!Directory.Exists(root)) throw new LineageException("model path not found", modelPath);

            var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false, ReturnSpecialDirectories = false };
            var pending = new Stack<string>();
            pending.Push(root);
            while (pending.Count > 0)
            {
                string dir = pending.Pop();
                foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", options))
                {
                    string full = entry.FullName;
                    if (IsIgnored(full, ignored)) continue;
                    string name = Path.GetRelativePath(root, full).Replace(Path.DirectorySeparatorChar, '/');
                    if (entry.LinkTarget is not null)
                    {
                        AddLink(root, entry, name, allowSymlinks, files, problems);
                    }
                    else if (entry is DirectoryInfo)
                    {
                        pending.Push(full);
                    }
                    else if (FileKind.Of(full, followLinks: false) is FileKindResult.Other)
                    {
                        problems.Add($"'{name}' is not a regular file (FIFO, socket or device)");
                    }
                    else
                    {
                        files.Add(new LocalFile(name, full, ((FileInfo)entry).Length));
                    }
                    if (files.Count > MaxFiles) throw new LineageException($"model has more than {MaxFiles} files", modelPath);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException)
        {
            throw new LineageException($"cannot list the model: {e.Message}", modelPath, inner: e);
        }
        files.Sort((a, b) => InTotoStatement.ComparePaths(a.Name, b.Name));
        return new ModelTree(root, false, files, problems);
    }

    private static void AddLink(string root, FileSystemInfo entry, string name, bool allowSymlinks, List<LocalFile> files, List<string> problems)
    {
        if (!allowSymlinks)
        {
            problems.Add($"'{name}' is a symbolic link, which the serialization does not allow");
            return;
        }
        var target = entry is DirectoryInfo ? Directory.ResolveLinkTarget(entry.FullName, true) : File.ResolveLinkTarget(entry.FullName, true);
        if (target is null || !target.Exists)
        {
            problems.Add($"'{name}' is a broken symbolic link");
            return;
        }
        string targetPath = FullPath(target.FullName);
        if (!targetPath.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            problems.Add($"'{name}' is a symbolic link that leaves the model folder");
            return;
        }
        if (target is DirectoryInfo)
        {
            problems.Add($"'{name}' is a symbolic link to a directory; only links to files are followed");
            return;
        }
        if (FileKind.Of(targetPath, followLinks: true) is FileKindResult.Other)
        {
            problems.Add($"'{name}' links to something that is not a regular file");
            return;
        }
        files.Add(new LocalFile(name, targetPath, new FileInfo(targetPath).Length));
    }
}

internal enum FileKindResult
{
    Unknown,
    Regular,
    Directory,
    Link,
    Other,
}

/// <summary>
/// The file type from stat(2). .NET does not expose it (a FIFO looks like an empty regular file and blocks the
/// reader that opens it), so this asks the runtime's own native shim, whose FileStatus starts with the flags and
/// mode fields on every platform; where that is unavailable the answer is Unknown and callers treat the entry as
/// a regular file.
/// </summary>
internal static unsafe partial class FileKind
{
    private const int TypeMask = 0xF000;

    private static bool _unavailable = OperatingSystem.IsWindows();

    public static FileKindResult Of(string path, bool followLinks)
    {
        if (_unavailable) return FileKindResult.Unknown;
        byte* status = stackalloc byte[512];
        try
        {
            int rc = followLinks ? Stat(path, status) : LStat(path, status);
            if (rc != 0) return FileKindResult.Unknown;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return FileKindResult.Unknown;
        }
        int mode = *(int*)(status + 4);
        return (mode & TypeMask) switch
        {
            0x8000 => FileKindResult.Regular,
            0x4000 => FileKindResult.Directory,
            0xA000 => FileKindResult.Link,
            _ => FileKindResult.Other,
        };
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LStat(string path, byte* output);

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, byte* output);
}
