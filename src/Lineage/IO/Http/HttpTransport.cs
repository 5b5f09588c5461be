using System.Net;
using System.Net.Http.Headers;

namespace Lineage.IO.Http;

/// <summary>Counters shared by the requests made for one object or one remote model.</summary>
internal sealed class TransferCounters : ITransferMeter, IDisposable
{
    private long _bytes;
    private long _requests;
    private long _retries;

    public long BytesTransferred => Interlocked.Read(ref _bytes);

    public long Requests => Interlocked.Read(ref _requests);

    public long Retries => Interlocked.Read(ref _retries);

    public void AddBytes(int n) => Interlocked.Add(ref _bytes, n);

    public void AddRequest() => Interlocked.Increment(ref _requests);

    public void AddRetry() => Interlocked.Increment(ref _retries);

    /// <summary>Takes over the counts of a source that is being discarded (a probed file that was not chosen).</summary>
    public void Add(ITransferMeter other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Interlocked.Add(ref _bytes, other.BytesTransferred);
        Interlocked.Add(ref _requests, other.Requests);
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// The HTTP plumbing shared by range reads and whole-file fetches: one pooled client, redirects followed by
/// hand (so a bearer token never leaves its host and the final, possibly signed, URL is known), status
/// classification, and the retry delay policy (exponential backoff with jitter, honouring Retry-After).
/// </summary>
internal static class HttpTransport
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(30),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = 32,
        UseCookies = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// Sends a GET (with a Range header when <paramref name="range"/> is set), following up to MaxRedirects
    /// redirects. Returns after the response headers; the caller owns and disposes the response.
    /// </summary>
    public static async Task<(HttpResponseMessage Response, Uri Final)> SendAsync(
        Uri uri, RangeHeaderValue? range, HttpRangeOptions options, string tokenAuthority, TransferCounters counters, string name, CancellationToken ct)
    {
        Uri current = uri;
        for (int hop = 0; ; hop++)
        {
            // HTTP/2 where the server offers it (one connection multiplexes the parallel range requests).
            using var request = new HttpRequestMessage(HttpMethod.Get, current) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
            if (range is not null) request.Headers.Range = range;
            // Ranges address the stored bytes; a compressed representation would make offsets meaningless.
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("lineage", "1"));
            if (options.BearerToken is { Length: > 0 } token && string.Equals(current.Authority, tokenAuthority, StringComparison.OrdinalIgnoreCase))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            counters.AddRequest();
            var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (!IsRedirect(response.StatusCode)) return (response, current);
            var location = response.Headers.Location;
            response.Dispose();
            if (location is null) throw new LineageException($"HTTP {(int)response.StatusCode} redirect without a Location header", name);
            if (hop >= options.MaxRedirects) throw new LineageException($"more than {options.MaxRedirects} redirects", name);
            var next = location.IsAbsoluteUri ? location : new Uri(current, location);
            if (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps)
                throw new LineageException($"redirect to unsupported scheme '{next.Scheme}'", name);
            if (current.Scheme == Uri.UriSchemeHttps && next.Scheme == Uri.UriSchemeHttp)
                throw new LineageException("redirect from https to plain http refused", name);
            current = next;
        }
    }

    private static bool IsRedirect(HttpStatusCode code) =>
        code is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>Statuses worth retrying: overload, throttling, gateway trouble, request timeout.</summary>
    public static bool IsTransientStatus(HttpStatusCode code) =>
        code is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or (HttpStatusCode)425
        || (int)code >= 500 && code is not HttpStatusCode.NotImplemented and not HttpStatusCode.HttpVersionNotSupported;

    /// <summary>Failures of the connection or the wait that a later attempt may not see (not the caller's own cancellation).</summary>
    public static bool IsTransient(Exception e, CancellationToken callerToken) => e switch
    {
        HttpRequestException h => h.HttpRequestError is not HttpRequestError.NameResolutionError and not HttpRequestError.SecureConnectionError
            and not HttpRequestError.ConfigurationLimitExceeded and not HttpRequestError.VersionNegotiationError,
        IOException => true,
        OperationCanceledException => !callerToken.IsCancellationRequested,
        _ => false,
    };

    public static string Describe(Exception e) => e switch
    {
        OperationCanceledException => "timed out",
        HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } h => $"{h.HttpRequestError}: {h.Message}",
        _ => e.Message,
    };

    /// <summary>The error for a status that is neither success nor transient.</summary>
    public static LineageException StatusError(HttpResponseMessage response, string name, long? offset)
    {
        int code = (int)response.StatusCode;
        string hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => " (access denied: for a gated or private Hugging Face model set HF_TOKEN)",
            HttpStatusCode.NotFound or HttpStatusCode.Gone => " (not found)",
            _ => "",
        };
        return new LineageException($"HTTP {code} {response.ReasonPhrase}{hint}", name, offset);
    }

    /// <summary>Delay before retry number <paramref name="failures"/>: exponential with jitter, at least a server's Retry-After, never above the cap.</summary>
    public static TimeSpan Backoff(int failures, RetryConditionHeaderValue? retryAfterHeader, HttpRangeOptions options)
    {
        double ceiling = Math.Min(options.MaxRetryDelay.TotalMilliseconds, options.BaseRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30)));
        double ms = ceiling * (0.5 + Random.Shared.NextDouble() * 0.5);
        if (retryAfterHeader is { } retryAfter)
        {
            var hinted = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - DateTimeOffset.UtcNow : TimeSpan.Zero);
            ms = Math.Max(ms, hinted.TotalMilliseconds);
        }
        return TimeSpan.FromMilliseconds(Math.Clamp(ms, 0, options.MaxRetryDelay.TotalMilliseconds));
    }

    /// <summary>
    /// Fetches a small object whole (API answers, config and tokenizer files), with retries. Returns null for 404
    /// when <paramref name="allowMissing"/>. Bodies larger than <paramref name="maxBytes"/> are refused before or
    /// while reading, never buffered.
    /// </summary>
    public static async Task<byte[]?> GetWholeAsync(Uri uri, long maxBytes, HttpRangeOptions options, string tokenAuthority, TransferCounters counters, bool allowMissing, CancellationToken ct)
    {
        string name = uri.ToString();
        int failures = 0;
        while (true)
        {
            RetryConditionHeaderValue? retryHint = null;
            string error;
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(options.ResponseTimeout);
                var (response, _) = await SendAsync(uri, null, options, tokenAuthority, counters, name, attempt.Token).ConfigureAwait(false);
                using (response)
                {
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        long? declared = response.Content.Headers.ContentLength;
                        if (declared > maxBytes) throw new LineageException($"{declared}-byte file exceeds the {maxBytes}-byte limit", name);
                        using var body = await response.Content.ReadAsStreamAsync(attempt.Token).ConfigureAwait(false);
                        var buffer = new MemoryStream();
                        var chunk = new byte[81920];
                        while (true)
                        {
                            attempt.CancelAfter(options.IdleTimeout);
                            int n = await body.ReadAsync(chunk, attempt.Token).ConfigureAwait(false);
                            if (n == 0) break;
                            counters.AddBytes(n);
                            if (buffer.Length + n > maxBytes) throw new LineageException($"file exceeds the {maxBytes}-byte limit", name, buffer.Length);
                            buffer.Write(chunk, 0, n);
                        }
                        if (declared is long d && buffer.Length != d)
                            throw new IOException($"connection closed after {buffer.Length} of {d} bytes");
                        return buffer.ToArray();
                    }
                    if (allowMissing && response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone) return null;
                    if (!IsTransientStatus(response.StatusCode)) throw StatusError(response, name, null);
                    error = $"HTTP {(int)response.StatusCode}";
                    retryHint = response.Headers.RetryAfter;
                }
            }
            catch (Exception e) when (IsTransient(e, ct))
            {
                error = Describe(e);
            }
            failures++;
            if (failures >= options.MaxAttempts)
                throw new LineageException($"giving up after {failures} attempts: {error}", name);
            counters.AddRetry();
            await Task.Delay(Backoff(failures, retryHint, options), ct).ConfigureAwait(false);
        }
    }
}
