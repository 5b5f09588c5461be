using System.Text.Json;

namespace Lineage.Supply.Manifests;

/// <summary>JSON manifests and lock files: strict parsing with bounded depth, errors that name the line.</summary>
internal static class JsonFiles
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 256, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };

    public static JsonDocument Parse(string text, string file)
    {
        try
        {
            return JsonDocument.Parse(text, Options);
        }
        catch (JsonException e)
        {
            // The reader's message ends with its own position (" LineNumber: …" / " Path: …"); ours goes first instead.
            string message = e.Message;
            foreach (var marker in new[] { " LineNumber:", " Path:" })
            {
                int cut = message.IndexOf(marker, StringComparison.Ordinal);
                if (cut > 0) message = message[..cut];
            }
            long line = e.LineNumber ?? 0;
            long offset = TextLines.ByteOffsetOfLine(text, line) + (e.BytePositionInLine ?? 0);
            throw new LineageException($"line {line + 1}: invalid JSON: {message.TrimEnd()}", file, offset, inner: e);
        }
    }

    public static string? String(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
