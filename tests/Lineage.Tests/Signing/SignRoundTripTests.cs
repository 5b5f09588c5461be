using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Lineage.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Signing;

/// <summary>lineage sign writes what model_signing v1.0 writes, and lineage verify accepts it back.</summary>
public sealed class SignRoundTripTests
{
    private static string CopyLadderModel(TempDir temp, string name = "A")
    {
        string source = Corpus.Path($"ladder/{name}");
        string target = Path.Combine(temp.Path, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    private static SigningOptions KeyOptions(string model) => new()
    {
        PrivateKeyPath = SigningCorpus.Key("signing-key.pem"),
        OutputPath = Path.Combine(model, "model.sig"),
    };

    private static VerificationResult VerifyWithKey(string model, VerificationOptions? options = null) =>
        SignatureVerifier.Verify(model, Path.Combine(model, "model.sig"), options ?? VerificationOptions.WithPublicKey(SigningCorpus.Key("signing-key-pub.pem")), TestContext.Current.CancellationToken);

    [Fact]
    public void SignedLadderModelVerifiesAndItsStatementListsExactlyItsFiles()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        var signed = ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken);
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.model"], signed.Files.Select(f => f.Name));

        var result = VerifyWithKey(model);
        Assert.True(result.Verified, string.Join("\n", result.Errors));
        Assert.Equal(SignerKind.Key, result.Signer!.Kind);
        Assert.Equal("e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e", result.Signer.KeyId);

        // Read the bundle independently of the library's parser.
        using var bundle = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(model, "model.sig")));
        var b = bundle.RootElement;
        Assert.Equal("application/vnd.dev.sigstore.bundle.v0.3+json", b.GetProperty("mediaType").GetString());
        Assert.Equal(result.Signer.KeyId, b.GetProperty("verificationMaterial").GetProperty("publicKey").GetProperty("hint").GetString());
        var envelope = b.GetProperty("dsseEnvelope");
        Assert.Equal("application/vnd.in-toto+json", envelope.GetProperty("payloadType").GetString());
        var payload = Convert.FromBase64String(envelope.GetProperty("payload").GetString()!);

        using var statement = JsonDocument.Parse(payload);
        var s = statement.RootElement;
        Assert.Equal("https://in-toto.io/Statement/v1", s.GetProperty("_type").GetString());
        Assert.Equal("https://model_signing/signature/v1.0", s.GetProperty("predicateType").GetString());
        var serialization = s.GetProperty("predicate").GetProperty("serialization");
        Assert.Equal("files", serialization.GetProperty("method").GetString());
        Assert.Equal("sha256", serialization.GetProperty("hash_type").GetString());
        Assert.False(serialization.GetProperty("allow_symlinks").GetBoolean());

        var files = Directory.GetFiles(model).Select(Path.GetFileName).Where(n => n != "model.sig").Order(StringComparer.Ordinal).ToList();
        var resources = s.GetProperty("predicate").GetProperty("resources").EnumerateArray().ToList();
        Assert.Equal(files, resources.Select(r => r.GetProperty("name").GetString()));
        using var concatenated = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var resource in resources)
        {
            var expected = SHA256.HashData(File.ReadAllBytes(Path.Combine(model, resource.GetProperty("name").GetString()!)));
            Assert.Equal("sha256", resource.GetProperty("algorithm").GetString());
            Assert.Equal(Convert.ToHexStringLower(expected), resource.GetProperty("digest").GetString());
            concatenated.AppendData(expected);
        }
        var subject = Assert.Single(s.GetProperty("subject").EnumerateArray());
        Assert.Equal("A", subject.GetProperty("name").GetString());
        Assert.Equal(Convert.ToHexStringLower(concatenated.GetHashAndReset()), subject.GetProperty("digest").GetProperty("sha256").GetString());

        // The signature is ECDSA P-384 / SHA-384 (DER) over the DSSE pre-authentication encoding, built here by hand.
        var pae = Encoding.UTF8.GetBytes($"DSSEv1 28 application/vnd.in-toto+json {payload.Length} ").Concat(payload).ToArray();
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(SigningCorpus.Key("signing-key-pub.pem")));
        var sig = Convert.FromBase64String(Assert.Single(envelope.GetProperty("signatures").EnumerateArray()).GetProperty("sig").GetString()!);
        Assert.True(key.VerifyData(pae, sig, HashAlgorithmName.SHA384, DSASignatureFormat.Rfc3279DerSequence));
    }

    [Fact]
    public void SignedModelStopsVerifyingWhenChanged()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken);
        SigningCorpus.FlipByte(Path.Combine(model, "model.safetensors"), 100_000);
        File.WriteAllText(Path.Combine(model, "extra.py"), "import os");
        File.Delete(Path.Combine(model, "tokenizer.model"));

        var result = VerifyWithKey(model);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Equal(
            [("config.json", FileStatus.Ok), ("extra.py", FileStatus.Unexpected), ("model.safetensors", FileStatus.Changed), ("tokenizer.model", FileStatus.Missing)],
            result.Files.Select(f => (f.Name, f.Status)));
    }

    [Fact]
    public void CertificateSignedModelVerifiesAgainstTheCa()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        var options = KeyOptions(model) with { CertificateChainPaths = [SigningCorpus.Key("signing-key-cert.pem"), SigningCorpus.Key("int-ca-cert.pem")] };
        var signed = ModelSigner.Sign(model, options, TestContext.Current.CancellationToken);
        Assert.Equal(SignerKind.Certificate, signed.Signer.Kind);

        using var bundle = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(model, "model.sig")));
        Assert.Equal(2, bundle.RootElement.GetProperty("verificationMaterial").GetProperty("x509CertificateChain").GetProperty("certificates").GetArrayLength());

        var result = VerifyWithKey(model, VerificationOptions.WithCertificateChain([SigningCorpus.Key("ca-cert.pem")]));
        Assert.True(result.Verified, string.Join("\n", result.Errors));
        Assert.Equal("CN=intermediate-ca", result.Signer!.Identity);
    }

    [Fact]
    public void TheCertificateMustMatchTheKey()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        var options = KeyOptions(model) with { CertificateChainPaths = [SigningCorpus.Key("int-ca-cert.pem")] };
        var e = Assert.Throws<LineageException>(() => ModelSigner.Sign(model, options, TestContext.Current.CancellationToken));
        Assert.Contains("does not match the private key", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(model, "model.sig")));
    }

    [Theory]
    [InlineData("sha256")]
    [InlineData("blake2b")]
    [InlineData("blake3")]
    public void ShardedSignaturesVerifyAndNameTheChangedShard(string hash)
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        ModelSigner.Sign(model, KeyOptions(model) with { ShardSize = 100_000, Hash = hash }, TestContext.Current.CancellationToken);

        using (var bundle = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(model, "model.sig"))))
        using (var statement = JsonDocument.Parse(Convert.FromBase64String(bundle.RootElement.GetProperty("dsseEnvelope").GetProperty("payload").GetString()!)))
        {
            var predicate = statement.RootElement.GetProperty("predicate");
            Assert.Equal("shards", predicate.GetProperty("serialization").GetProperty("method").GetString());
            long size = new FileInfo(Path.Combine(model, "model.safetensors")).Length;
            var shards = predicate.GetProperty("resources").EnumerateArray().Select(r => r.GetProperty("name").GetString()!).Where(n => n.StartsWith("model.safetensors:", StringComparison.Ordinal)).ToList();
            Assert.Equal((int)((size + 99_999) / 100_000), shards.Count);
            Assert.Equal($"model.safetensors:0:100000", shards[0]);
            Assert.EndsWith($":{size}", shards[^1], StringComparison.Ordinal);
            Assert.All(predicate.GetProperty("resources").EnumerateArray(), r => Assert.Equal($"{hash}-sharded-100000", r.GetProperty("algorithm").GetString()));
        }

        Assert.True(VerifyWithKey(model).Verified);
        SigningCorpus.FlipByte(Path.Combine(model, "model.safetensors"), 250_000);
        var result = VerifyWithKey(model);
        var changed = Assert.Single(result.Files, f => f.Status != FileStatus.Ok);
        Assert.Equal(("model.safetensors", FileStatus.Changed), (changed.Name, changed.Status));
        Assert.StartsWith("model.safetensors:200000:300000 ", changed.ActualDigest, StringComparison.Ordinal);
    }

    [Fact]
    public void ShardedSignatureNoticesAFileThatGrew()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        ModelSigner.Sign(model, KeyOptions(model) with { ShardSize = 1 << 20 }, TestContext.Current.CancellationToken);
        File.AppendAllText(Path.Combine(model, "config.json"), " ");
        var result = VerifyWithKey(model);
        Assert.Equal(FileStatus.Changed, Assert.Single(result.Files, f => f.Name == "config.json").Status);
    }

    [Fact]
    public void ASingleFileModelIsSignedAsDot()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        string file = Path.Combine(model, "model.safetensors");
        string signature = temp.File("weights.sig");
        ModelSigner.Sign(file, KeyOptions(model) with { OutputPath = signature }, TestContext.Current.CancellationToken);

        var result = SignatureVerifier.Verify(file, signature, VerificationOptions.WithPublicKey(SigningCorpus.Key("signing-key-pub.pem")), TestContext.Current.CancellationToken);
        Assert.True(result.Verified, string.Join("\n", result.Errors));
        Assert.Equal("model.safetensors", Assert.Single(result.Files).Name);
        using var bundle = JsonDocument.Parse(File.ReadAllBytes(signature));
        using var statement = JsonDocument.Parse(Convert.FromBase64String(bundle.RootElement.GetProperty("dsseEnvelope").GetProperty("payload").GetString()!));
        Assert.Equal(".", Assert.Single(statement.RootElement.GetProperty("predicate").GetProperty("resources").EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public void NestedPathsAreSortedAsTheReferenceSortsThem()
    {
        using var temp = new TempDir();
        string model = Path.Combine(temp.Path, "m");
        foreach (string name in new[] { "a.b", "a/b", "a-c", "B", "a/c/d", ".hidden" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(model, name))!);
            File.WriteAllText(Path.Combine(model, name), name);
        }
        Directory.CreateDirectory(Path.Combine(model, ".git"));
        File.WriteAllText(Path.Combine(model, ".git", "HEAD"), "ref");
        File.WriteAllText(Path.Combine(model, ".gitattributes"), "*");
        var signed = ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken);
        // Python compares PurePosixPath part lists: ["a","b"] < ["a","c","d"] < ["a-c"] < ["a.b"]; git metadata is left out.
        Assert.Equal([".hidden", "B", "a/b", "a/c/d", "a-c", "a.b"], signed.Files.Select(f => f.Name));
        Assert.True(VerifyWithKey(model).Verified);

        // Signing again with the signature inside the model leaves the signature out.
        var again = ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken);
        Assert.Equal(signed.Files.Select(f => f.Name), again.Files.Select(f => f.Name));
    }

    [Fact]
    public void IgnoredPathsStayOutOfTheSignatureAndMustBeIgnoredAgain()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        Directory.CreateDirectory(Path.Combine(model, "logs"));
        File.WriteAllText(Path.Combine(model, "logs", "run.txt"), "log");
        File.WriteAllText(Path.Combine(model, "README.md"), "readme");
        var signed = ModelSigner.Sign(model, KeyOptions(model) with { IgnorePaths = ["logs", Path.Combine(model, "README.md")] }, TestContext.Current.CancellationToken);
        Assert.Equal(3, signed.Files.Count);

        Assert.Equal(VerificationOutcome.Failed, VerifyWithKey(model).Outcome);
        var ignored = VerifyWithKey(model, VerificationOptions.WithPublicKey(SigningCorpus.Key("signing-key-pub.pem")) with { IgnorePaths = ["logs", "README.md"] });
        Assert.True(ignored.Verified, string.Join("\n", ignored.Errors));
    }

    [Fact]
    public void SymlinksAreRefused()
    {
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        File.CreateSymbolicLink(Path.Combine(model, "alias.json"), Path.Combine(model, "config.json"));
        var e = Assert.Throws<LineageException>(() => ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken));
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);

        File.Delete(Path.Combine(model, "alias.json"));
        ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken);
        File.CreateSymbolicLink(Path.Combine(model, "alias.json"), Path.Combine(model, "config.json"));
        var result = VerifyWithKey(model);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains(result.Errors, m => m.Contains("'alias.json' is a symbolic link", StringComparison.Ordinal));
    }

    [Fact]
    public void AFifoIsRefusedWithoutBeingOpened()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/mkfifo")) Assert.Skip("needs mkfifo");
        using var temp = new TempDir();
        string model = CopyLadderModel(temp);
        ModelSigner.Sign(model, KeyOptions(model), TestContext.Current.CancellationToken);
        using (var mkfifo = System.Diagnostics.Process.Start("/usr/bin/mkfifo", Path.Combine(model, "pipe")))
            mkfifo.WaitForExit();
        var result = VerifyWithKey(model);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains(result.Errors, m => m.Contains("'pipe' is not a regular file", StringComparison.Ordinal));
    }
}
