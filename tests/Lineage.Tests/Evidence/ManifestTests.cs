using System.Security.Cryptography;
using System.Text;
using Lineage.Audit;
using Lineage.Tests.Support;

namespace Lineage.Tests.Evidence;

public class ManifestTests
{
    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Sha256sum_lists_in_gnu_binary_and_bsd_style_are_read()
    {
        using var dir = new TempDir();
        string a = Sha("a"), b = Sha("b"), c = Sha("c");
        string list = dir.Write("SHA256SUMS", $"# published 2024\n{a}  config.json\n{b.ToUpperInvariant()} *weights/model.safetensors\n\nSHA256 (./tokenizer.json) = {c}\n");
        var m = PublishedManifest.Read(list);
        Assert.Equal("sha256sum", m.Kind);
        Assert.Equal(
            [("config.json", a), ("tokenizer.json", c), ("weights/model.safetensors", b)],
            m.Entries.Select(e => (e.Path, e.Sha256!)).OrderBy(x => x.Path, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("not-a-hash  config.json\n", 0)]
    [InlineData("# ok\n0000000000000000000000000000000000000000000000000000000000000000 config.json\n", 5)]
    public void Malformed_checksum_lines_are_errors_at_their_byte_offset(string text, long offset)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<LineageException>(() => PublishedManifest.Read(dir.Write("sums", text)));
        Assert.Equal(offset, e.Offset);
    }

    [Theory]
    [InlineData("../outside.bin")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../b")]
    public void Manifest_paths_may_not_leave_the_folder(string path)
    {
        using var dir = new TempDir();
        string list = dir.Write("sums", $"{Sha("x")}  {path}\n");
        Assert.Throws<LineageException>(() => PublishedManifest.Read(list));
    }

    [Fact]
    public void Lfs_pointers_are_parsed_alone_and_as_a_folder_of_a_skip_smudge_clone()
    {
        string oid = Sha("weights");
        string pointer = $"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 7\n";
        Assert.Equal(new LfsPointer(oid, 7), LfsPointer.TryParse(Encoding.UTF8.GetBytes(pointer)));
        Assert.Null(LfsPointer.TryParse("version https://git-lfs.github.com/spec/v1\nsize 7\n"u8));

        using var clone = new TempDir();
        clone.Write("model.safetensors", pointer);
        clone.Write("config.json", "{}");
        clone.Write(".git/HEAD", "ref: refs/heads/main\n");
        var tree = PublishedManifest.Read(clone.Path);
        Assert.Equal("lfs-pointers", tree.Kind);
        Assert.Equal(2, tree.Entries.Count);
        Assert.Equal((oid, 7L), tree.Entries.Where(e => e.Path == "model.safetensors").Select(e => (e.Sha256!, e.Size!.Value)).Single());
        Assert.Equal(Sha("{}"), tree.Entries.Single(e => e.Path == "config.json").Sha256);

        var single = PublishedManifest.Read(clone.File("model.safetensors"));
        Assert.Equal(("lfs-pointer", "model.safetensors", oid), (single.Kind, single.Entries[0].Path, single.Entries[0].Sha256));
    }

    [Fact]
    public void Hugging_face_listings_verify_lfs_files_by_sha256_and_others_by_git_blob_id()
    {
        using var dir = new TempDir();
        dir.Write("model/config.json", "{\"a\": 1}");
        dir.Write("model/model.safetensors", "WEIGHTS");
        // git's blob id, computed here independently of the library: sha1("blob <n>\0" + content).
        string blob = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes("blob 8\0{\"a\": 1}")));
        string listing = dir.Write("tree.json", $$$"""
            [{"type": "file", "path": "config.json", "size": 8, "oid": "{{{blob}}}"},
             {"type": "file", "path": "model.safetensors", "size": 134, "oid": "{{{new string('1', 40)}}}", "lfs": {"oid": "{{{Sha("WEIGHTS")}}}", "size": 7}},
             {"type": "directory", "path": "sub", "oid": "{{{new string('2', 40)}}}"}]
            """);
        var manifest = PublishedManifest.Read(listing);
        Assert.Equal("huggingface-listing", manifest.Kind);
        var findings = new List<AuditFinding>();
        var check = ManifestVerifier.Verify(manifest, FileInventory.Build(dir.File("model")), findings);
        Assert.Equal(2, check.Verified);
        Assert.Empty(findings);

        dir.Write("model/config.json", "{\"a\": 2}");
        findings.Clear();
        check = ManifestVerifier.Verify(manifest, FileInventory.Build(dir.File("model")), findings);
        Assert.Equal(["config.json"], check.Mismatched);
        Assert.Contains("git blob", Assert.Single(findings).Finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lineage_manifest_round_trips()
    {
        using var dir = new TempDir();
        dir.Write("m/a.txt", "alpha");
        dir.Write("m/sub/b.bin", [1, 2, 3]);
        var files = FileInventory.Build(dir.File("m"));
        using (var stream = File.Create(dir.File("manifest.json"))) PublishedManifest.WriteLineage(stream, files, "test");
        var read = PublishedManifest.Read(dir.File("manifest.json"));
        Assert.Equal("lineage", read.Kind);
        Assert.Equal(files.Select(f => (f.Path, f.Sha256, (long?)f.Size)), read.Entries.Select(e => (e.Path, e.Sha256, e.Size)));
        Assert.Equal(Sha("alpha"), read.Entries.Single(e => e.Path == "a.txt").Sha256);
    }

    [Fact]
    public void Inventory_hashes_every_byte_and_recognises_pointers()
    {
        using var dir = new TempDir();
        var big = new byte[3 << 20];
        new Random(7).NextBytes(big);
        dir.Write("m/big.bin", big);
        dir.Write("m/ptr.safetensors", $"version https://git-lfs.github.com/spec/v1\noid sha256:{Sha("x")}\nsize 1\n");
        dir.Write("m/.git/config", "[core]");
        var files = FileInventory.Build(dir.File("m"));
        Assert.Equal(["big.bin", "ptr.safetensors"], files.Select(f => f.Path));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(big)), files[0].Sha256);
        Assert.Equal(big.Length, files[0].Size);
        Assert.Equal("lfs-pointer", files[1].Format);
        Assert.NotNull(files[1].Pointer);
    }
}
