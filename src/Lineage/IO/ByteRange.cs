namespace Lineage.IO;

/// <summary>A span of bytes in a source: used to announce reads ahead of time (see <see cref="IByteSource.Prefetch"/>).</summary>
public readonly record struct ByteRange(long Offset, long Length)
{
    public long End => Offset + Length;
}

/// <summary>Network cost of a remote source: bytes that actually crossed the wire and requests made.</summary>
public interface ITransferMeter
{
    /// <summary>Response body bytes received (including retried and read-ahead bytes).</summary>
    long BytesTransferred { get; }

    /// <summary>HTTP requests sent (including retries and redirects).</summary>
    long Requests { get; }
}
