using Lineage.IO;
using Lineage.IO.Http;
using Lineage.Tests.Support;

namespace Lineage.Tests.IO;

public sealed class HttpRangeSourceTests
{
    private const int BlobSize = 3 << 20;

    /// <summary>Small blocks and instant retries, so every mechanism is exercised by a few-MiB object in milliseconds.</summary>
    private static readonly HttpRangeOptions Fast = new()
    {
        ReadAheadBytes = 4 << 10,
        MaxReadAheadBytes = 256 << 10,
        MaxRequestBytes = 64 << 10,
        CoalesceBytes = 1 << 10,
        CacheBytes = 512 << 10,
        BaseRetryDelay = TimeSpan.FromMilliseconds(1),
        MaxRetryDelay = TimeSpan.FromMilliseconds(5),
        MaxAttempts = 5,
        ResponseTimeout = TimeSpan.FromSeconds(10),
        IdleTimeout = TimeSpan.FromSeconds(10),
        WholeObjectLimit = 1 << 20,
    };

    private static byte[] Blob(int size = BlobSize, int seed = 7)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] Read(IByteSource source, long offset, int count)
    {
        var buffer = new byte[count];
        source.ReadExactly(offset, buffer);
        return buffer;
    }

    [Fact]
    public void Random_reads_equal_the_object_and_count_bytes_handed_out()
    {
        var data = Blob();
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        Assert.Equal(data.Length, source.Length);
        Assert.Equal("\"v1\"", source.ETag);
        var rng = new Random(1);
        long handed = 0;
        for (int i = 0; i < 200; i++)
        {
            int count = rng.Next(1, 200_000);
            long offset = rng.NextInt64(0, data.Length - count);
            Assert.Equal(data.AsSpan((int)offset, count).ToArray(), Read(source, offset, count));
            handed += count;
        }
        Assert.Equal(handed, source.BytesRead);
        Assert.True(source.CachedBytes <= Fast.CacheBytes, $"cache holds {source.CachedBytes} bytes");
        Assert.True(source.BytesTransferred > 0);
    }

    [Fact]
    public void Cached_bytes_are_not_fetched_again()
    {
        var data = Blob();
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        Read(source, 100_000, 30_000);
        long transferred = source.BytesTransferred, requests = source.Requests;
        Assert.Equal(data.AsSpan(110_000, 10_000).ToArray(), Read(source, 110_000, 10_000));
        Assert.Equal(transferred, source.BytesTransferred);
        Assert.Equal(requests, source.Requests);
    }

    [Fact]
    public void Scattered_row_reads_move_only_their_own_bytes()
    {
        var data = Blob();
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        long afterProbe = source.BytesTransferred;
        const int rows = 60, rowBytes = 2048, stride = 40_000;
        for (int r = 0; r < rows; r++)
        {
            long offset = 100_000 + (long)r * stride;
            Assert.Equal(data.AsSpan((int)offset, rowBytes).ToArray(), Read(source, offset, rowBytes));
        }
        // No block rounding: each row costs its own bytes (no read-ahead for non-sequential reads).
        Assert.Equal(rows * rowBytes, source.BytesTransferred - afterProbe);
    }

    [Fact]
    public void Sequential_scan_grows_its_read_ahead()
    {
        var data = Blob();
        using var server = new RangeServer();
        var options = new HttpRangeOptions { ReadAheadBytes = 4 << 10, MaxReadAheadBytes = 256 << 10, MaxRequestBytes = 256 << 10 };
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), options);
        var chunk = new byte[1024];
        for (long offset = 0; offset < data.Length; offset += chunk.Length)
        {
            source.ReadExactly(offset, chunk);
            Assert.True(chunk.AsSpan().SequenceEqual(data.AsSpan((int)offset, chunk.Length)));
        }
        // 3072 reads of 1 KiB: read-ahead doubling from 4 KiB to 256 KiB keeps it to about 20 requests, and the
        // whole object crosses the wire once.
        Assert.True(source.Requests < 25, $"{source.Requests} requests");
        Assert.Equal(data.Length, source.BytesTransferred);
    }

    [Fact]
    public void Prefetch_fetches_announced_ranges_so_reads_need_no_requests()
    {
        var data = Blob();
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        var ranges = Enumerable.Range(0, 40).Select(i => new ByteRange(200_000 + i * 50_000L, 3000)).ToList();
        ((IByteSource)source).Prefetch(ranges);
        long requests = source.Requests;
        Assert.True(requests <= 1 + ranges.Count);
        foreach (var r in ranges)
            Assert.Equal(data.AsSpan((int)r.Offset, (int)r.Length).ToArray(), Read(source, r.Offset, (int)r.Length));
        Assert.Equal(requests, source.Requests);
        Assert.Equal(ranges.Sum(r => r.Length), source.BytesRead);
    }

    [Fact]
    public void Long_reads_are_split_and_fetched_in_parallel_requests()
    {
        var data = Blob();
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        var all = Read(source, 0, data.Length);
        Assert.Equal(data, all);
        Assert.True(source.Requests >= data.Length / Fast.MaxRequestBytes, $"{source.Requests} requests");
        var ranges = server.Requests.Where(r => r.Status == 206).Select(r => r.Range!).ToList();
        Assert.All(ranges.Skip(1), r => Assert.True(RangeLength(r) <= Fast.MaxRequestBytes, r));
    }

    [Fact]
    public void Concurrent_readers_get_correct_bytes()
    {
        var data = Blob();
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var rng = new Random(i);
            for (int k = 0; k < 5; k++)
            {
                int count = rng.Next(1, 50_000);
                long offset = rng.NextInt64(0, data.Length - count);
                Assert.Equal(data.AsSpan((int)offset, count).ToArray(), Read(source, offset, count));
            }
        });
    }

    [Fact]
    public void Server_ignoring_range_is_tolerated_for_a_small_object()
    {
        var data = Blob(300_000);
        using var server = new RangeServer(faults: new ServerFaults { IgnoreRange = true });
        using var source = HttpRangeSource.Open(server.AddBlob("small.bin", data), Fast);
        Assert.True(source.ReadWhole);
        Assert.Equal(data.Length, source.Length);
        Assert.Equal(data.AsSpan(1000, 5000).ToArray(), Read(source, 1000, 5000));
        Assert.Equal(data.Length, source.BytesTransferred);
        Assert.Equal(1, source.Requests);
    }

    [Fact]
    public void Server_ignoring_range_fails_clearly_for_a_large_object()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { IgnoreRange = true });
        string url = server.AddBlob("big.bin", data);
        var e = Assert.Throws<LineageException>(() => HttpRangeSource.Open(url, Fast));
        Assert.Equal(url, e.File);
        Assert.Contains("ignores HTTP Range", e.Message, StringComparison.Ordinal);
        Assert.Contains(data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Server_that_stops_honouring_range_midway_fails_clearly()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { IgnoreRangeAfter = 1 });
        string url = server.AddBlob("big.bin", data);
        using var source = HttpRangeSource.Open(url, Fast);
        var e = Assert.Throws<LineageException>(() => Read(source, 2_000_000, 100));
        Assert.Equal(url, e.File);
        Assert.Equal(2_000_000, e.Offset);
        Assert.Contains("ignores HTTP Range", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dropped_connections_resume_from_the_received_offset()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { DropAfterBytes = 10_000 });
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        Assert.Equal(data.AsSpan(500_000, 200_000).ToArray(), Read(source, 500_000, 200_000));
        Assert.True(source.Resumes > 0);
        // Every request after the first in a span starts where the previous body was cut off.
        var starts = server.Requests.Where(r => r.Status == 206).Select(r => RangeStart(r.Range!)).ToList();
        Assert.Contains(510_000L, starts);
        Assert.True(source.BytesTransferred < 2 * 200_000 + Fast.ReadAheadBytes, $"{source.BytesTransferred} bytes moved");
    }

    [Fact]
    public void Transient_statuses_are_retried_with_backoff()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { FailFirst = [503, 503, 429, 500] });
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        Assert.Equal(data.AsSpan(123_456, 7_890).ToArray(), Read(source, 123_456, 7_890));
        Assert.Equal(4, source.Retries);
        Assert.Equal(new[] { 503, 503, 429, 500, 206 }, server.Requests.Take(5).Select(r => r.Status));
    }

    [Fact]
    public void Persistent_failure_gives_up_with_the_url_and_offset()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { AlwaysStatus = 503 });
        string url = server.AddBlob("a.bin", data);
        var e = Assert.Throws<LineageException>(() => HttpRangeSource.Open(url, Fast));
        Assert.Equal(url, e.File);
        Assert.Equal(0, e.Offset);
        Assert.Contains($"giving up after {Fast.MaxAttempts} attempts", e.Message, StringComparison.Ordinal);
        Assert.Equal(Fast.MaxAttempts, server.Requests.Count);
    }

    [Fact]
    public void Missing_object_is_a_clear_error()
    {
        using var server = new RangeServer();
        string url = server.BaseUrl + "/blob/nothing.bin";
        var e = Assert.Throws<LineageException>(() => HttpRangeSource.Open(url, Fast));
        Assert.Equal(url, e.File);
        Assert.Contains("404", e.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public void Object_whose_etag_changes_mid_read_is_refused()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { ChangeEtagAfter = 2 });
        string url = server.AddBlob("a.bin", data);
        using var source = HttpRangeSource.Open(url, Fast);
        Read(source, 1_000_000, 100);
        var e = Assert.Throws<LineageException>(() => Read(source, 2_000_000, 100));
        Assert.Equal(url, e.File);
        Assert.Equal(2_000_000, e.Offset);
        Assert.Contains("changed during the read", e.Message, StringComparison.Ordinal);
        Assert.Contains("\"v2\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Object_whose_size_changes_mid_read_is_refused()
    {
        var data = Blob();
        using var server = new RangeServer(faults: new ServerFaults { ChangeSizeAfter = 1 });
        using var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        var e = Assert.Throws<LineageException>(() => Read(source, 1_000_000, 100));
        Assert.Contains("size went from", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Range_answer_for_other_bytes_is_refused()
    {
        using var server = new RangeServer(faults: new ServerFaults { WrongRangeStart = true });
        string url = server.AddBlob("a.bin", Blob(100_000));
        var e = Assert.Throws<LineageException>(() => HttpRangeSource.Open(url, Fast));
        Assert.Equal(url, e.File);
        Assert.Contains("answered bytes 1-", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Silent_server_times_out_instead_of_hanging()
    {
        using var server = new RangeServer(faults: new ServerFaults { Stall = true });
        string url = server.AddBlob("a.bin", Blob(1000));
        var options = new HttpRangeOptions
        {
            ResponseTimeout = TimeSpan.FromMilliseconds(200),
            IdleTimeout = TimeSpan.FromMilliseconds(200),
            MaxAttempts = 2,
            BaseRetryDelay = TimeSpan.FromMilliseconds(1),
            MaxRetryDelay = TimeSpan.FromMilliseconds(1),
        };
        var e = Assert.Throws<LineageException>(() => HttpRangeSource.Open(url, options));
        Assert.Equal(url, e.File);
        Assert.Contains("timed out", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_object_has_length_zero()
    {
        using var server = new RangeServer();
        using var source = HttpRangeSource.Open(server.AddBlob("empty.bin", []), Fast);
        Assert.Equal(0, source.Length);
        source.ReadExactly(0, []);
        Assert.Throws<LineageException>(() => Read(source, 0, 1));
    }

    [Fact]
    public void Reads_past_the_end_and_after_dispose_fail_without_a_request()
    {
        var data = Blob(10_000);
        using var server = new RangeServer();
        var source = HttpRangeSource.Open(server.AddBlob("a.bin", data), Fast);
        long requests = source.Requests;
        var e = Assert.Throws<LineageException>(() => Read(source, 9_000, 2_000));
        Assert.Equal(9_000, e.Offset);
        Assert.Equal(requests, source.Requests);
        source.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Read(source, 0, 10));
    }

    [Fact]
    public void Non_http_urls_are_refused()
    {
        var e = Assert.Throws<LineageException>(() => HttpRangeSource.Open("file:///etc/passwd", Fast));
        Assert.Contains("http", e.Message, StringComparison.Ordinal);
    }

    private static long RangeStart(string header) => long.Parse(header["bytes=".Length..].Split('-')[0], System.Globalization.CultureInfo.InvariantCulture);

    private static long RangeLength(string header)
    {
        var parts = header["bytes=".Length..].Split('-');
        return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) - long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) + 1;
    }
}
