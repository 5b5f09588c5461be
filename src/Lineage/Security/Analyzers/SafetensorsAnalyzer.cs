using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Lineage.Formats;
using Lineage.Formats.Safetensors;
using Lineage.IO;
using Lineage.Security.Metadata;

namespace Lineage.Security.Analyzers;

/// <summary>
/// safetensors: the strict <see cref="SafetensorsReader"/> validates the header (length cap, JSON, dtypes, offsets
/// that tile the data section exactly); its exceptions become findings with their byte offset and fail the file
/// closed. __metadata__ values are then inspected for payloads. When the header is invalid, the metadata is still
/// inspected if the JSON can be read at all, so a broken header cannot hide a payload.
/// </summary>
internal sealed class SafetensorsAnalyzer : IFormatAnalyzer
{
    public string Name => "safetensors";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
        [ScanRules.SafetensorsHeader, ScanRules.MetaCode, ScanRules.MetaShell, ScanRules.MetaScript, ScanRules.MetaEncoded, ScanRules.MetaUrl, ScanRules.MetaSecret];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Safetensors;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        IReadOnlyDictionary<string, string> metadata;
        try
        {
            metadata = SafetensorsReader.ReadHeader(target.Source).Metadata;
        }
        catch (LineageException e)
        {
            context.ReportError(ScanRules.SafetensorsHeader, $"invalid safetensors header: {e.Message}", e.Offset);
            metadata = LenientMetadata(target.Source);
        }
        if (metadata.Count == 0) return;
        byte[] header = HeaderBytes(target.Source);
        foreach (var (key, value) in metadata)
        {
            foreach (var hit in PayloadDetector.Inspect(value, key))
                context.Report(hit.Rule, $"__metadata__ '{PayloadDetector.Printable(key)}': {hit.Message}", OffsetOfKey(header, key), evidence: hit.Excerpt, severity: hit.Severity);
        }
    }

    private static byte[] HeaderBytes(IByteSource source)
    {
        if (source.Length < 8) return [];
        Span<byte> len = stackalloc byte[8];
        source.ReadExactly(0, len);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
        return n > SafetensorsReader.MaxHeaderLength || n > (ulong)(source.Length - 8) ? [] : source.ReadBytes(8, (long)n);
    }

    /// <summary>Byte offset of the metadata key in the file (the first occurrence of its JSON spelling in the header).</summary>
    private static long? OffsetOfKey(byte[] header, string key)
    {
        if (header.Length == 0) return null;
        byte[] needle = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(key));
        int metaAt = header.AsSpan().IndexOf("\"__metadata__\""u8);
        int from = Math.Max(0, metaAt);
        int at = header.AsSpan(from).IndexOf(needle);
        return at < 0 ? null : 8 + from + at;
    }

    /// <summary>The __metadata__ strings of a header the strict reader refused, if its JSON parses at all.</summary>
    private static Dictionary<string, string> LenientMetadata(IByteSource source)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        byte[] header = HeaderBytes(source);
        if (header.Length == 0) return result;
        try
        {
            using var doc = JsonDocument.Parse(header.AsMemory().TrimEnd((byte)' '), new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("__metadata__", out var meta) && meta.ValueKind == JsonValueKind.Object)
                foreach (var p in meta.EnumerateObject())
                    if (p.Value.ValueKind == JsonValueKind.String) result.TryAdd(p.Name, p.Value.GetString()!);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Nothing readable (bad JSON, invalid UTF-8): the header finding already fails the file.
        }
        return result;
    }
}
