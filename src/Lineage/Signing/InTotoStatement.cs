using System.Globalization;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lineage.Signing;

/// <summary>One signed object of a model: a whole file (Start/End null) or the byte range [Start, End) of one.</summary>
internal sealed record ManifestEntry(string Path, long? Start, long? End, DigestAlgorithm Algorithm, byte[] Digest)
{
    public bool IsShard => Start is not null;

    public string Name => IsShard ? $"{Path}:{Start}:{End}" : Path;
}

/// <summary>What a signature says the model is: how it was serialized and every file's or shard's digest.</summary>
internal sealed class SignedManifest
{
    public required string PredicateType { get; init; }

    public string? ModelName { get; init; }

    public required bool Sharded { get; init; }

    public long? ShardSize { get; init; }

    public bool AllowSymlinks { get; init; }

    /// <summary>Paths (relative to the model) the signer excluded; model_signing 1.1 and later record them.</summary>
    public IReadOnlyList<string> IgnorePaths { get; init; } = [];

    public required IReadOnlyList<ManifestEntry> Entries { get; init; }

    /// <summary>Problems that make the statement contradict itself (root digest over the resources, duplicates).</summary>
    public IReadOnlyList<string> ConsistencyErrors { get; init; } = [];
}

/// <summary>
/// The in-toto statement inside an OpenSSF Model Signing DSSE envelope. Reads every layout the reference
/// implementation has produced: predicate <c>https://model_signing/signature/v1.0</c> (model_signing 0.3 to 1.x:
/// one subject whose sha256 covers the concatenated resource digests, <c>files</c> or <c>shards</c> serialization)
/// and the four 0.2 predicates (<c>Digests</c>, <c>ShardDigests</c>: one subject per file or shard;
/// <c>DigestOfDigests</c>, <c>DigestOfShardDigests</c>: digests in the predicate). Anything else is refused.
/// </summary>
internal static class InTotoStatement
{
    public const string PayloadType = "application/vnd.in-toto+json";
    public const string StatementType = "https://in-toto.io/Statement/v1";
    public const string PredicateV1 = "https://model_signing/signature/v1.0";
    public const string PredicateDigests = "https://model_signing/Digests/v0.1";
    public const string PredicateShardDigests = "https://model_signing/ShardDigests/v0.1";
    public const string PredicateDigestOfDigests = "https://model_signing/DigestOfDigests/v0.1";
    public const string PredicateDigestOfShardDigests = "https://model_signing/DigestOfShardDigests/v0.1";

    public static readonly IReadOnlyList<string> KnownPredicates =
        [PredicateV1, PredicateDigests, PredicateShardDigests, PredicateDigestOfDigests, PredicateDigestOfShardDigests];

    private const int MaxEntries = 10_000_000;

    public static SignedManifest Parse(byte[] payload, string file)
    {
        using var document = JsonCursor.ParseDocument(payload, file, "in-toto statement (DSSE payload)");
        var root = new JsonCursor(document.RootElement, "payload", file).RequireObject();
        string type = root.Property("_type").AsString();
        if (type != StatementType)
            throw root.Property("_type").Error($"statement type '{type}' is not {StatementType}");
        var predicateTypeField = root.Property("predicateType");
        string predicateType = predicateTypeField.AsString();
        return predicateType switch
        {
            PredicateV1 => ParseV1(root),
            PredicateDigests => ParseSubjects(root, predicateType, sharded: false),
            PredicateShardDigests => ParseSubjects(root, predicateType, sharded: true),
            PredicateDigestOfDigests => ParseDigestOfDigests(root, predicateType, "files", sharded: false),
            PredicateDigestOfShardDigests => ParseDigestOfDigests(root, predicateType, "shards", sharded: true),
            _ => throw predicateTypeField.Error(
                $"unknown predicate type '{predicateType}'; this version reads {string.Join(", ", KnownPredicates)}"),
        };
    }

    private static SignedManifest ParseV1(JsonCursor root)
    {
        var (modelName, rootDigest) = SingleSubject(root);
        var predicate = root.Property("predicate").RequireObject();
        var serialization = predicate.Property("serialization").RequireObject();
        var methodField = serialization.Property("method");
        string method = methodField.AsString();
        bool sharded = method switch
        {
            "files" => false,
            "shards" => true,
            _ => throw methodField.Error($"unknown serialization method '{method}' (known: files, shards)"),
        };
        var hashTypeField = serialization.Property("hash_type");
        if (!Digests.TryParse(hashTypeField.AsString(), out _, out long? shardSizeFromName))
            throw hashTypeField.Error($"unsupported hash type '{hashTypeField.AsString()}' (known: sha256, blake2b, blake3)");
        long? shardSize = null;
        if (sharded)
        {
            shardSize = serialization.TryProperty("shard_size", out var ss) ? ss.AsInt64() : shardSizeFromName
                ?? throw serialization.Error("missing field 'shard_size'");
            if (shardSize <= 0) throw serialization.Property("shard_size").Error("shard size must be positive");
        }
        bool allowSymlinks = serialization.TryProperty("allow_symlinks", out var sym) && ReadFlag(sym);
        var ignorePaths = new List<string>();
        if (serialization.TryProperty("ignore_paths", out var ignored))
            foreach (var item in ignored.Items(100_000))
                ignorePaths.Add(NormalizePath(item.AsString()));

        var entries = new List<ManifestEntry>();
        var errors = new List<string>();
        using var concatenated = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var resource in predicate.Property("resources").Items(MaxEntries))
        {
            resource.RequireObject();
            var entry = ReadEntry(resource.Property("name"), resource.Property("algorithm"), resource.Property("digest"), sharded);
            concatenated.AppendData(entry.Digest);
            entries.Add(entry);
        }
        var computed = concatenated.GetHashAndReset();
        if (!CryptographicOperations.FixedTimeEquals(computed, rootDigest))
            errors.Add($"statement is inconsistent: the subject digest {Convert.ToHexStringLower(rootDigest)} is not the sha256 of the listed resource digests ({Convert.ToHexStringLower(computed)})");
        CheckDuplicates(entries, errors);
        return new SignedManifest
        {
            PredicateType = PredicateV1,
            ModelName = modelName,
            Sharded = sharded,
            ShardSize = shardSize,
            AllowSymlinks = allowSymlinks,
            IgnorePaths = ignorePaths,
            Entries = entries,
            ConsistencyErrors = errors,
        };
    }

    /// <summary>0.2 Digests / ShardDigests: every file or shard is a subject; the real algorithm is an annotation.</summary>
    private static SignedManifest ParseSubjects(JsonCursor root, string predicateType, bool sharded)
    {
        var entries = new List<ManifestEntry>();
        long? shardSize = null;
        foreach (var subject in root.Property("subject").Items(MaxEntries))
        {
            subject.RequireObject();
            var digest = subject.Property("digest").RequireObject().Property("sha256");
            string algorithmName = "sha256";
            JsonCursor algorithmField = digest;
            if (subject.TryProperty("annotations", out var annotations) && annotations.RequireObject().TryProperty("actual_hash_algorithm", out var actual))
            {
                algorithmName = actual.AsString();
                algorithmField = actual;
            }
            var entry = ReadEntry(subject.Property("name"), algorithmField, digest, sharded, algorithmName);
            if (sharded && Digests.TryParse(algorithmName, out _, out long? size) && size is not null) shardSize ??= size;
            entries.Add(entry);
        }
        var errors = new List<string>();
        CheckDuplicates(entries, errors);
        return new SignedManifest { PredicateType = predicateType, Sharded = sharded, ShardSize = shardSize, Entries = entries, ConsistencyErrors = errors };
    }

    /// <summary>0.2 DigestOfDigests / DigestOfShardDigests: digests in predicate.files or predicate.shards, one subject
    /// carrying the sha256 of their concatenation.</summary>
    private static SignedManifest ParseDigestOfDigests(JsonCursor root, string predicateType, string listName, bool sharded)
    {
        var (modelName, rootDigest) = SingleSubject(root);
        var entries = new List<ManifestEntry>();
        long? shardSize = null;
        using var concatenated = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var item in root.Property("predicate").RequireObject().Property(listName).Items(MaxEntries))
        {
            item.RequireObject();
            var algorithm = item.Property("algorithm");
            var entry = ReadEntry(item.Property("name"), algorithm, item.Property("digest"), sharded);
            if (sharded && Digests.TryParse(algorithm.AsString(), out _, out long? size) && size is not null) shardSize ??= size;
            concatenated.AppendData(entry.Digest);
            entries.Add(entry);
        }
        var errors = new List<string>();
        var computed = concatenated.GetHashAndReset();
        if (!CryptographicOperations.FixedTimeEquals(computed, rootDigest))
            errors.Add($"statement is inconsistent: the subject digest {Convert.ToHexStringLower(rootDigest)} is not the sha256 of the listed digests ({Convert.ToHexStringLower(computed)})");
        CheckDuplicates(entries, errors);
        return new SignedManifest { PredicateType = predicateType, ModelName = modelName, Sharded = sharded, ShardSize = shardSize, Entries = entries, ConsistencyErrors = errors };
    }

    private static (string? Name, byte[] Digest) SingleSubject(JsonCursor root)
    {
        var subjects = root.Property("subject").Items(1_000).ToList();
        if (subjects.Count != 1) throw root.Property("subject").Error($"expected exactly one subject, found {subjects.Count}");
        var subject = subjects[0].RequireObject();
        var digest = subject.Property("digest").RequireObject().Property("sha256").AsHex(32);
        if (digest.Length != 32) throw subject.Property("digest").Property("sha256").Error("a sha256 digest has 32 bytes");
        return (subject.OptionalString("name"), digest);
    }

    private static ManifestEntry ReadEntry(JsonCursor nameField, JsonCursor algorithmField, JsonCursor digestField, bool sharded, string? algorithmName = null)
    {
        algorithmName ??= algorithmField.AsString();
        if (!Digests.TryParse(algorithmName, out var algorithm, out _))
            throw algorithmField.Error($"unsupported digest algorithm '{algorithmName}' (known: sha256, blake2b, blake3)");
        var digest = digestField.AsHex(64);
        if (digest.Length != Digests.Size(algorithm))
            throw digestField.Error($"a {Digests.Name(algorithm)} digest has {Digests.Size(algorithm)} bytes, found {digest.Length}");
        string name = nameField.AsString();
        if (!sharded) return new ManifestEntry(NormalizePath(name), null, null, algorithm, digest);
        if (!TryParseShardName(name, out string path, out long start, out long end))
            throw nameField.Error($"shard name '{name}' is not PATH:START:END with 0 <= START <= END");
        return new ManifestEntry(NormalizePath(path), start, end, algorithm, digest);
    }

    internal static bool TryParseShardName(string name, out string path, out long start, out long end)
    {
        path = "";
        start = end = 0;
        int second = name.LastIndexOf(':');
        int first = second > 0 ? name.LastIndexOf(':', second - 1) : -1;
        if (first < 0) return false;
        path = name[..first];
        return long.TryParse(name.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture, out start)
            && long.TryParse(name.AsSpan(second + 1), NumberStyles.None, CultureInfo.InvariantCulture, out end)
            && start <= end;
    }

    private static bool ReadFlag(JsonCursor value) =>
        value.Kind == JsonValueKind.String
            ? value.AsString() switch
            {
                "true" or "True" => true,
                "false" or "False" => false,
                _ => throw value.Error("expected true or false"),
            }
            : value.AsBool();

    private static void CheckDuplicates(List<ManifestEntry> entries, List<string> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (!seen.Add(entry.Name))
            {
                errors.Add($"statement lists '{entry.Name}' more than once");
                return;
            }
        }
    }

    /// <summary>Normalizes a POSIX relative path the way Python's PurePosixPath does: empty and "." components
    /// dropped, so "a//b", "./a/b" and "a/b/" are all "a/b"; the empty path is ".".</summary>
    public static string NormalizePath(string name)
    {
        bool absolute = name.StartsWith('/');
        string joined = string.Join('/', name.Split('/').Where(p => p.Length > 0 && p != "."));
        if (absolute) return "/" + joined;
        return joined.Length == 0 ? "." : joined;
    }

    /// <summary>Orders entries as the reference implementation does before it hashes the subject digest: by path
    /// components (Python compares PurePosixPath part lists), then by shard start and end.</summary>
    public static int CompareEntries(ManifestEntry a, ManifestEntry b)
    {
        int byPath = ComparePaths(a.Path, b.Path);
        if (byPath != 0) return byPath;
        int byStart = (a.Start ?? 0).CompareTo(b.Start ?? 0);
        return byStart != 0 ? byStart : (a.End ?? 0).CompareTo(b.End ?? 0);
    }

    public static int ComparePaths(string a, string b)
    {
        var pa = a == "." ? [] : a.Split('/');
        var pb = b == "." ? [] : b.Split('/');
        for (int i = 0; i < Math.Min(pa.Length, pb.Length); i++)
        {
            int c = CompareCodePoints(pa[i], pb[i]);
            if (c != 0) return c;
        }
        return pa.Length.CompareTo(pb.Length);
    }

    /// <summary>Python compares str by code point; UTF-16 ordinal order differs only above the surrogate range.</summary>
    private static int CompareCodePoints(string a, string b)
    {
        var ea = a.EnumerateRunes();
        var eb = b.EnumerateRunes();
        while (true)
        {
            bool ha = ea.MoveNext(), hb = eb.MoveNext();
            if (!ha || !hb) return ha.CompareTo(hb);
            int c = ea.Current.Value.CompareTo(eb.Current.Value);
            if (c != 0) return c;
        }
    }

    /// <summary>
    /// Writes a model_signing v1.0 statement: one subject named after the model whose sha256 covers the resource
    /// digests in order, predicate <c>https://model_signing/signature/v1.0</c> with the serialization description
    /// and every resource. Entries must already be sorted with <see cref="CompareEntries"/>.
    /// </summary>
    public static byte[] BuildV1(string modelName, bool sharded, DigestAlgorithm algorithm, long? shardSize, IReadOnlyList<ManifestEntry> entries)
    {
        using var concatenated = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var entry in entries) concatenated.AppendData(entry.Digest);
        string rootDigest = Convert.ToHexStringLower(concatenated.GetHashAndReset());
        string resourceAlgorithm = sharded ? $"{Digests.Name(algorithm)}-sharded-{shardSize}" : Digests.Name(algorithm);

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("_type", StatementType);
            writer.WriteStartArray("subject");
            writer.WriteStartObject();
            writer.WriteString("name", modelName);
            writer.WriteStartObject("digest");
            writer.WriteString("sha256", rootDigest);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteString("predicateType", PredicateV1);
            writer.WriteStartObject("predicate");
            writer.WriteStartObject("serialization");
            writer.WriteString("method", sharded ? "shards" : "files");
            writer.WriteString("hash_type", Digests.Name(algorithm));
            writer.WriteBoolean("allow_symlinks", false);
            if (sharded) writer.WriteNumber("shard_size", shardSize!.Value);
            writer.WriteEndObject();
            writer.WriteStartArray("resources");
            foreach (var entry in entries)
            {
                writer.WriteStartObject();
                writer.WriteString("algorithm", resourceAlgorithm);
                writer.WriteString("digest", Convert.ToHexStringLower(entry.Digest));
                writer.WriteString("name", entry.Name);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
