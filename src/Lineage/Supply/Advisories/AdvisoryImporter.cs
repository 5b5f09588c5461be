using Lineage.IO;
using Lineage.IO.Zip;

namespace Lineage.Supply.Advisories;

/// <summary>Limits for reading advisory sources (all hostile-input bounds in one place).</summary>
public sealed record AdvisoryImportLimits
{
    public static AdvisoryImportLimits Default { get; } = new();

    /// <summary>Bytes one OSV JSON file or zip member may have (inflated).</summary>
    public int MaxRecordFileBytes { get; init; } = OsvParser.MaxFileBytes;

    /// <summary>Bytes all zip members of one import may inflate to together.</summary>
    public long MaxTotalInflatedBytes { get; init; } = 16L << 30;

    /// <summary>Inflated-to-compressed ratio allowed for a member past <see cref="RatioGraceBytes"/> (JSON deflates ~5–20:1).</summary>
    public double MaxCompressionRatio { get; init; } = 200;

    public long RatioGraceBytes { get; init; } = 1L << 20;

    /// <summary>Files one folder import may visit.</summary>
    public int MaxFiles { get; init; } = 4_000_000;
}

/// <summary>
/// Reads OSV advisories from a folder (every *.json below it, and every *.zip such as OSV's per-ecosystem
/// all.zip), a zip, or one JSON file, lazily and in a stable order, so that the store can write them inside one
/// transaction: any error (bad JSON, schema violation, a zip bomb, a corrupt member) aborts the whole import.
/// Symbolic links are not followed.
/// </summary>
public static class AdvisoryImporter
{
    public static AdvisoryImportResult Import(SqliteAdvisoryStore store, string path, AdvisoryImportLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(path);
        return store.Import(Read(path, limits));
    }

    /// <summary>Every record under <paramref name="path"/> with the file (and zip member) it came from.</summary>
    public static IEnumerable<(OsvRecord Record, string Source)> Read(string path, AdvisoryImportLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= AdvisoryImportLimits.Default;
        string full = Path.GetFullPath(path);
        var budget = new InflateBudget(limits.MaxTotalInflatedBytes);
        if (Directory.Exists(full)) return ReadFolder(full, limits, budget);
        if (File.Exists(full)) return ReadFile(full, limits, budget);
        throw new LineageException("no such file or folder", full);
    }

    private sealed class InflateBudget(long max)
    {
        public long Remaining { get; set; } = max;

        public long Max { get; } = max;
    }

    private static IEnumerable<(OsvRecord, string)> ReadFolder(string root, AdvisoryImportLimits limits, InflateBudget budget)
    {
        int files = 0;
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            string dir = pending.Pop();
            var info = new DirectoryInfo(dir);
            List<FileSystemInfo> children;
            try
            {
                children = [.. info.EnumerateFileSystemInfos().OrderBy(c => c.Name, StringComparer.Ordinal)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new LineageException($"cannot list folder: {e.Message}", dir, inner: e);
            }
            foreach (var child in children.Where(c => c is DirectoryInfo && c.LinkTarget is null).Reverse())
                pending.Push(child.FullName);
            foreach (var child in children.OfType<FileInfo>().Where(c => c.LinkTarget is null))
            {
                bool json = child.Name.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
                bool zip = child.Name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);
                if (!json && !zip) continue;
                if (++files > limits.MaxFiles) throw new LineageException($"more than {limits.MaxFiles} files under the folder", root);
                foreach (var r in ReadFile(child.FullName, limits, budget)) yield return r;
            }
        }
    }

    private static IEnumerable<(OsvRecord, string)> ReadFile(string file, AdvisoryImportLimits limits, InflateBudget budget)
    {
        byte[] head = new byte[4];
        int n;
        try
        {
            using var fs = File.OpenRead(file);
            n = fs.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", file, inner: e);
        }
        if (n == 4 && head[0] == 'P' && head[1] == 'K') return ReadZip(file, limits, budget);
        return ReadJson(file, limits);
    }

    private static IEnumerable<(OsvRecord, string)> ReadJson(string file, AdvisoryImportLimits limits)
    {
        long length = new FileInfo(file).Length;
        if (length > limits.MaxRecordFileBytes)
            throw new LineageException($"OSV file is {length} bytes, over the limit of {limits.MaxRecordFileBytes}", file);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", file, inner: e);
        }
        return OsvParser.Parse(bytes, file).Select(r => (r, file));
    }

    private static IEnumerable<(OsvRecord, string)> ReadZip(string file, AdvisoryImportLimits limits, InflateBudget budget)
    {
        using var source = RandomAccessFile.Open(file);
        var zip = ZipReader.Open(source, new ZipLimits
        {
            MaxInflatedBytes = limits.MaxRecordFileBytes,
            MaxCompressionRatio = limits.MaxCompressionRatio,
            RatioGraceBytes = limits.RatioGraceBytes,
        });
        foreach (var entry in zip.Entries.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (entry.IsDirectory || !entry.Name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) continue;
            if (entry.IsSymlink) continue;
            if (entry.UncompressedSize > limits.MaxRecordFileBytes)
                throw new LineageException($"member declares {entry.UncompressedSize} bytes, over the limit of {limits.MaxRecordFileBytes}", file, entry.LocalHeaderOffset, entry.Name);
            if (entry.UncompressedSize > budget.Remaining)
                throw new LineageException($"the archive inflates past the import limit of {budget.Max} bytes (zip bomb?)", file, entry.LocalHeaderOffset, entry.Name);
            byte[] bytes;
            using (var data = zip.OpenEntry(entry))
            {
                if (data.Length > budget.Remaining)
                    throw new LineageException($"the archive inflates past the import limit of {budget.Max} bytes (zip bomb?)", file, entry.LocalHeaderOffset, entry.Name);
                budget.Remaining -= data.Length;
                bytes = data.ReadBytes(0, data.Length, limits.MaxRecordFileBytes);
            }
            var bad = zip.Oddities.FirstOrDefault(o => o.Entry == entry.Name && o.Code is "zip.crc-mismatch" or "zip.size-mismatch");
            if (bad is not null) throw new LineageException($"corrupt member: {bad.Message}", file, bad.Offset, entry.Name);
            IReadOnlyList<OsvRecord> records;
            try
            {
                records = OsvParser.Parse(bytes, file);
            }
            catch (LineageException e)
            {
                throw e.InEntry(file, entry.Name);
            }
            foreach (var r in records) yield return (r, $"{file}!{entry.Name}");
        }
    }
}
