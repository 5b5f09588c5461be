using System.IO.Compression;
using Lineage.Formats;
using Lineage.IO;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.LZMA;
using SharpCompress.Compressors.Xz;

namespace Lineage.Security.Containers;

/// <summary>
/// Decompresses gzip, zlib, raw deflate, bzip2, xz and .lzma streams into memory for scanning, never past the
/// limits: a per-stream cap, the compression-ratio cap (zip bombs) and the file's shared budget. Exceeding any of
/// them throws <see cref="LimitExceededException"/>; corrupt data throws <see cref="LineageException"/>.
/// </summary>
internal static class Expander
{
    private const int BufferSize = 81920;

    /// <summary>The compressed stream formats this helper opens.</summary>
    public static bool Handles(ContainerFormat format) =>
        format is ContainerFormat.Gzip or ContainerFormat.Zlib or ContainerFormat.Bzip2 or ContainerFormat.Xz or ContainerFormat.Lzma;

    /// <summary>Expands a whole compressed source of the given format.</summary>
    public static ReadOnlyMemory<byte> Expand(IByteSource source, ContainerFormat format, ScanContext context) =>
        Expand(new ByteSourceStream(source), source.Length, Opener(format), context, source.Name, format.ToString().ToLowerInvariant());

    /// <summary>Expands compressed bytes held in memory (a decode step of an embedded payload).</summary>
    public static ReadOnlyMemory<byte> Expand(ReadOnlyMemory<byte> data, ContainerFormat format, ScanContext context, string name) =>
        Expand(new MemoryStream(data.ToArray(), writable: false), data.Length, Opener(format), context, name, format.ToString().ToLowerInvariant());

    /// <summary>Opens a decompressing stream over <paramref name="raw"/> for <paramref name="format"/>.</summary>
    public static Func<Stream, Stream> Opener(ContainerFormat format) => format switch
    {
        ContainerFormat.Gzip => s => new GZipStream(s, CompressionMode.Decompress),
        ContainerFormat.Zlib => s => new ZLibStream(s, CompressionMode.Decompress),
        ContainerFormat.Bzip2 => s => BZip2Stream.Create(s, SharpCompress.Compressors.CompressionMode.Decompress, decompressConcatenated: true, leaveOpen: false, tolerateTruncatedStream: false),
        ContainerFormat.Xz => s => new XZStream(s),
        ContainerFormat.Lzma => OpenLzmaAlone,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a compressed stream format"),
    };

    /// <summary>.lzma: 5 property bytes, an 8-byte uncompressed size (all ones: unknown, end marker), then the stream.</summary>
    private static Stream OpenLzmaAlone(Stream s)
    {
        var header = new byte[13];
        s.ReadExactly(header);
        long size = BitConverter.ToInt64(header, 5);
        return LzmaStream.Create(header[..5], s, -1, size < 0 ? -1 : size, leaveOpen: false);
    }

    /// <summary>
    /// Reads <paramref name="open"/>(<paramref name="raw"/>) to its end under the limits and charges the file's budget.
    /// </summary>
    public static ReadOnlyMemory<byte> Expand(Stream raw, long compressedLength, Func<Stream, Stream> open, ScanContext context, string name, string what)
    {
        var options = context.Options;
        long cap = Math.Min(options.MaxExpandedBytes, context.Budget.Remaining);
        using var output = new MemoryStream();
        var buffer = new byte[BufferSize];
        long total = 0;
        try
        {
            using var stream = open(raw);
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                total += n;
                if (total > cap)
                {
                    throw new LimitExceededException(cap < options.MaxExpandedBytes
                        ? $"{what} data expands past the {options.MaxExpandedBytesPerFile}-byte decompression budget of this file"
                        : $"{what} data expands past the {options.MaxExpandedBytes}-byte limit", name, 0);
                }
                if (total > options.RatioGraceBytes && total > options.MaxCompressionRatio * Math.Max(1, compressedLength))
                    throw new LimitExceededException($"{what} data expands more than {options.MaxCompressionRatio}:1 (decompression bomb)", name, 0);
                output.Write(buffer, 0, n);
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException or ArgumentException or IndexOutOfRangeException
            or NotSupportedException or OverflowException or FormatException || e.GetType().Namespace?.StartsWith("SharpCompress", StringComparison.Ordinal) == true)
        {
            throw new LineageException($"corrupt {what} data after {total} bytes: {e.Message.ReplaceLineEndings(" ")}", name, 0);
        }
        if (!context.Budget.TryCharge(total))
            throw new LimitExceededException($"{what} data expands past the {options.MaxExpandedBytesPerFile}-byte decompression budget of this file", name, 0);
        return output.GetBuffer().AsMemory(0, (int)output.Length);
    }
}
