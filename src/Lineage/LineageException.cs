namespace Lineage;

/// <summary>
/// The one exception type the library lets escape. It names the file, the byte offset and, inside archives,
/// the entry where a problem was found, so that a command-line front end can print a single precise line.
/// </summary>
public class LineageException : Exception
{
    public LineageException(string message, string? file = null, long? offset = null, string? entry = null, Exception? inner = null)
        : base(message, inner)
    {
        File = file;
        Offset = offset;
        Entry = entry;
    }

    public LineageException()
    {
    }

    public LineageException(string message) : base(message)
    {
    }

    public LineageException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>The file (or URL) the problem was found in, when known.</summary>
    public string? File { get; }

    /// <summary>Byte offset in the file (or in the archive entry, when <see cref="Entry"/> is set).</summary>
    public long? Offset { get; }

    /// <summary>Archive member or tensor name the offset is relative to, when relevant.</summary>
    public string? Entry { get; }

    /// <summary>One line: "file: entry: byte N: message".</summary>
    public string Describe()
    {
        var parts = new List<string>(4);
        if (File is not null) parts.Add(File);
        if (Entry is not null) parts.Add($"entry '{Entry}'");
        if (Offset is not null) parts.Add($"byte {Offset}");
        parts.Add(Message.ReplaceLineEndings(" "));
        return string.Join(": ", parts);
    }

    /// <summary>Returns a copy that names <paramref name="file"/> when this exception does not yet name one.</summary>
    public LineageException WithFile(string file) =>
        File is not null ? this : new LineageException(Message, file, Offset, Entry, InnerException);

    /// <summary>Returns a copy placed inside archive entry <paramref name="entry"/> of <paramref name="file"/>.</summary>
    public LineageException InEntry(string file, string entry) =>
        new(Message, file, Offset, Entry is null ? entry : $"{entry}/{Entry}", InnerException);
}

/// <summary>
/// A <see cref="LineageException"/> raised because input broke a resource limit (operations, depth, sizes,
/// decompression ratio) rather than a format rule: the input may be valid but was not fully processed. Scanners
/// report it as "analysis limit exceeded" instead of "unparseable".
/// </summary>
public sealed class LimitExceededException : LineageException
{
    public LimitExceededException(string message, string? file = null, long? offset = null, string? entry = null)
        : base(message, file, offset, entry)
    {
    }

    public LimitExceededException()
    {
    }

    public LimitExceededException(string message) : base(message)
    {
    }

    public LimitExceededException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
