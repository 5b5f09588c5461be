using System.Security.Cryptography;
using System.Text;
using Lineage.Formats;
using Lineage.IO;
using Lineage.Security;

namespace Lineage.Audit;

/// <summary>
/// One file of an audited model folder. <see cref="Path"/> is relative to the folder with '/' separators;
/// <see cref="Sha256"/> hashes every byte (the link target's bytes for a symbolic link, as a loader reads them);
/// <see cref="GitBlobSha1"/> is git's object id of the same bytes, to check against a Hugging Face file listing.
/// </summary>
public sealed record InventoryFile(string Path, long Size, string? Sha256, string Format)
{
    public string? GitBlobSha1 { get; init; }

    /// <summary>Where a symbolic link points (as written), else null.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>The LFS object this file is a pointer to, when the file is a Git LFS pointer instead of content.</summary>
    public LfsPointer? Pointer { get; init; }

    /// <summary>Why the file could not be hashed, else null.</summary>
    public string? Error { get; init; }
}

/// <summary>A Git LFS pointer file: <c>version https://git-lfs.github.com/spec/v1</c>, <c>oid sha256:HEX</c>, <c>size N</c>.</summary>
public sealed record LfsPointer(string Sha256, long Size)
{
    /// <summary>Pointer files are tiny; the spec caps them at 1024 bytes.</summary>
    public const int MaxLength = 1024;

    /// <summary>Parses a pointer, or returns null when the bytes are not one.</summary>
    public static LfsPointer? TryParse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxLength || !bytes.StartsWith("version https://git-lfs.github.com/spec/"u8)) return null;
        string? oid = null;
        long? size = null;
        foreach (var raw in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("oid sha256:", StringComparison.Ordinal) && Hex.IsSha256(line[11..])) oid = line[11..].ToLowerInvariant();
            else if (line.StartsWith("size ", StringComparison.Ordinal) && long.TryParse(line.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)) size = n;
        }
        return oid is not null && size is not null ? new LfsPointer(oid, size.Value) : null;
    }
}

internal static class Hex
{
    public static bool IsSha256(string s) => s.Length == 64 && s.All(Uri.IsHexDigit);

    public static bool IsSha1(string s) => s.Length == 40 && s.All(Uri.IsHexDigit);
}

/// <summary>
/// Lists and hashes every file of a model folder (or one file): SHA-256 and git blob id in one pass, the format
/// detected from content, Git LFS pointers recognised. Version-control folders and the Hugging Face download
/// cache's bookkeeping (<c>.cache/huggingface</c>) are not part of a model and are left out.
/// </summary>
public static class FileInventory
{
    private static readonly string[] IgnoredFolders = [".git", ".hg", ".svn"];

    public const int MaxFiles = 100_000;

    public const int MaxDepth = 64;

    /// <summary>The folder the inventory's relative paths start from (the file's folder for a single file).</summary>
    public static string RootOf(string path) => Directory.Exists(path) ? System.IO.Path.GetFullPath(path) : System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;

    public static IReadOnlyList<InventoryFile> Build(string path, IReadOnlyCollection<string>? exclude = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path) && !Directory.Exists(path))
            return [Describe(System.IO.Path.GetFullPath(path), System.IO.Path.GetFileName(path))];
        if (!Directory.Exists(path)) throw new LineageException("no such file or folder", path);
        string root = System.IO.Path.GetFullPath(path);
        var excluded = new HashSet<string>((exclude ?? []).Select(System.IO.Path.GetFullPath), StringComparer.Ordinal);
        var files = new List<InventoryFile>();
        var stack = new Stack<(string Dir, int Depth)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (dir, depth) = stack.Pop();
            var entries = new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            var subdirs = new List<string>();
            foreach (var entry in entries)
            {
                string full = System.IO.Path.Combine(dir, entry.Name);
                string relative = System.IO.Path.GetRelativePath(root, full).Replace(System.IO.Path.DirectorySeparatorChar, '/');
                if (entry is DirectoryInfo && entry.LinkTarget is null)
                {
                    if (IgnoredFolders.Contains(entry.Name, StringComparer.Ordinal) || relative == ".cache/huggingface") continue;
                    if (depth + 1 > MaxDepth) throw new LineageException($"folder nesting deeper than {MaxDepth} levels", full);
                    subdirs.Add(full);
                    continue;
                }
                if (excluded.Contains(full)) continue;
                if (files.Count >= MaxFiles) throw new LineageException($"more than {MaxFiles} files", root);
                files.Add(Describe(full, relative));
            }
            for (int i = subdirs.Count - 1; i >= 0; i--) stack.Push((subdirs[i], depth + 1));
        }
        return files;
    }

    /// <summary>Hashes one file (following a symbolic link to its target's bytes) and detects its format.</summary>
    public static InventoryFile Describe(string fullPath, string relative)
    {
        var info = new FileInfo(fullPath);
        string? link = info.LinkTarget;
        try
        {
            if (link is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target is null || !target.Exists || target is DirectoryInfo)
                    return new InventoryFile(relative, 0, null, "symlink") { LinkTarget = link, Error = "broken symbolic link (or a link to a folder)" };
                info = (FileInfo)target;
            }
            var (sha256, sha1, head) = HashFile(info.FullName, info.Length);
            string format = info.Length == 0 ? "empty" : FormatNames.Of(FormatDetector.Detect(head, info.Length, info.Name), TextKind.None);
            if (format == "unknown" && !head.AsSpan().Contains((byte)0)) format = "text";
            var pointer = info.Length <= LfsPointer.MaxLength ? LfsPointer.TryParse(head) : null;
            return new InventoryFile(relative, info.Length, sha256, pointer is null ? format : "lfs-pointer")
            {
                GitBlobSha1 = sha1,
                LinkTarget = link,
                Pointer = pointer,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new InventoryFile(relative, 0, null, "unreadable") { LinkTarget = link, Error = e.Message };
        }
    }

    /// <summary>SHA-256 and git's blob id (SHA-1 of "blob N\0" + bytes) in one streaming pass, plus the first bytes for format detection.</summary>
    private static (string Sha256, string Sha1, byte[] Head) HashFile(string path, long length)
    {
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {length.ToString(System.Globalization.CultureInfo.InvariantCulture)}\0"));
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 20];
        byte[]? head = null;
        long total = 0;
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            head ??= buffer.AsSpan(0, Math.Min(n, Math.Max(FormatDetector.HeadLength, LfsPointer.MaxLength))).ToArray();
            sha256.AppendData(buffer, 0, n);
            sha1.AppendData(buffer, 0, n);
            total += n;
        }
        if (total != length)
            throw new IOException($"file changed while it was hashed ({length} bytes expected, {total} read)");
        return (Convert.ToHexStringLower(sha256.GetHashAndReset()), Convert.ToHexStringLower(sha1.GetHashAndReset()), head ?? []);
    }
}
