using System.Security.Cryptography;
using System.Text;
using Lineage.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Signing;

/// <summary>The protocol pieces: Merkle audit paths, digests, PAE, statement layouts, path order, trusted roots.</summary>
public sealed class SigningPrimitivesTests
{
    // RFC 6962 §2.1 definitions, written recursively here as an independent reference.
    private static byte[] LeafHash(byte[] data) => SHA256.HashData([0x00, .. data]);

    private static byte[] Mth(byte[][] leaves)
    {
        if (leaves.Length == 1) return LeafHash(leaves[0]);
        int k = LargestPowerOfTwoBelow(leaves.Length);
        return SHA256.HashData([0x01, .. Mth(leaves[..k]), .. Mth(leaves[k..])]);
    }

    private static List<byte[]> AuditPath(int m, byte[][] leaves)
    {
        if (leaves.Length == 1) return [];
        int k = LargestPowerOfTwoBelow(leaves.Length);
        if (m < k) return [.. AuditPath(m, leaves[..k]), Mth(leaves[k..])];
        return [.. AuditPath(m - k, leaves[k..]), Mth(leaves[..k])];
    }

    private static int LargestPowerOfTwoBelow(int n)
    {
        int k = 1;
        while (k << 1 < n) k <<= 1;
        return k;
    }

    [Fact]
    public void InclusionProofsMatchTheRfc6962Definition()
    {
        for (int size = 1; size <= 33; size++)
        {
            var leaves = Enumerable.Range(0, size).Select(i => Encoding.ASCII.GetBytes($"leaf {i}")).ToArray();
            var root = Mth(leaves);
            for (int m = 0; m < size; m++)
            {
                var path = AuditPath(m, leaves);
                var leaf = TransparencyLog.LeafHash(leaves[m]);
                Assert.True(TransparencyLog.VerifyInclusion(m, size, leaf, path, root, out string? error), $"size {size}, leaf {m}: {error}");

                if (path.Count > 0)
                {
                    var flipped = path.Select(p => (byte[])p.Clone()).ToList();
                    flipped[^1][5] ^= 0x20;
                    Assert.False(TransparencyLog.VerifyInclusion(m, size, leaf, flipped, root, out _));
                    Assert.False(TransparencyLog.VerifyInclusion(m, size, leaf, path[..^1], root, out _));
                }
                Assert.False(TransparencyLog.VerifyInclusion(m, size, leaf, [.. path, root], root, out _));
                Assert.False(TransparencyLog.VerifyInclusion(m, size, TransparencyLog.LeafHash(Encoding.ASCII.GetBytes("other")), path, root, out _));
                if (size > 1) Assert.False(TransparencyLog.VerifyInclusion((m + 1) % size, size, leaf, path, root, out _));
            }
            Assert.False(TransparencyLog.VerifyInclusion(size, size, TransparencyLog.LeafHash(leaves[0]), [], root, out _));
            Assert.False(TransparencyLog.VerifyInclusion(-1, size, TransparencyLog.LeafHash(leaves[0]), [], root, out _));
        }
    }

    [Theory]
    [InlineData("sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("blake2b", "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")]
    [InlineData("blake3", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85")]
    public void DigestsMatchPublishedVectors(string name, string abc)
    {
        Assert.True(Digests.TryParse(name, out var algorithm, out _));
        Assert.Equal(abc, Convert.ToHexStringLower(Digests.Compute(algorithm, "abc"u8)));
        // Streaming in pieces gives the same digest.
        var digest = Digests.Create(algorithm);
        digest.Append("a"u8);
        digest.Append("bc"u8);
        Assert.Equal(abc, Convert.ToHexStringLower(digest.Finish()));
    }

    [Theory]
    [InlineData("sha256", "sha256", null)]
    [InlineData("blake2b", "blake2b", null)]
    [InlineData("file-sha256", "sha256", null)]
    [InlineData("file-sha256-1000000", "sha256", 1_000_000L)]
    [InlineData("sha256-sharded-8", "sha256", 8L)]
    [InlineData("blake3-sharded-1000000000", "blake3", 1_000_000_000L)]
    public void DigestNamesOfEveryReferenceVersionParse(string name, string algorithm, long? shardSize)
    {
        Assert.True(Digests.TryParse(name, out var parsed, out long? size));
        Assert.Equal((algorithm, shardSize), (Digests.Name(parsed), size));
    }

    [Theory]
    [InlineData("md5")]
    [InlineData("sha256-sharded-0")]
    [InlineData("sha256-sharded-x")]
    [InlineData("")]
    public void UnknownDigestNamesAreRefused(string name) => Assert.False(Digests.TryParse(name, out _, out _));

    [Fact]
    public void PaeMatchesTheDsseSpecification()
    {
        Assert.Equal("DSSEv1 29 http://example.com/HelloWorld 11 hello world", Encoding.UTF8.GetString(Dsse.Pae("http://example.com/HelloWorld", "hello world"u8)));
        Assert.Equal("DSSEv1 28 application/vnd.in-toto+json 0 ", Encoding.UTF8.GetString(Dsse.Pae("application/vnd.in-toto+json", [])));
    }

    [Fact]
    public void CompatPaeIsPythonsBytesRepr()
    {
        byte[] payload = [.. "a'b\"c\\\n"u8, 0x00, 0xff, (byte)'\t', (byte)'\r', (byte)'~', 0x7f];
        Assert.Equal("DSSEV1 28 application/vnd.in-toto+json 13 b'a\\'b\"c\\\\\\n\\x00\\xff\\t\\r~\\x7f'",
            Encoding.UTF8.GetString(Dsse.PaeCompat("application/vnd.in-toto+json", payload)));
        Assert.EndsWith("b\"it's\"", Encoding.UTF8.GetString(Dsse.PaeCompat("t", "it's"u8)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/b", "a/b")]
    [InlineData("./a//b/", "a/b")]
    [InlineData(".", ".")]
    [InlineData("", ".")]
    [InlineData("/abs/x", "/abs/x")]
    [InlineData("a/../b", "a/../b")]
    public void ManifestNamesNormalizeLikePurePosixPath(string name, string expected) => Assert.Equal(expected, InTotoStatement.NormalizePath(name));

    [Theory]
    [InlineData("f:0:8", "f", 0L, 8L)]
    [InlineData("d/e:f:8:16", "d/e:f", 8L, 16L)]
    [InlineData("empty:0:0", "empty", 0L, 0L)]
    public void ShardNamesParse(string name, string path, long start, long end)
    {
        Assert.True(InTotoStatement.TryParseShardName(name, out string p, out long s, out long e));
        Assert.Equal((path, start, end), (p, s, e));
    }

    [Theory]
    [InlineData("f:8")]
    [InlineData("f:8:4")]
    [InlineData("f:-1:4")]
    [InlineData("f:a:4")]
    [InlineData("f:0:99999999999999999999")]
    public void BadShardNamesAreRefused(string name) => Assert.False(InTotoStatement.TryParseShardName(name, out _, out _, out _));

    private static SignedManifest ParseStatement(string json) => InTotoStatement.Parse(Encoding.UTF8.GetBytes(json), "test.sig");

    private static string Hex(string content) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));

    [Fact]
    public void EveryV02PredicateLayoutReads()
    {
        string a = Hex("aaaa"), b = Hex("bbbb");
        var digests = ParseStatement($$$"""
            {"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/Digests/v0.1",
             "subject":[{"name":"x/a","digest":{"sha256":"{{{a}}}"},"annotations":{"actual_hash_algorithm":"file-sha256"}},
                        {"name":"b","digest":{"sha256":"{{{b}}}"}}],
             "predicate":{"unused":"Unused, just passed due to API requirements"}}
            """);
        Assert.False(digests.Sharded);
        Assert.Equal(["x/a", "b"], digests.Entries.Select(e => e.Path));

        var shardDigests = ParseStatement($$$"""
            {"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/ShardDigests/v0.1",
             "subject":[{"name":"a:0:4","digest":{"sha256":"{{{a}}}"},"annotations":{"actual_hash_algorithm":"file-sha256-1000000"}}],
             "predicate":{"unused":"Unused"}}
            """);
        Assert.True(shardDigests.Sharded);
        Assert.Equal(1_000_000, shardDigests.ShardSize);
        Assert.Equal(("a", 0L, 4L), (shardDigests.Entries[0].Path, shardDigests.Entries[0].Start!.Value, shardDigests.Entries[0].End!.Value));

        string root = Convert.ToHexStringLower(SHA256.HashData([.. Convert.FromHexString(a), .. Convert.FromHexString(b)]));
        var digestOfDigests = ParseStatement($$$"""
            {"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/DigestOfDigests/v0.1",
             "subject":[{"name":".","digest":{"sha256":"{{{root}}}"}}],
             "predicate":{"files":[{"digest":"{{{a}}}","algorithm":"file-sha256","name":"a"},{"digest":"{{{b}}}","algorithm":"file-sha256","name":"b"}]}}
            """);
        Assert.Empty(digestOfDigests.ConsistencyErrors);
        Assert.Equal(2, digestOfDigests.Entries.Count);

        var digestOfShards = ParseStatement($$$"""
            {"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/DigestOfShardDigests/v0.1",
             "subject":[{"name":".","digest":{"sha256":"{{{root}}}"}}],
             "predicate":{"shards":[{"digest":"{{{a}}}","algorithm":"file-sha256-1000000","name":"a:0:4"},{"digest":"{{{b}}}","algorithm":"file-sha256-1000000","name":"b:0:4"}]}}
            """);
        Assert.True(digestOfShards.Sharded);
        Assert.Empty(digestOfShards.ConsistencyErrors);

        var wrongRoot = ParseStatement($$$"""
            {"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/DigestOfDigests/v0.1",
             "subject":[{"name":".","digest":{"sha256":"{{{a}}}"}}],
             "predicate":{"files":[{"digest":"{{{a}}}","algorithm":"file-sha256","name":"a"}]}}
            """);
        Assert.Contains("inconsistent", Assert.Single(wrongRoot.ConsistencyErrors), StringComparison.Ordinal);
    }

    [Fact]
    public void V02ShardStatementsVerifyAModel()
    {
        using var temp = new TempDir();
        temp.Write("m/a", "aaaabb");
        temp.Write("m/empty", "");
        string a1 = Hex("aaaa"), a2 = Hex("bb");
        var manifest = ParseStatement($$$"""
            {"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/ShardDigests/v0.1",
             "subject":[{"name":"a:4:6","digest":{"sha256":"{{{a2}}}"},"annotations":{"actual_hash_algorithm":"file-sha256-4"}},
                        {"name":"a:0:4","digest":{"sha256":"{{{a1}}}"},"annotations":{"actual_hash_algorithm":"file-sha256-4"}}],
             "predicate":{"unused":"Unused"}}
            """);
        var options = VerificationOptions.WithPublicKey("unused.pem");
        var ok = SignatureVerifier.CompareModel(temp.File("m"), temp.File("none.sig"), manifest, options, TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Verified, ok.Outcome);
        Assert.Equal([("a", FileStatus.Ok), ("empty", FileStatus.Ok)], ok.Files.Select(f => (f.Name, f.Status)));

        temp.Write("m/a", "aaaabbc");
        var grown = SignatureVerifier.CompareModel(temp.File("m"), temp.File("none.sig"), manifest, options, TestContext.Current.CancellationToken);
        Assert.Equal(FileStatus.Changed, Assert.Single(grown.Files, f => f.Name == "a").Status);

        temp.Write("m/empty", "x");
        var notEmpty = SignatureVerifier.CompareModel(temp.File("m"), temp.File("none.sig"), manifest, options, TestContext.Current.CancellationToken);
        Assert.Equal(FileStatus.Unexpected, Assert.Single(notEmpty.Files, f => f.Name == "empty").Status);
    }

    [Fact]
    public void UnknownPredicateTypesAreRefusedByName()
    {
        var e = Assert.Throws<LineageException>(() => ParseStatement("""{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],"predicate":{}}"""));
        Assert.Contains("unknown predicate type 'https://slsa.dev/provenance/v1'", e.Message, StringComparison.Ordinal);
        Assert.Contains("https://model_signing/signature/v1.0", e.Message, StringComparison.Ordinal);
        Assert.Equal("test.sig", e.File);
    }

    [Theory]
    [InlineData("""{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://model_signing/signature/v1.0"}""", "statement type")]
    [InlineData("""{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/signature/v1.0","subject":[{"name":"m","digest":{"sha256":"00"}}],"predicate":{}}""", "32 bytes")]
    [InlineData("""{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/signature/v1.0","subject":[],"predicate":{}}""", "exactly one subject")]
    [InlineData("""{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/Digests/v0.1","subject":[{"name":"a","digest":{"sha256":"zz"}}]}""", "not a hex string")]
    [InlineData("""{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/Digests/v0.1","subject":[{"name":"a","digest":{"sha256":"00"},"annotations":{"actual_hash_algorithm":"md5"}}]}""", "unsupported digest algorithm 'md5'")]
    [InlineData("""{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://model_signing/ShardDigests/v0.1","subject":[{"name":"a:9:1","digest":{"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}]}""", "PATH:START:END")]
    [InlineData("""[1,2""", "not valid JSON")]
    public void MalformedStatementsNameTheProblem(string json, string expected)
    {
        var e = Assert.Throws<LineageException>(() => ParseStatement(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeeplyNestedStatementsAreRefused()
    {
        string bomb = new string('[', 100_000) + new string(']', 100_000);
        var e = Assert.Throws<LineageException>(() => ParseStatement(bomb));
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheEmbeddedTrustedRootIsTheCorpusOne()
    {
        var embedded = TrustedRoot.PublicGood;
        var corpus = TrustedRoot.Load(SigningCorpus.TrustedRootPath);
        Assert.Equal(corpus.TransparencyLogs.Select(l => Convert.ToBase64String(l.LogId)), embedded.TransparencyLogs.Select(l => Convert.ToBase64String(l.LogId)));
        Assert.Equal(2, embedded.CertificateAuthorities.Count);
        Assert.Equal(2, embedded.CtLogs.Count);
        Assert.All(embedded.TransparencyLogs, l => Assert.NotNull(l.Key));
        Assert.True(embedded.TransparencyLogs[1].Key!.IsEd25519);
    }

    [Fact]
    public void ATrustConfigWrappingTheRootReads()
    {
        using var temp = new TempDir();
        string wrapped = temp.Write("config.json", $$$"""{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json","trustedRoot":{{{File.ReadAllText(SigningCorpus.TrustedRootPath)}}}}""");
        Assert.Equal(2, TrustedRoot.Load(wrapped).CertificateAuthorities.Count);

        var e = Assert.Throws<LineageException>(() => TrustedRoot.Load(temp.Write("bad.json", """{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}""")));
        Assert.Contains("not a trusted root media type", e.Message, StringComparison.Ordinal);
    }
}
