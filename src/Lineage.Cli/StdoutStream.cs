namespace Lineage.Cli;

/// <summary>
/// Report writers target a <see cref="Stream"/>; commands print through a <see cref="TextWriter"/> so tests can
/// capture stdout in-process. This buffers one report and writes it as a single UTF-8 block.
/// </summary>
internal static class StdoutStream
{
    public static void Write(TextWriter stdout, Action<Stream> write)
    {
        using var buffer = new MemoryStream();
        write(buffer);
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
