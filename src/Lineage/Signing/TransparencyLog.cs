using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Lineage.Signing;

/// <summary>
/// Offline checks of a Rekor entry: the Merkle inclusion proof (RFC 6962 / RFC 9162 audit path) against the root
/// hash of a checkpoint signed by the log, the signed entry timestamp (SET), and that the logged body is the
/// bundle's own DSSE envelope and certificate. Hashing and signatures use the platform primitives; the tree
/// arithmetic is protocol logic.
/// </summary>
internal static class TransparencyLog
{
    private const string NoteSignaturePrefix = "\u2014 ";

    public static byte[] LeafHash(ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData([0x00]);
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    private static byte[] NodeHash(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData([0x01]);
        hash.AppendData(left);
        hash.AppendData(right);
        return hash.GetHashAndReset();
    }

    /// <summary>RFC 9162 §2.1.3.2: recomputes the root from a leaf and its audit path and compares.</summary>
    public static bool VerifyInclusion(long index, long treeSize, byte[] leafHash, IReadOnlyList<byte[]> proof, byte[] expectedRoot, out string? error)
    {
        error = null;
        if (index < 0 || treeSize <= 0 || index >= treeSize)
        {
            error = $"leaf index {index} is outside a tree of size {treeSize}";
            return false;
        }
        long fn = index, sn = treeSize - 1;
        byte[] r = leafHash;
        foreach (var p in proof)
        {
            if (p.Length != 32)
            {
                error = "an audit path hash is not 32 bytes";
                return false;
            }
            if (sn == 0)
            {
                error = "the audit path is longer than the tree allows";
                return false;
            }
            if ((fn & 1) == 1 || fn == sn)
            {
                r = NodeHash(p, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = NodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (sn != 0)
        {
            error = "the audit path is shorter than the tree requires";
            return false;
        }
        if (!CryptographicOperations.FixedTimeEquals(r, expectedRoot))
        {
            error = "the audit path does not lead to the root hash";
            return false;
        }
        return true;
    }

    /// <summary>The canonical JSON Rekor signs as the SET: body (base64), integratedTime, logID (hex), logIndex, keys sorted.</summary>
    public static byte[] SignedEntryTimestampPayload(TransparencyLogEntry entry)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("body", Convert.ToBase64String(entry.CanonicalizedBody));
            writer.WriteNumber("integratedTime", entry.IntegratedTime ?? 0);
            writer.WriteString("logID", Convert.ToHexStringLower(entry.LogId));
            writer.WriteNumber("logIndex", entry.LogIndex);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Checks a checkpoint (a signed note: origin, tree size, base64 root hash, optional extension lines, a blank
    /// line, then "— name base64(key hint ‖ signature)" lines) against the proof and the log's key.
    /// </summary>
    public static string? VerifyCheckpoint(string envelope, InclusionProof proof, TransparencyLogInstance log)
    {
        int split = envelope.IndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0) return "checkpoint has no signature section";
        string body = envelope[..(split + 1)];
        var lines = body.Split('\n');
        if (lines.Length < 4) return "checkpoint body has fewer than three lines";
        if (!long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size))
            return "checkpoint tree size is not a number";
        byte[] root;
        try
        {
            root = Convert.FromBase64String(lines[2]);
        }
        catch (FormatException)
        {
            return "checkpoint root hash is not base64";
        }
        if (size != proof.TreeSize) return $"checkpoint is for tree size {size}, the proof for {proof.TreeSize}";
        if (!CryptographicOperations.FixedTimeEquals(root, proof.RootHash)) return "checkpoint root hash differs from the proof's root hash";
        if (log.Key is null) return log.KeyError ?? "transparency log has no usable key";

        var bodyBytes = Encoding.UTF8.GetBytes(body);
        foreach (string line in envelope[(split + 2)..].Split('\n'))
        {
            if (!line.StartsWith(NoteSignaturePrefix, StringComparison.Ordinal)) continue;
            var parts = line[NoteSignaturePrefix.Length..].Split(' ');
            if (parts.Length != 2) continue;
            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(parts[1]);
            }
            catch (FormatException)
            {
                continue;
            }
            if (blob.Length < 5) continue;
            if (!blob.AsSpan(0, 4).SequenceEqual(ExpectedKeyHint(parts[0], log))) continue;
            if (log.Key.Verify(bodyBytes, blob.AsSpan(4))) return null;
            return "checkpoint signature does not verify with the log's key";
        }
        return "checkpoint carries no signature by the transparency log's key";
    }

    /// <summary>Signed-note key hints: for Rekor's ECDSA keys the first 4 bytes of the log id (sha256 of the key);
    /// for Ed25519 note keys the first 4 bytes of sha256(name ‖ "\n" ‖ 0x01 ‖ key).</summary>
    private static byte[] ExpectedKeyHint(string name, TransparencyLogInstance log)
    {
        if (log.Key is { IsEd25519: true } key)
        {
            var raw = key.Spki[^32..];
            var material = Encoding.UTF8.GetBytes(name + "\n").Concat(new byte[] { 0x01 }).Concat(raw).ToArray();
            return SHA256.HashData(material)[..4];
        }
        return log.LogId[..Math.Min(4, log.LogId.Length)];
    }

    /// <summary>
    /// The logged body must be this bundle's envelope: a dsse 0.0.1 entry whose payload hash is the sha256 of the
    /// DSSE payload and whose signatures are exactly the envelope's, each with the signing certificate as verifier.
    /// </summary>
    public static string? CheckDsseBody(TransparencyLogEntry entry, DsseEnvelope envelope, byte[] leafDer)
    {
        if (entry.Kind != "dsse" || entry.KindVersion != "0.0.1")
            return $"Rekor entry kind {entry.Kind} {entry.KindVersion} is not supported for DSSE bundles (expected dsse 0.0.1)";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(entry.CanonicalizedBody, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            return $"Rekor entry body is not JSON: {e.Message}";
        }
        using (document)
        {
            try
            {
                var root = new JsonCursor(document.RootElement, "canonicalizedBody", entry.Path).RequireObject();
                if (root.Property("kind").AsString() != entry.Kind || root.Property("apiVersion").AsString() != entry.KindVersion)
                    return "Rekor entry body kind or apiVersion differs from the entry's kindVersion";
                var spec = root.Property("spec").RequireObject();
                var payloadHash = spec.Property("payloadHash").RequireObject();
                if (payloadHash.Property("algorithm").AsString() != "sha256") return "Rekor payload hash is not sha256";
                var expected = payloadHash.Property("value").AsHex(64);
                if (!CryptographicOperations.FixedTimeEquals(expected, SHA256.HashData(envelope.Payload)))
                    return "Rekor entry records a different DSSE payload (payload hash mismatch)";
                var logged = spec.Property("signatures").Items(16).ToList();
                if (logged.Count != envelope.Signatures.Count) return "Rekor entry records a different number of signatures";
                var unmatched = envelope.Signatures.Select(s => s.Signature).ToList();
                foreach (var s in logged)
                {
                    s.RequireObject();
                    var signature = s.Property("signature").AsBase64(16 << 10);
                    var verifierPem = Encoding.UTF8.GetString(s.Property("verifier").AsBase64(64 << 10));
                    var blocks = KeyMaterial.PemBlocks(verifierPem, entry.Path, "CERTIFICATE");
                    if (blocks.Count != 1 || !blocks[0].Der.AsSpan().SequenceEqual(leafDer))
                        return "Rekor entry names a different signing certificate";
                    int at = unmatched.FindIndex(u => u.AsSpan().SequenceEqual(signature));
                    if (at < 0) return "Rekor entry records a different signature";
                    unmatched.RemoveAt(at);
                }
                return null;
            }
            catch (LineageException e)
            {
                return $"Rekor entry body is malformed: {e.Message}";
            }
        }
    }
}
