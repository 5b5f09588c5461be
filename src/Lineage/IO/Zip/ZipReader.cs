using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Lineage.IO.Zip;

/// <summary>
/// A lenient zip reader that sees what loaders see. It reads the central directory like Python's zipfile and
/// PyTorch's miniz (end record search, ZIP64, prefix data before the archive), and when the central directory
/// is missing or damaged it falls back to scanning local headers, so a scanner still sees the members. Quirks
/// that strict readers reject or that loaders read differently are recorded as <see cref="Oddities"/> rather
/// than errors. Stored members open zero-copy as slices of the source; deflated members inflate into memory
/// under size and ratio limits.
/// </summary>
public sealed class ZipReader
{
    private const uint LocalSignature = 0x04034B50;
    private const uint CentralSignature = 0x02014B50;
    private const uint EndSignature = 0x06054B50;
    private const uint End64Signature = 0x06064B50;
    private const uint End64LocatorSignature = 0x07064B50;
    private const uint DescriptorSignature = 0x08074B50;
    private const int LocalHeaderSize = 30;
    private const int CentralHeaderSize = 46;
    private const int EndSize = 22;
    private const long MaxCentralDirectoryBytes = 512L << 20;
    private const int KnownFlags = 0x1 | 0x2 | 0x4 | 0x8 | 0x800;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private readonly ZipLimits _limits;
    private readonly List<ZipEntry> _entries = [];
    private readonly List<ZipOddity> _oddities = [];
    private readonly HashSet<ZipOddity> _recorded = [];
    private readonly string _file;
    private long _centralDirectoryStart = -1;
    private byte[]? _scanBuffer;
    private long _scanStart = -1;
    private int _scanLength;

    private ZipReader(IByteSource source, ZipLimits limits)
    {
        Source = source;
        _limits = limits;
        _file = source.Name;
    }

    public IByteSource Source { get; }

    public IReadOnlyList<ZipEntry> Entries => _entries;

    /// <summary>Recorded quirks (thread-safe snapshot; opening deflated members may add CRC findings).</summary>
    public IReadOnlyList<ZipOddity> Oddities
    {
        get
        {
            lock (_oddities) return [.. _oddities];
        }
    }

    /// <summary>True when members were found by scanning local headers instead of the central directory.</summary>
    public bool UsedLocalHeaderScan { get; private set; }

    public bool IsZip64 { get; private set; }

    /// <summary>Absolute offset of the end-of-central-directory record, or -1 when none was found.</summary>
    public long EndRecordOffset { get; private set; } = -1;

    public string Comment { get; private set; } = "";

    /// <summary>Parses the archive's directory. Throws <see cref="LineageException"/> only when no member can be found at all.</summary>
    public static ZipReader Open(IByteSource source, ZipLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var zip = new ZipReader(source, limits ?? ZipLimits.Default);
        zip.Parse();
        return zip;
    }

    /// <summary>The member a loader gets for <paramref name="name"/>: the last central-directory entry of that name (Python's zipfile keeps the last).</summary>
    public ZipEntry? Find(string name)
    {
        for (int i = _entries.Count - 1; i >= 0; i--)
            if (string.Equals(_entries[i].Name, name, StringComparison.Ordinal))
                return _entries[i];
        return null;
    }

    private void Add(string code, string message, long offset, string? entry = null)
    {
        lock (_oddities)
        {
            var oddity = new ZipOddity(code, message, offset, entry);
            if (_oddities.Count < 10_000 && _recorded.Add(oddity)) _oddities.Add(oddity);
        }
    }

    private LineageException Error(string message, long offset, string? entry = null) => new(message, _file, offset, entry);

    // ---- parsing ----

    private void Parse()
    {
        if (Source.Length < EndSize && Source.Length < LocalHeaderSize)
            throw Error($"file of {Source.Length} bytes is too short for a zip archive", 0);
        bool central = false;
        try
        {
            central = ReadCentralDirectory();
        }
        catch (LineageException e)
        {
            Add("zip.central-directory-damaged", $"central directory unreadable: {e.Message}", e.Offset ?? 0);
            _entries.Clear();
        }
        if (!central)
        {
            UsedLocalHeaderScan = true;
            ScanLocalHeaders();
            if (_entries.Count == 0)
                throw Error("no zip central directory and no local file headers found", 0);
        }
        CheckEntries();
    }

    /// <summary>Reads the end record and central directory; false when there is no usable directory.</summary>
    private bool ReadCentralDirectory()
    {
        long length = Source.Length;
        int tailLength = (int)Math.Min(length, EndSize + 0xFFFF);
        byte[] tail = Source.ReadBytes(length - tailLength, tailLength);
        int found = -1;
        for (int i = tailLength - EndSize; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) != EndSignature) continue;
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 20));
            if (i + EndSize + commentLength <= tailLength)
            {
                found = i;
                break;
            }
            if (found < 0) found = i;
        }
        if (found < 0)
        {
            Add("zip.no-end-record", "no end-of-central-directory record", length);
            return false;
        }
        long eocd = length - tailLength + found;
        EndRecordOffset = eocd;
        var rec = tail.AsSpan(found);
        int diskNumber = BinaryPrimitives.ReadUInt16LittleEndian(rec[4..]);
        long totalEntries = BinaryPrimitives.ReadUInt16LittleEndian(rec[10..]);
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(rec[12..]);
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(rec[16..]);
        int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(rec[20..]);
        int available = Math.Min(commentLen, tailLength - found - EndSize);
        Comment = Encoding.UTF8.GetString(rec.Slice(EndSize, Math.Max(0, available)));
        if (available < commentLen)
            Add("zip.truncated-comment", $"archive comment declares {commentLen} bytes, {available} present", eocd + 20);
        long recordEnd = eocd + EndSize + commentLen;
        if (recordEnd < length)
            Add("zip.trailing-data", $"{length - recordEnd} bytes after the end-of-central-directory record", recordEnd);
        if (diskNumber != 0)
            Add("zip.multi-disk", $"end record names disk {diskNumber}", eocd + 4);

        long directoryEnd = eocd;
        if (eocd >= 20 && ReadU32(eocd - 20) == End64LocatorSignature)
        {
            long eocd64 = (long)Math.Min(ReadU64(eocd - 12), long.MaxValue);
            if (eocd64 >= 0 && eocd64 <= eocd - 20 - 56 && ReadU32(eocd64) == End64Signature)
            {
                IsZip64 = true;
                byte[] r64 = Source.ReadBytes(eocd64, 56);
                totalEntries = ClampLong(BinaryPrimitives.ReadUInt64LittleEndian(r64.AsSpan(32)));
                cdSize = ClampLong(BinaryPrimitives.ReadUInt64LittleEndian(r64.AsSpan(40)));
                cdOffset = ClampLong(BinaryPrimitives.ReadUInt64LittleEndian(r64.AsSpan(48)));
                directoryEnd = eocd64;
            }
            else
            {
                Add("zip.bad-zip64-locator", "ZIP64 locator points at no ZIP64 end record", eocd - 20);
            }
        }

        if (cdSize > directoryEnd)
            throw Error($"central directory size {cdSize} exceeds the bytes before the end record", eocd + 12);
        // Bytes prepended to the archive (self-extractors, polyglots) shift every offset; Python's zipfile
        // corrects by the gap between where the directory should end and where it says it starts.
        long delta = directoryEnd - cdSize - cdOffset;
        long cdStart = cdOffset + delta;
        if (delta != 0)
        {
            if (cdStart >= 0 && cdStart + 4 <= length && (cdSize == 0 || ReadU32(cdStart) == CentralSignature))
                Add(delta > 0 ? "zip.prefix-data" : "zip.directory-offset-mismatch",
                    $"central directory found {delta} bytes from its recorded offset {cdOffset}; member offsets are shifted by that much", cdStart);
            else if (cdOffset + 4 <= length && ReadU32(cdOffset) == CentralSignature)
            {
                delta = 0;
                cdStart = cdOffset;
                Add("zip.directory-gap", $"gap between the central directory and the end record", cdOffset + cdSize);
            }
            else
                throw Error($"no central directory at offset {cdOffset}", eocd + 16);
        }

        if (totalEntries > _limits.MaxEntries)
            throw Error($"archive declares {totalEntries} entries, more than the limit of {_limits.MaxEntries}", eocd + 10);
        if (cdSize > MaxCentralDirectoryBytes)
            throw Error($"central directory of {cdSize} bytes exceeds the limit of {MaxCentralDirectoryBytes}", eocd + 12);
        byte[] cd = Source.ReadBytes(cdStart, cdSize);
        _centralDirectoryStart = cdStart;
        int pos = 0;
        while (pos + 4 <= cd.Length && BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(pos)) == CentralSignature)
        {
            if (_entries.Count >= _limits.MaxEntries)
                throw Error($"more than {_limits.MaxEntries} entries", cdStart + pos);
            pos = ReadCentralRecord(cd, pos, cdStart, delta);
        }
        if (pos < cd.Length)
            Add("zip.central-directory-garbage", $"{cd.Length - pos} bytes of the central directory are not entry records", cdStart + pos);
        if (_entries.Count != totalEntries)
            Add("zip.entry-count-mismatch", $"end record declares {totalEntries} entries, the central directory holds {_entries.Count}", eocd + 10);
        if (_entries.Count == 0 && totalEntries > 0)
            throw Error("central directory holds no entries", cdStart);
        foreach (var e in _entries) ReadLocalHeader(e);
        return true;
    }

    private int ReadCentralRecord(byte[] cd, int pos, long cdStart, long delta)
    {
        long at = cdStart + pos;
        if (pos + CentralHeaderSize > cd.Length)
            throw Error("central directory record is truncated", at);
        var h = cd.AsSpan(pos);
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
        int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
        int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
        int end = pos + CentralHeaderSize + nameLength + extraLength + commentLength;
        if (end > cd.Length)
            throw Error("central directory record runs past the directory", at);
        var e = new ZipEntry
        {
            Index = _entries.Count,
            VersionMadeBy = BinaryPrimitives.ReadUInt16LittleEndian(h[4..]),
            Flags = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]),
            Method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]),
            Crc32 = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]),
            CompressedSize = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]),
            UncompressedSize = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]),
            ExternalAttributes = BinaryPrimitives.ReadUInt32LittleEndian(h[38..]),
            LocalHeaderOffset = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]),
            FromCentralDirectory = true,
        };
        e.Name = DecodeName(h.Slice(CentralHeaderSize, nameLength), e.Flags);
        ApplyZip64(e, h.Slice(CentralHeaderSize + nameLength, extraLength), true, at);
        e.LocalHeaderOffset += delta;
        _entries.Add(e);
        return end;
    }

    /// <summary>Replaces 0xFFFFFFFF sizes and offsets with the ZIP64 extra field's values (in the spec's order).</summary>
    private void ApplyZip64(ZipEntry e, ReadOnlySpan<byte> extra, bool central, long at)
    {
        int p = 0;
        while (p + 4 <= extra.Length)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra[p..]);
            int size = BinaryPrimitives.ReadUInt16LittleEndian(extra[(p + 2)..]);
            if (p + 4 + size > extra.Length)
            {
                Add("zip.bad-extra-field", "extra field runs past its header's extra area", at, e.Name.Length > 0 ? e.Name : null);
                return;
            }
            if (id == 0x0001)
            {
                var field = extra.Slice(p + 4, size);
                int q = 0;
                if (e.UncompressedSize == 0xFFFFFFFF && q + 8 <= field.Length)
                {
                    e.UncompressedSize = ClampLong(BinaryPrimitives.ReadUInt64LittleEndian(field[q..]));
                    q += 8;
                }
                if (e.CompressedSize == 0xFFFFFFFF && q + 8 <= field.Length)
                {
                    e.CompressedSize = ClampLong(BinaryPrimitives.ReadUInt64LittleEndian(field[q..]));
                    q += 8;
                }
                if (central && e.LocalHeaderOffset == 0xFFFFFFFF && q + 8 <= field.Length)
                    e.LocalHeaderOffset = ClampLong(BinaryPrimitives.ReadUInt64LittleEndian(field[q..]));
                IsZip64 = true;
            }
            p += 4 + size;
        }
    }

    private void ReadLocalHeader(ZipEntry e)
    {
        long at = e.LocalHeaderOffset;
        if (at < 0 || at > Source.Length - LocalHeaderSize || ReadU32(at) != LocalSignature)
        {
            Add("zip.bad-local-header", $"no local file header at offset {at}", Math.Max(0, at), e.Name);
            return;
        }
        byte[] h = Source.ReadBytes(at, LocalHeaderSize);
        int flags = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(6));
        int method = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(8));
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(26));
        int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(28));
        long dataOffset = at + LocalHeaderSize + nameLength + extraLength;
        if (dataOffset > Source.Length)
        {
            Add("zip.bad-local-header", "local header name and extra field run past the end of the file", at, e.Name);
            return;
        }
        e.LocalFlags = flags;
        e.LocalName = DecodeName(Source.ReadBytes(at + LocalHeaderSize, nameLength), flags);
        if (!string.Equals(e.LocalName, e.Name, StringComparison.Ordinal))
            Add("zip.name-mismatch", $"local header names '{e.LocalName}' but the central directory names '{e.Name}'", at, e.Name);
        if (flags != e.Flags)
            Add("zip.flag-mismatch", $"local flags 0x{flags:X4} differ from central flags 0x{e.Flags:X4}", at + 6, e.Name);
        if (method != e.Method)
            Add("zip.method-mismatch", $"local method {method} differs from central method {e.Method}", at + 8, e.Name);
        if ((flags & 8) == 0)
        {
            long localCompressed = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(18));
            long localUncompressed = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(22));
            bool zip64Sizes = localCompressed == 0xFFFFFFFF || localUncompressed == 0xFFFFFFFF;
            if (!zip64Sizes && (localCompressed != e.CompressedSize || localUncompressed != e.UncompressedSize))
                Add("zip.size-mismatch", $"local sizes {localCompressed}/{localUncompressed} differ from central sizes {e.CompressedSize}/{e.UncompressedSize}", at + 18, e.Name);
        }
        SetData(e, dataOffset);
    }

    private void SetData(ZipEntry e, long dataOffset)
    {
        if (e.CompressedSize < 0 || e.CompressedSize > Source.Length - dataOffset)
        {
            Add("zip.data-out-of-range", $"member data of {e.CompressedSize} bytes at {dataOffset} runs past the end of the file", dataOffset, e.Name);
            return;
        }
        e.DataOffset = dataOffset;
    }

    /// <summary>Fallback: walk the file for local headers, sizing data-descriptor members by their descriptor.</summary>
    private void ScanLocalHeaders()
    {
        long pos = 0;
        while (_entries.Count < _limits.MaxEntries)
        {
            long at = FindSignature(LocalSignature, pos, Source.Length);
            if (at < 0 || at > Source.Length - LocalHeaderSize) break;
            byte[] h = Source.ReadBytes(at, LocalHeaderSize);
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(6));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(26));
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(28));
            long dataOffset = at + LocalHeaderSize + nameLength + extraLength;
            if (dataOffset > Source.Length)
            {
                pos = at + 4;
                continue;
            }
            var e = new ZipEntry
            {
                Index = _entries.Count,
                Flags = flags,
                LocalFlags = flags,
                Method = BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(8)),
                Crc32 = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(14)),
                CompressedSize = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(18)),
                UncompressedSize = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(22)),
                LocalHeaderOffset = at,
                FromCentralDirectory = false,
            };
            e.Name = DecodeName(Source.ReadBytes(at + LocalHeaderSize, nameLength), flags);
            e.LocalName = e.Name;
            ApplyZip64(e, Source.ReadBytes(at + LocalHeaderSize + nameLength, extraLength), false, at);
            long next;
            if ((flags & 8) != 0 && e.CompressedSize == 0)
            {
                var (dataEnd, recordEnd, crc, compressed, uncompressed) = FindDescriptor(dataOffset);
                e.CompressedSize = compressed;
                e.UncompressedSize = uncompressed;
                e.Crc32 = crc;
                next = Math.Max(recordEnd, dataEnd);
            }
            else
            {
                next = dataOffset + Math.Min(e.CompressedSize, Source.Length - dataOffset);
            }
            SetData(e, dataOffset);
            _entries.Add(e);
            pos = Math.Max(next, at + 4);
        }
        if (_entries.Count > 0)
            Add("zip.local-header-scan", $"{_entries.Count} members found by scanning local headers (no usable central directory)", 0);
    }

    /// <summary>Finds the end of a member whose sizes follow it in a data descriptor.</summary>
    private (long DataEnd, long RecordEnd, uint Crc, long Compressed, long Uncompressed) FindDescriptor(long dataStart)
    {
        long pos = dataStart;
        while (true)
        {
            long q = FindAnySignature(pos);
            if (q < 0)
            {
                long size = Source.Length - dataStart;
                return (Source.Length, Source.Length, 0, size, size);
            }
            uint sig = ReadU32(q);
            if (sig == DescriptorSignature)
            {
                if (q + 16 <= Source.Length && ReadU32(q + 8) == q - dataStart)
                    return (q, q + 16, ReadU32(q + 4), q - dataStart, ReadU32(q + 12));
                if (q + 24 <= Source.Length && (long)Math.Min(ReadU64(q + 8), long.MaxValue) == q - dataStart)
                    return (q, q + 24, ReadU32(q + 4), q - dataStart, ClampLong(ReadU64(q + 16)));
            }
            else
            {
                // A header follows: the descriptor may lack its signature (12 bytes before the header).
                if (q - 12 >= dataStart && ReadU32(q - 8) == q - 12 - dataStart)
                    return (q - 12, q, ReadU32(q - 12), q - 12 - dataStart, ReadU32(q - 4));
                long size = q - dataStart;
                return (q, q, 0, size, size);
            }
            pos = q + 4;
        }
    }

    private long FindAnySignature(long from) =>
        Scan(from, Source.Length, sig => sig is DescriptorSignature or LocalSignature or CentralSignature or EndSignature);

    private long FindSignature(uint signature, long from, long to) => Scan(from, to, sig => sig == signature);

    /// <summary>
    /// Finds the first 'PK' signature accepted by <paramref name="match"/> that lies wholly in [from, to). The read
    /// window is kept between calls, so walking a file with many signatures stays linear.
    /// </summary>
    private long Scan(long from, long to, Func<uint, bool> match)
    {
        const int window = 1 << 20;
        long pos = from;
        while (pos + 4 <= to)
        {
            if (_scanBuffer is null || pos < _scanStart || pos + 4 > _scanStart + _scanLength)
            {
                // Never read past 'to': checking a small gap must not page in tensor data behind it.
                _scanBuffer ??= new byte[(int)Math.Min(window, Source.Length)];
                _scanLength = (int)Math.Min(window, Math.Min(Source.Length, to) - pos);
                Source.ReadExactly(pos, _scanBuffer.AsSpan(0, _scanLength));
                _scanStart = pos;
            }
            int begin = (int)(pos - _scanStart);
            int limit = (int)Math.Min(_scanLength, to - _scanStart);
            for (int i = begin; i + 4 <= limit; i++)
            {
                if (_scanBuffer[i] != (byte)'P' || _scanBuffer[i + 1] != (byte)'K') continue;
                if (match(BinaryPrimitives.ReadUInt32LittleEndian(_scanBuffer.AsSpan(i))))
                    return _scanStart + i;
            }
            // Continue with a window that overlaps the last three bytes.
            long next = _scanStart + Math.Max(limit - 3, begin + 1);
            if (limit < _scanLength || next <= pos) return -1;
            pos = next;
        }
        return -1;
    }

    /// <summary>Records names, flags and layout quirks across all entries.</summary>
    private void CheckEntries()
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int descriptors = 0;
        foreach (var e in _entries)
        {
            if (seen.TryGetValue(e.Name, out int first))
                Add("zip.duplicate-name", $"name also used by entry {first}; loaders disagree on which one they read", e.LocalHeaderOffset, e.Name);
            else
                seen[e.Name] = e.Index;
            CheckName(e);
            if (e.IsSymlink)
                Add("zip.symlink", "entry is a symbolic link", e.LocalHeaderOffset, e.Name);
            if (e.IsEncrypted)
                Add("zip.encrypted", "entry is encrypted", e.LocalHeaderOffset, e.Name);
            if ((e.Flags & ~KnownFlags) != 0)
                Add("zip.flag-quirk", $"unusual general-purpose flags 0x{e.Flags:X4}", e.LocalHeaderOffset, e.Name);
            if (e.HasDataDescriptor) descriptors++;
            if (e.Method is not (0 or 8))
                Add("zip.unsupported-method", $"compression method {e.Method} is not stored or deflate", e.LocalHeaderOffset, e.Name);
            else if (e.Method == 0 && e.CompressedSize != e.UncompressedSize)
                Add("zip.stored-size-mismatch", $"stored entry has compressed size {e.CompressedSize} but uncompressed size {e.UncompressedSize}", e.LocalHeaderOffset, e.Name);
        }
        if (descriptors > 0)
            Add("zip.data-descriptor", $"{descriptors} entries carry data descriptors (sizes after the data)", 0);

        // Overlapping member data (zip bombs reuse one compressed block; polyglots hide data) and local headers
        // the directory does not list.
        var ordered = _entries.Where(e => e.IsReadable).OrderBy(e => e.LocalHeaderOffset).ToList();
        long previousEnd = -1;
        string? previousName = null;
        foreach (var e in ordered)
        {
            if (e.LocalHeaderOffset < previousEnd)
                Add("zip.overlapping-entries", $"entry overlaps the data of '{previousName}'", e.LocalHeaderOffset, e.Name);
            long end = e.DataOffset + e.CompressedSize;
            if (end > previousEnd)
            {
                previousEnd = end;
                previousName = e.Name;
            }
        }
        if (!UsedLocalHeaderScan)
        {
            for (int i = 0; i < ordered.Count; i++)
            {
                long gapStart = ordered[i].DataOffset + ordered[i].CompressedSize;
                long gapEnd = i + 1 < ordered.Count ? ordered[i + 1].LocalHeaderOffset : _centralDirectoryStart;
                if (gapEnd - gapStart < LocalHeaderSize) continue;
                long window = Math.Min(gapEnd, gapStart + 64);
                long hidden = FindSignature(LocalSignature, gapStart, window);
                if (hidden >= 0)
                    Add("zip.unlisted-entry", "a local file header that the central directory does not list", hidden);
            }
        }
    }

    private void CheckName(ZipEntry e)
    {
        string n = e.Name;
        if (n.Contains('\0', StringComparison.Ordinal))
            Add("zip.name-nul", "entry name contains a NUL character", e.LocalHeaderOffset, n);
        string normalized = n.Replace('\\', '/');
        if (normalized.StartsWith('/') || (normalized.Length >= 2 && char.IsAsciiLetter(normalized[0]) && normalized[1] == ':'))
            Add("zip.absolute-path", "entry name is an absolute path", e.LocalHeaderOffset, n);
        if (normalized.Split('/').Any(part => part == ".."))
            Add("zip.path-traversal", "entry name climbs out of the extraction folder with '..'", e.LocalHeaderOffset, n);
        if (n.Contains('\\', StringComparison.Ordinal))
            Add("zip.backslash-name", "entry name uses backslashes", e.LocalHeaderOffset, n);
    }

    private static string DecodeName(ReadOnlySpan<byte> bytes, int flags)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            // Names without the UTF-8 flag are CP437 by the spec; Latin-1 keeps every byte visible.
            return (flags & 0x800) != 0 ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);
        }
    }

    private uint ReadU32(long offset)
    {
        Span<byte> b = stackalloc byte[4];
        Source.ReadExactly(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private ulong ReadU64(long offset)
    {
        Span<byte> b = stackalloc byte[8];
        Source.ReadExactly(offset, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    private static long ClampLong(ulong v) => v > long.MaxValue ? long.MaxValue : (long)v;

    // ---- member access ----

    /// <summary>
    /// The member's bytes: a zero-copy slice for stored members, an in-memory inflated copy for deflated ones
    /// (bounded by <see cref="ZipLimits.MaxInflatedBytes"/> and the compression ratio limit).
    /// </summary>
    public IByteSource OpenEntry(ZipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!entry.IsReadable)
            throw Error("member data cannot be located (bad local header or out-of-range data)", Math.Max(0, entry.LocalHeaderOffset), entry.Name);
        if (entry.IsEncrypted)
            throw Error("member is encrypted", entry.LocalHeaderOffset, entry.Name);
        switch (entry.Method)
        {
            case 0:
                return new SliceByteSource(Source, entry.DataOffset, Math.Min(entry.CompressedSize, entry.UncompressedSize), Source.Name);
            case 8:
                return new MemoryByteSource(Source.Name, Inflate(entry));
            default:
                throw Error($"compression method {entry.Method} is not supported", entry.LocalHeaderOffset + 8, entry.Name);
        }
    }

    private ReadOnlyMemory<byte> Inflate(ZipEntry e)
    {
        long initial = Math.Min(Math.Min(e.UncompressedSize, _limits.MaxInflatedBytes), Math.Max(4096, e.CompressedSize * 8));
        using var output = new MemoryStream((int)Math.Clamp(initial, 0, 64L << 20));
        var buffer = new byte[81920];
        uint crc = 0;
        long total = 0;
        try
        {
            using var raw = new ByteSourceStream(Source, e.DataOffset, e.CompressedSize);
            using var inflater = new DeflateStream(raw, CompressionMode.Decompress);
            int n;
            while ((n = inflater.Read(buffer, 0, buffer.Length)) > 0)
            {
                total += n;
                if (total > _limits.MaxInflatedBytes)
                    throw new LimitExceededException($"member inflates past the limit of {_limits.MaxInflatedBytes} bytes", _file, e.DataOffset, e.Name);
                if (total > _limits.RatioGraceBytes && total > _limits.MaxCompressionRatio * Math.Max(1, e.CompressedSize))
                    throw new LimitExceededException($"member inflates more than {_limits.MaxCompressionRatio}:1 (zip bomb?)", _file, e.DataOffset, e.Name);
                crc = Crc32.Append(crc, buffer.AsSpan(0, n));
                output.Write(buffer, 0, n);
            }
        }
        catch (InvalidDataException ex)
        {
            throw Error($"corrupt deflate data: {ex.Message}", e.DataOffset, e.Name);
        }
        if (total != e.UncompressedSize)
            Add("zip.size-mismatch", $"member inflates to {total} bytes, the directory says {e.UncompressedSize}", e.DataOffset, e.Name);
        if (crc != e.Crc32)
            Add("zip.crc-mismatch", $"CRC-32 of the inflated data is {crc:X8}, the directory says {e.Crc32:X8}", e.DataOffset, e.Name);
        return output.GetBuffer().AsMemory(0, (int)output.Length);
    }

    /// <summary>Checks the member's CRC-32 (reads all of it); a mismatch is also recorded as an oddity.</summary>
    public bool VerifyCrc(ZipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var data = OpenEntry(entry);
        if (entry.Method == 8) return !Oddities.Any(o => o.Code == "zip.crc-mismatch" && o.Entry == entry.Name && o.Offset == entry.DataOffset);
        return StoredCrcMatches(entry, data);
    }

    private bool StoredCrcMatches(ZipEntry entry, IByteSource data)
    {
        uint crc = 0;
        var buffer = new byte[1 << 20];
        for (long pos = 0; pos < data.Length; pos += buffer.Length)
        {
            int n = (int)Math.Min(buffer.Length, data.Length - pos);
            data.ReadExactly(pos, buffer.AsSpan(0, n));
            crc = Crc32.Append(crc, buffer.AsSpan(0, n));
        }
        if (crc == entry.Crc32) return true;
        Add("zip.crc-mismatch", $"CRC-32 of the stored data is {crc:X8}, the directory says {entry.Crc32:X8}", entry.DataOffset, entry.Name);
        return false;
    }
}
