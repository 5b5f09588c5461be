using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Lineage.Tests.Support;

/// <summary>
/// Writes zip archives byte by byte with knobs for every quirk a lenient reader must survive: local/central
/// name mismatch, bad CRCs, odd flags, data descriptors, symlink attributes, prefix data, ZIP64 records,
/// alignment padding (as torch.save writes), or no central directory at all.
/// </summary>
internal sealed class ZipBuilder
{
    internal sealed class Item
    {
        public required string Name { get; init; }

        public required byte[] Data { get; init; }

        public bool Deflate { get; init; }

        public string? LocalName { get; init; }

        public int Flags { get; init; }

        public uint? Crc { get; init; }

        public uint ExternalAttributes { get; init; }

        public int VersionMadeBy { get; init; } = 20;

        /// <summary>Zero sizes in the local header, a signed data descriptor after the data.</summary>
        public bool Descriptor { get; init; }

        public bool Zip64 { get; init; }
    }

    public List<Item> Items { get; } = [];

    public byte[] Prefix { get; set; } = [];

    public byte[] Trailing { get; set; } = [];

    public bool OmitCentralDirectory { get; set; }

    public bool Zip64EndRecord { get; set; }

    /// <summary>Pads each member's data start to this alignment with an extra field (torch uses 64).</summary>
    public int Alignment { get; set; }

    public ZipBuilder Add(string name, byte[] data, bool deflate = false)
    {
        Items.Add(new Item { Name = name, Data = data, Deflate = deflate });
        return this;
    }

    public ZipBuilder Add(Item item)
    {
        Items.Add(item);
        return this;
    }

    public static uint Crc(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    private static byte[] DeflateBytes(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var d = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true)) d.Write(data);
        return ms.ToArray();
    }

    public byte[] Build()
    {
        var output = new MemoryStream();
        output.Write(Prefix);
        var central = new MemoryStream();
        int count = 0;
        foreach (var item in Items)
        {
            byte[] payload = item.Deflate ? DeflateBytes(item.Data) : item.Data;
            uint crc = item.Crc ?? Crc(item.Data);
            int method = item.Deflate ? 8 : 0;
            int flags = item.Flags | (item.Descriptor ? 8 : 0);
            byte[] localName = Encoding.UTF8.GetBytes(item.LocalName ?? item.Name);
            byte[] name = Encoding.UTF8.GetBytes(item.Name);
            long localOffset = output.Length - Prefix.Length;
            var localExtra = new MemoryStream();
            if (item.Zip64)
            {
                W16(localExtra, 1);
                W16(localExtra, 16);
                W64(localExtra, (ulong)item.Data.Length);
                W64(localExtra, (ulong)payload.Length);
            }
            if (Alignment > 0)
            {
                long dataStart = output.Length + 30 + localName.Length + localExtra.Length + 4;
                int pad = (int)((Alignment - dataStart % Alignment) % Alignment);
                W16(localExtra, 0x4B50 ^ 0xFFFF);
                W16(localExtra, pad);
                localExtra.Write(new byte[pad]);
            }

            W32(output, 0x04034B50);
            W16(output, 20);
            W16(output, flags);
            W16(output, method);
            W32(output, 0);
            W32(output, item.Descriptor ? 0 : crc);
            W32(output, item.Descriptor ? 0 : item.Zip64 ? 0xFFFFFFFF : (uint)payload.Length);
            W32(output, item.Descriptor ? 0 : item.Zip64 ? 0xFFFFFFFF : (uint)item.Data.Length);
            W16(output, localName.Length);
            W16(output, (int)localExtra.Length);
            output.Write(localName);
            output.Write(localExtra.ToArray());
            output.Write(payload);
            if (item.Descriptor)
            {
                W32(output, 0x08074B50);
                W32(output, crc);
                W32(output, (uint)payload.Length);
                W32(output, (uint)item.Data.Length);
            }

            var centralExtra = new MemoryStream();
            if (item.Zip64)
            {
                W16(centralExtra, 1);
                W16(centralExtra, 24);
                W64(centralExtra, (ulong)item.Data.Length);
                W64(centralExtra, (ulong)payload.Length);
                W64(centralExtra, (ulong)localOffset);
            }
            W32(central, 0x02014B50);
            W16(central, item.VersionMadeBy);
            W16(central, 20);
            W16(central, flags);
            W16(central, method);
            W32(central, 0);
            W32(central, crc);
            W32(central, item.Zip64 ? 0xFFFFFFFF : (uint)payload.Length);
            W32(central, item.Zip64 ? 0xFFFFFFFF : (uint)item.Data.Length);
            W16(central, name.Length);
            W16(central, (int)centralExtra.Length);
            W16(central, 0);
            W16(central, 0);
            W16(central, 0);
            W32(central, item.ExternalAttributes);
            W32(central, item.Zip64 ? 0xFFFFFFFF : (uint)localOffset);
            central.Write(name);
            central.Write(centralExtra.ToArray());
            count++;
        }
        if (!OmitCentralDirectory)
        {
            long cdOffset = output.Length - Prefix.Length;
            output.Write(central.ToArray());
            if (Zip64EndRecord)
            {
                long eocd64 = output.Length - Prefix.Length;
                W32(output, 0x06064B50);
                W64(output, 44);
                W16(output, 45);
                W16(output, 45);
                W32(output, 0);
                W32(output, 0);
                W64(output, (ulong)count);
                W64(output, (ulong)count);
                W64(output, (ulong)central.Length);
                W64(output, (ulong)cdOffset);
                W32(output, 0x07064B50);
                W32(output, 0);
                W64(output, (ulong)eocd64);
                W32(output, 1);
            }
            W32(output, 0x06054B50);
            W16(output, 0);
            W16(output, 0);
            W16(output, Zip64EndRecord ? 0xFFFF : count);
            W16(output, Zip64EndRecord ? 0xFFFF : count);
            W32(output, Zip64EndRecord ? 0xFFFFFFFF : (uint)central.Length);
            W32(output, Zip64EndRecord ? 0xFFFFFFFF : (uint)cdOffset);
            W16(output, 0);
        }
        output.Write(Trailing);
        return output.ToArray();
    }

    private static void W16(Stream s, int v)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v);
        s.Write(b);
    }

    private static void W32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    private static void W64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }
}
