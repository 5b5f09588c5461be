using System.Text.Json.Nodes;
using Lineage.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Signing;

/// <summary>
/// The cross-version vectors of ../shared/corpus/signing/model-transparency and how the reference implementation
/// verified each (its README): elliptic-key with the public key, certificate with the CA certificate, sigstore with
/// the identity and OIDC issuer; --ignore-paths ignore-me where that file exists. In v0.3.1 and v1.0.0 the
/// elliptic-key model is the single file signme-1.
/// </summary>
internal static class SigningCorpus
{
    public const string Identity = "stefanb@us.ibm.com";
    public const string Issuer = "https://sigstore.verify.ibm.com/oauth2";

    public static readonly string[] Cases =
    [
        "v0.2.0-certificate", "v0.3.1-certificate", "v1.0.0-certificate", "v1.0.1-certificate",
        "v0.3.1-elliptic-key", "v1.0.0-elliptic-key", "v1.0.1-elliptic-key",
        "v0.3.1-sigstore", "v1.0.0-sigstore", "v1.0.1-sigstore",
    ];

    public static TheoryData<string> All => new(Cases);

    public static TheoryData<string> Folders => new(Cases.Where(c => !IsSingleFile(c)));

    public static TheoryData<string> Sigstore => new(Cases.Where(c => c.EndsWith("-sigstore", StringComparison.Ordinal)));

    public static string Dir(string name) => Corpus.Path($"signing/model-transparency/{name}");

    public static string Key(string file) => Corpus.Path($"signing/model-transparency/keys/certificate/{file}");

    public static string TrustedRootPath => Corpus.Path("signing/sigstore/trusted_root.json");

    public static bool IsSingleFile(string name) => name is "v0.3.1-elliptic-key" or "v1.0.0-elliptic-key";

    public static SignerKind KindOf(string name) =>
        name.EndsWith("-sigstore", StringComparison.Ordinal) ? SignerKind.Sigstore
        : name.EndsWith("-certificate", StringComparison.Ordinal) ? SignerKind.Certificate
        : SignerKind.Key;

    /// <summary>The model path (folder, or signme-1 for the single-file cases) under <paramref name="root"/>.</summary>
    public static string ModelPath(string name, string root) => IsSingleFile(name) ? Path.Combine(root, "signme-1") : root;

    /// <summary>The verification the README gives for a case; the model lives under <paramref name="root"/>.</summary>
    public static VerificationOptions Options(string name, string root)
    {
        var options = KindOf(name) switch
        {
            SignerKind.Key => VerificationOptions.WithPublicKey(Key("signing-key-pub.pem")),
            SignerKind.Certificate => VerificationOptions.WithCertificateChain([Key("ca-cert.pem")]),
            _ => VerificationOptions.WithIdentity(Identity, Issuer),
        };
        return File.Exists(Path.Combine(root, "ignore-me")) ? options with { IgnorePaths = [Path.Combine(root, "ignore-me")] } : options;
    }

    public static VerificationResult Verify(string name, string root, VerificationOptions? options = null) =>
        SignatureVerifier.Verify(ModelPath(name, root), Path.Combine(root, "model.sig"), options ?? Options(name, root));

    /// <summary>A writable copy of a case folder (the corpus is read-only).</summary>
    public static string Copy(string name, TempDir temp)
    {
        string target = Path.Combine(temp.Path, name);
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Dir(name)))
        {
            string to = Path.Combine(target, Path.GetFileName(file));
            File.WriteAllBytes(to, File.ReadAllBytes(file));
        }
        return target;
    }

    public static JsonObject ReadBundle(string root) => JsonNode.Parse(File.ReadAllText(Path.Combine(root, "model.sig")))!.AsObject();

    public static void WriteBundle(string root, JsonNode bundle) => File.WriteAllText(Path.Combine(root, "model.sig"), bundle.ToJsonString());

    public static void FlipByte(string path, int offset)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x01;
        File.WriteAllBytes(path, bytes);
    }

    public static byte[] FlipBase64(string base64, int offset)
    {
        var bytes = Convert.FromBase64String(base64);
        bytes[offset] ^= 0x01;
        return bytes;
    }
}
