using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Lineage.Formats;
using Lineage.IO;

namespace Lineage.Security;

/// <summary>
/// Classifies content the binary format detector calls Unknown: JSON without a .json name, Jinja templates,
/// YAML, Python source, other text, or binary data. Content decides whether it is text at all; for text formats
/// whose syntax overlaps, the file name is the tie-breaker (as in <see cref="FormatDetector"/>).
/// </summary>
internal static class TextSniffer
{
    private const int SniffBytes = 8192;

    private static readonly string[] TemplateExtensions = [".j2", ".jinja", ".jinja2", ".template", ".tmpl", ".tpl"];

    /// <summary>Names under which loaders expect weights or serialized objects; unknown content there fails closed.</summary>
    private static readonly string[] ModelExtensions =
    [
        ".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".h5", ".hdf5", ".keras", ".onnx", ".pb", ".gguf",
        ".ggml", ".safetensors", ".npy", ".npz", ".msgpack", ".mar", ".dill", ".sav", ".model.pt", ".pdparams", ".tflite",
        ".mlmodel", ".caffemodel", ".llamafile", ".torchscript", ".ptl", ".skops",
    ];

    public static bool HasModelExtension(string fileName) =>
        ModelExtensions.Any(e => fileName.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>Returns JSON as a container format, or a text kind (None when the content is binary).</summary>
    public static (ContainerFormat Container, TextKind Text) Sniff(IByteSource source, string fileName, long maxTextBytes)
    {
        int n = (int)Math.Min(SniffBytes, source.Length);
        var head = new byte[n];
        source.ReadExactly(0, head);
        if (!LooksLikeText(head, truncated: source.Length > n)) return (ContainerFormat.Unknown, TextKind.None);

        string text = Encoding.UTF8.GetString(head);
        string trimmed = text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        bool hasTemplateSyntax = text.Contains("{{", StringComparison.Ordinal) || text.Contains("{%", StringComparison.Ordinal);
        if (TemplateExtensions.Any(e => fileName.EndsWith(e, StringComparison.OrdinalIgnoreCase)) && hasTemplateSyntax)
            return (ContainerFormat.Unknown, TextKind.Jinja);
        if (fileName.EndsWith(".py", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".pyw", StringComparison.OrdinalIgnoreCase)
            || trimmed.StartsWith("#!", StringComparison.Ordinal) && trimmed.Split('\n')[0].Contains("python", StringComparison.Ordinal))
            return (ContainerFormat.Unknown, TextKind.Python);
        if (fileName.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            return (ContainerFormat.Unknown, TextKind.Yaml);
        if (trimmed.StartsWith('{') || trimmed.StartsWith('['))
        {
            if (source.Length <= maxTextBytes && IsJson(source)) return (ContainerFormat.Json, TextKind.None);
        }
        if (trimmed.StartsWith("{%", StringComparison.Ordinal) || trimmed.StartsWith("{{", StringComparison.Ordinal) || trimmed.StartsWith("{#", StringComparison.Ordinal))
            return (ContainerFormat.Unknown, TextKind.Jinja);
        return (ContainerFormat.Unknown, TextKind.PlainText);
    }

    private static bool IsJson(IByteSource source)
    {
        var bytes = source.ReadBytes(0, source.Length);
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 256, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Valid UTF-8 (a sequence cut at the sniff boundary is fine), no NUL, few control characters.</summary>
    internal static bool LooksLikeText(ReadOnlySpan<byte> head, bool truncated)
    {
        if (head.Length == 0) return false;
        int control = 0;
        foreach (byte b in head)
        {
            if (b == 0) return false;
            if (b < 0x20 && b is not ((byte)'\n' or (byte)'\r' or (byte)'\t' or 0x0C)) control++;
        }
        if (control > head.Length / 100 + 1) return false;
        var span = head;
        if (truncated)
        {
            // Drop an incomplete trailing UTF-8 sequence.
            int i = span.Length - 1, back = 0;
            while (i >= 0 && back < 4 && (span[i] & 0xC0) == 0x80) { i--; back++; }
            if (i >= 0 && span[i] >= 0xC0) span = span[..i];
        }
        return Utf8.IsValid(span);
    }
}
