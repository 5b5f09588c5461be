using System.Text.Json;
using Lineage.Formats;
using Lineage.Formats.PyTorch;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Security.Pickles;
using Lineage.Security.Policy;
using SharpCompress.Compressors.LZMA;

namespace Lineage.Security.Containers;

/// <summary>
/// Zip archives of every kind, read as leniently as the loaders they protect (<see cref="ZipReader"/>): PyTorch
/// checkpoints, .npz, .keras, skops, model bundles. Every member is sniffed by content and scanned whatever its
/// name; in a torch checkpoint the storage members that the data pickle references are tensor bytes and are not
/// parsed (only their first bytes are checked for a hidden pickle), so the cost follows the pickle, not the
/// tensors. Reader quirks (path traversal, links, duplicate or mismatched names, CRC and flag quirks, data outside
/// members) become findings; members that cannot be read fail the file closed.
/// </summary>
internal sealed class ZipAnalyzer : IFormatAnalyzer
{
    private const string DataPickle = "data.pkl";

    /// <summary>Stored members up to this size get their CRC checked (they are read in full anyway).</summary>
    private const long CrcCheckedBytes = 64L << 20;

    public string Name => "zip";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
    [
        ScanRules.ArchivePathTraversal, ScanRules.ArchiveLink, ScanRules.ArchiveAmbiguous, ScanRules.ArchiveIntegrity, ScanRules.ArchivePolyglot,
        ScanRules.UnknownCallable, ScanRules.DangerousCallable, ScanRules.NonCanonicalCallable,
    ];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Zip;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var options = context.Options;
        var zip = ZipReader.Open(target.Source, new ZipLimits
        {
            MaxInflatedBytes = Math.Max(0, Math.Min(options.MaxExpandedBytes, context.Budget.Remaining)),
            MaxCompressionRatio = options.MaxCompressionRatio,
            RatioGraceBytes = options.RatioGraceBytes,
        });
        var dataPickle = PyTorchReader.FindDataPickle(zip);
        string? torchPrefix = dataPickle?.Name[..^DataPickle.Length];
        var storageKeys = new HashSet<string>(StringComparer.Ordinal);
        var names = zip.Entries.GroupBy(e => e.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);

        bool IsStorageCandidate(ZipEntry e) => torchPrefix is not null && e.Name.StartsWith(torchPrefix + "data/", StringComparison.Ordinal)
            && e.Name.IndexOf('/', torchPrefix.Length + 5) < 0;

        // The data pickle first (it names the storages), then every other member, then the storage members.
        var order = new List<ZipEntry>();
        if (dataPickle is not null) order.Add(dataPickle);
        order.AddRange(zip.Entries.Where(e => !ReferenceEquals(e, dataPickle) && !IsStorageCandidate(e)));
        order.AddRange(zip.Entries.Where(e => !ReferenceEquals(e, dataPickle) && IsStorageCandidate(e)));

        foreach (var entry in order)
        {
            if (entry.IsDirectory || entry.IsSymlink) continue;
            string label = names.Contains(entry.Name) ? $"{entry.Name} (entry #{entry.Index})" : entry.Name;
            IByteSource member;
            try
            {
                member = Open(zip, entry, target, context);
            }
            catch (LineageException e)
            {
                context.ReportException(e, entry: label);
                continue;
            }
            bool storage = IsStorageCandidate(entry) && storageKeys.Contains(entry.Name[(torchPrefix!.Length + 5)..]);
            if (storage)
            {
                CheckStorage(member, label, context);
                continue;
            }
            if (entry.Method == 0 && entry.FromCentralDirectory && member.Length <= CrcCheckedBytes) zip.VerifyCrc(entry);
            if (SniffPickle(member))
            {
                var nested = context.Nested(label);
                if (nested is null) continue;
                var outcome = PickleScanner.ScanStreams(member, 0, nested);
                storageKeys.UnionWith(outcome.StorageKeys);
                continue;
            }
            context.ScanNested(member, label);
        }
        foreach (var hidden in zip.Oddities.Where(o => o.Code == "zip.unlisted-entry").Take(64))
            ScanUnlisted(zip, hidden.Offset, context);
        if (zip.Find("schema.json") is { } schema && schema.IsReadable && !schema.IsEncrypted)
            SkopsSchema.Check(zip, schema, context);
        ReportOddities(zip, context);
    }

    /// <summary>
    /// A local header the central directory does not list: readers that stream local headers see this member,
    /// directory-based ones do not. It is scanned too (stored or deflated, sizes from its own header).
    /// </summary>
    private static void ScanUnlisted(ZipReader zip, long offset, ScanContext context)
    {
        var source = zip.Source;
        if (offset < 0 || offset > source.Length - 30) return;
        byte[] h = source.ReadBytes(offset, 30);
        int flags = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(6));
        int method = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(8));
        long compressed = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(18));
        int nameLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(26));
        int extraLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(28));
        long data = offset + 30 + nameLength + extraLength;
        if (data > source.Length || (flags & 8) != 0 || (flags & 1) != 0 || compressed > source.Length - data) return;
        string name = System.Text.Encoding.UTF8.GetString(source.ReadBytes(offset + 30, nameLength));
        string label = $"unlisted member '{name}' at byte {offset}";
        try
        {
            IByteSource member = method switch
            {
                0 => new SliceByteSource(source, data, compressed, source.Name),
                8 => new MemoryByteSource(source.Name, Expander.Expand(new IO.ByteSourceStream(new SliceByteSource(source, data, compressed)), compressed,
                    s => new System.IO.Compression.DeflateStream(s, System.IO.Compression.CompressionMode.Decompress), context, source.Name, "deflate")),
                _ => throw new LineageException($"compression method {method} is not supported; the member cannot be scanned", source.Name, offset + 8),
            };
            context.ScanNested(member, label);
        }
        catch (LineageException e)
        {
            context.ReportException(e, entry: label);
        }
    }

    private static bool SniffPickle(IByteSource member) => member.Length > 0 && FormatDetector.Detect(member) == ContainerFormat.Pickle;

    /// <summary>
    /// A tensor blob that the data pickle references: torch reads it as raw bytes, so it is only parsed when its
    /// first bytes frame a pickle, and only reported when that pickle parses to its end (a blob hiding a pickle).
    /// </summary>
    private static void CheckStorage(IByteSource member, string label, ScanContext context)
    {
        if (!SniffPickle(member)) return;
        var trial = Formats.Pickle.PickleMachine.Run(member, 0, new Formats.Pickle.PickleLimits { MaxOpcodes = 1_000_000 });
        if (!trial.Completed) return;
        context.Report(ScanRules.StreamAnomaly, "a storage member holds a complete pickle instead of tensor bytes", 0, label);
        var nested = context.Nested(label);
        if (nested is not null) PickleScanner.ScanStreams(member, 0, nested);
    }

    /// <summary>Stored members are zero-copy slices; deflate, bzip2 and LZMA members are expanded under the file's budget.</summary>
    private static IByteSource Open(ZipReader zip, ZipEntry entry, ScanTarget target, ScanContext context)
    {
        if (!entry.IsReadable)
            throw new LineageException("member data cannot be located (bad local header or out-of-range data); it cannot be scanned", target.Path, Math.Max(0, entry.LocalHeaderOffset));
        if (entry.IsEncrypted)
            throw new LineageException("member is encrypted; its content cannot be scanned", target.Path, entry.LocalHeaderOffset);
        switch (entry.Method)
        {
            case 0:
                return zip.OpenEntry(entry);
            case 8:
                {
                    var source = zip.OpenEntry(entry);
                    if (!context.Budget.TryCharge(source.Length))
                        throw new LimitExceededException($"member expands past the {context.Options.MaxExpandedBytesPerFile}-byte decompression budget of this file", target.Path, entry.DataOffset);
                    return source;
                }
            case 12:
                return Expanded(zip, entry, context, Expander.Opener(ContainerFormat.Bzip2), "bzip2");
            case 14:
                return Expanded(zip, entry, context, s => OpenZipLzma(s, entry), "lzma");
            default:
                throw new LineageException($"compression method {entry.Method} is not supported; the member cannot be scanned", target.Path, entry.LocalHeaderOffset + 8);
        }
    }

    private static IByteSource Expanded(ZipReader zip, ZipEntry entry, ScanContext context, Func<Stream, Stream> open, string what)
    {
        using var raw = new IO.ByteSourceStream(new SliceByteSource(zip.Source, entry.DataOffset, entry.CompressedSize));
        var data = Expander.Expand(raw, entry.CompressedSize, open, context, zip.Source.Name, what);
        return new MemoryByteSource(zip.Source.Name, data);
    }

    /// <summary>Zip method 14: a 2-byte LZMA SDK version, a 2-byte properties length, the properties, then the stream.</summary>
    private static Stream OpenZipLzma(Stream s, ZipEntry entry)
    {
        var head = new byte[4];
        s.ReadExactly(head);
        int propsLength = head[2] | head[3] << 8;
        if (propsLength is < 5 or > 64) throw new InvalidDataException($"LZMA properties length {propsLength}");
        var props = new byte[propsLength];
        s.ReadExactly(props);
        bool endMarker = (entry.Flags & 2) != 0;
        return LzmaStream.Create(props, s, entry.CompressedSize - 4 - propsLength, endMarker ? -1 : entry.UncompressedSize, leaveOpen: false);
    }

    private static void ReportOddities(ZipReader zip, ScanContext context)
    {
        foreach (var o in zip.Oddities)
        {
            var (rule, severity) = Classify(o.Code);
            if (rule is null) continue;
            context.Report(rule, $"{o.Message} ({o.Code})", o.Offset, o.Entry, severity: severity);
        }
    }

    private static (RuleDescriptor? Rule, Severity Severity) Classify(string code) => code switch
    {
        "zip.path-traversal" or "zip.absolute-path" or "zip.name-nul" => (ScanRules.ArchivePathTraversal, Severity.High),
        "zip.backslash-name" => (ScanRules.ArchivePathTraversal, Severity.Medium),
        "zip.symlink" => (ScanRules.ArchiveLink, Severity.High),
        "zip.duplicate-name" or "zip.name-mismatch" or "zip.overlapping-entries" or "zip.unlisted-entry" or "zip.method-mismatch"
            => (ScanRules.ArchiveAmbiguous, Severity.High),
        "zip.prefix-data" or "zip.trailing-data" or "zip.directory-gap" => (ScanRules.ArchivePolyglot, Severity.Medium),
        // Reported through the member that could not be scanned, or harmless (torch writes data descriptors).
        "zip.data-descriptor" or "zip.encrypted" or "zip.unsupported-method" => (null, Severity.Info),
        _ => (ScanRules.ArchiveIntegrity, Severity.Medium),
    };
}

/// <summary>
/// skops files (a zip whose schema.json describes the object tree): every (module, class) an ObjectNode, TypeNode,
/// FunctionNode or MethodNode names is imported by skops.io.load, so each goes through the callable policy.
/// </summary>
internal static class SkopsSchema
{
    private const int MaxDepth = 256;

    public static void Check(ZipReader zip, ZipEntry schema, ScanContext context)
    {
        byte[] bytes;
        try
        {
            var source = zip.OpenEntry(schema);
            if (source.Length > context.Options.MaxTextBytes) return;
            bytes = source.ReadBytes(0, source.Length);
        }
        catch (LineageException)
        {
            return;
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException)
        {
            return;
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("_skops_version", out _)) return;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            Walk(doc.RootElement, 0, seen, context);
        }
    }

    private static void Walk(JsonElement e, int depth, HashSet<string> seen, ScanContext context)
    {
        if (depth > MaxDepth) return;
        if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var x in e.EnumerateArray()) Walk(x, depth + 1, seen, context);
            return;
        }
        if (e.ValueKind != JsonValueKind.Object) return;
        if (e.TryGetProperty("__loader__", out var loader) && loader.ValueKind == JsonValueKind.String)
        {
            string? module = Str(e, "__module__"), cls = Str(e, "__class__");
            if (loader.GetString() is "FunctionNode" or "MethodNode" && e.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object
                && Str(content, "module_path") is { } path && Str(content, "function") is { } function)
                Evaluate(path, function, loader.GetString()!, seen, context);
            else if (module is not null && cls is not null)
                Evaluate(module, cls, loader.GetString()!, seen, context);
        }
        foreach (var p in e.EnumerateObject()) Walk(p.Value, depth + 1, seen, context);
    }

    private static void Evaluate(string module, string name, string loader, HashSet<string> seen, ScanContext context)
    {
        if (!seen.Add(module + "." + name)) return;
        var decision = context.Policy.Evaluate(module, name);
        if (decision.ToFinding(null, "schema.json", $"skops {loader} {module}.{name}") is { } f) context.Report(f);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
