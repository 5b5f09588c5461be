using Lineage.Formats;
using Lineage.IO;

namespace Lineage.Security;

/// <summary>
/// One format's security checks. The scanner detects a file's format from its content, builds a
/// <see cref="ScanTarget"/> and hands it to the first registered analyzer whose <see cref="CanAnalyze"/> says yes.
/// An analyzer reports through the <see cref="ScanContext"/>; a structural problem may simply be thrown as a
/// <see cref="LineageException"/> (it becomes an unparseable-file finding with its offset, and the file fails
/// closed). Container analyzers (zip, tar, compressed streams) hand each member back with
/// <see cref="ScanContext.ScanNested"/>, so every format is checked inside archives too.
/// </summary>
public interface IFormatAnalyzer
{
    /// <summary>Short name for logs and reports, e.g. "safetensors".</summary>
    string Name { get; }

    /// <summary>Rules this analyzer can report (listed in SARIF output; integrity rules make the run fail closed).</summary>
    IReadOnlyList<RuleDescriptor> Rules { get; }

    bool CanAnalyze(ScanTarget target);

    void Analyze(ScanTarget target, ScanContext context);
}

/// <summary>Text formats recognised by the scanner on content that the binary detector calls Unknown.</summary>
public enum TextKind
{
    None,
    Jinja,
    Yaml,
    Python,
    PlainText,
}

/// <summary>One thing to analyze: a file on disk or a member of an archive.</summary>
public sealed class ScanTarget
{
    public ScanTarget(IByteSource source, string path, ContainerFormat container, TextKind text = TextKind.None, string? entry = null, int depth = 0)
    {
        Source = source ?? throw new ArgumentNullException(nameof(source));
        Path = path ?? throw new ArgumentNullException(nameof(path));
        Container = container;
        Text = text;
        Entry = entry;
        Depth = depth;
    }

    public IByteSource Source { get; }

    /// <summary>The file on disk this target is in (the top-level file for archive members).</summary>
    public string Path { get; }

    /// <summary>The member path inside <see cref="Path"/> (nested members joined by '/'), or null for the file itself.</summary>
    public string? Entry { get; }

    public ContainerFormat Container { get; }

    public TextKind Text { get; }

    /// <summary>Archive nesting depth: 0 for a file on disk.</summary>
    public int Depth { get; }

    /// <summary>Last path component of the member or file: some checks depend on a conventional name (config.json).</summary>
    public string FileName
    {
        get
        {
            string p = Entry ?? Path;
            int slash = Math.Max(p.LastIndexOf('/'), p.LastIndexOf('\\'));
            return slash >= 0 ? p[(slash + 1)..] : p;
        }
    }

    /// <summary>The format name reports show: the container format, or the text kind for text files.</summary>
    public string FormatName => FormatNames.Of(Container, Text);
}

internal static class FormatNames
{
    public static string Of(ContainerFormat container, TextKind text) => container switch
    {
        ContainerFormat.Unknown => text switch
        {
            TextKind.Jinja => "jinja",
            TextKind.Yaml => "yaml",
            TextKind.Python => "python",
            TextKind.PlainText => "text",
            _ => "unknown",
        },
        _ => container.ToString().ToLowerInvariant(),
    };
}
