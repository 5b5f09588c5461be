namespace Lineage.Signing;

/// <summary>
/// How to verify a model signature: exactly one of a public key, a certificate chain (private PKI), or a Sigstore
/// identity and OIDC issuer (keyless, offline against a trusted root). Build with <see cref="WithPublicKey"/>,
/// <see cref="WithCertificateChain"/> or <see cref="WithIdentity"/>, then adjust with <c>with { … }</c>.
/// </summary>
public sealed record VerificationOptions
{
    private VerificationOptions()
    {
    }

    public SignerKind Mode { get; private init; }

    /// <summary>PEM file with the ECDSA public key (key mode).</summary>
    public string? PublicKeyPath { get; private init; }

    /// <summary>PEM files with the trusted CA certificates (certificate mode); the signing certificate and its
    /// intermediates come from the bundle.</summary>
    public IReadOnlyList<string> CertificateChainPaths { get; private init; } = [];

    /// <summary>Expected signer identity: the certificate's SAN email or URI (Sigstore mode).</summary>
    public string? Identity { get; private init; }

    /// <summary>Expected OIDC issuer recorded in the certificate (Sigstore mode).</summary>
    public string? Issuer { get; private init; }

    /// <summary>A trusted_root.json to use instead of the built-in Sigstore public-good root.</summary>
    public string? TrustRootPath { get; init; }

    /// <summary>Paths to leave out of the model (relative to the current directory or to the model, or absolute);
    /// a directory leaves out everything below it.</summary>
    public IReadOnlyList<string> IgnorePaths { get; init; } = [];

    /// <summary>Leave out .git, .gitattributes, .github and .gitignore, as model_signing does by default.</summary>
    public bool IgnoreGitPaths { get; init; } = true;

    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    public static VerificationOptions WithPublicKey(string publicKeyPemPath) =>
        new() { Mode = SignerKind.Key, PublicKeyPath = publicKeyPemPath };

    public static VerificationOptions WithCertificateChain(IReadOnlyList<string> caCertificatePemPaths)
    {
        if (caCertificatePemPaths.Count == 0) throw new ArgumentException("at least one CA certificate file is needed", nameof(caCertificatePemPaths));
        return new() { Mode = SignerKind.Certificate, CertificateChainPaths = caCertificatePemPaths };
    }

    public static VerificationOptions WithIdentity(string identity, string issuer) =>
        new() { Mode = SignerKind.Sigstore, Identity = identity, Issuer = issuer };
}
