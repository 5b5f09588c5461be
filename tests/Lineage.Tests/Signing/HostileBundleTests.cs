using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Lineage.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Signing;

/// <summary>Truncated, corrupted, oversized and mistyped bundles give clear errors (unreadable input, exit 2) and never
/// verify; only <see cref="LineageException"/> escapes the parser.</summary>
public sealed class HostileBundleTests
{
    private static LineageException ParseFails(JsonNode bundle) =>
        Assert.Throws<LineageException>(() => SigstoreBundle.Parse(Encoding.UTF8.GetBytes(bundle.ToJsonString()), "model.sig"));

    private static JsonObject SigstoreBundleJson() => SigningCorpus.ReadBundle(SigningCorpus.Dir("v1.0.1-sigstore"));

    [Theory]
    [MemberData(nameof(SigningCorpus.All), MemberType = typeof(SigningCorpus))]
    public void TruncationsAndBitFlipsOnlyRaiseLineageExceptions(string name)
    {
        var original = File.ReadAllBytes(Path.Combine(SigningCorpus.Dir(name), "model.sig"));
        int index = Array.IndexOf(SigningCorpus.Cases, name);
        foreach (var bytes in Hostile.Truncations(original, 40, seed: index).Concat(Hostile.BitFlips(original, 200, seed: 100 + index)))
        {
            try
            {
                var bundle = SigstoreBundle.Parse(bytes, "model.sig");
                if (bundle.Dsse is not null)
                {
                    try
                    {
                        InTotoStatement.Parse(bundle.Dsse.Payload, "model.sig");
                    }
                    catch (LineageException e)
                    {
                        Assert.Equal("model.sig", e.File);
                    }
                }
            }
            catch (LineageException e)
            {
                Assert.Equal("model.sig", e.File);
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
        }
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.All), MemberType = typeof(SigningCorpus))]
    public void CorruptedBundlesGiveAResultNotAnException(string name)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy(name, temp);
        string signature = Path.Combine(root, "model.sig");
        var original = File.ReadAllBytes(signature);
        foreach (var bytes in Hostile.BitFlips(original, 60, seed: 7 + Array.IndexOf(SigningCorpus.Cases, name)))
        {
            File.WriteAllBytes(signature, bytes);
            var result = SigningCorpus.Verify(name, root);
            if (!result.Verified) Assert.NotEmpty(result.Errors);
        }
    }

    [Theory]
    [MemberData(nameof(SigningCorpus.All), MemberType = typeof(SigningCorpus))]
    public void TruncatedBundlesNeverVerify(string name)
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy(name, temp);
        string signature = Path.Combine(root, "model.sig");
        var original = File.ReadAllBytes(signature);
        foreach (int length in new[] { 0, 1, 100, original.Length / 2, original.Length - 2 })
        {
            File.WriteAllBytes(signature, original[..length]);
            var result = SigningCorpus.Verify(name, root);
            Assert.Equal(VerificationOutcome.Unreadable, result.Outcome);
            Assert.False(result.Verified);
            Assert.Contains(signature, Assert.Single(result.Errors), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void InvalidJsonNamesTheByteOffset()
    {
        var e = Assert.Throws<LineageException>(() => SigstoreBundle.Parse("{\"not\": \"valid json}"u8.ToArray(), "bundle.sig"));
        Assert.Equal("bundle.sig", e.File);
        Assert.NotNull(e.Offset);
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeBase64FieldsAreRefusedBeforeDecoding()
    {
        var bundle = SigstoreBundleJson();
        bundle["dsseEnvelope"]!["signatures"]![0]!.AsObject()["sig"] = new string('A', 400_000);
        Assert.Contains("exceeds the limit", ParseFails(bundle).Message, StringComparison.Ordinal);

        bundle = SigstoreBundleJson();
        bundle["verificationMaterial"]!["certificate"]!.AsObject()["rawBytes"] = new string('A', 2_000_000);
        var e = ParseFails(bundle);
        Assert.Contains("verificationMaterial.certificate.rawBytes", e.Message, StringComparison.Ordinal);

        bundle = SigstoreBundleJson();
        var hashes = bundle["verificationMaterial"]!["tlogEntries"]![0]!["inclusionProof"]!["hashes"]!.AsArray();
        for (int i = 0; i < 100; i++) hashes.Add(hashes[0]!.GetValue<string>());
        Assert.Contains("exceed the limit", ParseFails(bundle).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OversizedBundleFilesAreNotRead()
    {
        using var temp = new TempDir();
        string path = temp.File("huge.sig");
        using (var stream = File.Create(path)) stream.SetLength(SigstoreBundle.MaxBundleBytes + 1);
        var e = Assert.Throws<LineageException>(() => SigstoreBundle.Read(path));
        Assert.Contains("exceeds the limit", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> WrongTypes => new()
    {
        { "mediaType=3", "mediaType: expected a string, found a number" },
        { "mediaType=application/vnd.dev.sigstore.bundle.v0.9+json", "unsupported bundle media type" },
        { "verificationMaterial=[]", "verificationMaterial: expected an object, found an array" },
        { "verificationMaterial.tlogEntries={}", "verificationMaterial.tlogEntries: expected an array, found an object" },
        { "verificationMaterial.tlogEntries.0.logIndex=true", "verificationMaterial.tlogEntries[0].logIndex: expected an integer, found a boolean" },
        { "verificationMaterial.tlogEntries.0.logIndex=12x", "expected an integer, found a string" },
        { "verificationMaterial.tlogEntries.0.inclusionProof.hashes.0=%%%", "verificationMaterial.tlogEntries[0].inclusionProof.hashes[0]: not valid base64" },
        { "verificationMaterial.certificate=", "no publicKey, x509CertificateChain or certificate" },
        { "dsseEnvelope.signatures=x", "dsseEnvelope.signatures: expected an array, found a string" },
        { "dsseEnvelope.signatures.0.sig=", "dsseEnvelope.signatures[0]: missing field 'sig'" },
        { "dsseEnvelope.payload=5", "dsseEnvelope.payload: expected a string" },
        { "dsseEnvelope=", "neither dsseEnvelope nor messageSignature" },
    };

    /// <summary>"a.b.0.c=value" sets (or with an empty value removes) a field; values parse as JSON when they can.</summary>
    [Theory]
    [MemberData(nameof(WrongTypes))]
    public void WrongTypesNameTheField(string edit, string expected)
    {
        var bundle = SigstoreBundleJson();
        int eq = edit.IndexOf('=', StringComparison.Ordinal);
        var path = edit[..eq].Split('.');
        string value = edit[(eq + 1)..];
        JsonNode parent = bundle;
        foreach (string step in path[..^1]) parent = int.TryParse(step, out int i) ? parent[i]! : parent[step]!;
        JsonNode? replacement;
        try
        {
            replacement = JsonNode.Parse(value);
        }
        catch (System.Text.Json.JsonException)
        {
            replacement = JsonValue.Create(value);
        }
        if (value.Length == 0) parent.AsObject().Remove(path[^1]);
        else if (int.TryParse(path[^1], out int last)) parent[last] = replacement;
        else parent[path[^1]] = replacement;

        var e = ParseFails(bundle);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal("model.sig", e.File);
    }

    [Fact]
    public void ProtoFieldNamesAreAcceptedAsProtobufJsonParsersDo()
    {
        string json = File.ReadAllText(Path.Combine(SigningCorpus.Dir("v1.0.1-elliptic-key"), "model.sig"))
            .Replace("\"mediaType\"", "\"media_type\"", StringComparison.Ordinal)
            .Replace("\"verificationMaterial\"", "\"verification_material\"", StringComparison.Ordinal)
            .Replace("\"dsseEnvelope\"", "\"dsse_envelope\"", StringComparison.Ordinal)
            .Replace("\"payloadType\"", "\"payload_type\"", StringComparison.Ordinal);
        var bundle = SigstoreBundle.Parse(Encoding.UTF8.GetBytes(json), "model.sig");
        Assert.Equal(InTotoStatement.PayloadType, bundle.Dsse!.PayloadType);
    }

    /// <summary>A key-signed bundle over any payload, made with the corpus test key.</summary>
    private static string SignedBundle(TempDir temp, byte[] payload, Action<JsonObject>? tamper = null)
    {
        using var key = ECDsa.Create();
        string pem = File.ReadAllText(SigningCorpus.Key("signing-key.pem"));
        key.ImportFromPem(pem.AsSpan(pem.IndexOf("-----BEGIN", StringComparison.Ordinal)));
        var sig = key.SignData(Dsse.Pae(InTotoStatement.PayloadType, payload), HashAlgorithmName.SHA384, DSASignatureFormat.Rfc3279DerSequence);
        var bundle = new JsonObject
        {
            ["mediaType"] = SigstoreBundle.MediaTypeV03,
            ["verificationMaterial"] = new JsonObject { ["publicKey"] = new JsonObject { ["hint"] = KeyMaterial.KeyId(key) } },
            ["dsseEnvelope"] = new JsonObject
            {
                ["payload"] = Convert.ToBase64String(payload),
                ["payloadType"] = InTotoStatement.PayloadType,
                ["signatures"] = new JsonArray(new JsonObject { ["sig"] = Convert.ToBase64String(sig) }),
            },
        };
        tamper?.Invoke(bundle);
        return temp.Write("signed.sig", bundle.ToJsonString());
    }

    private static VerificationResult VerifySigned(TempDir temp, string signature)
    {
        temp.Write("model/weights.bin", "weights");
        return SignatureVerifier.Verify(temp.File("model"), signature, VerificationOptions.WithPublicKey(SigningCorpus.Key("signing-key-pub.pem")), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void ASignedStatementWithAnUnknownPredicateIsUnreadable()
    {
        using var temp = new TempDir();
        var payload = """{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m","digest":{"sha256":"00"}}],"predicateType":"https://model_signing/signature/v9.0","predicate":{}}"""u8.ToArray();
        var result = VerifySigned(temp, SignedBundle(temp, payload));
        Assert.Equal(VerificationOutcome.Unreadable, result.Outcome);
        Assert.Contains("unknown predicate type 'https://model_signing/signature/v9.0'", Assert.Single(result.Errors), StringComparison.Ordinal);
        Assert.Equal(SignerKind.Key, result.Signer!.Kind);
    }

    [Fact]
    public void ASignedButInconsistentStatementFails()
    {
        using var temp = new TempDir();
        string digest = Convert.ToHexStringLower(SHA256.HashData("weights"u8));
        var payload = Encoding.UTF8.GetBytes($$$"""{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"model","digest":{"sha256":"{{{digest}}}"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},"resources":[{"algorithm":"sha256","digest":"{{{digest}}}","name":"weights.bin"}]}}""");
        var result = VerifySigned(temp, SignedBundle(temp, payload));
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains("statement is inconsistent", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateResourcesFail()
    {
        using var temp = new TempDir();
        var d = SHA256.HashData("weights"u8);
        string digest = Convert.ToHexStringLower(d);
        string root = Convert.ToHexStringLower(SHA256.HashData([.. d, .. d]));
        var payload = Encoding.UTF8.GetBytes($$$"""{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"model","digest":{"sha256":"{{{root}}}"}}],"predicateType":"https://model_signing/signature/v1.0","predicate":{"serialization":{"method":"files","hash_type":"sha256","allow_symlinks":false},"resources":[{"algorithm":"sha256","digest":"{{{digest}}}","name":"weights.bin"},{"algorithm":"sha256","digest":"{{{digest}}}","name":"./weights.bin"}]}}""");
        var result = VerifySigned(temp, SignedBundle(temp, payload));
        Assert.Equal(VerificationOutcome.Failed, result.Outcome);
        Assert.Contains("more than once", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void EnvelopeShapesOutsideModelSigningFail()
    {
        using var temp = new TempDir();
        var payload = "{}"u8.ToArray();

        var twoSignatures = VerifySigned(temp, SignedBundle(temp, payload, b => b["dsseEnvelope"]!["signatures"]!.AsArray().Add(b["dsseEnvelope"]!["signatures"]![0]!.DeepClone())));
        Assert.Contains("exactly one is supported", Assert.Single(twoSignatures.Errors), StringComparison.Ordinal);

        var otherType = VerifySigned(temp, SignedBundle(temp, payload, b => b["dsseEnvelope"]!.AsObject()["payloadType"] = "text/plain"));
        Assert.Contains("payload type is 'text/plain'", Assert.Single(otherType.Errors), StringComparison.Ordinal);

        var messageSignature = VerifySigned(temp, SignedBundle(temp, payload, b =>
        {
            b.Remove("dsseEnvelope");
            b["messageSignature"] = new JsonObject { ["messageDigest"] = new JsonObject { ["algorithm"] = "SHA2_256", ["digest"] = Convert.ToBase64String(new byte[32]) }, ["signature"] = "AAAA" };
        }));
        Assert.Equal(VerificationOutcome.Failed, messageSignature.Outcome);
        Assert.Contains("message signature, not a DSSE envelope", Assert.Single(messageSignature.Errors), StringComparison.Ordinal);

        var otherHint = VerifySigned(temp, SignedBundle(temp, payload, b => b["verificationMaterial"]!["publicKey"]!.AsObject()["hint"] = new string('0', 64)));
        Assert.Contains("not by the given public key", Assert.Single(otherHint.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void UnreadableKeysAndModelsAreUnreadable()
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Dir("v1.0.1-elliptic-key");
        string sig = Path.Combine(root, "model.sig");

        var notAKey = SignatureVerifier.Verify(root, sig, VerificationOptions.WithPublicKey(SigningCorpus.Key("ca-cert.pem")), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Unreadable, notAKey.Outcome);
        Assert.Contains("found a certificate", Assert.Single(notAKey.Errors), StringComparison.Ordinal);

        using var rsa = RSA.Create(2048);
        var rsaKey = SignatureVerifier.Verify(root, sig, VerificationOptions.WithPublicKey(temp.Write("rsa.pem", rsa.ExportSubjectPublicKeyInfoPem())), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Unreadable, rsaKey.Outcome);

        using var brainpool = ECDsa.Create(ECCurve.NamedCurves.brainpoolP256r1);
        var otherCurve = SignatureVerifier.Verify(root, sig, VerificationOptions.WithPublicKey(temp.Write("bp.pem", brainpool.ExportSubjectPublicKeyInfoPem())), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Unreadable, otherCurve.Outcome);
        Assert.Contains("unsupported elliptic curve", Assert.Single(otherCurve.Errors), StringComparison.Ordinal);

        var missingModel = SignatureVerifier.Verify(temp.File("nope"), sig, VerificationOptions.WithPublicKey(SigningCorpus.Key("signing-key-pub.pem")), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Unreadable, missingModel.Outcome);
        Assert.Contains("model path not found", Assert.Single(missingModel.Errors), StringComparison.Ordinal);

        var missingRoot = SignatureVerifier.Verify(root, sig, VerificationOptions.WithIdentity("a", "b") with { TrustRootPath = temp.File("none.json") }, TestContext.Current.CancellationToken);
        Assert.Equal(VerificationOutcome.Unreadable, missingRoot.Outcome);
    }
}
