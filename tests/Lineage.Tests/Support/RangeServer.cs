using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Lineage.Tests.Support;

/// <summary>How a <see cref="RangeServer"/> misbehaves.</summary>
internal sealed class ServerFaults
{
    /// <summary>Answer every request with 200 and the whole body, as a server without Range support does.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Honour Range for the first N requests of a path, then ignore it.</summary>
    public int IgnoreRangeAfter { get; set; } = int.MaxValue;

    /// <summary>Cut every response body off after this many bytes (the connection is aborted).</summary>
    public int DropAfterBytes { get; set; } = -1;

    /// <summary>Statuses answered, in order, before a path is served normally (e.g. 503, 503, 429).</summary>
    public int[] FailFirst { get; set; } = [];

    /// <summary>Answer every request with this status.</summary>
    public int AlwaysStatus { get; set; }

    /// <summary>After this many requests for a path the object "changes": a new ETag.</summary>
    public int ChangeEtagAfter { get; set; } = int.MaxValue;

    /// <summary>After this many requests for a path the object reports a different size in Content-Range.</summary>
    public int ChangeSizeAfter { get; set; } = int.MaxValue;

    /// <summary>Never answer (until the server is disposed or 10 s pass).</summary>
    public bool Stall { get; set; }

    /// <summary>Answer ranges with a Content-Range that starts one byte later than the bytes sent.</summary>
    public bool WrongRangeStart { get; set; }

    /// <summary>Delay before every answer, to emulate a network round trip (benchmarks).</summary>
    public int LatencyMs { get; set; }
}

/// <summary>One request as the server saw it.</summary>
internal sealed record ServedRequest(string Path, string? Range, int Status, string? Authorization);

/// <summary>
/// A small HTTP server on 127.0.0.1 (HttpListener) for tests: serves files of a folder (the corpus, in place)
/// and in-memory blobs with Range support, emulates the two Hugging Face Hub endpoints Lineage uses, and can
/// misbehave on purpose (<see cref="ServerFaults"/>). It stops when disposed; requests are only ever local.
/// </summary>
internal sealed class RangeServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Folder, string Sha)> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ServedRequest> _log = new();
    private readonly Task _loop;

    public RangeServer(string? fileRoot = null, ServerFaults? faults = null)
    {
        FileRoot = fileRoot;
        Faults = faults ?? new ServerFaults();
        HttpListener? listener = null;
        for (int attempt = 0; listener is null; attempt++)
        {
            int port = FreePort();
            var candidate = new HttpListener();
            candidate.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                candidate.Start();
                listener = candidate;
                Port = port;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                candidate.Close();
            }
        }
        _listener = listener;
        _loop = Task.Run(AcceptLoop);
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public string? FileRoot { get; }

    public ServerFaults Faults { get; }

    /// <summary>Where hub "resolve" requests are redirected (a second server plays the CDN); null serves them here.</summary>
    public RangeServer? Cdn { get; set; }

    public IReadOnlyList<ServedRequest> Requests => [.. _log];

    /// <summary>URL of a corpus file served in place.</summary>
    public string FileUrl(string relative) => $"{BaseUrl}/files/{string.Join('/', relative.Split('/').Select(Uri.EscapeDataString))}";

    public string AddBlob(string name, byte[] data)
    {
        _blobs[name] = data;
        return $"{BaseUrl}/blob/{name}";
    }

    /// <summary>Serves <paramref name="folder"/> as Hugging Face repository <paramref name="repo"/> at commit <paramref name="sha"/>.</summary>
    public void AddRepo(string repo, string folder, string sha) => _repos[repo] = (folder, sha);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => HandleSafely(context));
        }
    }

    private async Task HandleSafely(HttpListenerContext context)
    {
        try
        {
            await Handle(context).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            try
            {
                context.Response.Abort();
            }
            catch (Exception inner) when (inner is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    private async Task Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string path = Uri.UnescapeDataString(request.Url!.AbsolutePath);
        string? range = request.Headers["Range"];
        string? auth = request.Headers["Authorization"];
        int hit = _hits.AddOrUpdate(path, 1, (_, n) => n + 1);
        if (Faults.LatencyMs > 0) await Task.Delay(Faults.LatencyMs, _stop.Token).ConfigureAwait(false);

        if (Faults.Stall)
        {
            _log.Enqueue(new ServedRequest(path, range, 0, auth));
            await Task.Delay(TimeSpan.FromSeconds(10), _stop.Token).ConfigureAwait(false);
            response.Abort();
            return;
        }
        int failStatus = Faults.AlwaysStatus != 0 ? Faults.AlwaysStatus : hit <= Faults.FailFirst.Length ? Faults.FailFirst[hit - 1] : 0;
        if (failStatus != 0)
        {
            _log.Enqueue(new ServedRequest(path, range, failStatus, auth));
            response.StatusCode = failStatus;
            if (failStatus == 429) response.AddHeader("Retry-After", "0");
            response.Close();
            return;
        }

        if (path.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            ServeApi(path, response, range, auth);
            return;
        }
        if (TryResolveRedirect(path, out string? redirect))
        {
            _log.Enqueue(new ServedRequest(path, range, 302, auth));
            response.StatusCode = 302;
            response.RedirectLocation = redirect;
            response.Close();
            return;
        }

        var data = Content(path);
        if (data is null)
        {
            _log.Enqueue(new ServedRequest(path, range, 404, auth));
            response.StatusCode = 404;
            response.Close();
            return;
        }
        string etag = hit > Faults.ChangeEtagAfter ? "\"v2\"" : "\"v1\"";
        long reportedSize = hit > Faults.ChangeSizeAfter ? data.Length + 1 : data.Length;
        response.AddHeader("ETag", etag);
        response.AddHeader("Accept-Ranges", "bytes");
        bool ignore = Faults.IgnoreRange || hit > Faults.IgnoreRangeAfter;
        if (range is null || ignore)
        {
            _log.Enqueue(new ServedRequest(path, range, 200, auth));
            response.StatusCode = 200;
            await WriteBody(response, data, 0, data.Length).ConfigureAwait(false);
            return;
        }
        if (!TryParseRange(range, data.Length, out long first, out long last))
        {
            _log.Enqueue(new ServedRequest(path, range, 416, auth));
            response.StatusCode = 416;
            response.AddHeader("Content-Range", $"bytes */{data.Length}");
            response.Close();
            return;
        }
        _log.Enqueue(new ServedRequest(path, range, 206, auth));
        response.StatusCode = 206;
        response.AddHeader("Content-Range", $"bytes {first + (Faults.WrongRangeStart ? 1 : 0)}-{last}/{reportedSize}");
        await WriteBody(response, data, first, last - first + 1).ConfigureAwait(false);
    }

    private async Task WriteBody(HttpListenerResponse response, Body data, long offset, long count)
    {
        response.ContentLength64 = count;
        var output = response.OutputStream;
        long limit = Faults.DropAfterBytes >= 0 && count > Faults.DropAfterBytes ? Faults.DropAfterBytes : count;
        var chunk = new byte[(int)Math.Min(1 << 20, Math.Max(1, limit))];
        for (long done = 0; done < limit;)
        {
            int n = (int)Math.Min(chunk.Length, limit - done);
            data.Read(offset + done, chunk.AsSpan(0, n));
            await output.WriteAsync(chunk.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
            done += n;
        }
        if (limit < count)
        {
            await output.FlushAsync(_stop.Token).ConfigureAwait(false);
            response.Abort();
            return;
        }
        response.Close();
    }

    private void ServeApi(string path, HttpListenerResponse response, string? range, string? auth)
    {
        // /api/models/ORG/NAME/revision/REV
        var parts = path["/api/models/".Length..].Split('/', 4);
        if (parts.Length < 4 || parts[2] != "revision" || !_repos.TryGetValue($"{parts[0]}/{parts[1]}", out var repo))
        {
            _log.Enqueue(new ServedRequest(path, range, 404, auth));
            response.StatusCode = 404;
            response.Close();
            return;
        }
        var siblings = new JsonArray();
        foreach (var file in Directory.EnumerateFiles(repo.Folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(repo.Folder, file).Replace('\\', '/');
            siblings.Add(new JsonObject { ["rfilename"] = relative, ["size"] = new FileInfo(file).Length });
        }
        var body = Encoding.UTF8.GetBytes(new JsonObject { ["id"] = $"{parts[0]}/{parts[1]}", ["sha"] = repo.Sha, ["siblings"] = siblings }.ToJsonString());
        _log.Enqueue(new ServedRequest(path, range, 200, auth));
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        response.Close();
    }

    /// <summary>/ORG/NAME/resolve/SHA/FILE → the CDN's /cdn/ORG/NAME/SHA/FILE (or this server's), like the Hub's LFS redirects.</summary>
    private bool TryResolveRedirect(string path, out string? location)
    {
        location = null;
        var parts = path.TrimStart('/').Split('/', 5);
        if (parts.Length < 5 || parts[2] != "resolve" || !_repos.ContainsKey($"{parts[0]}/{parts[1]}")) return false;
        var target = Cdn ?? this;
        target._repos.TryAdd($"{parts[0]}/{parts[1]}", _repos[$"{parts[0]}/{parts[1]}"]);
        location = $"{target.BaseUrl}/cdn/{parts[0]}/{parts[1]}/{parts[3]}/{string.Join('/', parts[4].Split('/').Select(Uri.EscapeDataString))}";
        return true;
    }

    private Body? Content(string path)
    {
        if (path.StartsWith("/blob/", StringComparison.Ordinal))
            return _blobs.TryGetValue(path["/blob/".Length..], out var blob) ? new Body(blob.Length, (offset, into) => blob.AsSpan((int)offset, into.Length).CopyTo(into)) : null;
        if (path.StartsWith("/files/", StringComparison.Ordinal) && FileRoot is not null)
            return FileUnder(FileRoot, path["/files/".Length..]);
        if (path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            var parts = path["/cdn/".Length..].Split('/', 4);
            if (parts.Length == 4 && _repos.TryGetValue($"{parts[0]}/{parts[1]}", out var repo) && parts[2] == repo.Sha)
                return FileUnder(repo.Folder, parts[3]);
        }
        return null;
    }

    /// <summary>A file served in place with positioned reads (corpus files are never copied, large files never loaded whole).</summary>
    private static Body? FileUnder(string root, string relative)
    {
        string full = Path.GetFullPath(Path.Combine(root, relative));
        if (!full.StartsWith(Path.GetFullPath(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(full)) return null;
        return new Body(new FileInfo(full).Length, (offset, into) =>
        {
            using var handle = File.OpenHandle(full);
            int done = 0;
            while (done < into.Length)
            {
                int n = RandomAccess.Read(handle, into[done..], offset + done);
                if (n == 0) throw new IOException("file shrank while being served");
                done += n;
            }
        });
    }

    private delegate void ReadAt(long offset, Span<byte> into);

    private sealed record Body(long Length, ReadAt Read);

    private static bool TryParseRange(string header, long length, out long first, out long last)
    {
        first = last = 0;
        if (!header.StartsWith("bytes=", StringComparison.Ordinal) || header.Contains(',', StringComparison.Ordinal)) return false;
        var spec = header["bytes=".Length..].Split('-');
        if (spec.Length != 2) return false;
        if (spec[0].Length == 0)
        {
            if (!long.TryParse(spec[1], out long suffix) || suffix <= 0 || length == 0) return false;
            first = Math.Max(0, length - suffix);
            last = length - 1;
            return true;
        }
        if (!long.TryParse(spec[0], out first) || first >= length) return false;
        last = spec[1].Length == 0 ? length - 1 : long.TryParse(spec[1], out long l) ? Math.Min(l, length - 1) : -1;
        return last >= first;
    }
}
