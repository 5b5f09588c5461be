using Lineage.Formats;
using Lineage.IO;
using Lineage.Security.Analyzers;
using Lineage.Security.Containers;

namespace Lineage.Security;

/// <summary>
/// The scanner's front door: walks files and folders, detects each file's format from its content, hands it to
/// the registered <see cref="IFormatAnalyzer"/>s and collects a <see cref="ScanReport"/>. It fails closed: a file
/// that cannot be read or parsed is an error, a recognised format without an analyzer is "unanalysed", and
/// neither is ever reported as clean. Symbolic links are not followed out of the folder being scanned.
/// </summary>
public sealed class Scanner
{
    /// <summary>The analyzers this library ships, in dispatch order. Add format analyzers here.</summary>
    public static IReadOnlyList<IFormatAnalyzer> DefaultAnalyzers { get; } =
    [
        new SafetensorsAnalyzer(),
        new PickleAnalyzer(),
        new ZipAnalyzer(),
        new NpyAnalyzer(),
        new CompressedStreamAnalyzer(),
        new TarAnalyzer(),
        new SevenZipAnalyzer(),
        new GgufAnalyzer(),
        new TensorFlowAnalyzer(),
        new OnnxAnalyzer(),
        new KerasH5Analyzer(),
        new JsonFileAnalyzer(),
        new TemplateFileAnalyzer(),
        new YamlFileAnalyzer(),
        new PythonSourceAnalyzer(),
        new RawWeightsAnalyzer(),
    ];

    private static readonly string[] VersionControlFolders = [".git", ".hg", ".svn"];

    private readonly Dictionary<string, RuleDescriptor> _rulesById;

    public Scanner(ScanOptions? options = null)
    {
        Options = options ?? new ScanOptions();
        Analyzers = Options.Analyzers ?? DefaultAnalyzers;
        Rules = [.. ScanRules.All.Concat(Analyzers.SelectMany(a => a.Rules)).DistinctBy(r => r.Id)];
        _rulesById = Rules.ToDictionary(r => r.Id, StringComparer.Ordinal);
    }

    public ScanOptions Options { get; }

    public IReadOnlyList<IFormatAnalyzer> Analyzers { get; }

    /// <summary>Every rule this scanner's analyzers can report (the built-in catalogue plus plug-in rules).</summary>
    public IReadOnlyList<RuleDescriptor> Rules { get; }

    internal RuleDescriptor? FindRule(string id) => _rulesById.GetValueOrDefault(id);

    /// <summary>Scans files and folders (recursively) with the given options.</summary>
    public static ScanReport Scan(IEnumerable<string> paths, ScanOptions? options = null) => new Scanner(options).Scan(paths);

    public ScanReport Scan(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var reports = new List<FileReport>();
        foreach (var path in paths)
        {
            int before = reports.Count;
            ScanPath(path, reports);
            var mine = reports.Skip(before).ToList();
            if (mine.Count > 0 && mine.All(r => r.Status == FileStatus.Skipped))
            {
                bool isDir = Directory.Exists(path);
                var marker = isDir ? new FileReport(path, "directory") : mine[^1];
                if (isDir)
                {
                    marker.Status = FileStatus.Skipped;
                    marker.Note = "nothing scannable under this folder";
                    reports.Add(marker);
                }
                marker.Findings.Add(Finding.Of(ScanRules.NothingScannable,
                    isDir ? $"nothing scannable under {path} ({mine.Count} files skipped)" : $"nothing scannable: {marker.Note}"));
            }
            else if (mine.Count == 0)
            {
                var marker = new FileReport(path, "directory") { Status = FileStatus.Skipped, Note = "empty folder" };
                marker.Findings.Add(Finding.Of(ScanRules.NothingScannable, $"nothing scannable under {path} (empty folder)"));
                reports.Add(marker);
            }
        }
        return new ScanReport(reports, Rules);
    }

    /// <summary>Scans one in-memory or mapped source as if it were a file at <paramref name="displayPath"/>.</summary>
    public FileReport ScanSource(IByteSource source, string displayPath)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(displayPath);
        var report = new FileReport(displayPath, "unknown") { Status = FileStatus.Skipped, Size = source.Length };
        Dispatch(source, displayPath, null, new ScanContext(this, report, null, 0));
        report.SortFindings();
        return report;
    }

    private void ScanPath(string path, List<FileReport> reports)
    {
        if (File.Exists(path))
        {
            ScanFile(path, reports);
            return;
        }
        if (!Directory.Exists(path))
        {
            var missing = new FileReport(path, "missing");
            var link = new FileInfo(path);
            string why = link.LinkTarget is { } target ? $"broken symbolic link to {target}" : "no such file or folder";
            new ScanContext(this, missing, null, 0).ReportError(ScanRules.Unreadable, why);
            reports.Add(missing);
            return;
        }
        WalkFolder(path, reports);
    }

    private void WalkFolder(string root, List<FileReport> reports)
    {
        string realRoot;
        try
        {
            realRoot = PathResolver.RealPath(root);
        }
        catch (IOException e)
        {
            var r = new FileReport(root, "directory");
            new ScanContext(this, r, null, 0).ReportError(ScanRules.Unreadable, $"cannot resolve folder: {e.Message}");
            reports.Add(r);
            return;
        }

        var stack = new Stack<(string Dir, int Depth)>();
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (dir, depth) = stack.Pop();
            List<FileSystemInfo> entries;
            try
            {
                entries = [.. new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException)
            {
                var r = new FileReport(dir, "directory");
                new ScanContext(this, r, null, 0).ReportError(ScanRules.Unreadable, $"cannot list folder: {e.Message}");
                reports.Add(r);
                continue;
            }

            var subdirs = new List<string>();
            foreach (var entry in entries)
            {
                if (reports.Count >= Options.MaxFiles)
                {
                    var r = new FileReport(dir, "directory");
                    new ScanContext(this, r, null, 0).ReportError(ScanRules.LimitExceeded, $"more than {Options.MaxFiles} files: the rest of the folder was not scanned");
                    reports.Add(r);
                    return;
                }
                string entryPath = System.IO.Path.Combine(dir, entry.Name);
                if (entry.LinkTarget is not null)
                {
                    reports.Add(ReportLink(entry, entryPath, realRoot));
                    continue;
                }
                if (entry is DirectoryInfo sub)
                {
                    if (VersionControlFolders.Contains(sub.Name, StringComparer.Ordinal))
                    {
                        reports.Add(new FileReport(entryPath, "directory") { Status = FileStatus.Skipped, Note = "version-control metadata (not part of the model)" });
                        continue;
                    }
                    if (depth + 1 > Options.MaxDirectoryDepth)
                    {
                        var r = new FileReport(entryPath, "directory");
                        new ScanContext(this, r, null, 0).ReportError(ScanRules.LimitExceeded, $"folder nesting deeper than {Options.MaxDirectoryDepth} levels");
                        reports.Add(r);
                        continue;
                    }
                    subdirs.Add(entryPath);
                    continue;
                }
                ScanFile(entryPath, reports);
            }
            // Push in reverse so folders are visited in name order.
            for (int i = subdirs.Count - 1; i >= 0; i--) stack.Push((subdirs[i], depth + 1));
        }
    }

    private static FileReport ReportLink(FileSystemInfo link, string displayPath, string realRoot)
    {
        var report = new FileReport(displayPath, "symlink") { Status = FileStatus.Skipped };
        string? target = null;
        try
        {
            target = PathResolver.RealPath(link.FullName);
        }
        catch (IOException)
        {
            // A loop or an unreadable link: judged on its literal target below.
        }
        string literal = link.LinkTarget!;
        string judged = target ?? System.IO.Path.GetFullPath(literal, System.IO.Path.GetDirectoryName(link.FullName)!);
        if (!PathResolver.IsUnder(judged, realRoot))
        {
            report.Note = $"symbolic link to {literal} (outside the scanned folder, not followed)";
            report.Findings.Add(Finding.Of(ScanRules.SymlinkEscapes, $"symbolic link points outside the scanned folder: {literal} -> {judged}"));
        }
        else if (target is null || !Path.Exists(target))
        {
            report.Note = $"broken symbolic link to {literal}";
        }
        else
        {
            report.Note = $"symbolic link to {literal} (inside the scanned folder; scanned at its target)";
        }
        return report;
    }

    private void ScanFile(string path, List<FileReport> reports)
    {
        var report = new FileReport(path, "unknown") { Status = FileStatus.Skipped };
        reports.Add(report);
        var context = new ScanContext(this, report, null, 0);
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            context.ReportError(ScanRules.Unreadable, $"cannot stat: {e.Message}");
            return;
        }
        report.Size = length;
        if (length == 0)
        {
            // Never opened: FIFOs, sockets and devices also report length 0, and opening a FIFO would block.
            report.Format = "empty";
            report.Note = "empty file (or not a regular file)";
            return;
        }
        // Positioned reads rather than a mapping: the scanner touches small scattered pieces of large files.
        RandomAccessFile source;
        try
        {
            source = RandomAccessFile.Open(path);
        }
        catch (LineageException e)
        {
            context.ReportError(ScanRules.Unreadable, e.Message);
            return;
        }
        using (source) Dispatch(source, path, null, context);
        report.SortFindings();
    }

    /// <summary>Detects the format of <paramref name="source"/> and runs the first analyzer that takes it.</summary>
    internal void Dispatch(IByteSource source, string path, string? entry, ScanContext context)
    {
        ContainerFormat container;
        TextKind text = TextKind.None;
        string fileName = entry ?? path;
        try
        {
            container = FormatDetector.Detect(source);
            if (container == ContainerFormat.Unknown)
                (container, text) = TextSniffer.Sniff(source, fileName, Options.MaxTextBytes);
        }
        catch (LineageException e)
        {
            context.ReportError(ScanRules.Unreadable, e.Message, e.Offset);
            return;
        }
        var target = new ScanTarget(source, path, container, text, entry, context.Depth);
        var report = context.ReportForFormat;
        if (entry is null) report.Format = target.FormatName;

        if (container == ContainerFormat.Empty)
        {
            if (entry is null) report.Note = "empty file";
            return;
        }
        var analyzer = Analyzers.FirstOrDefault(a => a.CanAnalyze(target));
        if (analyzer is not null)
        {
            context.MarkAnalyzed();
            try
            {
                analyzer.Analyze(target, context);
            }
            catch (LineageException e)
            {
                context.ReportException(e);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Fail closed on anything an analyzer (or a third-party parser inside it) did not anticipate.
                context.ReportError(ScanRules.Unparseable, $"{analyzer.Name} analyzer failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            }
            return;
        }
        if (container == ContainerFormat.Unknown)
        {
            string what = text == TextKind.None ? "binary data of no known format" : $"{target.FormatName} (carries no code or model data)";
            if (TextSniffer.HasModelExtension(target.FileName))
            {
                context.ReportError(ScanRules.UnrecognisedContent, $"'{target.FileName}' is named like a model file but holds {what}", 0);
                return;
            }
            if (entry is null) report.Note = what;
            return;
        }
        context.ReportUnanalyzed(target.FormatName);
    }
}
