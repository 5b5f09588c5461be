using System.Text;

namespace Lineage.IO.Tar;

/// <summary>Kinds of tar members (the header's typeflag).</summary>
public enum TarEntryKind
{
    File,
    Directory,
    SymbolicLink,
    HardLink,
    Special,
}

/// <summary>One tar member: name (after GNU long-name and pax path records), kind, link target and where its data lies.</summary>
public sealed record TarEntry(string Name, TarEntryKind Kind, char TypeFlag, long Size, long HeaderOffset, long DataOffset, string? LinkName);

/// <summary>
/// A bounded reader of tar archives (v7, ustar, GNU long names, pax extended headers) over an
/// <see cref="IByteSource"/>: it lists members without copying data, so members open as zero-copy slices. Like
/// Python's tarfile it stops at the end-of-archive zero blocks or at the first invalid header after the first
/// member, and records what it stopped at; a damaged first header or a member running past the end is an error.
/// </summary>
public sealed class TarReader
{
    private const int Block = 512;
    private const int MaxEntries = 1_000_000;
    private const int MaxExtendedHeader = 1 << 20;

    private TarReader(IByteSource source) => Source = source;

    public IByteSource Source { get; }

    public List<TarEntry> Entries { get; } = [];

    /// <summary>Offset where reading stopped early (an invalid header, or data after the end-of-archive marker), else null.</summary>
    public long? StoppedAt { get; private set; }

    /// <summary>Why reading stopped at <see cref="StoppedAt"/>.</summary>
    public string? StopReason { get; private set; }

    public static TarReader Read(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var reader = new TarReader(source);
        reader.Parse();
        return reader;
    }

    /// <summary>True when the 512 bytes carry a valid tar header checksum (also for v7 headers without "ustar").</summary>
    public static bool IsHeader(ReadOnlySpan<byte> block) => block.Length >= Block && ChecksumValid(block[..Block]);

    public IByteSource Open(TarEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new SliceByteSource(Source, entry.DataOffset, entry.Size, Source.Name);
    }

    private void Parse()
    {
        long pos = 0;
        string? longName = null, longLink = null;
        Dictionary<string, string>? pax = null;
        var header = new byte[Block];
        while (pos + Block <= Source.Length)
        {
            Source.ReadExactly(pos, header);
            if (header.All(b => b == 0))
            {
                long end = pos + 2 * Block;
                if (end < Source.Length && HasData(end))
                {
                    StoppedAt = end;
                    StopReason = "data follows the end-of-archive marker";
                }
                return;
            }
            if (!ChecksumValid(header))
            {
                if (Entries.Count == 0 && pos == 0) throw new LineageException("not a tar archive: the first header's checksum does not match", Source.Name, 148);
                StoppedAt = pos;
                StopReason = "invalid header checksum (tar readers stop here; anything after it is hidden from them)";
                return;
            }
            if (Entries.Count >= MaxEntries) throw new LimitExceededException($"more than {MaxEntries} tar members", Source.Name, pos);
            long size = ParseNumber(header.AsSpan(124, 12), pos + 124);
            char type = (char)header[156];
            long data = pos + Block;
            if (size < 0 || size > Source.Length - data)
                throw new LineageException($"tar member of {size} bytes runs past the end of the archive", Source.Name, pos + 124);
            long next = data + (size + Block - 1) / Block * Block;
            switch (type)
            {
                case 'L':
                    longName = ReadText(data, size);
                    pos = next;
                    continue;
                case 'K':
                    longLink = ReadText(data, size);
                    pos = next;
                    continue;
                case 'x':
                    pax = ParsePax(ReadText(data, size), data);
                    pos = next;
                    continue;
                case 'g':
                    pos = next;
                    continue;
            }
            string name = Field(header, 0, 100);
            if (header.AsSpan(257, 5).SequenceEqual("ustar"u8))
            {
                string prefix = Field(header, 345, 155);
                if (prefix.Length > 0) name = prefix + "/" + name;
            }
            string link = Field(header, 157, 100);
            if (longName is not null) name = longName;
            if (longLink is not null) link = longLink;
            if (pax is not null)
            {
                if (pax.TryGetValue("path", out var p)) name = p;
                if (pax.TryGetValue("linkpath", out var lp)) link = lp;
                if (pax.TryGetValue("size", out var ps) && long.TryParse(ps, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long paxSize))
                {
                    if (paxSize < 0 || paxSize > Source.Length - data)
                        throw new LineageException($"pax size {paxSize} runs past the end of the archive", Source.Name, pos);
                    size = paxSize;
                    next = data + (size + Block - 1) / Block * Block;
                }
            }
            longName = longLink = null;
            pax = null;
            var kind = type switch
            {
                '0' or '\0' or '7' => name.EndsWith('/') ? TarEntryKind.Directory : TarEntryKind.File,
                '5' => TarEntryKind.Directory,
                '2' => TarEntryKind.SymbolicLink,
                '1' => TarEntryKind.HardLink,
                _ => TarEntryKind.Special,
            };
            Entries.Add(new TarEntry(name, kind, type, kind == TarEntryKind.File ? size : 0, pos, data, kind is TarEntryKind.SymbolicLink or TarEntryKind.HardLink ? link : null));
            pos = next;
        }
        if (pos < Source.Length)
        {
            if (Entries.Count == 0) throw new LineageException("file too short for a tar header", Source.Name, pos);
            StoppedAt = pos;
            StopReason = "the archive ends without an end-of-archive marker";
        }
    }

    private bool HasData(long from)
    {
        var buffer = new byte[(int)Math.Min(64 * 1024, Source.Length - from)];
        Source.ReadExactly(from, buffer);
        return buffer.Any(b => b != 0);
    }

    private string ReadText(long offset, long size)
    {
        if (size > MaxExtendedHeader) throw new LimitExceededException($"tar extended header of {size} bytes", Source.Name, offset);
        return Encoding.UTF8.GetString(Source.ReadBytes(offset, size)).TrimEnd('\0');
    }

    /// <summary>pax records: "LEN key=value\n", LEN counting the whole record.</summary>
    private Dictionary<string, string> ParsePax(string text, long offset)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = 0;
        while (i < text.Length)
        {
            int space = text.IndexOf(' ', i);
            if (space < 0 || !int.TryParse(text.AsSpan(i, space - i), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int length)
                || length <= space - i || i + length > text.Length)
                throw new LineageException("malformed pax extended header", Source.Name, offset);
            string record = text.Substring(space + 1, i + length - space - 1).TrimEnd('\n');
            int eq = record.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) result[record[..eq]] = record[(eq + 1)..];
            i += length;
        }
        return result;
    }

    private static string Field(byte[] header, int offset, int length)
    {
        var span = header.AsSpan(offset, length);
        int nul = span.IndexOf((byte)0);
        if (nul >= 0) span = span[..nul];
        try
        {
            return new UTF8Encoding(false, true).GetString(span);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(span);
        }
    }

    /// <summary>Octal text (NUL/space padded), or GNU base-256 when the high bit of the first byte is set.</summary>
    private long ParseNumber(ReadOnlySpan<byte> field, long at)
    {
        if ((field[0] & 0x80) != 0)
        {
            if ((field[0] & 0x40) != 0) throw new LineageException("negative base-256 tar size", Source.Name, at);
            long v = field[0] & 0x3F;
            for (int i = 1; i < field.Length; i++)
            {
                if (v > long.MaxValue >> 8) throw new LineageException("tar size overflows", Source.Name, at);
                v = (v << 8) | field[i];
            }
            return v;
        }
        long value = 0;
        bool digits = false;
        foreach (byte b in field)
        {
            if (b is 0 or (byte)' ')
            {
                if (digits) break;
                continue;
            }
            if (b is < (byte)'0' or > (byte)'7') throw new LineageException("tar size is not octal", Source.Name, at);
            if (value > long.MaxValue >> 3) throw new LineageException("tar size overflows", Source.Name, at);
            value = value * 8 + (b - '0');
            digits = true;
        }
        return value;
    }

    private static bool ChecksumValid(ReadOnlySpan<byte> header)
    {
        long stored = 0;
        bool digits = false;
        foreach (byte b in header.Slice(148, 8))
        {
            if (b is 0 or (byte)' ')
            {
                if (digits) break;
                continue;
            }
            if (b is < (byte)'0' or > (byte)'7') return false;
            stored = stored * 8 + (b - '0');
            digits = true;
        }
        if (!digits) return false;
        long unsigned = 0, signed = 0;
        for (int i = 0; i < Block; i++)
        {
            byte b = i is >= 148 and < 156 ? (byte)' ' : header[i];
            unsigned += b;
            signed += (sbyte)b;
        }
        return stored == unsigned || stored == signed;
    }
}
