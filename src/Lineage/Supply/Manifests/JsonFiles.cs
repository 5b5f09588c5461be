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
            string message = e.Message;
            int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
            if (cut > 0) message = message[..cut];
            throw new LineageException($"line {(e.LineNumber ?? 0) + 1}: invalid JSON: {message}", file, inner: e);
        }
    }

    public static string? String(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
