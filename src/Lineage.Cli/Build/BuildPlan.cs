using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Lineage.Formats;
using Lineage.Formats.Remote;

namespace Lineage.Cli.Build;

/// <summary>One model to fingerprint: the id it is stored under, where it is read from, and its family label.</summary>
internal sealed record BuildItem(string Id, string Source, string? Family)
{
    public bool IsRemote => RemoteModelLoader.IsRemote(Source);
}

/// <summary>
/// A worker's share of a bulk build: shard <see cref="Index"/> of <see cref="Count"/>. A model belongs to the
/// shard given by a hash of its id (SHA-256, first 8 bytes, modulo the count), so the split depends only on
/// the ids: every worker computes the same partition from the same list, in any order, on any machine, and
/// adding models to the list moves no other model to another shard.
/// </summary>
internal sealed record Shard(int Index, int Count)
{
    public static readonly Shard All = new(0, 1);

    public bool Owns(string id)
    {
        if (Count == 1) return true;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)Count) == Index;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>
    /// The shard from <c>--shard I/N</c>, else the index from <c>JOB_COMPLETION_INDEX</c> (Kubernetes Indexed Job)
    /// or <c>SLURM_ARRAY_TASK_ID</c> (taken as is, so arrays run 0..N-1 and a re-run of single tasks keeps their
    /// index) with the count
    /// from <c>--shard-count</c>, else <c>LINEAGE_SHARD_COUNT</c>, else <c>SLURM_ARRAY_TASK_COUNT</c>; else all.
    /// Returns an error message instead when the values are malformed or inconsistent.
    /// </summary>
    public static (Shard? Shard, string? Error) Resolve(string? shard, int? shardCount, Func<string, string?> env)
    {
        if (!string.IsNullOrWhiteSpace(shard))
        {
            var parts = shard.Split('/');
            if (parts.Length != 2 || !TryInt(parts[0], out int i) || !TryInt(parts[1], out int n))
                return (null, $"--shard '{shard}' must be INDEX/COUNT, e.g. 0/8");
            if (shardCount is { } c && c != n) return (null, $"--shard {shard} disagrees with --shard-count {c}");
            return Checked(i, n, "--shard");
        }
        string? source = null;
        int index = 0;
        if (env("JOB_COMPLETION_INDEX") is { Length: > 0 } k8s)
        {
            if (!TryInt(k8s, out index)) return (null, $"JOB_COMPLETION_INDEX '{k8s}' is not a number");
            source = "JOB_COMPLETION_INDEX";
        }
        else if (env("SLURM_ARRAY_TASK_ID") is { Length: > 0 } slurm)
        {
            if (!TryInt(slurm, out index)) return (null, $"SLURM_ARRAY_TASK_ID '{slurm}' is not a number");
            source = "SLURM_ARRAY_TASK_ID";
        }
        int? count = shardCount;
        foreach (string name in new[] { "LINEAGE_SHARD_COUNT", "SLURM_ARRAY_TASK_COUNT" })
        {
            if (count is not null) break;
            if (env(name) is { Length: > 0 } v)
            {
                if (!TryInt(v, out int parsed)) return (null, $"{name} '{v}' is not a number");
                count = parsed;
            }
        }
        if (source is null)
        {
            if (count is > 1) return (null, "a shard count was given but no shard index (--shard I/N, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID)");
            return (All, null);
        }
        if (count is null) return (null, $"{source} is set but the number of shards is not: pass --shard-count N or set LINEAGE_SHARD_COUNT");
        return Checked(index, count.Value, source);
    }

    private static (Shard?, string?) Checked(int index, int count, string what)
    {
        if (count < 1 || count > 1_000_000) return (null, $"{what}: shard count {count} must be between 1 and 1000000");
        if (index < 0 || index >= count) return (null, $"{what}: shard index {index} is outside 0..{count - 1}");
        return (new Shard(index, count), null);
    }

    private static bool TryInt(string s, out int value) => int.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}

/// <summary>The models a bulk build covers: a folder tree, or a list file of paths, hf:// ids and URLs.</summary>
internal static class BuildPlan
{
    /// <summary>Longest list file read (a list of a few million models is well under this).</summary>
    private const long MaxListBytes = 1L << 30;

    public static IReadOnlyList<BuildItem> From(string from, bool familyFromFolder)
    {
        if (RemoteModelLoader.IsRemote(from)) return [new BuildItem(DefaultId(from), from, null)];
        if (Directory.Exists(from))
        {
            return [.. ModelDiscovery.Find(from).Select(m => new BuildItem(
                m.IsFolder ? m.RelativePath : StripExtension(m.RelativePath), m.Path, familyFromFolder ? FamilyOf(m.RelativePath) : null))];
        }
        if (File.Exists(from)) return ReadList(from);
        throw new LineageException("--from must be a folder of models, a list file (one path, hf:// id or URL per line) or an hf:// id or URL", from);
    }

    /// <summary>
    /// A list file: one model per line, <c>SOURCE</c> or <c>SOURCE&lt;TAB&gt;ID[&lt;TAB&gt;FAMILY]</c>; blank lines and
    /// lines starting with '#' are ignored; relative paths are taken relative to the list file.
    /// </summary>
    public static IReadOnlyList<BuildItem> ReadList(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > MaxListBytes) throw new LineageException($"model list is larger than {MaxListBytes} bytes", path);
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var items = new List<BuildItem>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var fields = line.Split('\t');
            string source = fields[0].Trim();
            if (!RemoteModelLoader.IsRemote(source) && !Path.IsPathRooted(source)) source = Path.GetFullPath(Path.Combine(baseDir, source));
            string id = fields.Length > 1 && fields[1].Trim().Length > 0 ? fields[1].Trim() : DefaultId(fields[0].Trim());
            string? family = fields.Length > 2 && fields[2].Trim().Length > 0 ? fields[2].Trim() : null;
            if (!ids.Add(id)) throw new LineageException($"line {lineNumber}: model id '{id}' is listed twice", path);
            items.Add(new BuildItem(id, source, family));
        }
        return items;
    }

    /// <summary>
    /// The id a list line gets without an explicit one: hf://ORG/NAME[...] → ORG/NAME[...]; a URL → host and
    /// path (the query string, which may hold credentials, is dropped); a path → as written, extension dropped.
    /// </summary>
    public static string DefaultId(string source)
    {
        if (source.StartsWith("hf://", StringComparison.OrdinalIgnoreCase)) return source["hf://".Length..].TrimEnd('/');
        if (Uri.TryCreate(source, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            return uri.Host + (uri.IsDefaultPort ? "" : ":" + uri.Port.ToString(CultureInfo.InvariantCulture)) + uri.AbsolutePath;
        string trimmed = source.TrimEnd('/', '\\');
        return Directory.Exists(trimmed) ? trimmed : StripExtension(trimmed);
    }

    public static string StripExtension(string relative)
    {
        string name = Path.GetFileName(relative);
        int dot = name.LastIndexOf('.');
        return dot > 0 ? relative[..(relative.Length - name.Length + dot)] : relative;
    }

    private static string? FamilyOf(string relative)
    {
        int slash = relative.LastIndexOf('/');
        if (slash < 0) return null;
        string parent = relative[..slash];
        int last = parent.LastIndexOf('/');
        return last < 0 ? parent : parent[(last + 1)..];
    }
}
