using Lineage.Provenance;

namespace Lineage.Store;

/// <summary>One stored model: its user-given id, family, fingerprint (by content id) and index keys.</summary>
public sealed record StoreEntry
{
    /// <summary>The user's name for the model; unique in a store.</summary>
    public required string ModelId { get; init; }

    public string? Family { get; init; }

    /// <summary>SHA-256 of the serialized fingerprint (see <see cref="FingerprintSerializer.Id"/>).</summary>
    public required string ContentId { get; init; }

    /// <summary>Where the model was read from when it was added (informational).</summary>
    public string? Source { get; init; }

    /// <summary>Content key of the model's files when added from a model (null for imported fingerprints).</summary>
    public string? ModelKey { get; init; }

    public required IndexKeys Keys { get; init; }

    public long FingerprintBytes { get; init; }

    public DateTimeOffset Created { get; init; }
}

/// <summary>
/// A pruning result: an entry whose keys agree with the query's, with its ranking sketch and the number of
/// sketch band keys it shares with the query (0 for entries found by keys alone).
/// </summary>
public sealed record CandidateEntry(StoreEntry Entry, int SharedVocabularyKeys, int Affinity, WeightSketch Sketch, int SharedBands = 0);

/// <summary>What <see cref="IFingerprintStore.FindCandidates(CandidateQuery)"/> looks for.</summary>
public sealed record CandidateQuery
{
    public required IndexKeys Keys { get; init; }

    /// <summary>The query's <see cref="SketchBands"/> (ascending); empty when it has no sketch.</summary>
    public IReadOnlyList<int> Bands { get; init; } = [];

    /// <summary>Most candidates returned (band neighbours when <see cref="Bands"/> is set, else key matches).</summary>
    public int Limit { get; init; } = 256;

    /// <summary>With bands: most entries without a sketch returned in addition (best key affinity first).</summary>
    public int UnsketchedLimit { get; init; } = 16;

    public static CandidateQuery From(Fingerprint fingerprint, int limit = 256, int unsketchedLimit = 16)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        return new CandidateQuery
        {
            Keys = IndexKeys.From(fingerprint), Bands = SketchBands.Of(WeightSketch.From(fingerprint)), Limit = limit, UnsketchedLimit = unsketchedLimit,
        };
    }
}

/// <summary>What to add: a fingerprint (with its exact serialized bytes) under a model id.</summary>
public sealed record NewEntry
{
    public required string ModelId { get; init; }

    public string? Family { get; init; }

    public required Fingerprint Fingerprint { get; init; }

    /// <summary>The serialized fingerprint; its SHA-256 becomes the content id.</summary>
    public required byte[] Serialized { get; init; }

    public string? Source { get; init; }

    public string? ModelKey { get; init; }

    /// <summary>Creation time to keep (imports); null = now.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>Refuses ids and family names no store keeps (every backend applies the same rule).</summary>
    internal static void Validate(NewEntry entry, string location)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (string.IsNullOrWhiteSpace(entry.ModelId) || entry.ModelId.Length > 1024 || entry.ModelId.Any(char.IsControl))
            throw new LineageException($"model id '{entry.ModelId}' is empty, too long or has control characters", location);
        if (entry.Family is { } f && (f.Length > 1024 || f.Any(char.IsControl)))
            throw new LineageException("family name is too long or has control characters", location);
    }
}

/// <summary>A cached content key of a model's files and the fingerprint computed from them.</summary>
public sealed record CachedModelKey
{
    /// <summary>The full key (what an entry's <see cref="StoreEntry.ModelKey"/> holds).</summary>
    public required string Key { get; init; }

    /// <summary>The part computable without fingerprinting (for sampled keys: structure and tool); equals Key for full keys.</summary>
    public required string LookupKey { get; init; }

    /// <summary>Byte ranges a sampled key covers (see <see cref="ContentKey"/>); empty for full keys.</summary>
    public byte[] Ranges { get; init; } = [];

    public required string ContentId { get; init; }

    /// <summary>The content id of a key's serialized fingerprint, checked against <see cref="ContentId"/>.</summary>
    internal static string CheckedContentId(CachedModelKey key, byte[] serializedFingerprint)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(serializedFingerprint);
        string contentId = FingerprintSerializer.Id(serializedFingerprint);
        if (contentId != key.ContentId) throw new ArgumentException("content id does not match the fingerprint bytes", nameof(key));
        return contentId;
    }
}

/// <summary>What to do when an added model id already exists.</summary>
public enum ConflictPolicy
{
    /// <summary>Fail (nothing is written).</summary>
    Fail,

    /// <summary>Replace the existing entry.</summary>
    Replace,

    /// <summary>Keep the existing entry and skip the new one.</summary>
    Skip,
}

/// <summary>
/// A fingerprint store. Semantics every backend (<see cref="SqliteFingerprintStore"/>,
/// <see cref="PostgresFingerprintStore"/>) keeps:
/// <list type="bullet">
/// <item>Every write is one transaction: an interrupted or failed write leaves no partial entry (an entry is
/// visible only together with its fingerprint bytes and index keys), and a batch is all or nothing.</item>
/// <item>Readers never see a half-written entry and are not blocked by a writer; writers serialise.</item>
/// <item>Model ids are unique; fingerprints are stored once per content id and shared by entries and the
/// content-key cache; a fingerprint no entry or cache row refers to is deleted with its last reference.</item>
/// <item>The schema carries a version; a store migrates an older schema on first use, in a transaction, and
/// refuses a newer one.</item>
/// <item>Candidate pruning (see <see cref="FindCandidates(CandidateQuery)"/>) implements
/// <see cref="IndexKeys.IsCandidate"/> and, when the query has sketch bands, keeps only band neighbours (entries
/// sharing a <see cref="SketchBands"/> key) plus a few entries without a sketch; it is served by indexes, so its
/// cost follows the number of neighbours, not the size of the store.</item>
/// <item>Ties are broken by model id in ordinal (byte) order, so every backend returns the same list.</item>
/// </list>
/// Instances are safe to use from several threads.
/// </summary>
public interface IFingerprintStore : IDisposable
{
    /// <summary>Where the store lives (file path or connection description), for messages.</summary>
    string Location { get; }

    int Count { get; }

    /// <summary>
    /// The number of entries for statistics (identify reports how many it searched): exact on small stores,
    /// the planner's estimate on large registries, where an exact count would scan the whole table on every
    /// query and cost more than the search itself.
    /// </summary>
    int ApproximateCount => Count;

    /// <summary>
    /// Adds entries in one transaction (the sequence is consumed inside it, so a large import streams).
    /// Returns the entries written (skipped ones are left out).
    /// </summary>
    IReadOnlyList<StoreEntry> Add(IEnumerable<NewEntry> entries, ConflictPolicy conflicts = ConflictPolicy.Fail);

    bool Remove(string modelId);

    StoreEntry? Find(string modelId);

    /// <summary>All entries, ordered by model id.</summary>
    IReadOnlyList<StoreEntry> List();

    /// <summary>Entries added from a model whose files had this content key.</summary>
    IReadOnlyList<StoreEntry> FindByModelKey(string modelKey);

    /// <summary>The serialized fingerprint bytes of a content id, or null.</summary>
    byte[]? ReadFingerprint(string contentId);

    /// <summary>
    /// Candidates for a query. With <see cref="CandidateQuery.Bands"/>: entries with a sketch that share at least
    /// one band key with the query and pass <see cref="IndexKeys.IsCandidate"/>, most shared bands first, then
    /// highest <see cref="IndexKeys.Affinity"/>, then model id (at most <see cref="CandidateQuery.Limit"/>),
    /// followed by entries without a sketch that pass <see cref="IndexKeys.IsCandidate"/>, highest affinity first
    /// (at most <see cref="CandidateQuery.UnsketchedLimit"/>). Without bands: every entry that passes
    /// <see cref="IndexKeys.IsCandidate"/>, highest affinity first (at most <see cref="CandidateQuery.Limit"/>).
    /// </summary>
    IReadOnlyList<CandidateEntry> FindCandidates(CandidateQuery query);

    /// <summary>Cached content keys with this lookup key.</summary>
    IReadOnlyList<CachedModelKey> FindCachedKeys(string lookupKey);

    /// <summary>Caches a model content key with its fingerprint (one transaction).</summary>
    void CacheKey(CachedModelKey key, byte[] serializedFingerprint);
}

public static class FingerprintStoreExtensions
{
    /// <summary>Key-only pruning (no sketch bands): entries that pass <see cref="IndexKeys.IsCandidate"/>, best affinity first.</summary>
    public static IReadOnlyList<CandidateEntry> FindCandidates(this IFingerprintStore store, IndexKeys keys, int limit)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.FindCandidates(new CandidateQuery { Keys = keys, Limit = limit });
    }

    public static StoreEntry Add(this IFingerprintStore store, NewEntry entry, ConflictPolicy conflicts = ConflictPolicy.Fail)
    {
        ArgumentNullException.ThrowIfNull(store);
        var added = store.Add([entry], conflicts);
        return added.Count > 0 ? added[0] : store.Find(entry.ModelId)!;
    }

    /// <summary>Loads and parses an entry's fingerprint.</summary>
    public static Fingerprint LoadFingerprint(this IFingerprintStore store, StoreEntry entry)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(entry);
        var bytes = store.ReadFingerprint(entry.ContentId)
            ?? throw new LineageException($"fingerprint {entry.ContentId} of '{entry.ModelId}' is missing", store.Location);
        return FingerprintSerializer.Deserialize(bytes, $"{store.Location}#{entry.ModelId}");
    }
}
