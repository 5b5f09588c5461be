using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Lineage.Signing;

/// <summary>How to sign a model. Files serialization with SHA-256 is model_signing's default.</summary>
public sealed record SigningOptions
{
    /// <summary>PEM file with the ECDSA private key (P-256, P-384 or P-521; SEC1 or PKCS#8, unencrypted).</summary>
    public required string PrivateKeyPath { get; init; }

    /// <summary>Optional PEM files: the signing certificate (matching the key) first, then intermediates to include
    /// in the bundle. Empty for a bare-key signature.</summary>
    public IReadOnlyList<string> CertificateChainPaths { get; init; } = [];

    /// <summary>Where the bundle is written; it is never part of the model even when it lies inside it.</summary>
    public required string OutputPath { get; init; }

    public IReadOnlyList<string> IgnorePaths { get; init; } = [];

    public bool IgnoreGitPaths { get; init; } = true;

    /// <summary>sha256 (default), blake2b or blake3.</summary>
    public string Hash { get; init; } = "sha256";

    /// <summary>Sign shards of this many bytes instead of whole files (model_signing's "shards" serialization).</summary>
    public long? ShardSize { get; init; }

    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>What was signed: the bundle's path, the signer, and every file with its digest.</summary>
public sealed record SigningResult
{
    public required string SignaturePath { get; init; }

    public required SignerInfo Signer { get; init; }

    public required IReadOnlyList<FileVerification> Files { get; init; }
}

/// <summary>
/// Signs a model folder or file the way the model_signing reference implementation (v1.0) does with a key or a
/// certificate: an in-toto statement (predicate https://model_signing/signature/v1.0) listing every file's digest,
/// sorted by path, with one subject whose sha256 covers the concatenated digests; a DSSE envelope signed with ECDSA
/// over the pre-authentication encoding; a Sigstore bundle of media type v0.3 holding the public-key hint or the
/// certificate chain. Keyless Sigstore signing needs the network and is not offered.
/// </summary>
public static class ModelSigner
{
    public static SigningResult Sign(string modelPath, SigningOptions options, CancellationToken cancellation = default)
    {
        if (!Digests.TryParse(options.Hash, out var algorithm, out _) || options.Hash.Contains('-', StringComparison.Ordinal))
            throw new LineageException($"unsupported hash '{options.Hash}' (known: sha256, blake2b, blake3)");
        if (options.ShardSize is <= 0) throw new LineageException("shard size must be positive");

        using var key = KeyMaterial.LoadPrivateKey(options.PrivateKeyPath);
        var certificates = KeyMaterial.LoadCertificates(options.CertificateChainPaths);
        try
        {
            if (certificates.Count > 0 && !certificates[0].PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
                throw new LineageException("the first certificate's public key does not match the private key; list the signing certificate first", options.CertificateChainPaths[0]);

            string root = ModelTree.FullPath(modelPath);
            bool singleFile = File.Exists(root) && !Directory.Exists(root);
            var ignored = singleFile ? [] : ModelTree.IgnoredPaths(root, options.IgnorePaths, [], options.IgnoreGitPaths, [options.OutputPath]);
            var tree = ModelTree.Scan(modelPath, ignored, allowSymlinks: false);
            if (tree.Problems.Count > 0) throw new LineageException($"cannot sign: {string.Join("; ", tree.Problems)}", modelPath);
            if (tree.Files.Count == 0) throw new LineageException("the model has no files to sign (after ignored paths)", modelPath);

            var entries = HashModel(tree, algorithm, options, cancellation);
            entries.Sort(InTotoStatement.CompareEntries);
            string modelName = Path.GetFileName(root);
            var payload = InTotoStatement.BuildV1(modelName, options.ShardSize is not null, algorithm, options.ShardSize, entries);
            var signature = key.SignData(Dsse.Pae(InTotoStatement.PayloadType, payload), KeyMaterial.EcdsaHash(key), DSASignatureFormat.Rfc3279DerSequence);
            var bundle = WriteBundle(payload, signature, KeyMaterial.KeyId(key), certificates);
            WriteAtomically(options.OutputPath, bundle);

            var signer = certificates.Count > 0
                ? new SignerInfo { Kind = SignerKind.Certificate, Identity = SignatureChecks.SubjectAlternativeNames(certificates[0]).FirstOrDefault() ?? certificates[0].Subject, Issuer = certificates[0].Issuer, KeyId = KeyMaterial.KeyId(key) }
                : new SignerInfo { Kind = SignerKind.Key, KeyId = KeyMaterial.KeyId(key) };
            var files = entries.GroupBy(e => e.Path).Select(g => new FileVerification
            {
                Name = singleFile && g.Key == "." ? modelName : g.Key,
                Digest = g.First().IsShard ? null : Digests.Format(algorithm, g.First().Digest),
                Status = FileStatus.Ok,
            }).ToList();
            return new SigningResult { SignaturePath = options.OutputPath, Signer = signer, Files = files };
        }
        finally
        {
            foreach (var c in certificates) c.Dispose();
        }
    }

    private static List<ManifestEntry> HashModel(ModelTree tree, DigestAlgorithm algorithm, SigningOptions options, CancellationToken cancellation)
    {
        var jobs = new List<HashJob>();
        var names = new List<(string Path, long? Start, long? End)>();
        foreach (var file in tree.Files)
        {
            if (options.ShardSize is not { } shardSize)
            {
                jobs.Add(new HashJob(file.ContentPath, 0, null, algorithm));
                names.Add((file.Name, null, null));
                continue;
            }
            // As model_signing: shards [0, s), [s, 2s), …, the last one ending at the file size; empty files have none.
            for (long start = 0; start < file.Length; start += shardSize)
            {
                long end = Math.Min(file.Length, start + shardSize);
                jobs.Add(new HashJob(file.ContentPath, start, end - start, algorithm));
                names.Add((file.Name, start, end));
            }
        }
        var digests = ModelHasher.Hash(jobs, options.MaxParallelism, cancellation);
        return names.Select((n, i) => new ManifestEntry(n.Path, n.Start, n.End, algorithm, digests[i])).ToList();
    }

    private static byte[] WriteBundle(byte[] payload, byte[] signature, string keyId, IReadOnlyList<X509Certificate2> certificates)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("mediaType", SigstoreBundle.MediaTypeV03);
            writer.WriteStartObject("verificationMaterial");
            if (certificates.Count == 0)
            {
                writer.WriteStartObject("publicKey");
                writer.WriteString("hint", keyId);
                writer.WriteEndObject();
            }
            else
            {
                writer.WriteStartObject("x509CertificateChain");
                writer.WriteStartArray("certificates");
                foreach (var certificate in certificates)
                {
                    writer.WriteStartObject();
                    writer.WriteBase64String("rawBytes", certificate.RawData);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteStartArray("tlogEntries");
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteStartObject("dsseEnvelope");
            writer.WriteBase64String("payload", payload);
            writer.WriteString("payloadType", InTotoStatement.PayloadType);
            writer.WriteStartArray("signatures");
            writer.WriteStartObject();
            writer.WriteBase64String("sig", signature);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }
            throw new LineageException($"cannot write the signature: {e.Message}", path, inner: e);
        }
    }
}
