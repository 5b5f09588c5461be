using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Lineage.Signing;

/// <summary>PEM keys and certificates, key identifiers and signature checks over the platform's primitives.</summary>
internal static class KeyMaterial
{
    private const long MaxPemBytes = 1 << 20;

    private static readonly Dictionary<string, int> NistCurves = new(StringComparer.Ordinal)
    {
        ["1.2.840.10045.3.1.7"] = 256,
        ["1.3.132.0.34"] = 384,
        ["1.3.132.0.35"] = 521,
    };

    public static string ReadPemText(string path, string what)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new LineageException($"{what} not found", path);
            if (info.Length > MaxPemBytes) throw new LineageException($"{what} of {info.Length} bytes is larger than any PEM file should be", path);
            return System.IO.File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read {what}: {e.Message}", path, inner: e);
        }
    }

    /// <summary>Every PEM block with one of <paramref name="labels"/>; text around the blocks (OpenSSL and certtool
    /// print the parsed key first) is skipped.</summary>
    public static List<(string Label, byte[] Der)> PemBlocks(string text, string file, params string[] labels)
    {
        var blocks = new List<(string, byte[])>();
        var remaining = text.AsSpan();
        int guard = 0;
        while (PemEncoding.TryFind(remaining, out var fields) && guard++ < 1024)
        {
            string label = remaining[fields.Label].ToString();
            if (labels.Contains(label))
            {
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(remaining[fields.Base64Data], der, out int written))
                    throw new LineageException($"PEM block '{label}' is not valid base64", file);
                blocks.Add((label, der[..written]));
            }
            remaining = remaining[fields.Location.End..];
        }
        return blocks;
    }

    /// <summary>An ECDSA public key on P-256, P-384 or P-521 (the curves model_signing signs with).</summary>
    public static ECDsa LoadPublicKey(string path)
    {
        string text = ReadPemText(path, "public key");
        var blocks = PemBlocks(text, path, "PUBLIC KEY");
        if (blocks.Count == 0)
        {
            if (PemBlocks(text, path, "CERTIFICATE").Count > 0)
                throw new LineageException("expected a public key (PEM 'PUBLIC KEY'), found a certificate; use --certificate-chain for certificates", path);
            throw new LineageException("no PEM 'PUBLIC KEY' block", path);
        }
        return ImportPublicKey(blocks[0].Der, path);
    }

    public static ECDsa ImportPublicKey(byte[] spki, string file)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(spki, out _);
            CheckCurve(key, file);
            return key;
        }
        catch (CryptographicException e)
        {
            key.Dispose();
            throw new LineageException($"not an elliptic-curve public key: {e.Message}", file, inner: e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public static ECDsa LoadPrivateKey(string path)
    {
        string text = ReadPemText(path, "private key");
        if (PemBlocks(text, path, "ENCRYPTED PRIVATE KEY").Count > 0)
            throw new LineageException("encrypted private keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN)", path);
        var blocks = PemBlocks(text, path, "EC PRIVATE KEY", "PRIVATE KEY");
        if (blocks.Count == 0) throw new LineageException("no PEM 'EC PRIVATE KEY' or 'PRIVATE KEY' block", path);
        var key = ECDsa.Create();
        try
        {
            if (blocks[0].Label == "EC PRIVATE KEY") key.ImportECPrivateKey(blocks[0].Der, out _);
            else key.ImportPkcs8PrivateKey(blocks[0].Der, out _);
            CheckCurve(key, path);
            return key;
        }
        catch (CryptographicException e)
        {
            key.Dispose();
            throw new LineageException($"not an elliptic-curve private key: {e.Message}", path, inner: e);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>All certificates in the given PEM files, in order.</summary>
    public static List<X509Certificate2> LoadCertificates(IEnumerable<string> paths)
    {
        var result = new List<X509Certificate2>();
        foreach (string path in paths)
        {
            string text = ReadPemText(path, "certificate file");
            var blocks = PemBlocks(text, path, "CERTIFICATE");
            if (blocks.Count == 0) throw new LineageException("no PEM 'CERTIFICATE' block", path);
            foreach (var (_, der) in blocks) result.Add(ParseCertificate(der, path, "certificate"));
        }
        return result;
    }

    public static X509Certificate2 ParseCertificate(byte[] der, string file, string what)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            throw new LineageException($"{what} is not a valid X.509 certificate: {e.Message}", file, inner: e);
        }
    }

    private static void CheckCurve(ECDsa key, string file)
    {
        var curve = key.ExportParameters(false).Curve;
        string? oid = curve.Oid?.Value;
        if (oid is null && curve.Oid?.FriendlyName is { } name)
            oid = name switch { "nistP256" or "ECDSA_P256" or "secp256r1" or "prime256v1" => "1.2.840.10045.3.1.7", "nistP384" or "ECDSA_P384" or "secp384r1" => "1.3.132.0.34", "nistP521" or "ECDSA_P521" or "secp521r1" => "1.3.132.0.35", _ => null };
        if (oid is null || !NistCurves.ContainsKey(oid))
            throw new LineageException($"unsupported elliptic curve {curve.Oid?.FriendlyName ?? curve.Oid?.Value ?? "(explicit parameters)"}; expected P-256, P-384 or P-521", file);
    }

    /// <summary>The hash model_signing pairs with each curve: SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521.</summary>
    public static HashAlgorithmName EcdsaHash(ECDsa key) => key.KeySize switch
    {
        <= 256 => HashAlgorithmName.SHA256,
        <= 384 => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };

    public static bool VerifyEcdsa(ECDsa key, ReadOnlySpan<byte> data, ReadOnlySpan<byte> derSignature, HashAlgorithmName? hash = null)
    {
        try
        {
            return key.VerifyData(data, derSignature, hash ?? EcdsaHash(key), DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>Checks a signature made with a certificate's key (ECDSA with the curve's hash, or RSA PKCS#1 v1.5 SHA-256).</summary>
    public static bool VerifyWithCertificate(X509Certificate2 certificate, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature, out string? unsupported)
    {
        unsupported = null;
        try
        {
            using (var ec = certificate.GetECDsaPublicKey())
            {
                if (ec is not null) return VerifyEcdsa(ec, data, signature);
            }
            using (var rsa = certificate.GetRSAPublicKey())
            {
                if (rsa is not null) return rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            }
        }
        catch (CryptographicException e)
        {
            unsupported = e.Message;
            return false;
        }
        unsupported = $"unsupported signing key algorithm {certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value}";
        return false;
    }

    /// <summary>The key identifier model_signing records as the bundle's public-key hint: the sha256 (hex) of the key's
    /// SubjectPublicKeyInfo PEM text, as Python's cryptography writes it (64-column base64, trailing newline).</summary>
    public static string KeyId(byte[] spki)
    {
        string pem = new string(PemEncoding.Write("PUBLIC KEY", spki)) + "\n";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(pem)));
    }

    public static string KeyId(ECDsa key) => KeyId(key.ExportSubjectPublicKeyInfo());

    public static string KeyId(X509Certificate2 certificate) => KeyId(certificate.PublicKey.ExportSubjectPublicKeyInfo());
}
