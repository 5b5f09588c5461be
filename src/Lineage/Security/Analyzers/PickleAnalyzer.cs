using Lineage.Formats;
using Lineage.Formats.Numpy;
using Lineage.IO;
using Lineage.Security.Containers;
using Lineage.Security.Pickles;

namespace Lineage.Security.Analyzers;

/// <summary>
/// Raw pickles under any name (.pkl, .bin, .pt, .joblib, no extension): legacy torch files (five pickles back to
/// back, then raw storages), joblib dumps (array bytes inline after NumpyArrayWrapper), and every other stream,
/// all through <see cref="PickleScanner"/>.
/// </summary>
internal sealed class PickleAnalyzer : IFormatAnalyzer
{
    public string Name => "pickle";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
    [
        ScanRules.DangerousCallable, ScanRules.UnknownCallable, ScanRules.NonCanonicalCallable, ScanRules.IndirectCall, ScanRules.StateTampering,
        ScanRules.ExtensionCode, ScanRules.ComputedGlobal, ScanRules.NestedPickle, ScanRules.StreamAnomaly,
        ScanRules.MetaCode, ScanRules.MetaShell, ScanRules.MetaScript, ScanRules.MetaEncoded,
    ];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Pickle;

    public void Analyze(ScanTarget target, ScanContext context) => PickleScanner.ScanStreams(target.Source, 0, context);
}

/// <summary>
/// NumPy .npy files (and .npz members): object arrays hold a pickle right after the header, which is scanned;
/// numeric arrays are checked for a data section that fits the file (the bytes themselves are never read).
/// </summary>
internal sealed class NpyAnalyzer : IFormatAnalyzer
{
    public string Name => "npy";

    public IReadOnlyList<RuleDescriptor> Rules { get; } = [ScanRules.NumpyObjectArray];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Npy;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var header = NpyReader.ReadHeader(target.Source, target.Entry);
        bool objects = header.IsObjectArray || header.Unsupported is not null && HeaderMentionsObjects(target);
        if (objects)
        {
            context.Report(ScanRules.NumpyObjectArray, $"array of Python objects (dtype {header.Descr}, shape ({string.Join(", ", header.Shape)})): its data is a pickle", header.DataOffset);
            if (header.DataOffset >= target.Source.Length)
            {
                context.ReportError(ScanRules.Unparseable, "object array has no pickle after its header", header.DataOffset);
                return;
            }
            PickleScanner.ScanStreams(target.Source, header.DataOffset, context, multiple: false);
            return;
        }
        long need = header.DataLength;
        if (need >= 0 && need > target.Source.Length - header.DataOffset)
            context.ReportError(ScanRules.Unparseable, $"array data of {need} bytes runs past the end of the file ({target.Source.Length - header.DataOffset} bytes after the header)", header.DataOffset);
    }

    /// <summary>Structured dtypes are not parsed by the reader; an 'O' field anywhere in the header means pickled data.</summary>
    private static bool HeaderMentionsObjects(ScanTarget target)
    {
        int n = (int)Math.Min(target.Source.Length, 64 * 1024);
        string text = System.Text.Encoding.Latin1.GetString(target.Source.ReadBytes(0, n));
        int end = text.IndexOf('\n', StringComparison.Ordinal);
        if (end > 0) text = text[..end];
        return text.Contains("'O'", StringComparison.Ordinal) || text.Contains("'|O'", StringComparison.Ordinal) || text.Contains("\"|O\"", StringComparison.Ordinal);
    }
}

/// <summary>
/// Single compressed streams (gzip, bzip2, xz, zlib, .lzma): joblib's compressed dumps, gzipped checkpoints,
/// .tar.gz archives. The stream is expanded under the size, ratio and per-file budget limits, then the content
/// is detected and scanned like a member of an archive.
/// </summary>
internal sealed class CompressedStreamAnalyzer : IFormatAnalyzer
{
    public string Name => "compressed";

    public IReadOnlyList<RuleDescriptor> Rules { get; } = [];

    public bool CanAnalyze(ScanTarget target) => Expander.Handles(target.Container);

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var expanded = Expander.Expand(target.Source, target.Container, context);
        string inner = InnerName(target.FileName, target.Container);
        using var member = new IO.MemoryByteSource($"{target.Path} ({target.FormatName})", expanded);
        context.ScanNested(member, inner);
    }

    /// <summary>The name the decompressed content would have (model.pkl.gz → model.pkl).</summary>
    private static string InnerName(string fileName, ContainerFormat format)
    {
        string[] suffixes = format switch
        {
            ContainerFormat.Gzip => [".gz", ".gzip", ".tgz"],
            ContainerFormat.Bzip2 => [".bz2", ".tbz2"],
            ContainerFormat.Xz => [".xz", ".txz"],
            ContainerFormat.Lzma => [".lzma"],
            ContainerFormat.Zlib => [".z", ".zlib"],
            _ => [],
        };
        foreach (var s in suffixes)
            if (fileName.EndsWith(s, StringComparison.OrdinalIgnoreCase))
                return s.StartsWith(".t", StringComparison.Ordinal) && s.Length == 4 ? fileName[..^s.Length] + ".tar" : fileName[..^s.Length];
        return $"{fileName} (decompressed)";
    }
}
