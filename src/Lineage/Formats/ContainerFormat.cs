namespace Lineage.Formats;

/// <summary>What a file is, decided from its bytes (extensions are only a tie-breaker for text formats).</summary>
public enum ContainerFormat
{
    Unknown,
    Empty,
    Safetensors,
    Gguf,
    Zip,
    Pickle,
    Onnx,
    Npy,
    Llama2c,
    Hdf5,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    SevenZip,
    Zlib,
    Json,
    Protobuf,

    /// <summary>A raw LZMA ("alone", .lzma) stream: joblib's lzma compression.</summary>
    Lzma,
}

/// <summary>Content-based format detection from the first bytes of a file.</summary>
public static class FormatDetector
{
    /// <summary>How many leading bytes <see cref="Detect(ReadOnlySpan{byte}, long, string?)"/> looks at.</summary>
    public const int HeadLength = 512;

    public static ContainerFormat Detect(IO.IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        int n = (int)Math.Min(HeadLength, source.Length);
        Span<byte> head = stackalloc byte[n];
        source.ReadExactly(0, head);
        return Detect(head, source.Length, source.Name);
    }

    public static ContainerFormat Detect(ReadOnlySpan<byte> head, long length, string? fileName = null)
    {
        if (length == 0) return ContainerFormat.Empty;
        if (head.StartsWith("GGUF"u8)) return ContainerFormat.Gguf;
        if (head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8)) return ContainerFormat.Zip;
        // Byte arrays, not u8 literals: "\x93"u8 would be the two-byte UTF-8 encoding of U+0093.
        if (head.StartsWith((ReadOnlySpan<byte>)[0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'])) return ContainerFormat.Npy;
        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A])) return ContainerFormat.Hdf5;
        if (head.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B])) return ContainerFormat.Gzip;
        if (head.StartsWith("BZh"u8) && head.Length > 3 && head[3] is >= (byte)'1' and <= (byte)'9') return ContainerFormat.Bzip2;
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])) return ContainerFormat.Xz;
        if (head.StartsWith((ReadOnlySpan<byte>)[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C])) return ContainerFormat.SevenZip;
        if (head.Length >= 262 && head.Slice(257, 5).SequenceEqual("ustar"u8)) return ContainerFormat.Tar;
        if (head.Length >= 512 && head[0] != 0 && IO.Tar.TarReader.IsHeader(head)) return ContainerFormat.Tar;
        if (LooksLikeSafetensors(head, length)) return ContainerFormat.Safetensors;
        if (head[0] == 0x80 && head.Length > 1 && head[1] <= 5 && Pickle.PickleSniffer.IsPlausible(head, length)) return ContainerFormat.Pickle;
        if (Llama2c.Llama2cReader.LooksLike(head, length)) return ContainerFormat.Llama2c;
        if (head.Length >= 2 && head[0] == 0x78 && (head[0] * 256 + head[1]) % 31 == 0) return ContainerFormat.Zlib;
        var trimmed = TrimStart(head);
        if (trimmed.Length > 0 && (trimmed[0] == (byte)'{' || trimmed[0] == (byte)'[')
            && fileName is not null && fileName.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return ContainerFormat.Json;
        if (LooksLikeOnnx(head)) return ContainerFormat.Onnx;
        // PROTO is optional: a stream may start with any opcode that pushes a value or a MARK, in any protocol.
        // The sniffer walks the opcode framing, so text and binary data that Python would refuse are not pickles.
        if (PickleStartOpcodes.Contains(head[0]) && Pickle.PickleSniffer.IsPlausible(head, length))
            return ContainerFormat.Pickle;
        // Last: the .lzma header is weak (0x5D is also EMPTY_LIST, which a pickle may start with).
        if (LooksLikeLzmaAlone(head, length)) return ContainerFormat.Lzma;
        return ContainerFormat.Unknown;
    }

    private static ReadOnlySpan<byte> TrimStart(ReadOnlySpan<byte> s)
    {
        int i = 0;
        if (s.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) i = 3;
        while (i < s.Length && s[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return s[i..];
    }

    private static bool LooksLikeSafetensors(ReadOnlySpan<byte> head, long length)
    {
        if (head.Length < 10) return false;
        ulong n = BitConverter.ToUInt64(head);
        return n >= 2 && n <= (ulong)(length - 8) && head[8] == (byte)'{';
    }

    /// <summary>
    /// An ONNX ModelProto begins with ir_version (field 1, varint, small) and then producer/graph fields;
    /// requiring field 1 first with a plausible IR version, followed by a length-delimited field, keeps the
    /// test specific without parsing the whole message.
    /// </summary>
    private static bool LooksLikeOnnx(ReadOnlySpan<byte> head)
    {
        if (head.Length < 4 || head[0] != 0x08) return false;
        byte version = head[1];
        if (version is 0 or > 20) return false;
        byte next = head[2];
        int field = next >> 3, wire = next & 7;
        return wire == 2 && field is >= 2 and <= 20;
    }

    /// <summary>Opcodes a pickle without PROTO can begin with: MARK, constants, containers, globals, FRAME.</summary>
    private static ReadOnlySpan<byte> PickleStartOpcodes =>
        [(byte)'(', (byte)'}', (byte)']', (byte)')', (byte)'N', (byte)'I', (byte)'J', (byte)'K', (byte)'L', (byte)'M', (byte)'F', (byte)'G', (byte)'S', (byte)'T', (byte)'U', (byte)'V', (byte)'X', (byte)'B', (byte)'C', (byte)'P', (byte)'c', 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x95, 0x96, 0x82, 0x83, 0x84];

    /// <summary>
    /// The .lzma ("alone") header: a properties byte (lc/lp/pb, 0x5D for the defaults every encoder uses), a
    /// dictionary size, and the uncompressed size (all ones when unknown).
    /// </summary>
    private static bool LooksLikeLzmaAlone(ReadOnlySpan<byte> head, long length)
    {
        if (head.Length < 13 || head[0] != 0x5D || length < 18) return false;
        uint dictionary = BitConverter.ToUInt32(head[1..5]);
        ulong size = BitConverter.ToUInt64(head[5..13]);
        return dictionary >= 1 << 12 && dictionary <= 1u << 30 && (size == ulong.MaxValue || size < 1UL << 48);
    }
}
