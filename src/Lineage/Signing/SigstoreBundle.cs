namespace Lineage.Signing;

/// <summary>Sigstore bundle schema versions (they differ in what the transparency-log evidence must contain).</summary>
internal enum BundleVersion
{
    V01,
    V02,
    V03,
}

/// <summary>The public-key reference of a key-signed bundle: a hint (sha256 of the PEM) and, in bundles written by
/// model_signing 0.3 to 1.0.x, the PEM itself.</summary>
internal sealed record PublicKeyIdentifier(string? Hint, byte[]? RawBytes, string? KeyDetails);

internal sealed record DsseSignature(byte[] Signature, string? KeyId);

/// <summary>A DSSE envelope: the payload bytes (decoded), their type, and the signatures over PAE(type, payload).</summary>
internal sealed record DsseEnvelope(byte[] Payload, string PayloadType, IReadOnlyList<DsseSignature> Signatures);

internal sealed record MessageSignature(string? DigestAlgorithm, byte[]? Digest, byte[] Signature);

internal sealed record InclusionProof(long LogIndex, byte[] RootHash, long TreeSize, IReadOnlyList<byte[]> Hashes, string? Checkpoint);

/// <summary>One Rekor entry as carried in a bundle.</summary>
internal sealed record TransparencyLogEntry(
    long LogIndex,
    byte[] LogId,
    string Kind,
    string KindVersion,
    long? IntegratedTime,
    byte[]? SignedEntryTimestamp,
    InclusionProof? Proof,
    byte[] CanonicalizedBody,
    string Path);

/// <summary>
/// A Sigstore bundle (media types v0.1, v0.2, v0.3) as written by the model_signing reference implementation and by
/// sigstore clients: verification material (public key hint, X.509 chain or single certificate, Rekor entries,
/// RFC 3161 timestamps) and the signed content (a DSSE envelope, or a message signature). Parsing is strict about
/// types and sizes and never trusts anything: verification happens elsewhere.
/// </summary>
internal sealed class SigstoreBundle
{
    public const string MediaTypeV03 = "application/vnd.dev.sigstore.bundle.v0.3+json";

    /// <summary>A bundle is metadata plus the statement; even a model with a million files stays well below this.</summary>
    public const long MaxBundleBytes = 256L << 20;

    private const int MaxCertificateBytes = 64 << 10;
    private const int MaxSignatureBytes = 16 << 10;
    private const int MaxCertificates = 16;
    private const int MaxTlogEntries = 16;
    private const int MaxProofHashes = 64;
    private const int MaxBodyBytes = 4 << 20;

    public required string MediaType { get; init; }

    public required BundleVersion Version { get; init; }

    public PublicKeyIdentifier? PublicKey { get; init; }

    /// <summary>DER certificates, the signing (leaf) certificate first; empty for key-signed bundles.</summary>
    public IReadOnlyList<byte[]> Certificates { get; init; } = [];

    public IReadOnlyList<TransparencyLogEntry> TlogEntries { get; init; } = [];

    public IReadOnlyList<byte[]> Rfc3161Timestamps { get; init; } = [];

    public DsseEnvelope? Dsse { get; init; }

    public MessageSignature? MessageSignature { get; init; }

    public required string File { get; init; }

    public static SigstoreBundle Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new LineageException("signature file not found", path);
        if (info.Length > MaxBundleBytes)
            throw new LineageException($"signature file of {info.Length} bytes exceeds the limit of {MaxBundleBytes} bytes", path);
        return Parse(System.IO.File.ReadAllBytes(path), path);
    }

    public static SigstoreBundle Parse(byte[] bytes, string file)
    {
        if (bytes.Length > MaxBundleBytes)
            throw new LineageException($"signature of {bytes.Length} bytes exceeds the limit of {MaxBundleBytes} bytes", file);
        using var document = JsonCursor.ParseDocument(bytes, file, "Sigstore bundle");
        var root = JsonCursor.Root(document, file).RequireObject();

        string mediaType = root.Property("mediaType", "media_type").AsString();
        var version = ParseMediaType(mediaType) ?? throw root.Property("mediaType", "media_type").Error(
            $"unsupported bundle media type '{mediaType}' (known: application/vnd.dev.sigstore.bundle+json;version=0.1, 0.2, 0.3 and {MediaTypeV03})");

        var material = root.Property("verificationMaterial", "verification_material").RequireObject();
        PublicKeyIdentifier? publicKey = null;
        var certificates = new List<byte[]>();
        int contentKinds = 0;
        if (material.TryProperty("publicKey", "public_key", out var pk))
        {
            pk.RequireObject();
            publicKey = new PublicKeyIdentifier(
                pk.OptionalString("hint"),
                pk.TryProperty("rawBytes", "raw_bytes", out var raw) ? raw.AsBase64(MaxCertificateBytes) : null,
                pk.TryProperty("keyDetails", "key_details", out var details) ? details.AsString() : null);
            contentKinds++;
        }
        if (material.TryProperty("x509CertificateChain", "x509_certificate_chain", out var chain))
        {
            foreach (var cert in chain.Property("certificates").Items(MaxCertificates))
                certificates.Add(cert.RequireObject().Property("rawBytes", "raw_bytes").AsBase64(MaxCertificateBytes));
            if (certificates.Count == 0) throw chain.Error("certificate chain is empty");
            contentKinds++;
        }
        if (material.TryProperty("certificate", out var single))
        {
            certificates.Add(single.RequireObject().Property("rawBytes", "raw_bytes").AsBase64(MaxCertificateBytes));
            contentKinds++;
        }
        if (contentKinds == 0)
            throw material.Error("no publicKey, x509CertificateChain or certificate");
        if (contentKinds > 1)
            throw material.Error("more than one of publicKey, x509CertificateChain, certificate");

        var tlogEntries = new List<TransparencyLogEntry>();
        if (material.TryProperty("tlogEntries", "tlog_entries", out var entries))
            foreach (var entry in entries.Items(MaxTlogEntries))
                tlogEntries.Add(ParseTlogEntry(entry.RequireObject()));

        var timestamps = new List<byte[]>();
        if (material.TryProperty("timestampVerificationData", "timestamp_verification_data", out var tvd)
            && tvd.RequireObject().TryProperty("rfc3161Timestamps", "rfc3161_timestamps", out var stamps))
        {
            foreach (var stamp in stamps.Items(MaxTlogEntries))
                timestamps.Add(stamp.RequireObject().Property("signedTimestamp", "signed_timestamp").AsBase64(MaxCertificateBytes));
        }

        DsseEnvelope? dsse = null;
        MessageSignature? messageSignature = null;
        if (root.TryProperty("dsseEnvelope", "dsse_envelope", out var envelope))
            dsse = ParseEnvelope(envelope.RequireObject(), bytes.Length);
        if (root.TryProperty("messageSignature", "message_signature", out var ms))
        {
            ms.RequireObject();
            string? algorithm = null;
            byte[]? digest = null;
            if (ms.TryProperty("messageDigest", "message_digest", out var md))
            {
                algorithm = md.RequireObject().OptionalString("algorithm");
                digest = md.Property("digest").AsBase64(1024);
            }
            messageSignature = new MessageSignature(algorithm, digest, ms.Property("signature").AsBase64(MaxSignatureBytes));
        }
        if (dsse is null && messageSignature is null) throw root.Error("neither dsseEnvelope nor messageSignature");
        if (dsse is not null && messageSignature is not null) throw root.Error("both dsseEnvelope and messageSignature");

        return new SigstoreBundle
        {
            MediaType = mediaType,
            Version = version,
            PublicKey = publicKey,
            Certificates = certificates,
            TlogEntries = tlogEntries,
            Rfc3161Timestamps = timestamps,
            Dsse = dsse,
            MessageSignature = messageSignature,
            File = file,
        };
    }

    internal static BundleVersion? ParseMediaType(string mediaType) => mediaType switch
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => BundleVersion.V01,
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => BundleVersion.V02,
        "application/vnd.dev.sigstore.bundle+json;version=0.3" or MediaTypeV03 => BundleVersion.V03,
        _ => null,
    };

    private static DsseEnvelope ParseEnvelope(JsonCursor envelope, int bundleBytes)
    {
        var payload = envelope.Property("payload").AsBase64(bundleBytes);
        string payloadType = envelope.Property("payloadType", "payload_type").AsString();
        var signatures = new List<DsseSignature>();
        foreach (var s in envelope.Property("signatures").Items(MaxCertificates))
        {
            s.RequireObject();
            signatures.Add(new DsseSignature(s.Property("sig").AsBase64(MaxSignatureBytes), s.OptionalString("keyid")));
        }
        if (signatures.Count == 0) throw envelope.Error("the DSSE envelope has no signature");
        return new DsseEnvelope(payload, payloadType, signatures);
    }

    private static TransparencyLogEntry ParseTlogEntry(JsonCursor entry)
    {
        long logIndex = entry.Property("logIndex", "log_index").AsInt64();
        var logId = entry.Property("logId", "log_id").RequireObject().Property("keyId", "key_id").AsBase64(64);
        var kindVersion = entry.Property("kindVersion", "kind_version").RequireObject();
        string kind = kindVersion.Property("kind").AsString();
        string version = kindVersion.Property("version").AsString();
        long? integratedTime = entry.TryProperty("integratedTime", "integrated_time", out var it) ? it.AsInt64() : null;
        byte[]? set = null;
        if (entry.TryProperty("inclusionPromise", "inclusion_promise", out var promise))
            set = promise.RequireObject().Property("signedEntryTimestamp", "signed_entry_timestamp").AsBase64(MaxSignatureBytes);
        InclusionProof? proof = null;
        if (entry.TryProperty("inclusionProof", "inclusion_proof", out var p))
        {
            p.RequireObject();
            var hashes = new List<byte[]>();
            foreach (var h in p.Property("hashes").Items(MaxProofHashes))
                hashes.Add(h.AsBase64(64));
            string? checkpoint = null;
            if (p.TryProperty("checkpoint", out var cp))
                checkpoint = cp.RequireObject().Property("envelope").AsString();
            proof = new InclusionProof(
                p.Property("logIndex", "log_index").AsInt64(),
                p.Property("rootHash", "root_hash").AsBase64(64),
                p.Property("treeSize", "tree_size").AsInt64(),
                hashes,
                checkpoint);
        }
        var body = entry.Property("canonicalizedBody", "canonicalized_body").AsBase64(MaxBodyBytes);
        return new TransparencyLogEntry(logIndex, logId, kind, version, integratedTime, set, proof, body, entry.Path);
    }
}
