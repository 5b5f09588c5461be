using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Lineage.Signing;

/// <summary>One digest to compute: a whole file (Length null: to its end) or the range [Start, Start + Length).</summary>
internal readonly record struct HashJob(string ContentPath, long Start, long? Length, DigestAlgorithm Algorithm);

/// <summary>
/// Streams files and file ranges through their digests, many at once (files and shards are independent). Each job
/// reads with positional reads into a pooled 1 MiB buffer; nothing proportional to a file's size is allocated.
/// </summary>
internal static class ModelHasher
{
    private const int ChunkBytes = 1 << 20;

    public static byte[][] Hash(IReadOnlyList<HashJob> jobs, int maxParallelism, CancellationToken cancellation = default)
    {
        var results = new byte[jobs.Count][];
        // Large jobs first so that one big file does not start last and run alone.
        var order = Enumerable.Range(0, jobs.Count).OrderByDescending(i => jobs[i].Length ?? SizeOf(jobs[i].ContentPath)).ToArray();
        ParallelWork.For(order.Length, k => results[order[k]] = HashOne(jobs[order[k]], cancellation), Math.Max(1, maxParallelism), cancellation);
        return results;
    }

    private static long SizeOf(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static byte[] HashOne(HashJob job, CancellationToken cancellation)
    {
        var digest = Digests.Create(job.Algorithm);
        // Empty files are not opened: a special file that reports size 0 must never block the reader.
        if (job.Length == 0 || (job.Length is null && SizeOf(job.ContentPath) == 0)) return digest.Finish();
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            using SafeFileHandle handle = File.OpenHandle(job.ContentPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long position = job.Start;
            long remaining = job.Length ?? long.MaxValue;
            while (remaining > 0)
            {
                cancellation.ThrowIfCancellationRequested();
                int want = (int)Math.Min(ChunkBytes, remaining);
                int read = RandomAccess.Read(handle, buffer.AsSpan(0, want), position);
                if (read == 0) break;
                digest.Append(buffer.AsSpan(0, read));
                position += read;
                remaining -= read;
            }
            return digest.Finish();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read model file: {e.Message}", job.ContentPath, job.Start, inner: e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
