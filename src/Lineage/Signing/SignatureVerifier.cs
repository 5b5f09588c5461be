namespace Lineage.Signing;

/// <summary>
/// Verifies an OpenSSF Model Signing signature (a Sigstore bundle, usually <c>model.sig</c>) against a model folder
/// or file, offline: first the bundle's signature with the key, certificate chain or Sigstore identity the caller
/// trusts, then every file of the model against the signed statement (re-hashed, in parallel). Every file must match
/// exactly: a changed, missing or unexpected file fails, and the result names it.
/// </summary>
public static class SignatureVerifier
{
    /// <summary>The signature file name model_signing writes by default.</summary>
    public const string DefaultSignatureName = "model.sig";

    private const int MaxListedProblems = 50;

    /// <summary>
    /// Never throws for bad input: unreadable or unparseable keys, bundles, statements or models give
    /// <see cref="VerificationOutcome.Unreadable"/> with the reason in <see cref="VerificationResult.Errors"/>.
    /// </summary>
    public static VerificationResult Verify(string modelPath, string signaturePath, VerificationOptions options, CancellationToken cancellation = default)
    {
        SignerInfo? signer = null;
        try
        {
            return VerifyCore(modelPath, signaturePath, options, s => signer = s, cancellation);
        }
        catch (LineageException e)
        {
            return new VerificationResult { Outcome = VerificationOutcome.Unreadable, Signer = signer, Errors = [e.Describe()] };
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or System.Formats.Asn1.AsnContentException)
        {
            // Malformed key or certificate material that the platform rejects while it is being used.
            return new VerificationResult { Outcome = VerificationOutcome.Unreadable, Signer = signer, Errors = [$"{signaturePath}: malformed cryptographic material: {e.Message}"] };
        }
    }

    private static VerificationResult VerifyCore(string modelPath, string signaturePath, VerificationOptions options, Action<SignerInfo?> reportSigner, CancellationToken cancellation)
    {
        if (!File.Exists(modelPath) && !Directory.Exists(modelPath)) throw new LineageException("model path not found", modelPath);
        var check = new SignatureCheck();
        switch (options.Mode)
        {
            case SignerKind.Key:
            {
                using var key = KeyMaterial.LoadPublicKey(options.PublicKeyPath!);
                var bundle = SigstoreBundle.Read(signaturePath);
                SignatureChecks.VerifyWithKey(bundle, key, check);
                return Finish(bundle);
            }
            case SignerKind.Certificate:
            {
                var trusted = KeyMaterial.LoadCertificates(options.CertificateChainPaths);
                try
                {
                    var bundle = SigstoreBundle.Read(signaturePath);
                    SignatureChecks.VerifyWithCertificateChain(bundle, trusted, check);
                    return Finish(bundle);
                }
                finally
                {
                    foreach (var c in trusted) c.Dispose();
                }
            }
            default:
            {
                var root = options.TrustRootPath is null ? TrustedRoot.PublicGood : TrustedRoot.Load(options.TrustRootPath);
                var bundle = SigstoreBundle.Read(signaturePath);
                SignatureChecks.VerifySigstore(bundle, options.Identity!, options.Issuer!, root, check);
                return Finish(bundle);
            }
        }

        VerificationResult Finish(SigstoreBundle bundle)
        {
            reportSigner(check.Signer);
            if (check.Errors.Count > 0)
                return new VerificationResult { Outcome = VerificationOutcome.Failed, Signer = check.Signer, SigningTime = check.SigningTime, Errors = check.Errors };
            var manifest = InTotoStatement.Parse(bundle.Dsse!.Payload, bundle.File);
            var result = CompareModel(modelPath, signaturePath, manifest, options, cancellation);
            return result with { Signer = check.Signer, SigningTime = check.SigningTime, PredicateType = manifest.PredicateType };
        }
    }

    /// <summary>Hashes the model as the manifest's serialization says and compares every file.</summary>
    internal static VerificationResult CompareModel(string modelPath, string signaturePath, SignedManifest manifest, VerificationOptions options, CancellationToken cancellation)
    {
        var errors = new List<string>(manifest.ConsistencyErrors);
        if (errors.Count > 0) return new VerificationResult { Outcome = VerificationOutcome.Failed, Errors = errors };

        string root = ModelTree.FullPath(modelPath);
        var ignored = File.Exists(root) && !Directory.Exists(root)
            ? []
            : ModelTree.IgnoredPaths(root, options.IgnorePaths, manifest.IgnorePaths, options.IgnoreGitPaths, [signaturePath]);
        var tree = ModelTree.Scan(modelPath, ignored, manifest.AllowSymlinks);
        errors.AddRange(tree.Problems);

        var comparison = manifest.Sharded ? CompareShards(tree, manifest, options, cancellation) : CompareFiles(tree, manifest, options, cancellation);
        if (manifest.Entries.Count == 0 && tree.Files.Count == 0) errors.Add("the signature covers no files and the model has none");

        var bad = comparison.Where(f => f.Status != FileStatus.Ok).ToList();
        foreach (var file in bad.Take(MaxListedProblems))
            errors.Add($"{file.Name}: {Describe(file.Status)}");
        if (bad.Count > MaxListedProblems)
            errors.Add($"… and {bad.Count - MaxListedProblems} more files that do not match");
        return new VerificationResult
        {
            Outcome = errors.Count == 0 ? VerificationOutcome.Verified : VerificationOutcome.Failed,
            Files = comparison,
            Errors = errors,
        };
    }

    private static string Describe(FileStatus status) => status switch
    {
        FileStatus.Changed => "changed (content differs from the signed digest)",
        FileStatus.Missing => "missing (signed, but not in the model)",
        _ => "unexpected (in the model, but not covered by the signature)",
    };

    /// <summary>The name a signed entry has for a single-file model: model_signing writes ".", other
    /// implementations the file name.</summary>
    private static Dictionary<string, List<ManifestEntry>> GroupByPath(ModelTree tree, SignedManifest manifest)
    {
        var groups = new Dictionary<string, List<ManifestEntry>>(StringComparer.Ordinal);
        foreach (var entry in manifest.Entries)
        {
            if (!groups.TryGetValue(entry.Path, out var list)) groups[entry.Path] = list = [];
            list.Add(entry);
        }
        if (tree.IsSingleFile && !groups.ContainsKey(".") && groups.Count == 1)
        {
            string fileName = Path.GetFileName(tree.Root);
            if (groups.Remove(fileName, out var single)) groups["."] = single;
        }
        return groups;
    }

    private static string DisplayName(ModelTree tree, string name) => tree.IsSingleFile && name == "." ? Path.GetFileName(tree.Root) : name;

    private static List<FileVerification> CompareFiles(ModelTree tree, SignedManifest manifest, VerificationOptions options, CancellationToken cancellation)
    {
        var groups = GroupByPath(tree, manifest);
        var jobs = new List<HashJob>();
        foreach (var file in tree.Files)
        {
            var algorithm = groups.TryGetValue(file.Name, out var entries) ? entries[0].Algorithm : DigestAlgorithm.Sha256;
            jobs.Add(new HashJob(file.ContentPath, 0, null, algorithm));
        }
        var digests = ModelHasher.Hash(jobs, options.MaxParallelism, cancellation);

        var results = new List<FileVerification>();
        for (int i = 0; i < tree.Files.Count; i++)
        {
            var file = tree.Files[i];
            var actual = Digests.Format(jobs[i].Algorithm, digests[i]);
            if (!groups.Remove(file.Name, out var entries))
            {
                results.Add(new FileVerification { Name = DisplayName(tree, file.Name), Digest = actual, Status = FileStatus.Unexpected });
                continue;
            }
            var entry = entries[0];
            bool same = entry.Digest.AsSpan().SequenceEqual(digests[i]);
            results.Add(new FileVerification
            {
                Name = DisplayName(tree, file.Name),
                Digest = Digests.Format(entry.Algorithm, entry.Digest),
                Status = same ? FileStatus.Ok : FileStatus.Changed,
                ActualDigest = same ? null : actual,
            });
        }
        foreach (var (name, entries) in groups)
            results.Add(new FileVerification { Name = DisplayName(tree, name), Digest = Digests.Format(entries[0].Algorithm, entries[0].Digest), Status = FileStatus.Missing });
        results.Sort((a, b) => InTotoStatement.ComparePaths(a.Name, b.Name));
        return results;
    }

    /// <summary>
    /// Shards: each file's signed shards must tile it exactly, [0, size) without gaps or overlaps, and each shard's
    /// digest must match. Empty files have no shards in model_signing's serialization (or one empty shard).
    /// </summary>
    private static List<FileVerification> CompareShards(ModelTree tree, SignedManifest manifest, VerificationOptions options, CancellationToken cancellation)
    {
        var groups = GroupByPath(tree, manifest);
        var jobs = new List<HashJob>();
        var owners = new List<(int File, ManifestEntry? Entry)>();
        var layoutMismatch = new HashSet<int>();
        for (int f = 0; f < tree.Files.Count; f++)
        {
            var file = tree.Files[f];
            if (!groups.TryGetValue(file.Name, out var shards))
            {
                if (file.Length == 0) continue;
                jobs.Add(new HashJob(file.ContentPath, 0, null, DigestAlgorithm.Sha256));
                owners.Add((f, null));
                continue;
            }
            shards.Sort(InTotoStatement.CompareEntries);
            long expectedStart = 0;
            foreach (var shard in shards)
            {
                if (shard.Start != expectedStart) break;
                expectedStart = shard.End!.Value;
            }
            if (expectedStart != file.Length || shards[0].Start != 0 || (file.Length > 0 && shards.Any(s => s.End == s.Start)) || shards.Zip(shards.Skip(1)).Any(p => p.First.End != p.Second.Start))
            {
                layoutMismatch.Add(f);
                continue;
            }
            foreach (var shard in shards)
            {
                jobs.Add(new HashJob(file.ContentPath, shard.Start!.Value, shard.End!.Value - shard.Start.Value, shard.Algorithm));
                owners.Add((f, shard));
            }
        }
        var digests = ModelHasher.Hash(jobs, options.MaxParallelism, cancellation);

        var results = new List<FileVerification>();
        var byFile = owners.Select((o, i) => (o.File, o.Entry, Digest: digests[i])).GroupBy(x => x.File).ToDictionary(g => g.Key, g => g.ToList());
        for (int f = 0; f < tree.Files.Count; f++)
        {
            var file = tree.Files[f];
            groups.Remove(file.Name);
            string name = DisplayName(tree, file.Name);
            if (layoutMismatch.Contains(f))
            {
                results.Add(new FileVerification { Name = name, Status = FileStatus.Changed, ActualDigest = $"size {file.Length} does not match the signed shards" });
                continue;
            }
            if (!byFile.TryGetValue(f, out var parts))
            {
                // An empty file: signed as no shards (or one empty shard), or not signed at all, which model_signing
                // cannot tell apart; either way its content is the signed content.
                results.Add(new FileVerification { Name = name, Status = FileStatus.Ok });
                continue;
            }
            if (parts[0].Entry is null)
            {
                results.Add(new FileVerification { Name = name, Digest = Digests.Format(DigestAlgorithm.Sha256, parts[0].Digest), Status = FileStatus.Unexpected });
                continue;
            }
            var differing = parts.FirstOrDefault(p => !p.Entry!.Digest.AsSpan().SequenceEqual(p.Digest));
            results.Add(new FileVerification
            {
                Name = name,
                Status = differing.Entry is null ? FileStatus.Ok : FileStatus.Changed,
                ActualDigest = differing.Entry is null ? null : $"{differing.Entry.Name} {Digests.Format(differing.Entry.Algorithm, differing.Digest)}",
            });
        }
        foreach (var (name, _) in groups)
            results.Add(new FileVerification { Name = DisplayName(tree, name), Status = FileStatus.Missing });
        results.Sort((a, b) => InTotoStatement.ComparePaths(a.Name, b.Name));
        return results;
    }
}
