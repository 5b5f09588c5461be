using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;

namespace Lineage.Signing;

/// <summary>
/// A public key of a transparency log, CT log or timestamp authority, with the signature scheme its trusted-root
/// entry names (ECDSA P-256/384/521, Ed25519, RSA PKCS#1 v1.5 or PSS).
/// </summary>
internal sealed class LogKey
{
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;
    private readonly Ed25519PublicKeyParameters? _ed25519;
    private readonly HashAlgorithmName _hash;
    private readonly RSASignaturePadding? _padding;

    private LogKey(byte[] spki, ECDsa? ecdsa, RSA? rsa, Ed25519PublicKeyParameters? ed25519, HashAlgorithmName hash, RSASignaturePadding? padding)
    {
        Spki = spki;
        _ecdsa = ecdsa;
        _rsa = rsa;
        _ed25519 = ed25519;
        _hash = hash;
        _padding = padding;
    }

    public byte[] Spki { get; }

    public bool IsEd25519 => _ed25519 is not null;

    public static LogKey Create(byte[] spki, string? keyDetails)
    {
        string details = keyDetails ?? "";
        if (details.Contains("ED25519", StringComparison.Ordinal))
        {
            if (PublicKeyFactory.CreateKey(spki) is not Ed25519PublicKeyParameters ed)
                throw new CryptographicException("key is not Ed25519");
            return new LogKey(spki, null, null, ed, default, null);
        }
        if (details.Contains("RSA", StringComparison.Ordinal))
        {
            var rsa = RSA.Create();
            rsa.ImportSubjectPublicKeyInfo(spki, out _);
            return new LogKey(spki, null, rsa, null, HashFromDetails(details, HashAlgorithmName.SHA256),
                details.Contains("PSS", StringComparison.Ordinal) ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1);
        }
        var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportSubjectPublicKeyInfo(spki, out _);
        }
        catch
        {
            ecdsa.Dispose();
            throw;
        }
        return new LogKey(spki, ecdsa, null, null, HashFromDetails(details, KeyMaterial.EcdsaHash(ecdsa)), null);
    }

    private static HashAlgorithmName HashFromDetails(string details, HashAlgorithmName fallback) =>
        details.EndsWith("SHA_256", StringComparison.Ordinal) || details.EndsWith("SHA256", StringComparison.Ordinal) ? HashAlgorithmName.SHA256
        : details.EndsWith("SHA_384", StringComparison.Ordinal) || details.EndsWith("SHA384", StringComparison.Ordinal) ? HashAlgorithmName.SHA384
        : details.EndsWith("SHA_512", StringComparison.Ordinal) || details.EndsWith("SHA512", StringComparison.Ordinal) ? HashAlgorithmName.SHA512
        : fallback;

    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        try
        {
            if (_ecdsa is not null) return KeyMaterial.VerifyEcdsa(_ecdsa, data, signature, _hash);
            if (_rsa is not null) return _rsa.VerifyData(data, signature, _hash, _padding!);
            var signer = new Ed25519Signer();
            signer.Init(false, _ed25519);
            signer.BlockUpdate(data);
            return signer.VerifySignature(signature.ToArray());
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}

/// <summary>A transparency log or CT log of the trusted root: its id (sha256 of the key), key and validity.</summary>
internal sealed record TransparencyLogInstance(string BaseUrl, byte[] LogId, LogKey? Key, string? KeyError, DateTimeOffset? ValidFrom, DateTimeOffset? ValidUntil)
{
    public bool ValidAt(DateTimeOffset time) => (ValidFrom is null || time >= ValidFrom) && (ValidUntil is null || time <= ValidUntil);
}

/// <summary>A Fulcio certificate authority: its chain (issuing certificate first, root last) and validity.</summary>
internal sealed record CertificateAuthority(string Uri, IReadOnlyList<X509Certificate2> Chain, DateTimeOffset? ValidFrom, DateTimeOffset? ValidUntil)
{
    public bool ValidAt(DateTimeOffset time) => (ValidFrom is null || time >= ValidFrom) && (ValidUntil is null || time <= ValidUntil);
}

/// <summary>
/// A Sigstore trusted root (<c>trusted_root.json</c>, media type application/vnd.dev.sigstore.trustedroot+json):
/// the Rekor log keys, Fulcio certificate authorities and CT log keys, each with its validity period, that keyless
/// signatures are verified against offline. The Sigstore public-good root ships with Lineage (embedded resource,
/// Apache-2.0, from sigstore-python); <see cref="Load"/> reads another, or a client trust config that wraps one.
/// </summary>
public sealed class TrustedRoot
{
    private const string ResourceName = "Lineage.Signing.sigstore-trusted-root.json";
    private const long MaxBytes = 16L << 20;

    private static readonly Lazy<TrustedRoot> Embedded = new(LoadEmbedded);

    private TrustedRoot()
    {
    }

    /// <summary>The Sigstore public-good trusted root shipped with Lineage.</summary>
    public static TrustedRoot PublicGood => Embedded.Value;

    internal IReadOnlyList<TransparencyLogInstance> TransparencyLogs { get; private init; } = [];

    internal IReadOnlyList<TransparencyLogInstance> CtLogs { get; private init; } = [];

    internal IReadOnlyList<CertificateAuthority> CertificateAuthorities { get; private init; } = [];

    /// <summary>Reads a trusted root, or a client trust config ({"trustedRoot": …}) that contains one.</summary>
    public static TrustedRoot Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new LineageException("trusted root not found", path);
        if (info.Length > MaxBytes) throw new LineageException($"trusted root of {info.Length} bytes exceeds the limit of {MaxBytes} bytes", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    internal static TrustedRoot Parse(byte[] bytes, string file)
    {
        using var document = JsonCursor.ParseDocument(bytes, file, "trusted root");
        var root = JsonCursor.Root(document, file).RequireObject();
        if (root.TryProperty("trustedRoot", "trusted_root", out var inner)) root = inner.RequireObject();
        if (root.OptionalString("mediaType", "media_type") is { } mediaType
            && !mediaType.StartsWith("application/vnd.dev.sigstore.trustedroot", StringComparison.Ordinal))
            throw root.Property("mediaType", "media_type").Error($"not a trusted root media type: '{mediaType}'");

        var tlogs = root.TryProperty("tlogs", out var t) ? t.Items(256).Select(ParseLog).ToList() : [];
        var ctlogs = root.TryProperty("ctlogs", out var c) ? c.Items(256).Select(ParseLog).ToList() : [];
        var authorities = new List<CertificateAuthority>();
        if (root.TryProperty("certificateAuthorities", "certificate_authorities", out var cas))
        {
            foreach (var ca in cas.Items(256))
            {
                ca.RequireObject();
                var chain = new List<X509Certificate2>();
                foreach (var cert in ca.Property("certChain", "cert_chain").RequireObject().Property("certificates").Items(16))
                    chain.Add(KeyMaterial.ParseCertificate(cert.RequireObject().Property("rawBytes", "raw_bytes").AsBase64(64 << 10), file, cert.Path));
                if (chain.Count == 0) throw ca.Error("certificate authority without certificates");
                var (from, until) = ValidFor(ca);
                authorities.Add(new CertificateAuthority(ca.OptionalString("uri") ?? "", chain, from, until));
            }
        }
        if (tlogs.Count == 0 && authorities.Count == 0)
            throw root.Error("trusted root lists no transparency logs and no certificate authorities");
        return new TrustedRoot { TransparencyLogs = tlogs, CtLogs = ctlogs, CertificateAuthorities = authorities };
    }

    private static TransparencyLogInstance ParseLog(JsonCursor log)
    {
        log.RequireObject();
        var key = log.Property("publicKey", "public_key").RequireObject();
        var logId = log.Property("logId", "log_id").RequireObject().Property("keyId", "key_id").AsBase64(64);
        var (from, until) = ValidFor(key);
        LogKey? parsed = null;
        string? error = null;
        if (key.TryProperty("rawBytes", "raw_bytes", out var raw))
        {
            try
            {
                parsed = LogKey.Create(raw.AsBase64(64 << 10), key.OptionalString("keyDetails", "key_details"));
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException or InvalidCastException or InvalidOperationException or IOException)
            {
                error = $"{log.Path}: unusable public key: {e.Message}";
            }
        }
        else
        {
            error = $"{log.Path}: no public key bytes";
        }
        return new TransparencyLogInstance(log.OptionalString("baseUrl", "base_url") ?? "", logId, parsed, error, from, until);
    }

    private static (DateTimeOffset? From, DateTimeOffset? Until) ValidFor(JsonCursor owner)
    {
        if (!owner.TryProperty("validFor", "valid_for", out var range)) return (null, null);
        range.RequireObject();
        return (Time(range, "start"), Time(range, "end"));
    }

    private static DateTimeOffset? Time(JsonCursor range, string name)
    {
        if (!range.TryProperty(name, out var value)) return null;
        return DateTimeOffset.TryParse(value.AsString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw value.Error("not an RFC 3339 time");
    }

    private static TrustedRoot LoadEmbedded()
    {
        using var stream = typeof(TrustedRoot).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new LineageException($"embedded resource {ResourceName} is missing from this build");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), "(built-in Sigstore public-good trusted root)");
    }
}
