using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Lineage.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Signing;

/// <summary>Keyless verification fails when any piece of the Sigstore evidence is altered: the Rekor entry, its
/// inclusion proof, checkpoint or signed entry timestamp, the SCT, or the trusted root.</summary>
public sealed class SigstoreTamperTests
{
    private static VerificationResult VerifyCopy(string name, Action<JsonObject> tamper, Action<JsonObject>? tamperRoot = null)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy(name, temp);
        var bundle = SigningCorpus.ReadBundle(root);
        tamper(bundle);
        SigningCorpus.WriteBundle(root, bundle);
        var options = SigningCorpus.Options(name, root);
        if (tamperRoot is not null)
        {
            var trusted = JsonNode.Parse(File.ReadAllText(SigningCorpus.TrustedRootPath))!.AsObject();
            tamperRoot(trusted);
            options = options with { TrustRootPath = temp.Write("trusted_root.json", trusted.ToJsonString()) };
        }
        return SigningCorpus.Verify(name, root, options);
    }

    private static JsonObject Entry(JsonObject bundle) => bundle["verificationMaterial"]!["tlogEntries"]![0]!.AsObject();

    private static void AssertFails(VerificationResult result, string expected)
    {
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Empty(result.Files);
        Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void UntouchedCopiesVerifyWithAnExplicitTrustRoot(string name)
    {
        var result = VerifyCopy(name, _ => { }, _ => { });
        Assert.True(result.Verified, string.Join("\n", result.Errors));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredRekorBodyFails(string name)
    {
        var result = VerifyCopy(name, bundle =>
        {
            var entry = Entry(bundle);
            string body = Encoding.UTF8.GetString(Convert.FromBase64String(entry["canonicalizedBody"]!.GetValue<string>()));
            string hash = Convert.ToHexStringLower(SHA256.HashData(Convert.FromBase64String(bundle["dsseEnvelope"]!["payload"]!.GetValue<string>())));
            Assert.Contains(hash, body, StringComparison.Ordinal);
            entry["canonicalizedBody"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(body.Replace(hash, new string('0', 64), StringComparison.Ordinal)));
        });
        AssertFails(result, "payload hash mismatch");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AFlippedBodyByteFails(string name)
    {
        // Whitespace-free canonical JSON: flipping the last byte of the body breaks it; the SET and the leaf hash break too.
        var result = VerifyCopy(name, bundle =>
        {
            var entry = Entry(bundle);
            var body = Convert.FromBase64String(entry["canonicalizedBody"]!.GetValue<string>());
            body[body.Length / 2] ^= 0x04;
            entry["canonicalizedBody"] = Convert.ToBase64String(body);
        });
        AssertFails(result, "Rekor entry");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredAuditPathFails(string name)
    {
        var result = VerifyCopy(name, bundle =>
        {
            var hashes = Entry(bundle)["inclusionProof"]!["hashes"]!.AsArray();
            hashes[3] = Convert.ToBase64String(SigningCorpus.FlipBase64(hashes[3]!.GetValue<string>(), 7));
        });
        AssertFails(result, "the audit path does not lead to the root hash");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredLeafIndexFails(string name)
    {
        var result = VerifyCopy(name, bundle =>
        {
            var proof = Entry(bundle)["inclusionProof"]!.AsObject();
            long index = long.Parse(proof["logIndex"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            proof["logIndex"] = (index - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        AssertFails(result, "inclusion proof");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredCheckpointSignatureFails(string name)
    {
        var result = VerifyCopy(name, bundle =>
        {
            var checkpoint = Entry(bundle)["inclusionProof"]!["checkpoint"]!.AsObject();
            string envelope = checkpoint["envelope"]!.GetValue<string>();
            int at = envelope.LastIndexOf(' ') + 1;
            var blob = Convert.FromBase64String(envelope[at..].TrimEnd('\n'));
            blob[^3] ^= 0x10;
            checkpoint["envelope"] = envelope[..at] + Convert.ToBase64String(blob) + "\n";
        });
        AssertFails(result, "checkpoint");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void ACheckpointForAnotherRootFails(string name)
    {
        var result = VerifyCopy(name, bundle =>
        {
            var proof = Entry(bundle)["inclusionProof"]!.AsObject();
            proof["rootHash"] = Convert.ToBase64String(SigningCorpus.FlipBase64(proof["rootHash"]!.GetValue<string>(), 0));
        });
        AssertFails(result, "Rekor entry");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredSignedEntryTimestampFails(string name)
    {
        var result = VerifyCopy(name, bundle =>
        {
            var promise = Entry(bundle)["inclusionPromise"]!.AsObject();
            promise["signedEntryTimestamp"] = Convert.ToBase64String(SigningCorpus.FlipBase64(promise["signedEntryTimestamp"]!.GetValue<string>(), 40));
        });
        AssertFails(result, "signed entry timestamp does not verify");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredIntegratedTimeFails(string name)
    {
        // Backdating the signing time into the certificate's validity window is exactly what the SET prevents.
        var result = VerifyCopy(name, bundle =>
        {
            var entry = Entry(bundle);
            long time = long.Parse(entry["integratedTime"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            entry["integratedTime"] = (time - 60).ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        AssertFails(result, "signed entry timestamp does not verify");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void WithoutASignedEntryTimestampThereIsNoSigningTime(string name)
    {
        var result = VerifyCopy(name, bundle => Entry(bundle).Remove("inclusionPromise"));
        AssertFails(result, "no verified signing time");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AV01BundleNeedsOnlyTheSignedEntryTimestamp(string name)
    {
        var proofless = VerifyCopy(name, bundle => Entry(bundle).Remove("inclusionProof"));
        AssertFails(proofless, "needs an inclusion proof");

        var v01 = VerifyCopy(name, bundle =>
        {
            Entry(bundle).Remove("inclusionProof");
            bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1";
            bundle["verificationMaterial"]!.AsObject()["x509CertificateChain"] = new JsonObject
            {
                ["certificates"] = new JsonArray(new JsonObject { ["rawBytes"] = bundle["verificationMaterial"]!["certificate"]!["rawBytes"]!.GetValue<string>() }),
            };
            bundle["verificationMaterial"]!.AsObject().Remove("certificate");
        });
        Assert.True(v01.Verified, string.Join("\n", v01.Errors));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnotherEnvelopeFails(string name)
    {
        // Same certificate and Rekor entry, another statement: the logged payload hash no longer matches.
        var result = VerifyCopy(name, bundle =>
        {
            var envelope = bundle["dsseEnvelope"]!.AsObject();
            string payload = Encoding.UTF8.GetString(Convert.FromBase64String(envelope["payload"]!.GetValue<string>()));
            envelope["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload + " "));
        });
        AssertFails(result, "payload hash mismatch");
    }

    [Fact]
    public void AnotherSigningCertificateFails()
    {
        var other = SigningCorpus.ReadBundle(SigningCorpus.Dir("v1.0.0-sigstore"))["verificationMaterial"]!["certificate"]!["rawBytes"]!.GetValue<string>();
        var result = VerifyCopy("v1.0.1-sigstore", bundle => bundle["verificationMaterial"]!["certificate"]!.AsObject()["rawBytes"] = other);
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains(result.Errors, e => e.Contains("different signing certificate", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void ATrustedRootWithoutTheSigningCaFails(string name)
    {
        var result = VerifyCopy(name, _ => { }, trusted => trusted["certificateAuthorities"]!.AsArray().RemoveAt(1));
        AssertFails(result, "no certificate authority valid at the signing time");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void ATrustedRootWithAnotherCaFails(string name)
    {
        // The retired 2021 CA's certificate put in place of the current chain, with the current validity.
        var result = VerifyCopy(name, _ => { }, trusted =>
        {
            var cas = trusted["certificateAuthorities"]!.AsArray();
            cas[1]!["certChain"] = cas[0]!["certChain"]!.DeepClone();
        });
        AssertFails(result, "does not chain to a trusted certificate authority");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void ATrustedRootWithoutTheRekorLogFails(string name)
    {
        var result = VerifyCopy(name, _ => { }, trusted => trusted["tlogs"]!.AsArray().RemoveAt(0));
        AssertFails(result, "is not in the trusted root");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void ARekorKeyThatDidNotSignFails(string name)
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var result = VerifyCopy(name, _ => { }, trusted => trusted["tlogs"]![0]!["publicKey"]!.AsObject()["rawBytes"] = Convert.ToBase64String(other.ExportSubjectPublicKeyInfo()));
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains(result.Errors, e => e.Contains("signed entry timestamp does not verify", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnSctFromAnUnknownOrWrongCtLogFails(string name)
    {
        var unknown = VerifyCopy(name, _ => { }, trusted => trusted["ctlogs"]!.AsArray().Clear());
        AssertFails(unknown, "which the trusted root does not know");

        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var wrongKey = VerifyCopy(name, _ => { }, trusted => trusted["ctlogs"]![1]!["publicKey"]!.AsObject()["rawBytes"] = Convert.ToBase64String(other.ExportSubjectPublicKeyInfo()));
        AssertFails(wrongKey, "SCT signature does not verify");
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.Sigstore), MemberType = typeof(SigningCorpus))]
    public void AnAlteredSctFails(string name)
    {
        // The SCT sits inside the Fulcio-signed certificate, so altering it in place breaks the chain first; here the
        // SCT check itself is given altered timestamps and signatures.
        var bundle = SigningCorpus.ReadBundle(SigningCorpus.Dir(name));
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(bundle["verificationMaterial"]!["certificate"]!["rawBytes"]!.GetValue<string>()));
        using var issuer = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(
            JsonNode.Parse(File.ReadAllText(SigningCorpus.TrustedRootPath))!["certificateAuthorities"]![1]!["certChain"]!["certificates"]![0]!["rawBytes"]!.GetValue<string>()));
        var root = TrustedRoot.Load(SigningCorpus.TrustedRootPath);
        var scts = CertificateTransparency.EmbeddedTimestamps(leaf);
        var tbs = CertificateTransparency.TbsWithoutExtension(leaf.RawData, CertificateTransparency.SctListOid);
        var issuerKeyHash = SHA256.HashData(issuer.PublicKey.ExportSubjectPublicKeyInfo());

        Assert.Null(CertificateTransparency.VerifyTimestamps(scts, issuerKeyHash, tbs, root));
        var sct = Assert.Single(scts);

        var badSignature = sct with { Signature = (byte[])sct.Signature.Clone() };
        badSignature.Signature[^2] ^= 0x01;
        Assert.Contains("does not verify", CertificateTransparency.VerifyTimestamps([badSignature], issuerKeyHash, tbs, root), StringComparison.Ordinal);
        Assert.Contains("does not verify", CertificateTransparency.VerifyTimestamps([sct with { Timestamp = sct.Timestamp + 1 }], issuerKeyHash, tbs, root), StringComparison.Ordinal);
        var otherIssuer = (byte[])issuerKeyHash.Clone();
        otherIssuer[0] ^= 0x01;
        Assert.Contains("does not verify", CertificateTransparency.VerifyTimestamps([sct], otherIssuer, tbs, root), StringComparison.Ordinal);
        Assert.Contains("does not verify", CertificateTransparency.VerifyTimestamps([sct], issuerKeyHash, leaf.RawData, root), StringComparison.Ordinal);
    }
}
