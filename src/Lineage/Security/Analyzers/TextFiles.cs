using System.Text;
using Lineage.IO;

namespace Lineage.Security.Analyzers;

/// <summary>Reads a bounded text file and maps character positions back to byte offsets.</summary>
internal sealed class TextFile
{
    private readonly int _bom;

    private TextFile(string text, int bom)
    {
        Text = text;
        _bom = bom;
    }

    public string Text { get; }

    /// <summary>Reads the whole source as UTF-8, or reports the size limit and returns null.</summary>
    public static TextFile? Read(ScanTarget target, ScanContext context)
    {
        var source = target.Source;
        if (source.Length > context.Options.MaxTextBytes)
        {
            context.ReportError(ScanRules.LimitExceeded, $"text file of {source.Length} bytes exceeds the {context.Options.MaxTextBytes}-byte analysis limit");
            return null;
        }
        byte[] bytes = source.ReadBytes(0, source.Length);
        int bom = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        return new TextFile(Encoding.UTF8.GetString(bytes, bom, bytes.Length - bom), bom);
    }

    public long ByteOffset(int charIndex) =>
        _bom + Encoding.UTF8.GetByteCount(Text.AsSpan(0, Math.Clamp(charIndex, 0, Text.Length)));
}
