namespace Lineage.IO.Http;

/// <summary>
/// Limits and policies of <see cref="HttpRangeSource"/>. Every wait has a timeout, every retry loop a bound and
/// every buffer a size cap, so a slow, hostile or broken server produces an error instead of a hang or an
/// unbounded allocation. Not a record on purpose: the token must never appear in a generated ToString.
/// </summary>
public sealed class HttpRangeOptions
{
    public static HttpRangeOptions Default { get; } = new();

    /// <summary>Memory for cached extents of one object (least recently used are dropped first).</summary>
    public long CacheBytes { get; init; } = 128L << 20;

    /// <summary>Bytes fetched by the first request (size discovery plus the header most formats start with), and the first read-ahead step of a sequential scan.</summary>
    public int ReadAheadBytes { get; init; } = 64 << 10;

    /// <summary>Read-ahead doubles while a scan stays sequential (GGUF vocabularies, long safetensors headers), up to this.</summary>
    public int MaxReadAheadBytes { get; init; } = 4 << 20;

    /// <summary>Largest single range request; longer spans are split and fetched in parallel.</summary>
    public int MaxRequestBytes { get; init; } = 8 << 20;

    /// <summary>Uncached gaps separated by at most this many cached bytes are fetched as one request.</summary>
    public int CoalesceBytes { get; init; } = 16 << 10;

    /// <summary>Concurrent requests for one read or prefetch batch.</summary>
    public int MaxParallelRequests { get; init; } = 32;

    /// <summary>Consecutive failed attempts (no bytes received) before a read gives up.</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>First retry delay; doubles per failure with full jitter.</summary>
    public TimeSpan BaseRetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Upper bound of one retry delay, including a server's Retry-After.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Time allowed from sending a request to receiving the response headers.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest silence allowed while a response body is streaming.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A server that ignores Range and answers 200 with the whole body is tolerated for objects up to this size
    /// (the body is kept in memory); larger objects fail rather than being downloaded whole.
    /// </summary>
    public long WholeObjectLimit { get; init; } = 8L << 20;

    public int MaxRedirects { get; init; } = 10;

    /// <summary>Bearer token (e.g. HF_TOKEN). Sent only to <see cref="TokenHost"/>, never across redirects to other hosts, never logged.</summary>
    public string? BearerToken { get; init; }

    /// <summary>Host the token may be sent to; null means the host of the URL being opened.</summary>
    public string? TokenHost { get; init; }

    /// <summary>A copy with a different cache size and/or token.</summary>
    internal HttpRangeOptions With(long? cacheBytes = null, string? bearerToken = null, string? tokenHost = null) => new()
    {
        CacheBytes = cacheBytes ?? CacheBytes,
        ReadAheadBytes = ReadAheadBytes,
        MaxReadAheadBytes = MaxReadAheadBytes,
        MaxRequestBytes = MaxRequestBytes,
        CoalesceBytes = CoalesceBytes,
        MaxParallelRequests = MaxParallelRequests,
        MaxAttempts = MaxAttempts,
        BaseRetryDelay = BaseRetryDelay,
        MaxRetryDelay = MaxRetryDelay,
        ResponseTimeout = ResponseTimeout,
        IdleTimeout = IdleTimeout,
        WholeObjectLimit = WholeObjectLimit,
        MaxRedirects = MaxRedirects,
        BearerToken = bearerToken ?? BearerToken,
        TokenHost = tokenHost ?? TokenHost,
    };

    internal HttpRangeOptions Validated()
    {
        if (CacheBytes < 0 || ReadAheadBytes <= 0 || MaxReadAheadBytes < ReadAheadBytes || MaxRequestBytes < ReadAheadBytes
            || CoalesceBytes < 0 || MaxParallelRequests <= 0 || MaxAttempts <= 0 || WholeObjectLimit < 0 || MaxRedirects < 0
            || BaseRetryDelay < TimeSpan.Zero || MaxRetryDelay < BaseRetryDelay || ResponseTimeout <= TimeSpan.Zero || IdleTimeout <= TimeSpan.Zero)
            throw new ArgumentException("inconsistent HTTP range options");
        return this;
    }

    public override string ToString() => $"HttpRangeOptions(cache {CacheBytes}, read-ahead {ReadAheadBytes}..{MaxReadAheadBytes}, attempts {MaxAttempts}, token {(BearerToken is null ? "none" : "set")})";
}
