using System.Text;

namespace Lineage.Supply.Manifests;

/// <summary>
/// Reads a text file line by line without ever holding more than a bounded line: a 1 GB line is an error
/// naming the file and line after reading at most <see cref="MaxLineChars"/> characters of it, not an
/// out-of-memory. Also bounds whole-file reads for formats parsed as one document.
/// </summary>
internal static class TextLines
{
    public const int MaxLineChars = 64 * 1024;

    /// <summary>Bytes a manifest or lock file parsed as one document may have.</summary>
    public const long MaxDocumentBytes = 256L << 20;

    public static IEnumerable<(int Line, string Text)> Read(string file, int maxLineChars = MaxLineChars)
    {
        StreamReader reader;
        try
        {
            reader = new StreamReader(file, new UTF8Encoding(false, false), detectEncodingFromByteOrderMarks: true,
                new FileStreamOptions { Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 64 * 1024 });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", file, inner: e);
        }
        using (reader)
        {
            var sb = new StringBuilder();
            int line = 1;
            var buffer = new char[16 * 1024];
            bool pendingCr = false;
            while (true)
            {
                int n;
                try
                {
                    n = reader.Read(buffer, 0, buffer.Length);
                }
                catch (IOException e)
                {
                    throw new LineageException($"line {line}: cannot read: {e.Message}", file, inner: e);
                }
                if (n == 0) break;
                for (int i = 0; i < n; i++)
                {
                    char c = buffer[i];
                    if (pendingCr)
                    {
                        pendingCr = false;
                        if (c == '\n') continue;
                    }
                    if (c is '\n' or '\r')
                    {
                        yield return (line++, sb.ToString());
                        sb.Clear();
                        pendingCr = c == '\r';
                        continue;
                    }
                    if (sb.Length >= maxLineChars)
                        throw new LineageException($"line {line}: longer than {maxLineChars} characters", file);
                    sb.Append(c);
                }
            }
            if (sb.Length > 0) yield return (line, sb.ToString());
        }
    }

    /// <summary>The whole file as text, refusing files over <paramref name="maxBytes"/>.</summary>
    public static string ReadAll(string file, long maxBytes = MaxDocumentBytes)
    {
        try
        {
            long length = new FileInfo(file).Length;
            if (length > maxBytes) throw new LineageException($"file is {length} bytes, over the limit of {maxBytes} for this format", file);
            using var reader = new StreamReader(file, new UTF8Encoding(false, false), detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", file, inner: e);
        }
    }

    /// <summary>The first bytes of a file (for content sniffing).</summary>
    public static string Head(string file, int bytes = 4096)
    {
        try
        {
            using var fs = File.OpenRead(file);
            var buffer = new byte[bytes];
            int n = fs.ReadAtLeast(buffer, bytes, throwOnEndOfStream: false);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", file, inner: e);
        }
    }

    /// <summary>
    /// The UTF-8 byte offset of character <paramref name="index"/> of text read by <see cref="ReadAll"/> (a byte
    /// order mark, which the reader drops, is not counted).
    /// </summary>
    public static long ByteOffset(string text, int index) =>
        Encoding.UTF8.GetByteCount(text.AsSpan(0, Math.Clamp(index, 0, text.Length)));

    /// <summary>The UTF-8 byte offset of the start of 0-based line <paramref name="line"/> of <paramref name="text"/>.</summary>
    public static long ByteOffsetOfLine(string text, long line)
    {
        int index = 0;
        for (long l = 0; l < line && index < text.Length; l++)
        {
            int next = text.IndexOf('\n', index);
            if (next < 0) return ByteOffset(text, text.Length);
            index = next + 1;
        }
        return ByteOffset(text, index);
    }

    /// <summary>The 1-based line of a character offset in <paramref name="text"/>.</summary>
    public static int LineOf(string text, int offset)
    {
        int line = 1;
        for (int i = 0; i < offset && i < text.Length; i++)
            if (text[i] == '\n') line++;
        return line;
    }
}

/// <summary>Line starts of a text, for offset → line lookups in O(log n) and forward searches.</summary>
internal sealed class LineIndex
{
    private readonly int[] _starts;

    public LineIndex(string text)
    {
        Text = text;
        var starts = new List<int> { 0 };
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') starts.Add(i + 1);
        _starts = [.. starts];
    }

    public string Text { get; }

    public int LineCount => _starts.Length;

    /// <summary>The 1-based line of a character offset.</summary>
    public int LineOf(int offset)
    {
        int lo = 0, hi = _starts.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_starts[mid] <= offset) lo = mid;
            else hi = mid - 1;
        }
        return lo + 1;
    }

    public int StartOf(int line) => _starts[Math.Clamp(line, 1, _starts.Length) - 1];

    /// <summary>The line of the first occurrence of <paramref name="needle"/> at or after line <paramref name="fromLine"/>, or null.</summary>
    public int? Find(string needle, int fromLine = 1)
    {
        if (fromLine > _starts.Length) return null;
        int i = Text.IndexOf(needle, StartOf(fromLine), StringComparison.Ordinal);
        return i < 0 ? null : LineOf(i);
    }
}
