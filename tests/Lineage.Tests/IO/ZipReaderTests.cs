using System.IO.Compression;
using System.Text;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Tests.Support;

namespace Lineage.Tests.IO;

public class ZipReaderTests
{
    private static readonly byte[] Hello = Encoding.ASCII.GetBytes("hello, stored world");
    private static readonly byte[] Text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("deflate me please ", 200)));

    private static ZipReader Open(byte[] bytes, ZipLimits? limits = null) => ZipReader.Open(new MemoryByteSource("a.zip", bytes), limits);

    private static byte[] ReadAll(IByteSource s) => s.ReadBytes(0, s.Length);

    [Fact]
    public void Reads_archives_written_by_System_IO_Compression()
    {
        using var ms = new MemoryStream();
        using (var archive = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var s = archive.CreateEntry("dir/stored.bin", CompressionLevel.NoCompression).Open()) s.Write(Hello);
            using (var s = archive.CreateEntry("dir/deflated.txt", CompressionLevel.Optimal).Open()) s.Write(Text);
        }
        var zip = Open(ms.ToArray());
        Assert.False(zip.UsedLocalHeaderScan);
        Assert.Equal(["dir/stored.bin", "dir/deflated.txt"], zip.Entries.Select(e => e.Name));
        var stored = zip.Find("dir/stored.bin")!;
        var deflated = zip.Find("dir/deflated.txt")!;
        Assert.Equal(8, deflated.Method);
        Assert.Equal(Text, ReadAll(zip.OpenEntry(deflated)));
        Assert.IsType<MemoryByteSource>(zip.OpenEntry(deflated));
        Assert.True(zip.VerifyCrc(deflated));
        Assert.True(zip.VerifyCrc(stored));
        Assert.Equal("stored.bin", stored.FileName);
        Assert.DoesNotContain(zip.Oddities, o => o.Code is "zip.crc-mismatch" or "zip.name-mismatch" or "zip.duplicate-name");
    }

    [Fact]
    public void Stored_members_are_zero_copy_slices_past_alignment_padding()
    {
        byte[] bytes = new ZipBuilder { Alignment = 64 }.Add("arch/data/0", Hello).Add("arch/data/1", Text).Build();
        var zip = Open(bytes);
        foreach (var e in zip.Entries)
        {
            var slice = Assert.IsType<SliceByteSource>(zip.OpenEntry(e));
            Assert.Equal(0, slice.Start % 64);
            Assert.Equal(e.DataOffset, slice.Start);
        }
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Find("arch/data/1")!)));
    }

    [Fact]
    public void Quirks_are_recorded_as_oddities_not_errors()
    {
        var b = new ZipBuilder()
            .Add(new ZipBuilder.Item { Name = "archive/data.pkl", LocalName = "archive/other.pkl", Data = Hello })
            .Add(new ZipBuilder.Item { Name = "w", Data = Hello, Crc = 0xDEADBEEF })
            .Add(new ZipBuilder.Item { Name = "d", Data = Text, Deflate = true, Crc = 0x12345678 })
            .Add(new ZipBuilder.Item { Name = "flags", Data = Hello, Flags = 0x40 | 0x800 })
            .Add(new ZipBuilder.Item { Name = "link", Data = Encoding.ASCII.GetBytes("/etc/passwd"), VersionMadeBy = 3 << 8 | 20, ExternalAttributes = 0xA1FFu << 16 })
            .Add(new ZipBuilder.Item { Name = "desc", Data = Text, Deflate = true, Descriptor = true })
            .Add("../../etc/evil", Hello)
            .Add("/abs/path", Hello)
            .Add("w", Text);
        var zip = Open(b.Build());
        string[] codes = [.. zip.Oddities.Select(o => o.Code)];
        Assert.Contains("zip.name-mismatch", codes);
        Assert.Contains("zip.flag-quirk", codes);
        Assert.Contains("zip.symlink", codes);
        Assert.Contains("zip.data-descriptor", codes);
        Assert.Contains("zip.path-traversal", codes);
        Assert.Contains("zip.absolute-path", codes);
        Assert.Contains("zip.duplicate-name", codes);
        Assert.Equal("archive/data.pkl", zip.Entries[0].Name);
        Assert.Equal("archive/other.pkl", zip.Entries[0].LocalName);
        Assert.True(zip.Entries[4].IsSymlink);

        // Python's zipfile keeps the last of duplicate names.
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Find("w")!)));
        Assert.False(zip.VerifyCrc(zip.Entries[1]));
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Find("d")!)));
        Assert.Contains(zip.Oddities, o => o.Code == "zip.crc-mismatch" && o.Entry == "d");
        Assert.Contains(zip.Oddities, o => o.Code == "zip.crc-mismatch" && o.Entry == "w");
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Find("desc")!)));
    }

    [Fact]
    public void Prefix_data_shifts_offsets_like_python_zipfile()
    {
        var b = new ZipBuilder { Prefix = Encoding.ASCII.GetBytes("#!/bin/sh\necho self-extracting\n") }.Add("a", Hello).Add("b", Text, deflate: true);
        var zip = Open(b.Build());
        Assert.False(zip.UsedLocalHeaderScan);
        Assert.Contains(zip.Oddities, o => o.Code == "zip.prefix-data");
        Assert.Equal(Hello, ReadAll(zip.OpenEntry(zip.Find("a")!)));
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Find("b")!)));
    }

    [Fact]
    public void Zip64_records_are_read()
    {
        var b = new ZipBuilder { Zip64EndRecord = true }
            .Add(new ZipBuilder.Item { Name = "big", Data = Hello, Zip64 = true })
            .Add(new ZipBuilder.Item { Name = "big2", Data = Text, Deflate = true, Zip64 = true });
        var zip = Open(b.Build());
        Assert.True(zip.IsZip64);
        Assert.False(zip.UsedLocalHeaderScan);
        Assert.Equal(Hello, ReadAll(zip.OpenEntry(zip.Find("big")!)));
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Find("big2")!)));
        Assert.DoesNotContain(zip.Oddities, o => o.Code is "zip.size-mismatch" or "zip.entry-count-mismatch");
    }

    [Fact]
    public void Missing_central_directory_falls_back_to_local_headers()
    {
        var b = new ZipBuilder { OmitCentralDirectory = true }
            .Add("x/data.pkl", Hello)
            .Add(new ZipBuilder.Item { Name = "x/data/0", Data = Text, Deflate = true, Descriptor = true })
            .Add(new ZipBuilder.Item { Name = "x/data/1", Data = Hello, Descriptor = true });
        var zip = Open(b.Build());
        Assert.True(zip.UsedLocalHeaderScan);
        Assert.Equal(["x/data.pkl", "x/data/0", "x/data/1"], zip.Entries.Select(e => e.Name));
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Entries[1])));
        Assert.Equal(Hello, ReadAll(zip.OpenEntry(zip.Entries[2])));
        Assert.Contains(zip.Oddities, o => o.Code == "zip.local-header-scan");
    }

    [Fact]
    public void Damaged_central_directory_falls_back_to_local_headers()
    {
        byte[] bytes = new ZipBuilder().Add("a", Hello).Add("b", Text).Build();
        // Break the first central directory record's signature.
        int cd = IndexOf(bytes, [0x50, 0x4B, 0x01, 0x02]);
        bytes[cd + 2] = 0x09;
        var zip = Open(bytes);
        Assert.True(zip.UsedLocalHeaderScan);
        Assert.Contains(zip.Oddities, o => o.Code == "zip.central-directory-damaged");
        Assert.Equal(Text, ReadAll(zip.OpenEntry(zip.Entries.Single(e => e.Name == "b"))));
    }

    [Fact]
    public void Unlisted_local_headers_between_members_are_reported()
    {
        byte[] hidden = new ZipBuilder { OmitCentralDirectory = true }.Add("hidden.pkl", Hello).Build();
        byte[] listed = new ZipBuilder().Add("a", Hello).Build();
        // Splice the hidden member in after 'a's data and shift the directory offset accordingly.
        int cd = IndexOf(listed, [0x50, 0x4B, 0x01, 0x02]);
        byte[] bytes = [.. listed[..cd], .. hidden, .. listed[cd..]];
        int eocd = bytes.Length - 22;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(eocd + 16), (uint)(cd + hidden.Length));
        var zip = Open(bytes);
        Assert.Single(zip.Entries);
        Assert.Contains(zip.Oddities, o => o.Code == "zip.unlisted-entry" && o.Offset == cd);
    }

    [Fact]
    public void Inflation_is_bounded_by_size_and_ratio()
    {
        var zeros = new byte[8 << 20];
        byte[] bytes = new ZipBuilder().Add("bomb", zeros, deflate: true).Build();
        var zip = Open(bytes, new ZipLimits { MaxInflatedBytes = 1 << 20 });
        var e = Assert.Throws<LimitExceededException>(() => zip.OpenEntry(zip.Entries[0]));
        Assert.Contains("limit", e.Message);
        Assert.Equal("bomb", e.Entry);

        var ratio = Open(bytes, new ZipLimits { RatioGraceBytes = 1 << 16, MaxCompressionRatio = 50 });
        Assert.Contains("50:1", Assert.Throws<LimitExceededException>(() => ratio.OpenEntry(ratio.Entries[0])).Message);

        Assert.Equal(zeros.Length, Open(bytes).OpenEntry(zip.Entries[0]).Length);
    }

    [Fact]
    public void Dense_fake_signatures_do_not_make_the_fallback_scan_quadratic()
    {
        // A descriptor-flagged member followed by 4 MiB of fake descriptor signatures and no directory.
        byte[] member = new ZipBuilder { OmitCentralDirectory = true }.Add(new ZipBuilder.Item { Name = "x", Data = Hello, Descriptor = true }).Build();
        byte[] noise = new byte[4 << 20];
        for (int i = 0; i + 4 <= noise.Length; i += 4) "PK\x07\x08"u8.CopyTo(noise.AsSpan(i));
        byte[] bytes = [.. member[..(30 + 1)], .. noise, .. member[(30 + 1)..]];
        var zip = Open(bytes);
        Assert.True(zip.UsedLocalHeaderScan);
        Assert.Equal("x", zip.Entries[0].Name);
    }

    [Fact]
    public void Trailing_data_after_the_end_record_is_an_oddity()
    {
        var zip = Open(new ZipBuilder { Trailing = Encoding.ASCII.GetBytes("appended payload") }.Add("a", Hello).Build());
        Assert.False(zip.UsedLocalHeaderScan);
        Assert.Contains(zip.Oddities, o => o.Code == "zip.trailing-data");
        Assert.Equal(Hello, ReadAll(zip.OpenEntry(zip.Find("a")!)));
    }

    [Fact]
    public void Not_a_zip_is_an_error_naming_the_file()
    {
        var e = Assert.Throws<LineageException>(() => Open(Encoding.ASCII.GetBytes("this is not a zip archive at all, just text")));
        Assert.Equal("a.zip", e.File);
    }

    [Fact]
    public void Hostile_archives_only_raise_lineage_exceptions()
    {
        byte[] original = new ZipBuilder { Alignment = 64 }
            .Add("m/data.pkl", Hello)
            .Add(new ZipBuilder.Item { Name = "m/data/0", Data = Text, Deflate = true, Descriptor = true })
            .Add(new ZipBuilder.Item { Name = "m/data/1", Data = Text, Zip64 = true })
            .Build();
        foreach (var variant in Hostile.Truncations(original, 60, 3).Concat(Hostile.BitFlips(original, 500, 4)))
        {
            Hostile.OnlyLineageExceptions("h.zip", variant, source =>
            {
                var zip = ZipReader.Open(source, new ZipLimits { MaxInflatedBytes = 1 << 20 });
                foreach (var e in zip.Entries)
                {
                    try
                    {
                        var member = zip.OpenEntry(e);
                        if (member.Length < 1 << 20) zip.VerifyCrc(e);
                    }
                    catch (LineageException ex)
                    {
                        Assert.Equal("h.zip", ex.File);
                    }
                }
            });
        }
    }

    [Fact]
    public void Corpus_path_traversal_archive_is_flagged()
    {
        using var source = RandomAccessFile.Open(Corpus.Path("scanner/modelaudit/samples/archives/path_traversal.zip"));
        var zip = ZipReader.Open(source);
        Assert.Contains(zip.Oddities, o => o.Code == "zip.path-traversal" && o.Entry == "../../../etc/evil.txt");
        Assert.NotNull(zip.Find("model/malicious.pkl"));
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }
}
