using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Lineage.Signing;

/// <summary>What verifying the signed content established: who signed, when, and every reason it failed.</summary>
internal sealed class SignatureCheck
{
    public List<string> Errors { get; } = [];

    public SignerInfo? Signer { get; set; }

    public DateTimeOffset? SigningTime { get; set; }
}

/// <summary>
/// The three ways a model_signing bundle is verified. Each checks the bundle's verification material against what
/// the caller trusts and then the DSSE signature over the pre-authentication encoding of the statement; none reads
/// the statement itself.
/// </summary>
internal static class SignatureChecks
{
    private const string CodeSigningOid = "1.3.6.1.5.5.7.3.3";
    private const string AnyExtendedKeyUsageOid = "2.5.29.37.0";
    private const string SubjectAltNameOid = "2.5.29.17";
    private const string FulcioIssuerV1Oid = "1.3.6.1.4.1.57264.1.1";
    private const string FulcioIssuerV2Oid = "1.3.6.1.4.1.57264.1.8";

    /// <summary>Key mode: the envelope must verify with <paramref name="key"/> (model_signing's public-key hint,
    /// when present, must name it).</summary>
    public static void VerifyWithKey(SigstoreBundle bundle, ECDsa key, SignatureCheck check)
    {
        string keyId = KeyMaterial.KeyId(key);
        check.Signer = new SignerInfo { Kind = SignerKind.Key, KeyId = keyId };
        if (!TryEnvelope(bundle, check, out var envelope, out var signature)) return;
        if (bundle.PublicKey?.Hint is { Length: > 0 } hint && !string.Equals(hint, keyId, StringComparison.OrdinalIgnoreCase))
        {
            check.Errors.Add($"the bundle was signed by key {hint}, not by the given public key ({keyId})");
            return;
        }
        if (bundle.PublicKey?.RawBytes is { } raw)
        {
            var blocks = KeyMaterial.PemBlocks(Encoding.UTF8.GetString(raw), bundle.File, "PUBLIC KEY");
            if (blocks.Count == 1 && !blocks[0].Der.AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
            {
                check.Errors.Add($"the bundle names public key {KeyMaterial.KeyId(blocks[0].Der)}, not the given one ({keyId})");
                return;
            }
        }
        if (!VerifyEcdsaEnvelope(key, envelope, signature))
            check.Errors.Add("the DSSE signature does not verify with the given public key");
    }

    /// <summary>
    /// The DSSE signature over the PAE with the curve's hash; failing that, what model_signing 0.2 signed through a
    /// bug the reference still accepts (<see cref="Dsse.PaeCompat"/>, hashed with SHA-256 whatever the curve, or with
    /// the curve's hash). Both are signatures by the trusted key over the same statement bytes.
    /// </summary>
    private static bool VerifyEcdsaEnvelope(ECDsa key, DsseEnvelope envelope, byte[] signature)
    {
        if (KeyMaterial.VerifyEcdsa(key, Dsse.Pae(envelope.PayloadType, envelope.Payload), signature)) return true;
        var compat = Dsse.PaeCompat(envelope.PayloadType, envelope.Payload);
        return KeyMaterial.VerifyEcdsa(key, compat, signature, HashAlgorithmName.SHA256) || KeyMaterial.VerifyEcdsa(key, compat, signature);
    }

    /// <summary>
    /// Certificate mode (private PKI): the bundle's signing certificate must chain, through the intermediates in the
    /// bundle, to one of the given CA certificates, be valid at the signing time (its notBefore, as the reference
    /// takes it: these bundles carry no timestamp), allow digital signatures or code signing, and verify the envelope.
    /// </summary>
    public static void VerifyWithCertificateChain(SigstoreBundle bundle, IReadOnlyList<X509Certificate2> trusted, SignatureCheck check)
    {
        if (bundle.Certificates.Count == 0)
        {
            check.Errors.Add("the bundle carries no certificate (it was not signed with a certificate)");
            return;
        }
        using var leaf = KeyMaterial.ParseCertificate(bundle.Certificates[0], bundle.File, "signing certificate");
        check.Signer = new SignerInfo
        {
            Kind = SignerKind.Certificate,
            Identity = SubjectAlternativeNames(leaf).FirstOrDefault() ?? leaf.Subject,
            Issuer = leaf.Issuer,
            KeyId = KeyMaterial.KeyId(leaf),
        };
        var signingTime = new DateTimeOffset(leaf.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        check.SigningTime = signingTime;
        if (!TryEnvelope(bundle, check, out var envelope, out var signature)) return;

        var intermediates = bundle.Certificates.Skip(1).Select((der, i) => KeyMaterial.ParseCertificate(der, bundle.File, $"certificate {i + 1} of the bundle's chain")).ToList();
        try
        {
            var roots = trusted.Where(IsSelfSigned).ToList();
            var others = trusted.Where(c => !IsSelfSigned(c)).Concat(intermediates).ToList();
            if (roots.Count == 0)
            {
                check.Errors.Add("none of the given CA certificates is a self-signed root");
                return;
            }
            // One root at a time: OpenSSL follows the first issuer with a matching name and gives up there.
            var reasons = new List<string>();
            bool chained = false;
            foreach (var anchor in roots)
            {
                using var chain = BuildChain(leaf, [anchor], others, signingTime, requireCodeSigning: false, out string? chainError);
                if (chain is not null)
                {
                    chained = true;
                    break;
                }
                reasons.Add(chainError!);
            }
            if (!chained)
            {
                check.Errors.Add($"the signing certificate does not chain to the given CA at {signingTime:u}: {string.Join("; ", reasons.Distinct())}");
                return;
            }
            if (UsageError(leaf) is { } usage)
            {
                check.Errors.Add(usage);
                return;
            }
            using var ecKey = leaf.GetECDsaPublicKey();
            if (ecKey is not null)
            {
                if (!VerifyEcdsaEnvelope(ecKey, envelope, signature))
                    check.Errors.Add("the DSSE signature does not verify with the signing certificate's key");
            }
            else if (!KeyMaterial.VerifyWithCertificate(leaf, Dsse.Pae(envelope.PayloadType, envelope.Payload), signature, out string? unsupported))
            {
                check.Errors.Add(unsupported ?? "the DSSE signature does not verify with the signing certificate's key");
            }
        }
        finally
        {
            foreach (var c in intermediates) c.Dispose();
        }
    }

    /// <summary>
    /// Sigstore keyless, offline: the Rekor entry must be this envelope and be proven (inclusion proof against a
    /// checkpoint signed by the log, and/or a signed entry timestamp); the signing time is the integrated time the
    /// log signed; the Fulcio certificate must chain to a certificate authority of the trusted root valid at that
    /// time, carry a valid SCT from a trusted CT log, name the expected identity and OIDC issuer, and verify the
    /// envelope.
    /// </summary>
    public static void VerifySigstore(SigstoreBundle bundle, string identity, string issuer, TrustedRoot root, SignatureCheck check)
    {
        if (bundle.Certificates.Count == 0)
        {
            check.Errors.Add("the bundle carries no signing certificate (it is not a Sigstore keyless signature)");
            return;
        }
        using var leaf = KeyMaterial.ParseCertificate(bundle.Certificates[0], bundle.File, "signing certificate");
        var sans = SubjectAlternativeNames(leaf);
        string? certIssuer = OidcIssuer(leaf, out string? issuerProblem);
        check.Signer = new SignerInfo
        {
            Kind = SignerKind.Sigstore,
            Identity = sans.FirstOrDefault(s => s == identity) ?? sans.FirstOrDefault(),
            Issuer = certIssuer,
            KeyId = KeyMaterial.KeyId(leaf),
        };
        if (!TryEnvelope(bundle, check, out var envelope, out var signature)) return;

        var times = VerifyTransparencyLog(bundle, envelope, leaf.RawData, root, check);
        if (times.Count == 0)
        {
            if (check.Errors.Count == 0)
                check.Errors.Add(bundle.Rfc3161Timestamps.Count > 0
                    ? "no verified signing time: RFC 3161 timestamps are not supported, and no Rekor entry carries a signed entry timestamp"
                    : "no verified signing time: no Rekor entry carries a signed entry timestamp");
            return;
        }
        check.SigningTime = times.Min();

        foreach (var time in times.Distinct())
        {
            X509Certificate2? issuingCertificate = null;
            var reasons = new List<string>();
            foreach (var ca in root.CertificateAuthorities.Where(ca => ca.ValidAt(time)))
            {
                var caRoots = ca.Chain.Where(IsSelfSigned).ToList();
                if (caRoots.Count == 0) caRoots = [ca.Chain[^1]];
                using var chain = BuildChain(leaf, caRoots, ca.Chain.Except(caRoots).ToList(), time, requireCodeSigning: true, out string? chainError);
                if (chain is null)
                {
                    reasons.Add($"{ca.Uri}: {chainError}");
                    continue;
                }
                issuingCertificate = chain.ChainElements.Count > 1 ? X509CertificateLoader.LoadCertificate(chain.ChainElements[1].Certificate.RawData) : null;
                break;
            }
            if (issuingCertificate is null)
            {
                check.Errors.Add(reasons.Count == 0
                    ? $"the trusted root has no certificate authority valid at the signing time {time:u}"
                    : $"the signing certificate does not chain to a trusted certificate authority at {time:u}: {string.Join("; ", reasons)}");
                return;
            }
            using (issuingCertificate)
            {
                if (CertificateTransparency.Verify(leaf, issuingCertificate, root) is { } sctError)
                {
                    check.Errors.Add($"certificate transparency: {sctError}");
                    return;
                }
            }
        }

        if (!sans.Contains(identity, StringComparer.Ordinal))
            check.Errors.Add($"the certificate was issued to {(sans.Count == 0 ? "no identity" : string.Join(", ", sans))}, not to {identity}");
        if (issuerProblem is not null)
            check.Errors.Add(issuerProblem);
        else if (certIssuer != issuer)
            check.Errors.Add($"the certificate's OIDC issuer is {certIssuer ?? "not recorded"}, not {issuer}");
        if (!KeyMaterial.VerifyWithCertificate(leaf, Dsse.Pae(envelope.PayloadType, envelope.Payload), signature, out string? unsupported))
            check.Errors.Add(unsupported ?? "the DSSE signature does not verify with the signing certificate's key");
    }

    /// <summary>Checks every Rekor entry and returns the integrated times that a log signature vouches for.</summary>
    private static List<DateTimeOffset> VerifyTransparencyLog(SigstoreBundle bundle, DsseEnvelope envelope, byte[] leafDer, TrustedRoot root, SignatureCheck check)
    {
        var times = new List<DateTimeOffset>();
        if (bundle.TlogEntries.Count == 0)
        {
            check.Errors.Add("the bundle has no transparency-log entry");
            return times;
        }
        foreach (var entry in bundle.TlogEntries)
        {
            var log = root.TransparencyLogs.FirstOrDefault(l => l.LogId.AsSpan().SequenceEqual(entry.LogId));
            if (log is null)
            {
                check.Errors.Add($"Rekor entry {entry.LogIndex}: log {Convert.ToBase64String(entry.LogId)} is not in the trusted root");
                continue;
            }
            if (log.Key is null)
            {
                check.Errors.Add($"Rekor entry {entry.LogIndex}: {log.KeyError}");
                continue;
            }
            if (TransparencyLog.CheckDsseBody(entry, envelope, leafDer) is { } bodyError)
            {
                check.Errors.Add($"Rekor entry {entry.LogIndex}: {bodyError}");
                continue;
            }

            bool setVerified = false, proofVerified = false;
            if (entry.SignedEntryTimestamp is { } set)
            {
                if (entry.IntegratedTime is null)
                {
                    check.Errors.Add($"Rekor entry {entry.LogIndex}: signed entry timestamp without an integrated time");
                    continue;
                }
                var time = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(entry.IntegratedTime.Value, 0, 253402300799));
                if (!log.Key.Verify(TransparencyLog.SignedEntryTimestampPayload(entry), set))
                {
                    check.Errors.Add($"Rekor entry {entry.LogIndex}: the signed entry timestamp does not verify with the log's key");
                    continue;
                }
                if (!log.ValidAt(time))
                {
                    check.Errors.Add($"Rekor entry {entry.LogIndex}: integrated time {time:u} is outside the log key's validity");
                    continue;
                }
                setVerified = true;
                times.Add(time);
            }
            else if (bundle.Version == BundleVersion.V01)
            {
                check.Errors.Add($"Rekor entry {entry.LogIndex}: a v0.1 bundle needs a signed entry timestamp");
                continue;
            }

            if (entry.Proof is { } proof)
            {
                var leafHash = TransparencyLog.LeafHash(entry.CanonicalizedBody);
                if (!TransparencyLog.VerifyInclusion(proof.LogIndex, proof.TreeSize, leafHash, proof.Hashes, proof.RootHash, out string? proofError))
                {
                    check.Errors.Add($"Rekor entry {entry.LogIndex}: inclusion proof: {proofError}");
                    if (setVerified) times.RemoveAt(times.Count - 1);
                    continue;
                }
                if (proof.Checkpoint is null)
                {
                    check.Errors.Add($"Rekor entry {entry.LogIndex}: inclusion proof without a signed checkpoint");
                    if (setVerified) times.RemoveAt(times.Count - 1);
                    continue;
                }
                if (TransparencyLog.VerifyCheckpoint(proof.Checkpoint, proof, log) is { } checkpointError)
                {
                    check.Errors.Add($"Rekor entry {entry.LogIndex}: {checkpointError}");
                    if (setVerified) times.RemoveAt(times.Count - 1);
                    continue;
                }
                proofVerified = true;
            }
            else if (bundle.Version != BundleVersion.V01)
            {
                check.Errors.Add($"Rekor entry {entry.LogIndex}: a v0.2 or later bundle needs an inclusion proof");
                if (setVerified) times.RemoveAt(times.Count - 1);
                continue;
            }
            if (!setVerified && !proofVerified)
                check.Errors.Add($"Rekor entry {entry.LogIndex}: neither an inclusion proof nor a signed entry timestamp");
        }
        if (check.Errors.Count > 0) times.Clear();
        return times;
    }

    private static bool TryEnvelope(SigstoreBundle bundle, SignatureCheck check, out DsseEnvelope envelope, out byte[] signature)
    {
        envelope = bundle.Dsse!;
        signature = [];
        if (bundle.Dsse is null)
        {
            check.Errors.Add("the bundle carries a message signature, not a DSSE envelope; OpenSSF Model Signing signs an in-toto statement in a DSSE envelope");
            return false;
        }
        if (envelope.PayloadType != InTotoStatement.PayloadType)
        {
            check.Errors.Add($"DSSE payload type is '{envelope.PayloadType}', expected '{InTotoStatement.PayloadType}'");
            return false;
        }
        if (envelope.Signatures.Count != 1)
        {
            check.Errors.Add($"the DSSE envelope has {envelope.Signatures.Count} signatures; exactly one is supported");
            return false;
        }
        signature = envelope.Signatures[0].Signature;
        return true;
    }

    private static bool IsSelfSigned(X509Certificate2 certificate) => certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    /// <summary>Builds a chain to one of <paramref name="roots"/> only (custom trust, no system store, no network,
    /// no revocation), as of <paramref name="time"/>. Returns null and the reasons when it fails.</summary>
    private static X509Chain? BuildChain(X509Certificate2 leaf, IReadOnlyList<X509Certificate2> roots, IReadOnlyList<X509Certificate2> intermediates, DateTimeOffset time, bool requireCodeSigning, out string? error)
    {
        var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots.ToArray());
        chain.ChainPolicy.ExtraStore.AddRange(intermediates.ToArray());
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = time.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (requireCodeSigning) chain.ChainPolicy.ApplicationPolicy.Add(new Oid(CodeSigningOid));
        bool built;
        try
        {
            built = chain.Build(leaf);
        }
        catch (CryptographicException e)
        {
            error = e.Message;
            chain.Dispose();
            return null;
        }
        if (built)
        {
            error = null;
            return chain;
        }
        error = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        if (error.Length == 0) error = "chain building failed";
        chain.Dispose();
        return null;
    }

    /// <summary>The signing certificate must allow digital signatures or code signing, and an extended key usage, if
    /// present, must include code signing.</summary>
    private static string? UsageError(X509Certificate2 leaf)
    {
        var keyUsage = leaf.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        var extended = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        bool digitalSignature = keyUsage is not null && keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature);
        bool codeSigning = extended is not null && extended.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value is CodeSigningOid or AnyExtendedKeyUsageOid);
        if (extended is not null && !codeSigning)
            return "the signing certificate's extended key usage does not include code signing";
        if (!digitalSignature && !codeSigning)
            return "the signing certificate is not allowed to sign (no digital-signature key usage, no code-signing extended key usage)";
        return null;
    }

    /// <summary>Email, URI and UTF-8 otherName entries of the subject alternative name extension.</summary>
    internal static List<string> SubjectAlternativeNames(X509Certificate2 certificate)
    {
        var names = new List<string>();
        var extension = certificate.Extensions.FirstOrDefault(e => e.Oid?.Value == SubjectAltNameOid);
        if (extension is null) return names;
        try
        {
            var sequence = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
            while (sequence.HasData)
            {
                var tag = sequence.PeekTag();
                if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue is 1 or 6 && !tag.IsConstructed)
                {
                    names.Add(sequence.ReadCharacterString(UniversalTagNumber.IA5String, new Asn1Tag(TagClass.ContextSpecific, tag.TagValue)));
                }
                else if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue == 0 && tag.IsConstructed)
                {
                    var other = sequence.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true));
                    other.ReadObjectIdentifier();
                    var value = other.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true));
                    if (value.PeekTag().HasSameClassAndValue(new Asn1Tag(UniversalTagNumber.UTF8String)))
                        names.Add(value.ReadCharacterString(UniversalTagNumber.UTF8String));
                }
                else
                {
                    sequence.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed SAN names nobody; identity matching then fails with "no identity".
        }
        return names;
    }

    /// <summary>The OIDC issuer Fulcio recorded: extension 1.3.6.1.4.1.57264.1.8 (DER UTF8String) or the older
    /// 1.3.6.1.4.1.57264.1.1 (raw UTF-8). When both are present they must agree.</summary>
    internal static string? OidcIssuer(X509Certificate2 certificate, out string? problem)
    {
        problem = null;
        string? v2 = null, v1 = null;
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value == FulcioIssuerV2Oid)
            {
                try
                {
                    v2 = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadCharacterString(UniversalTagNumber.UTF8String);
                }
                catch (AsnContentException)
                {
                    problem = "the certificate's OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is malformed";
                }
            }
            else if (extension.Oid?.Value == FulcioIssuerV1Oid)
            {
                v1 = Encoding.UTF8.GetString(extension.RawData);
            }
        }
        if (v1 is not null && v2 is not null && v1 != v2)
            problem = $"the certificate records two different OIDC issuers ({v2}, {v1})";
        return v2 ?? v1;
    }
}
