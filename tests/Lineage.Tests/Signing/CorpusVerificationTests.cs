using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lineage.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Signing;

/// <summary>Every bundle the reference implementation produced verifies with the README's key, chain or identity,
/// offline, and stops verifying after any change to the model or to what is trusted.</summary>
public sealed class CorpusVerificationTests
{
    [Theory]
    [MemberData(nameof(SigningCorpus.All), MemberType = typeof(SigningCorpus))]
    public void EveryReferenceBundleVerifies(string name)
    {
        string root = SigningCorpus.Dir(name);
        var result = SigningCorpus.Verify(name, root);

        Assert.True(result.Verified, string.Join("\n", result.Errors));
        Assert.Equal(VerificationOutcome.Verified, result.Outcome);
        Assert.Empty(result.Errors);
        Assert.Equal(SigningCorpus.KindOf(name), result.Signer!.Kind);
        var expectedFiles = SigningCorpus.IsSingleFile(name) ? new[] { "signme-1" } : ["signme-1", "signme-2"];
        Assert.Equal(expectedFiles, result.Files.Select(f => f.Name));
        Assert.All(result.Files, f => Assert.Equal(FileStatus.Ok, f.Status));
        foreach (var file in result.Files)
        {
            var onDisk = SHA256.HashData(File.ReadAllBytes(Path.Combine(root, file.Name)));
            Assert.Equal("sha256:" + Convert.ToHexStringLower(onDisk), file.Digest);
        }
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void SigstoreBundlesNameTheSignerAndTheLoggedTime(string name)
    {
        string root = SigningCorpus.Dir(name);
        var result = SigningCorpus.Verify(name, root);
        Assert.True(result.Verified, string.Join("\n", result.Errors));
        Assert.Equal(SigningCorpus.Identity, result.Signer!.Identity);
        Assert.Equal(SigningCorpus.Issuer, result.Signer.Issuer);
        // The certificates expired ten minutes after issue; the signing time is Rekor's integrated time.
        long integrated = long.Parse(SigningCorpus.ReadBundle(root)["verificationMaterial"]!["tlogEntries"]![0]!["integratedTime"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(integrated), result.SigningTime);
        Assert.True(result.SigningTime < DateTimeOffset.UtcNow.AddDays(-1));
    }

    [Fact]
    public void KeyBundlesReportTheKeyIdModelSigningUses()
    {
        var result = SigningCorpus.Verify("v1.0.1-elliptic-key", SigningCorpus.Dir("v1.0.1-elliptic-key"));
        Assert.True(result.Verified);
        // sha256 of the public key's PEM text, as model_signing's public-key hint (checked against Python's cryptography).
        Assert.Equal("e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e", result.Signer!.KeyId);
    }

    [Fact]
    public void V02BundleUsesTheCompatibilityPaeAndItsPredicate()
    {
        var result = SigningCorpus.Verify("v0.2.0-certificate", SigningCorpus.Dir("v0.2.0-certificate"));
        Assert.True(result.Verified, string.Join("\n", result.Errors));
        Assert.Equal("https://model_signing/Digests/v0.1", result.PredicateType);
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.All), MemberType = typeof(SigningCorpus))]
    public void OneFlippedByteFails(string name)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy(name, temp);
        SigningCorpus.FlipByte(Path.Combine(root, "signme-1"), 3);

        var result = SigningCorpus.Verify(name, root);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        var file = Assert.Single(result.Files, f => f.Name == "signme-1");
        Assert.Equal(FileStatus.Changed, file.Status);
        Assert.NotEqual(file.Digest, file.ActualDigest);
        Assert.Contains(result.Errors, e => e.StartsWith("signme-1: changed", StringComparison.Ordinal));
        Assert.All(result.Files.Where(f => f.Name != "signme-1"), f => Assert.Equal(FileStatus.Ok, f.Status));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Folders), MemberType = typeof(SigningCorpus))]
    public void AnAddedFileFails(string name)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy(name, temp);
        File.WriteAllText(Path.Combine(root, "injected.bin"), "payload");

        var result = SigningCorpus.Verify(name, root);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        var file = Assert.Single(result.Files, f => f.Status != FileStatus.Ok);
        Assert.Equal(("injected.bin", FileStatus.Unexpected), (file.Name, file.Status));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData("payload"u8)), file.Digest);
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Folders), MemberType = typeof(SigningCorpus))]
    public void ARemovedFileFails(string name)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy(name, temp);
        File.Delete(Path.Combine(root, "signme-2"));

        var result = SigningCorpus.Verify(name, root);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        var file = Assert.Single(result.Files, f => f.Status != FileStatus.Ok);
        Assert.Equal(("signme-2", FileStatus.Missing), (file.Name, file.Status));
    }

    [Theory]
    [InlineData("v1.0.1-certificate")]
    [InlineData("v1.0.1-elliptic-key")]
    [InlineData("v1.0.1-sigstore")]
    public void TheUnsignedFileMustBeIgnoredExplicitly(string name)
    {
        string root = SigningCorpus.Dir(name);
        var withoutIgnore = SigningCorpus.Options(name, root) with { IgnorePaths = [] };
        var result = SigningCorpus.Verify(name, root, withoutIgnore);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Equal(FileStatus.Unexpected, Assert.Single(result.Files, f => f.Name == "ignore-me").Status);

        // Relative to the model works as well as relative to the current directory.
        var relative = SigningCorpus.Options(name, root) with { IgnorePaths = ["ignore-me"] };
        Assert.True(SigningCorpus.Verify(name, root, relative).Verified);
    }

    [Fact]
    public void TheSignatureInsideTheModelIsNeverPartOfIt()
    {
        // model.sig lies in every corpus folder and is never reported as unexpected.
        var result = SigningCorpus.Verify("v1.0.0-certificate", SigningCorpus.Dir("v1.0.0-certificate"));
        Assert.DoesNotContain(result.Files, f => f.Name == "model.sig");
        Assert.True(result.Verified);
    }

    [Theory]
    [InlineData("v0.3.1-elliptic-key")]
    [InlineData("v1.0.1-elliptic-key")]
    public void TheWrongKeyFails(string name)
    {
        using var temp = new TempDir();
        foreach (var curve in new[] { ECCurve.NamedCurves.nistP384, ECCurve.NamedCurves.nistP256 })
        {
            using var other = ECDsa.Create(curve);
            string pem = temp.Write($"other-{other.KeySize}.pem", other.ExportSubjectPublicKeyInfoPem());
            string root = SigningCorpus.Dir(name);
            var ignore = SigningCorpus.Options(name, root).IgnorePaths;
            var result = SigningCorpus.Verify(name, root, VerificationOptions.WithPublicKey(pem) with { IgnorePaths = ignore });
            Assert.Equal(VerificationOutcome.Failed, result.Outcome);
            Assert.Empty(result.Files);
            Assert.Contains(result.Errors, e => e.Contains("public key", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("v0.2.0-certificate")]
    [InlineData("v1.0.1-certificate")]
    public void TheWrongChainFails(string name)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Dir(name);

        // A different self-signed CA with the same name.
        using var caKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=root-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var otherCa = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddYears(-2), DateTimeOffset.UtcNow.AddYears(2));
        string otherPem = temp.Write("other-ca.pem", otherCa.ExportCertificatePem());
        var ignore = SigningCorpus.Options(name, root).IgnorePaths;

        var wrongCa = SigningCorpus.Verify(name, root, VerificationOptions.WithCertificateChain([otherPem]) with { IgnorePaths = ignore });
        Assert.Equal(VerificationOutcome.Failed, wrongCa.Outcome);
        Assert.Contains(wrongCa.Errors, e => e.Contains("does not chain to the given CA", StringComparison.Ordinal));

        // The intermediate alone is not a trust anchor (as with OpenSSL's default store in the reference).
        var intermediateOnly = SigningCorpus.Verify(name, root, VerificationOptions.WithCertificateChain([SigningCorpus.Key("int-ca-cert.pem")]) with { IgnorePaths = ignore });
        Assert.Equal(VerificationOutcome.Failed, intermediateOnly.Outcome);

        // The right CA plus an unrelated one still verifies.
        var both = SigningCorpus.Verify(name, root, VerificationOptions.WithCertificateChain([otherPem, SigningCorpus.Key("ca-cert.pem")]) with { IgnorePaths = ignore });
        Assert.True(both.Verified, string.Join("\n", both.Errors));
    }

    [Fact]
    public void AKeyIsNotACertificateChain()
    {
        string root = SigningCorpus.Dir("v1.0.0-elliptic-key");
        var result = SignatureVerifier.Verify(Path.Combine(root, "signme-1"), Path.Combine(root, "model.sig"), VerificationOptions.WithCertificateChain([SigningCorpus.Key("ca-cert.pem")]), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains(result.Errors, e => e.Contains("no certificate", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void TheWrongIdentityOrIssuerFails(string name)
    {
        string root = SigningCorpus.Dir(name);
        var ignore = SigningCorpus.Options(name, root).IgnorePaths;

        var identity = SigningCorpus.Verify(name, root, VerificationOptions.WithIdentity("mallory@example.com", SigningCorpus.Issuer) with { IgnorePaths = ignore });
        Assert.Equal(VerificationOutcome.Failed, identity.Outcome);
        Assert.Contains(identity.Errors, e => e.Contains("not to mallory@example.com", StringComparison.Ordinal));
        Assert.Empty(identity.Files);

        var issuer = SigningCorpus.Verify(name, root, VerificationOptions.WithIdentity(SigningCorpus.Identity, "https://accounts.google.com") with { IgnorePaths = ignore });
        Assert.Equal(VerificationOutcome.Failed, issuer.Outcome);
        Assert.Contains(issuer.Errors, e => e.Contains("OIDC issuer", StringComparison.Ordinal));

        // Prefix and case variants are different identities.
        var prefix = SigningCorpus.Verify(name, root, VerificationOptions.WithIdentity("STEFANB@us.ibm.com", SigningCorpus.Issuer) with { IgnorePaths = ignore });
        Assert.Equal(VerificationOutcome.Failed, prefix.Outcome);
    }

    [Fact]
    public void KeylessVerificationDoesNotAcceptAKeyBundle()
    {
        string root = SigningCorpus.Dir("v1.0.1-elliptic-key");
        var result = SigningCorpus.Verify("v1.0.1-elliptic-key", root, VerificationOptions.WithIdentity(SigningCorpus.Identity, SigningCorpus.Issuer) with { IgnorePaths = ["ignore-me"] });
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
    }

    [Fact]
    public void FilesModelsAreReadFromTheFileItself()
    {
        // Verifying the single-file bundle against the folder finds signme-1 named "." missing and model.sig ignored.
        string root = SigningCorpus.Dir("v1.0.0-elliptic-key");
        var result = SignatureVerifier.Verify(root, Path.Combine(root, "model.sig"), VerificationOptions.WithPublicKey(SigningCorpus.Key("signing-key-pub.pem")), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains(result.Files, f => f.Name == "signme-1" && f.Status == FileStatus.Unexpected);
    }
}
