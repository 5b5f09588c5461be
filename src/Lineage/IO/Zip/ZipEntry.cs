namespace Lineage.IO.Zip;

/// <summary>One member of a zip archive, as the central directory (or, when that is damaged, its local header) describes it.</summary>
public sealed class ZipEntry
{
    internal ZipEntry()
    {
    }

    /// <summary>Position in <see cref="ZipReader.Entries"/>.</summary>
    public int Index { get; internal set; }

    /// <summary>The name loaders use: the central directory's, or the local header's when the entry was found by scanning.</summary>
    public string Name { get; internal set; } = "";

    /// <summary>The local header's name, when the local header could be read.</summary>
    public string? LocalName { get; internal set; }

    /// <summary>Compression method (0 stored, 8 deflate; others cannot be opened).</summary>
    public int Method { get; internal set; }

    /// <summary>General-purpose flags of the central directory record (of the local header for scanned entries).</summary>
    public int Flags { get; internal set; }

    public int? LocalFlags { get; internal set; }

    public uint Crc32 { get; internal set; }

    public long CompressedSize { get; internal set; }

    public long UncompressedSize { get; internal set; }

    public long LocalHeaderOffset { get; internal set; }

    /// <summary>Absolute offset of the member's (compressed) data, or -1 when the local header is unreadable.</summary>
    public long DataOffset { get; internal set; } = -1;

    public int VersionMadeBy { get; internal set; }

    public uint ExternalAttributes { get; internal set; }

    public bool FromCentralDirectory { get; internal set; }

    public bool IsDirectory => Name.EndsWith('/') || Name.EndsWith('\\');

    public bool IsEncrypted => (Flags & 1) != 0;

    public bool HasDataDescriptor => (Flags & 8) != 0;

    /// <summary>Unix symlink (host system Unix and file type bits 0xA000 in the external attributes).</summary>
    public bool IsSymlink => VersionMadeBy >> 8 == 3 && ((ExternalAttributes >> 16) & 0xF000) == 0xA000;

    public bool IsReadable => DataOffset >= 0;

    /// <summary>The name with its directory part removed.</summary>
    public string FileName
    {
        get
        {
            int slash = Math.Max(Name.LastIndexOf('/'), Name.LastIndexOf('\\'));
            return slash < 0 ? Name : Name[(slash + 1)..];
        }
    }

    public override string ToString() => $"{Name} (method {Method}, {CompressedSize} -> {UncompressedSize} bytes at {DataOffset})";
}

/// <summary>Something a strict reader would reject or a loader might read differently, recorded for the scanner.</summary>
public sealed record ZipOddity(string Code, string Message, long Offset, string? Entry = null);

/// <summary>Limits for reading one archive.</summary>
public sealed record ZipLimits
{
    public static ZipLimits Default { get; } = new();

    public int MaxEntries { get; init; } = 1_000_000;

    /// <summary>Bytes one deflated member may inflate to (it is held in memory).</summary>
    public long MaxInflatedBytes { get; init; } = 1L << 30;

    /// <summary>Inflated-to-compressed ratio allowed once a member has inflated past <see cref="RatioGraceBytes"/>.</summary>
    public double MaxCompressionRatio { get; init; } = 250;

    /// <summary>Output below which any ratio is accepted (small all-zero tensors compress ~1000:1).</summary>
    public long RatioGraceBytes { get; init; } = 16L << 20;
}
