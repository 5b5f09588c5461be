using Lineage.Formats;
using Lineage.IO;
using Lineage.Security.Policy;

namespace Lineage.Security;

/// <summary>
/// What an analyzer reports into while it looks at one file (and, through <see cref="ScanNested"/>, at the members
/// of that file). Findings are attached to the file's <see cref="FileReport"/>; entries of nested members are
/// prefixed with the member path so a finding always says where inside an archive it lies.
/// </summary>
public sealed class ScanContext
{
    private readonly Scanner _scanner;
    private readonly FileReport _report;
    private readonly string? _entryPrefix;
    private readonly int _depth;
    private readonly ScanBudget _budget;
    private bool _analyzed;

    internal ScanContext(Scanner scanner, FileReport report, string? entryPrefix, int depth, ScanBudget? budget = null)
    {
        _scanner = scanner;
        _report = report;
        _entryPrefix = entryPrefix;
        _depth = depth;
        _budget = budget ?? new ScanBudget(scanner.Options.MaxExpandedBytesPerFile);
    }

    /// <summary>Decompression budget shared by the file and everything nested in it.</summary>
    internal ScanBudget Budget => _budget;

    /// <summary>The member path this context reports under (null for the file itself).</summary>
    public string? EntryPrefix => _entryPrefix;

    public ScanOptions Options => _scanner.Options;

    public CallablePolicy Policy => _scanner.Options.Policy;

    /// <summary>The display path of the file on disk being scanned.</summary>
    public string FilePath => _report.Path;

    /// <summary>Archive nesting depth of what this context reports for (0 = the file itself).</summary>
    public int Depth => _depth;

    internal FileReport ReportForFormat => _report;

    /// <summary>True once any analyzer ran on this file or one of its members.</summary>
    internal bool Analyzed => _analyzed;

    internal void MarkAnalyzed()
    {
        _analyzed = true;
        if (_report.Status == FileStatus.Skipped) _report.Status = FileStatus.Scanned;
    }

    /// <summary>
    /// Adds a finding; its entry is placed under the current archive member, if any. A finding of an integrity
    /// rule (unparseable, limit exceeded, no analyzer…) also fails the file closed, so analyzers that forward
    /// findings from a helper (e.g. <see cref="Templates.ChatTemplateAnalyzer"/>) cannot make an incomplete scan look clean.
    /// </summary>
    public void Report(Finding finding)
    {
        ArgumentNullException.ThrowIfNull(finding);
        var placed = finding with { Entry = Join(_entryPrefix, finding.Entry) };
        _report.Findings.Add(placed);
        var rule = _scanner.FindRule(finding.Rule);
        if (rule is not { Integrity: true }) return;
        if (rule.Id == ScanRules.NoAnalyzer.Id)
        {
            if (_report.Status != FileStatus.Error) _report.Status = FileStatus.Unanalyzed;
            _report.Note ??= placed.Entry is { } e ? $"{e}: {finding.Message}" : finding.Message;
            return;
        }
        _report.Status = FileStatus.Error;
        _report.Error ??= placed.Entry is { } entry ? $"{entry}: {finding.Message}" : finding.Message;
    }

    public void Report(RuleDescriptor rule, string message, long? offset = null, string? entry = null, string? evidence = null, Severity? severity = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        Report(new Finding(severity ?? rule.DefaultSeverity, rule.Id, message) { Offset = offset, Entry = entry, Evidence = evidence });
    }

    /// <summary>
    /// Reports that the file (or a member) could not be parsed or read: a finding under <paramref name="rule"/>,
    /// and the file's status becomes <see cref="FileStatus.Error"/> so the run fails closed.
    /// </summary>
    public void ReportError(RuleDescriptor rule, string message, long? offset = null, string? entry = null)
    {
        ArgumentNullException.ThrowIfNull(rule);
        Report(rule, message, offset, entry);
        _report.Status = FileStatus.Error;
        _report.Error ??= Join(_entryPrefix, entry) is { } e ? $"{e}: {message}" : message;
    }

    /// <summary>Adds several findings (see <see cref="Report(Finding)"/>).</summary>
    public void ReportAll(IEnumerable<Finding> findings)
    {
        ArgumentNullException.ThrowIfNull(findings);
        foreach (var f in findings) Report(f);
    }

    /// <summary>Reports a member (or the file) in a recognised format that no analyzer covers yet.</summary>
    public void ReportUnanalyzed(string format, string? entry = null)
    {
        string where = Join(_entryPrefix, entry) is { } e ? $"member '{e}' is {format}" : $"{format}";
        _report.Note ??= $"not analysed: {where} (no analyzer for this format yet)";
        Report(ScanRules.NoAnalyzer, $"no analyzer for {format} yet: the content was not checked", null, entry);
    }

    /// <summary>
    /// Detects the format of an archive member and dispatches it to the analyzers, reporting under
    /// <paramref name="entry"/>. Depth is limited by <see cref="ScanOptions.MaxNestingDepth"/>.
    /// </summary>
    public void ScanNested(IByteSource member, string entry)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(entry);
        var nested = Nested(entry);
        if (nested is null) return;
        _scanner.Dispatch(member, _report.Path, Join(_entryPrefix, entry), nested);
        if (nested._analyzed) MarkAnalyzed();
    }

    /// <summary>
    /// A context for a member one level down (reporting under <paramref name="entry"/>), or null after reporting
    /// that the nesting limit was reached. For analyzers that handle a member themselves instead of dispatching it.
    /// </summary>
    internal ScanContext? Nested(string entry)
    {
        if (_depth + 1 > Options.MaxNestingDepth)
        {
            ReportError(ScanRules.LimitExceeded, $"nesting deeper than {Options.MaxNestingDepth} levels (archives, compressed streams or embedded pickles)", entry: entry);
            return null;
        }
        return new ScanContext(_scanner, _report, Join(_entryPrefix, entry), _depth + 1, _budget);
    }

    /// <summary>Names the file's format when an analyzer knows better than the content sniffer (a .pb that is a SavedModel).</summary>
    internal void SetFormat(string format)
    {
        if (_entryPrefix is null) _report.Format = format;
    }

    /// <summary>Keeps a decompiled pickle for <c>--explain</c> when the options ask for it.</summary>
    internal void AddProgram(string? entry, long offset, string text)
    {
        if (Options.KeepDecompiled && _report.Programs.Count < 1000) _report.Programs.Add(new DecompiledProgram(Join(_entryPrefix, entry), offset, text));
    }

    /// <summary>Reports a LineageException from a reader: limits as LIN-SCAN-006, anything else under <paramref name="rule"/>.</summary>
    internal void ReportException(LineageException e, RuleDescriptor? rule = null, string? entry = null)
    {
        var r = e is LimitExceededException ? ScanRules.LimitExceeded : rule ?? ScanRules.Unparseable;
        ReportError(r, e.Message, e.Offset, entry ?? e.Entry);
    }

    internal static string? Join(string? prefix, string? entry) =>
        prefix is null ? entry : entry is null ? prefix : $"{prefix}/{entry}";
}

/// <summary>Bytes that decompression may still produce for one top-level file (shared by nested contexts).</summary>
internal sealed class ScanBudget(long expandedBytes)
{
    private long _remaining = expandedBytes;

    public long Remaining => Interlocked.Read(ref _remaining);

    /// <summary>Charges <paramref name="bytes"/>; false (nothing charged) when they exceed what remains.</summary>
    public bool TryCharge(long bytes)
    {
        while (true)
        {
            long current = Interlocked.Read(ref _remaining);
            if (bytes > current) return false;
            if (Interlocked.CompareExchange(ref _remaining, current - bytes, current) == current) return true;
        }
    }
}
