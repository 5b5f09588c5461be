using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Digests;

namespace Lineage.Signing;

/// <summary>The content digests OpenSSF Model Signing uses for files and shards.</summary>
internal enum DigestAlgorithm
{
    Sha256,

    /// <summary>BLAKE2b with a 64-byte output (Python's hashlib.blake2b default), named "blake2b".</summary>
    Blake2b,

    /// <summary>BLAKE3 with a 32-byte output, named "blake3" (model_signing 1.1 and later).</summary>
    Blake3,
}

/// <summary>Names, sizes and streaming implementations of <see cref="DigestAlgorithm"/>. SHA-256 comes from the
/// platform; BLAKE2b and BLAKE3 from BouncyCastle (the base library has neither).</summary>
internal static class Digests
{
    public static string Name(DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Sha256 => "sha256",
        DigestAlgorithm.Blake2b => "blake2b",
        _ => "blake3",
    };

    public static int Size(DigestAlgorithm algorithm) => algorithm == DigestAlgorithm.Blake2b ? 64 : 32;

    /// <summary>
    /// Reads an algorithm name as the reference implementation wrote it over its versions: "sha256", "blake2b",
    /// "file-sha256" (0.2), "file-sha256-1000000" (0.2 shards), "sha256-sharded-1000000000" (1.x shards).
    /// Returns the shard size when the name carries one.
    /// </summary>
    public static bool TryParse(string name, out DigestAlgorithm algorithm, out long? shardSize)
    {
        shardSize = null;
        string core = name.StartsWith("file-", StringComparison.Ordinal) ? name[5..] : name;
        int sharded = core.IndexOf("-sharded-", StringComparison.Ordinal);
        string? size = null;
        if (sharded >= 0)
        {
            size = core[(sharded + 9)..];
            core = core[..sharded];
        }
        else
        {
            int dash = core.LastIndexOf('-');
            if (dash > 0 && core[(dash + 1)..].All(char.IsAsciiDigit) && dash + 1 < core.Length)
            {
                size = core[(dash + 1)..];
                core = core[..dash];
            }
        }
        if (size is not null)
        {
            if (!long.TryParse(size, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long s) || s <= 0)
            {
                algorithm = default;
                return false;
            }
            shardSize = s;
        }
        switch (core)
        {
            case "sha256":
                algorithm = DigestAlgorithm.Sha256;
                return true;
            case "blake2b" or "blake2":
                algorithm = DigestAlgorithm.Blake2b;
                return true;
            case "blake3":
                algorithm = DigestAlgorithm.Blake3;
                return true;
            default:
                algorithm = default;
                return false;
        }
    }

    public static IStreamingDigest Create(DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Sha256 => new PlatformDigest(IncrementalHash.CreateHash(HashAlgorithmName.SHA256)),
        DigestAlgorithm.Blake2b => new BouncyDigest(new Blake2bDigest(512)),
        _ => new BouncyDigest(new Blake3Digest()),
    };

    public static byte[] Compute(DigestAlgorithm algorithm, ReadOnlySpan<byte> data)
    {
        var digest = Create(algorithm);
        digest.Append(data);
        return digest.Finish();
    }

    public static string Format(DigestAlgorithm algorithm, byte[] digest) => $"{Name(algorithm)}:{Convert.ToHexStringLower(digest)}";

    private sealed class PlatformDigest(IncrementalHash hash) : IStreamingDigest
    {
        public void Append(ReadOnlySpan<byte> data) => hash.AppendData(data);

        public byte[] Finish()
        {
            var result = hash.GetHashAndReset();
            hash.Dispose();
            return result;
        }
    }

    private sealed class BouncyDigest(IDigest digest) : IStreamingDigest
    {
        public void Append(ReadOnlySpan<byte> data) => digest.BlockUpdate(data);

        public byte[] Finish()
        {
            var result = new byte[digest.GetDigestSize()];
            digest.DoFinal(result, 0);
            return result;
        }
    }
}

internal interface IStreamingDigest
{
    void Append(ReadOnlySpan<byte> data);

    byte[] Finish();
}
