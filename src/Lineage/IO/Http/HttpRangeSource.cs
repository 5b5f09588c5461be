using System.Net;
using System.Net.Http.Headers;

namespace Lineage.IO.Http;

/// <summary>
/// A remote object read with HTTP Range requests, so readers parse a safetensors or GGUF header and sample
/// tensor rows from a multi-gigabyte file without downloading it.
/// <list type="bullet">
/// <item>Opening sends one range request for the first <see cref="HttpRangeOptions.ReadAheadBytes"/>: it learns
/// the size from Content-Range, pins the ETag / Last-Modified, checks that the server honours Range, and
/// usually brings the whole format header along.</item>
/// <item>Reads are served from a bounded LRU cache of fetched extents; a miss fetches exactly the missing gaps
/// (gaps closer than <see cref="HttpRangeOptions.CoalesceBytes"/> merged into one request, long spans split
/// and fetched in parallel), plus a read-ahead that doubles while a scan stays sequential.</item>
/// <item>Transient failures (5xx, 429, timeouts, dropped connections) are retried with exponential backoff and
/// jitter; a body cut off midway resumes from the last received byte.</item>
/// <item>A server that answers a range request with 200 and the whole body is tolerated only for small objects
/// (<see cref="HttpRangeOptions.WholeObjectLimit"/>); an object whose ETag, Last-Modified or size changes
/// mid-read is refused.</item>
/// </list>
/// Every failure is a <see cref="LineageException"/> naming the URL and the byte offset.
/// </summary>
public sealed class HttpRangeSource : IByteSource, ITransferMeter
{
    /// <summary>Reads are processed in windows of this size so buffers stay bounded whatever the caller asks.</summary>
    private const int ReadWindowBytes = 64 << 20;

    private readonly HttpRangeOptions _options;
    private readonly Uri _uri;
    private readonly string _tokenAuthority;
    private readonly ExtentCache _cache;
    private readonly TransferCounters _counters = new();
    private readonly CancellationTokenSource _life = new();
    private readonly Lock _state = new();
    private Uri _effective;
    private byte[]? _whole;
    private string? _etag;
    private DateTimeOffset? _lastModified;
    private long _bytesRead;
    private long _resumes;
    private long _sequentialEnd = -1;
    private int _readAhead;
    private volatile bool _disposed;

    private HttpRangeSource(Uri uri, HttpRangeOptions options)
    {
        _uri = uri;
        _effective = uri;
        _options = options;
        _tokenAuthority = options.TokenHost ?? uri.Authority;
        _cache = new ExtentCache(options.CacheBytes);
        _readAhead = options.ReadAheadBytes;
        Name = uri.ToString();
    }

    /// <summary>The URL as given (never a redirect target, which may carry a signature).</summary>
    public string Name { get; }

    public long Length { get; private set; }

    /// <summary>Bytes handed to readers (the same count a local memory-mapped file would report).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Response body bytes that crossed the network (read-ahead, retries and resumed parts included).</summary>
    public long BytesTransferred => _counters.BytesTransferred;

    public long Requests => _counters.Requests;

    /// <summary>Attempts that were retried after a transient failure.</summary>
    public long Retries => _counters.Retries;

    /// <summary>Bodies cut off midway and continued from the received offset.</summary>
    public long Resumes => Interlocked.Read(ref _resumes);

    /// <summary>True when the server ignored Range and the (small) object was read whole.</summary>
    public bool ReadWhole => _whole is not null;

    /// <summary>The validator the object is pinned to (null when the server sent none).</summary>
    public string? ETag => _etag;

    internal long CachedBytes => _cache.Bytes;

    /// <summary>Opens <paramref name="url"/> (http or https): one request that discovers the size and validates range support.</summary>
    public static HttpRangeSource Open(string url, HttpRangeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new LineageException("not an http(s) URL", url);
        return Open(uri, options);
    }

    public static HttpRangeSource Open(Uri uri, HttpRangeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var source = new HttpRangeSource(uri, (options ?? HttpRangeOptions.Default).Validated());
        try
        {
            source.Run(ct => source.ProbeAsync(ct), 0);
            return source;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    public void ReadExactly(long offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        this.CheckRange(offset, destination.Length);
        Interlocked.Add(ref _bytesRead, destination.Length);
        if (destination.Length == 0) return;
        for (int done = 0; done < destination.Length; done += ReadWindowBytes)
        {
            int n = Math.Min(ReadWindowBytes, destination.Length - done);
            ReadWindow(offset + done, destination.Slice(done, n));
        }
    }

    /// <summary>Fetches the uncached parts of <paramref name="ranges"/> in parallel (bounded by half the cache).</summary>
    public void Prefetch(IReadOnlyList<ByteRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        if (_disposed || _whole is not null || ranges.Count == 0) return;
        var gaps = new List<ByteRange>();
        long budget = _options.CacheBytes / 2;
        foreach (var r in ranges.Where(r => r.Length > 0 && r.Offset >= 0 && r.Offset <= Length && r.Length <= Length - r.Offset).OrderBy(r => r.Offset))
        {
            foreach (var g in _cache.Gaps(r.Offset, r.Length))
            {
                if (budget < g.Length) break;
                budget -= g.Length;
                gaps.Add(g);
            }
        }
        if (gaps.Count == 0) return;
        gaps = [.. Normalize(gaps)];
        var plan = Split(Coalesce(gaps));
        foreach (var (start, data) in FetchAll(plan)) _cache.Add(start, data);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _life.Cancel();
        _cache.Clear();
        _counters.Dispose();
    }

    private void ReadWindow(long offset, Span<byte> destination)
    {
        if (_whole is { } whole)
        {
            whole.AsSpan((int)offset, destination.Length).CopyTo(destination);
            return;
        }
        var gaps = _cache.CopyOut(offset, destination);
        if (gaps.Count == 0) return;
        var plan = Split(ExtendSequential(Coalesce(gaps)));
        long end = offset + destination.Length;
        foreach (var (start, data) in FetchAll(plan))
        {
            long from = Math.Max(start, offset), to = Math.Min(end, start + data.Length);
            if (to > from) data.AsSpan((int)(from - start), (int)(to - from)).CopyTo(destination[(int)(from - offset)..]);
            _cache.Add(start, data);
        }
    }

    /// <summary>Sorted, disjoint ranges (prefetch lists may overlap).</summary>
    private static IEnumerable<ByteRange> Normalize(List<ByteRange> ranges)
    {
        ranges.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        ByteRange? current = null;
        foreach (var r in ranges)
        {
            if (current is { } c && r.Offset <= c.End)
            {
                current = new ByteRange(c.Offset, Math.Max(c.End, r.End) - c.Offset);
                continue;
            }
            if (current is { } done) yield return done;
            current = r;
        }
        if (current is { } last) yield return last;
    }

    /// <summary>Merges gaps separated by few cached bytes: a round trip costs more than re-fetching them.</summary>
    private List<ByteRange> Coalesce(List<ByteRange> gaps)
    {
        var merged = new List<ByteRange>(gaps.Count);
        foreach (var g in gaps)
        {
            if (merged.Count > 0 && g.Offset - merged[^1].End <= _options.CoalesceBytes)
                merged[^1] = new ByteRange(merged[^1].Offset, g.End - merged[^1].Offset);
            else
                merged.Add(g);
        }
        return merged;
    }

    /// <summary>
    /// A miss that starts where the previous fetch ended is a sequential scan (a header being parsed): the
    /// fetch grows to a read-ahead window that doubles each time, so a multi-megabyte GGUF vocabulary costs a
    /// handful of requests. Scattered row reads are fetched exactly.
    /// </summary>
    private List<ByteRange> ExtendSequential(List<ByteRange> gaps)
    {
        lock (_state)
        {
            bool sequential = gaps[0].Offset == _sequentialEnd;
            _readAhead = sequential ? Math.Min(_readAhead * 2, _options.MaxReadAheadBytes) : _options.ReadAheadBytes;
            if (sequential)
            {
                var last = gaps[^1];
                long limit = Math.Min(Length, _cache.NextCachedStart(last.End));
                long end = Math.Min(limit, last.Offset + _readAhead);
                if (end > last.End) gaps[^1] = new ByteRange(last.Offset, end - last.Offset);
            }
            _sequentialEnd = gaps[^1].End;
        }
        return gaps;
    }

    private List<ByteRange> Split(List<ByteRange> ranges)
    {
        var plan = new List<ByteRange>(ranges.Count);
        foreach (var r in ranges)
            for (long s = r.Offset; s < r.End; s += _options.MaxRequestBytes)
                plan.Add(new ByteRange(s, Math.Min(_options.MaxRequestBytes, r.End - s)));
        return plan;
    }

    private (long Start, byte[] Data)[] FetchAll(List<ByteRange> plan)
    {
        var results = new (long, byte[])[plan.Count];
        if (plan.Count == 1)
        {
            var only = plan[0];
            results[0] = (only.Offset, Run(ct => FetchAsync(only.Offset, (int)only.Length, ct), only.Offset));
            return results;
        }
        Run(async ct =>
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, plan.Count), new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelRequests, CancellationToken = ct },
                async (i, token) => results[i] = (plan[i].Offset, await FetchAsync(plan[i].Offset, (int)plan[i].Length, token).ConfigureAwait(false))).ConfigureAwait(false);
            return true;
        }, plan[0].Offset);
        return results;
    }

    /// <summary>Runs an asynchronous operation to completion for the synchronous <see cref="IByteSource"/> contract; only <see cref="LineageException"/> escapes.</summary>
    private T Run<T>(Func<CancellationToken, Task<T>> operation, long offset)
    {
        try
        {
            return operation(_life.Token).GetAwaiter().GetResult();
        }
        catch (LineageException)
        {
            throw;
        }
        catch (OperationCanceledException) when (_life.IsCancellationRequested)
        {
            throw new LineageException("read interrupted: the source was closed", Name, offset);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            throw new LineageException($"HTTP read failed: {HttpTransport.Describe(e)}", Name, offset, inner: e);
        }
    }

    private Task<(HttpResponseMessage Response, Uri Final)> SendAsync(long from, long to, CancellationToken ct)
    {
        Uri target;
        lock (_state) target = _effective;
        return HttpTransport.SendAsync(target, new RangeHeaderValue(from, to), _options, _tokenAuthority, _counters, Name, ct);
    }

    /// <summary>
    /// Redirect targets (signed CDN URLs) are reused to save a round trip per request; when one stops working
    /// (expired signature: 401/403, or 404/410) the next attempt goes back to the original URL.
    /// </summary>
    private bool TryForgetRedirect(HttpStatusCode code)
    {
        if (code is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound or HttpStatusCode.Gone)) return false;
        lock (_state)
        {
            if (_effective == _uri) return false;
            _effective = _uri;
            return true;
        }
    }

    private void RememberRedirect(Uri final)
    {
        lock (_state) _effective = final;
    }

    /// <summary>The first request: size, validators, range support, and the leading bytes into the cache.</summary>
    private async Task<bool> ProbeAsync(CancellationToken ct)
    {
        int failures = 0;
        while (true)
        {
            RetryConditionHeaderValue? retryAfter = null;
            string error;
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(_options.ResponseTimeout);
                var (response, final) = await SendAsync(0, _options.ReadAheadBytes - 1, attempt.Token).ConfigureAwait(false);
                using (response)
                {
                    switch (response.StatusCode)
                    {
                        case HttpStatusCode.PartialContent:
                            {
                                var range = response.Content.Headers.ContentRange;
                                if (range is null || !range.HasRange || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase))
                                    throw new LineageException("206 response without a byte Content-Range header", Name, 0);
                                if (range.Length is not long total)
                                    throw new LineageException("server did not state the object's size in Content-Range", Name, 0);
                                if (range.From != 0 || range.To < 0 || range.To >= total)
                                    throw new LineageException($"server answered bytes {range.From}-{range.To}/{total} to a request for the first bytes", Name, 0);
                                Length = total;
                                Pin(response);
                                CheckEncoding(response, 0);
                                RememberRedirect(final);
                                int expected = (int)Math.Min(range.To!.Value + 1, _options.ReadAheadBytes);
                                var head = new byte[expected];
                                int got = 0;
                                try
                                {
                                    got = await ReadBodyAsync(response, head, attempt, ct).ConfigureAwait(false);
                                }
                                catch (Exception e) when (HttpTransport.IsTransient(e, ct))
                                {
                                    // Keep what arrived: the size and validators are known, later reads fetch the rest.
                                }
                                if (got > 0)
                                {
                                    _cache.Add(0, got == expected ? head : head[..got]);
                                    lock (_state) _sequentialEnd = got;
                                }
                                return true;
                            }
                        case HttpStatusCode.OK:
                            await AcceptWholeAsync(response, sized: false, 0, attempt, ct).ConfigureAwait(false);
                            return true;
                        case HttpStatusCode.RequestedRangeNotSatisfiable:
                            if (response.Content.Headers.ContentRange is { Length: 0 })
                            {
                                Length = 0;
                                Pin(response);
                                return true;
                            }
                            throw new LineageException("server refused a range request for the first bytes (HTTP 416)", Name, 0);
                    }
                    if (!HttpTransport.IsTransientStatus(response.StatusCode)) throw HttpTransport.StatusError(response, Name, 0);
                    error = $"HTTP {(int)response.StatusCode}";
                    retryAfter = response.Headers.RetryAfter;
                }
            }
            catch (Exception e) when (HttpTransport.IsTransient(e, ct))
            {
                error = HttpTransport.Describe(e);
            }
            failures++;
            if (failures >= _options.MaxAttempts) throw new LineageException($"giving up after {failures} attempts: {error}", Name, 0);
            _counters.AddRetry();
            await Task.Delay(HttpTransport.Backoff(failures, retryAfter, _options), ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The server ignored Range and is sending the whole object. Acceptable for small objects (kept in memory
    /// and served from there); for anything larger, refuse rather than download a whole checkpoint.
    /// </summary>
    private async Task AcceptWholeAsync(HttpResponseMessage response, bool sized, long offset, CancellationTokenSource attempt, CancellationToken ct)
    {
        long? declared = response.Content.Headers.ContentLength;
        if (declared > _options.WholeObjectLimit || (sized && Length > _options.WholeObjectLimit))
            throw IgnoresRange(sized ? Length : declared!.Value, offset);
        CheckEncoding(response, offset);
        if (sized) CheckPinned(response, offset);
        using var body = await response.Content.ReadAsStreamAsync(attempt.Token).ConfigureAwait(false);
        using var data = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            attempt.CancelAfter(_options.IdleTimeout);
            int n = await body.ReadAsync(chunk, attempt.Token).ConfigureAwait(false);
            if (n == 0) break;
            _counters.AddBytes(n);
            if (data.Length + n > _options.WholeObjectLimit) throw IgnoresRange(-1, offset);
            data.Write(chunk, 0, n);
        }
        ct.ThrowIfCancellationRequested();
        if (declared is long d && data.Length != d) throw new IOException($"connection closed after {data.Length} of {d} bytes");
        var bytes = data.ToArray();
        lock (_state)
        {
            if (sized && bytes.Length != Length)
                throw new LineageException($"object changed during the read: its size went from {Length} to {bytes.Length} bytes", Name, offset);
            if (!sized)
            {
                Length = bytes.Length;
                _etag = response.Headers.ETag?.ToString();
                _lastModified = response.Content.Headers.LastModified;
            }
            _whole = bytes;
        }
        _cache.Clear();
    }

    private LineageException IgnoresRange(long size, long offset) =>
        new($"server ignores HTTP Range requests (it answered 200 with the whole {(size >= 0 ? size + "-byte " : "")}object); " +
            $"refusing to download more than {_options.WholeObjectLimit} bytes whole", Name, offset);

    /// <summary>Fetches exactly [start, start + count), resuming after cut-off bodies and retrying transient failures.</summary>
    private async Task<byte[]> FetchAsync(long start, int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        int received = 0;
        int failures = 0;
        while (received < count)
        {
            if (_whole is { } whole)
            {
                whole.AsSpan((int)start + received, count - received).CopyTo(buffer.AsSpan(received));
                return buffer;
            }
            long from = start + received;
            long last = start + count - 1;
            int before = received;
            RetryConditionHeaderValue? retryAfter = null;
            string error;
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(_options.ResponseTimeout);
                var (response, final) = await SendAsync(from, last, attempt.Token).ConfigureAwait(false);
                using (response)
                {
                    if (response.StatusCode == HttpStatusCode.PartialContent)
                    {
                        var range = response.Content.Headers.ContentRange;
                        if (range is null || !range.HasRange || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase))
                            throw new LineageException("206 response without a byte Content-Range header", Name, from);
                        if (range.Length is long total && total != Length)
                            throw new LineageException($"object changed during the read: its size went from {Length} to {total} bytes", Name, from);
                        if (range.From != from || range.To < from)
                            throw new LineageException($"server answered bytes {range.From}-{range.To} to a request for {from}-{last}", Name, from);
                        CheckPinned(response, from);
                        CheckEncoding(response, from);
                        RememberRedirect(final);
                        int expected = (int)(Math.Min(range.To!.Value, last) - from + 1);
                        await ReadBodyAsync(response, buffer.AsMemory(received, expected), attempt, ct, n => received += n).ConfigureAwait(false);
                        if (received == count) break;
                        error = $"response ended after {received - before} of {expected} bytes";
                    }
                    else if (response.StatusCode == HttpStatusCode.OK)
                    {
                        await AcceptWholeAsync(response, sized: true, from, attempt, ct).ConfigureAwait(false);
                        continue;
                    }
                    else
                    {
                        if (response.StatusCode == HttpStatusCode.PreconditionFailed)
                            throw new LineageException("object changed during the read (HTTP 412)", Name, from);
                        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                            throw new LineageException($"object changed during the read: bytes {from}-{last} are no longer available (HTTP 416)", Name, from);
                        if (TryForgetRedirect(response.StatusCode)) continue;
                        if (!HttpTransport.IsTransientStatus(response.StatusCode)) throw HttpTransport.StatusError(response, Name, from);
                        error = $"HTTP {(int)response.StatusCode}";
                        retryAfter = response.Headers.RetryAfter;
                    }
                }
            }
            catch (Exception e) when (HttpTransport.IsTransient(e, ct))
            {
                error = HttpTransport.Describe(e);
            }
            if (received > before)
            {
                // Progress was made before the failure: resume from the received offset at once.
                failures = 0;
                Interlocked.Increment(ref _resumes);
                continue;
            }
            failures++;
            if (failures >= _options.MaxAttempts) throw new LineageException($"giving up after {failures} attempts: {error}", Name, from);
            _counters.AddRetry();
            await Task.Delay(HttpTransport.Backoff(failures, retryAfter, _options), ct).ConfigureAwait(false);
        }
        return buffer;
    }

    /// <summary>Streams a body into <paramref name="into"/> until it is full or the body ends, with an idle timeout per read.</summary>
    private async Task<int> ReadBodyAsync(HttpResponseMessage response, Memory<byte> into, CancellationTokenSource attempt, CancellationToken ct, Action<int>? progress = null)
    {
        using var body = await response.Content.ReadAsStreamAsync(attempt.Token).ConfigureAwait(false);
        int got = 0;
        while (got < into.Length)
        {
            attempt.CancelAfter(_options.IdleTimeout);
            int n = await body.ReadAsync(into[got..], attempt.Token).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
            _counters.AddBytes(n);
            progress?.Invoke(n);
        }
        ct.ThrowIfCancellationRequested();
        return got;
    }

    private void Pin(HttpResponseMessage response)
    {
        lock (_state)
        {
            _etag = response.Headers.ETag?.ToString();
            _lastModified = response.Content.Headers.LastModified;
        }
    }

    /// <summary>Refuses a response whose validators differ from the pinned ones: the object changed mid-read.</summary>
    private void CheckPinned(HttpResponseMessage response, long offset)
    {
        string? etag = response.Headers.ETag?.ToString();
        DateTimeOffset? modified = response.Content.Headers.LastModified;
        string? pinnedEtag;
        DateTimeOffset? pinnedModified;
        lock (_state)
        {
            pinnedEtag = _etag;
            pinnedModified = _lastModified;
        }
        if (pinnedEtag is not null && etag is not null && !string.Equals(pinnedEtag, etag, StringComparison.Ordinal))
            throw new LineageException($"object changed during the read (ETag {pinnedEtag} became {etag})", Name, offset);
        if (pinnedEtag is null && etag is null && pinnedModified is not null && modified is not null && pinnedModified != modified)
            throw new LineageException($"object changed during the read (Last-Modified {pinnedModified:R} became {modified:R})", Name, offset);
    }

    private void CheckEncoding(HttpResponseMessage response, long offset)
    {
        foreach (var encoding in response.Content.Headers.ContentEncoding)
            if (!string.Equals(encoding, "identity", StringComparison.OrdinalIgnoreCase))
                throw new LineageException($"server sent a '{encoding}'-encoded body; byte ranges need the stored bytes", Name, offset);
    }
}
