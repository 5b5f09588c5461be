using System.Buffers.Binary;
using Lineage.Formats;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.IO.Tar;
using Lineage.Security.Pickles;
using SharpCompress.Archives.SevenZip;

namespace Lineage.Security.Containers;

/// <summary>
/// Tar archives (<see cref="TarReader"/>), including PyTorch's oldest tar checkpoint format, whose 'storages' and
/// 'tensors' members interleave pickles with raw bytes: each pickle there is scanned and the raw records between
/// them are skipped by their declared sizes. Names that escape the extraction folder, links and special files
/// are findings; regular members are scanned by content.
/// </summary>
internal sealed class TarAnalyzer : IFormatAnalyzer
{
    private static readonly string[] TorchMembers = ["sys_info", "pickle", "storages", "tensors"];

    public string Name => "tar";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
        [ScanRules.ArchivePathTraversal, ScanRules.ArchiveLink, ScanRules.ArchiveAmbiguous, ScanRules.ArchiveIntegrity, ScanRules.ArchiveSpecialMember];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Tar;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var tar = TarReader.Read(target.Source);
        bool torch = TorchMembers.All(m => tar.Entries.Any(e => e.Name == m && e.Kind == TarEntryKind.File));
        var counts = tar.Entries.GroupBy(e => e.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        foreach (var entry in tar.Entries)
        {
            ArchiveNames.Check(entry.Name, entry.HeaderOffset, context);
            if (counts[entry.Name] > 1 && entry.Kind == TarEntryKind.File)
                context.Report(ScanRules.ArchiveAmbiguous, "name used by more than one member; extraction keeps the last", entry.HeaderOffset, entry.Name);
            switch (entry.Kind)
            {
                case TarEntryKind.SymbolicLink or TarEntryKind.HardLink:
                    context.Report(ScanRules.ArchiveLink, $"{(entry.Kind == TarEntryKind.SymbolicLink ? "symbolic" : "hard")} link to '{entry.LinkName}'", entry.HeaderOffset, entry.Name,
                        severity: ArchiveNames.Escapes(entry.LinkName ?? "") ? Severity.High : Severity.Medium);
                    continue;
                case TarEntryKind.Special:
                    context.Report(ScanRules.ArchiveSpecialMember, $"special member (type '{entry.TypeFlag}')", entry.HeaderOffset, entry.Name);
                    continue;
                case TarEntryKind.Directory:
                    continue;
            }
            var member = tar.Open(entry);
            if (torch && entry.Name is "storages" or "tensors")
            {
                var nested = context.Nested(entry.Name);
                if (nested is not null) TorchTarRecords(member, entry.Name == "storages", nested);
                continue;
            }
            context.ScanNested(member, counts[entry.Name] > 1 ? $"{entry.Name} (at byte {entry.HeaderOffset})" : entry.Name);
        }
        if (tar.StoppedAt is { } stopped)
            context.Report(ScanRules.ArchiveIntegrity, $"tar reading stopped: {tar.StopReason}", stopped);
    }

    /// <summary>
    /// torch's legacy tar members: a pickled count, then per record a pickle and raw bytes — storages: (key,
    /// location, storage type) then an int64 element count and the elements; tensors: (key, storage id, type) then
    /// int32 ndim, 4 bytes, ndim sizes, ndim strides and an int64 offset.
    /// </summary>
    private static void TorchTarRecords(IByteSource member, bool storages, ScanContext context)
    {
        var first = PickleScanner.ScanStreams(member, 0, context, multiple: false);
        if (!first.Completed) return;
        var head = first.Streams[0];
        if (head.Root is not PickleInt countValue || !countValue.TryGetInt64(out long count) || count < 0 || count > 10_000_000)
        {
            context.ReportError(ScanRules.Unparseable, "torch tar record count is not a small non-negative integer", 0);
            return;
        }
        long pos = head.EndOffset;
        Span<byte> buffer = stackalloc byte[8];
        for (long i = 0; i < count; i++)
        {
            var record = PickleScanner.ScanStreams(member, pos, context, multiple: false);
            if (!record.Completed) return;
            var r = record.Streams[0];
            pos = r.EndOffset;
            long skip;
            if (storages)
            {
                long elementSize = r.Root is PickleTuple { Items: [_, _, PickleGlobal type] } ? ElementSize(type.Name) : 0;
                if (elementSize == 0 || pos + 8 > member.Length)
                {
                    context.ReportError(ScanRules.Unparseable, "torch tar storage record does not name a storage type, or its size is missing", r.StartOffset);
                    return;
                }
                member.ReadExactly(pos, buffer);
                long elements = BinaryPrimitives.ReadInt64LittleEndian(buffer);
                if (elements < 0 || elements > (member.Length - pos - 8) / elementSize)
                {
                    context.ReportError(ScanRules.Unparseable, $"torch tar storage of {elements} elements runs past the member", pos);
                    return;
                }
                skip = 8 + elements * elementSize;
            }
            else
            {
                if (pos + 8 > member.Length)
                {
                    context.ReportError(ScanRules.Unparseable, "torch tar tensor record is truncated", pos);
                    return;
                }
                member.ReadExactly(pos, buffer[..4]);
                int ndim = BinaryPrimitives.ReadInt32LittleEndian(buffer);
                if (ndim is < 0 or > 64)
                {
                    context.ReportError(ScanRules.Unparseable, $"torch tar tensor has {ndim} dimensions", pos);
                    return;
                }
                skip = 8 + 16L * ndim + 8;
            }
            if (skip > member.Length - pos)
            {
                context.ReportError(ScanRules.Unparseable, "torch tar record runs past the member", pos);
                return;
            }
            pos += skip;
        }
        if (pos < member.Length)
            context.Report(ScanRules.StreamAnomaly, $"{member.Length - pos} bytes follow the last torch tar record", pos);
    }

    private static long ElementSize(string storageType) => storageType switch
    {
        "DoubleStorage" or "LongStorage" or "ComplexFloatStorage" => 8,
        "FloatStorage" or "IntStorage" or "QInt32Storage" => 4,
        "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2,
        "CharStorage" or "ByteStorage" or "BoolStorage" or "QInt8Storage" or "QUInt8Storage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => 0,
    };
}

/// <summary>Member-name checks shared by the archive analyzers (tar, 7z).</summary>
internal static class ArchiveNames
{
    public static bool Escapes(string name)
    {
        string n = name.Replace('\\', '/');
        return n.StartsWith('/') || n.StartsWith('~') || (n.Length >= 2 && char.IsAsciiLetter(n[0]) && n[1] == ':') || n.Split('/').Any(p => p == "..");
    }

    public static void Check(string name, long offset, ScanContext context)
    {
        if (name.Contains('\0', StringComparison.Ordinal))
            context.Report(ScanRules.ArchivePathTraversal, "member name contains a NUL character", offset, name);
        else if (Escapes(name))
            context.Report(ScanRules.ArchivePathTraversal, "member name escapes the extraction folder (absolute path or '..')", offset, name);
        else if (name.Contains('\\', StringComparison.Ordinal))
            context.Report(ScanRules.ArchivePathTraversal, "member name uses backslashes", offset, name, severity: Severity.Medium);
    }
}

/// <summary>
/// 7z archives through SharpCompress: member names and links are checked, each member is expanded into memory
/// under the file's decompression budget and scanned by content. Encrypted members cannot be scanned and fail closed.
/// </summary>
internal sealed class SevenZipAnalyzer : IFormatAnalyzer
{
    public string Name => "7z";

    public IReadOnlyList<RuleDescriptor> Rules { get; } = [ScanRules.ArchivePathTraversal, ScanRules.ArchiveLink];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.SevenZip;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var options = context.Options;
        using var stream = new ByteSourceStream(target.Source);
        List<SevenZipArchiveEntry> entries;
        SharpCompress.Archives.IArchive archive;
        try
        {
            archive = SevenZipArchive.OpenArchive(stream, new SharpCompress.Readers.ReaderOptions { LeaveStreamOpen = true });
            entries = [.. archive.Entries.Cast<SevenZipArchiveEntry>()];
        }
        catch (Exception e) when (e is not LineageException and not OutOfMemoryException)
        {
            throw new LineageException($"7z structure could not be read: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", target.Path, 0, target.Entry);
        }
        using (archive)
        {
            if (entries.Count > 1_000_000) throw new LimitExceededException($"7z archive with {entries.Count} members", target.Path, 0);
            foreach (var entry in entries)
            {
                string name = entry.Key ?? "";
                ArchiveNames.Check(name, 0, context);
                if (entry.LinkTarget is { Length: > 0 } link)
                {
                    context.Report(ScanRules.ArchiveLink, $"symbolic link to '{link}'", null, name, severity: ArchiveNames.Escapes(link) ? Severity.High : Severity.Medium);
                    continue;
                }
                if (entry.IsDirectory || entry.Size == 0 && entry.CompressedSize == 0 && name.EndsWith('/')) continue;
                if (entry.IsEncrypted)
                {
                    context.ReportError(ScanRules.Unparseable, "member is encrypted; its content cannot be scanned", null, name);
                    continue;
                }
                if (entry.Size > Math.Min(options.MaxExpandedBytes, context.Budget.Remaining))
                {
                    context.ReportError(ScanRules.LimitExceeded, $"member of {entry.Size} bytes exceeds the decompression limits", null, name);
                    continue;
                }
                ReadOnlyMemory<byte> data;
                try
                {
                    using var raw = entry.OpenEntryStream();
                    data = Expander.Expand(raw, Math.Max(1, archive.TotalSize), s => s, context, target.Path, "7z member");
                }
                catch (LineageException e)
                {
                    context.ReportException(e, entry: name);
                    continue;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    context.ReportError(ScanRules.Unparseable, $"7z member could not be expanded: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", null, name);
                    continue;
                }
                context.ScanNested(new MemoryByteSource(name, data), name);
            }
        }
    }
}
