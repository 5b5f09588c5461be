using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Lineage.Signing;

/// <summary>
/// A JSON value together with the path that reached it ("verificationMaterial.tlogEntries[0].logIndex"), so that
/// every structural problem in a bundle, statement or trusted root names the file and the field. Protobuf JSON
/// (Sigstore bundles, trusted roots) spells fields in lowerCamelCase but parsers also accept the proto names in
/// snake_case; <see cref="TryProperty"/> looks up both. JSON null counts as absent, as in protobuf JSON.
/// </summary>
internal readonly struct JsonCursor
{
    public JsonCursor(JsonElement element, string path, string file)
    {
        Element = element;
        Path = path;
        File = file;
    }

    public JsonElement Element { get; }

    public string Path { get; }

    public string File { get; }

    public JsonValueKind Kind => Element.ValueKind;

    /// <summary>Parses a whole document; syntax errors name the byte offset.</summary>
    public static JsonDocument ParseDocument(ReadOnlyMemory<byte> bytes, string file, string what, int maxDepth = 64)
    {
        // System.Text.Json checks string contents only when they are read; refuse bad UTF-8 up front, with its offset.
        if (!Utf8.IsValid(bytes.Span))
            throw new LineageException($"{what} is not valid UTF-8", file, FirstInvalidUtf8(bytes.Span));
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException e)
        {
            throw new LineageException($"{what} is not valid JSON: {FirstSentence(e.Message)}", file, OffsetOf(bytes.Span, e.LineNumber, e.BytePositionInLine), inner: e);
        }
    }

    public static JsonCursor Root(JsonDocument document, string file) => new(document.RootElement, "", file);

    public LineageException Error(string message) => new($"{(Path.Length == 0 ? "top level" : Path)}: {message}", File);

    public JsonCursor RequireObject()
    {
        if (Kind != JsonValueKind.Object) throw Error($"expected an object, found {Describe(Kind)}");
        return this;
    }

    public bool TryProperty(string name, out JsonCursor value) => TryProperty(name, null, out value);

    public bool TryProperty(string name, string? protoName, out JsonCursor value)
    {
        RequireObject();
        if (Element.TryGetProperty(name, out var found) && found.ValueKind != JsonValueKind.Null)
        {
            value = new JsonCursor(found, Child(name), File);
            return true;
        }
        if (protoName is not null && Element.TryGetProperty(protoName, out found) && found.ValueKind != JsonValueKind.Null)
        {
            value = new JsonCursor(found, Child(protoName), File);
            return true;
        }
        value = default;
        return false;
    }

    public JsonCursor Property(string name, string? protoName = null) =>
        TryProperty(name, protoName, out var value) ? value : throw Error($"missing field '{name}'");

    public string? OptionalString(string name, string? protoName = null) =>
        TryProperty(name, protoName, out var value) ? value.AsString() : null;

    public string AsString()
    {
        if (Kind != JsonValueKind.String) throw Error($"expected a string, found {Describe(Kind)}");
        try
        {
            return Element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Error("string escapes an unpaired UTF-16 surrogate");
        }
    }

    /// <summary>An integer given as a JSON number or, as protobuf JSON writes int64, a decimal string.</summary>
    public long AsInt64()
    {
        if (Kind == JsonValueKind.Number && Element.TryGetInt64(out long n)) return n;
        if (Kind == JsonValueKind.Number && Element.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < 9.0e15) return (long)d;
        if (Kind == JsonValueKind.String && long.TryParse(Element.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n)) return n;
        throw Error($"expected an integer, found {Describe(Kind)}");
    }

    public bool AsBool()
    {
        if (Kind is JsonValueKind.True or JsonValueKind.False) return Element.GetBoolean();
        throw Error($"expected true or false, found {Describe(Kind)}");
    }

    /// <summary>Protobuf JSON bytes: standard or URL-safe base64, padding optional. The length is checked before
    /// anything is allocated for it.</summary>
    public byte[] AsBase64(int maxBytes)
    {
        string text = AsString();
        if ((long)text.Length * 3 / 4 > maxBytes + 2L)
            throw Error($"base64 value of {text.Length} characters exceeds the limit of {maxBytes} bytes");
        string normalized = text.Replace('-', '+').Replace('_', '/').TrimEnd('=');
        normalized += (normalized.Length % 4) switch { 2 => "==", 3 => "=", _ => "" };
        var buffer = new byte[normalized.Length / 4 * 3 + 3];
        if (normalized.Length % 4 == 1 || !Convert.TryFromBase64String(normalized, buffer, out int written))
            throw Error("not valid base64");
        return buffer.AsSpan(0, written).ToArray();
    }

    public byte[] AsHex(int maxBytes)
    {
        string text = AsString();
        if (text.Length > 2L * maxBytes) throw Error($"hex value of {text.Length} characters exceeds the limit of {maxBytes} bytes");
        if (text.Length % 2 != 0) throw Error("hex value has an odd number of digits");
        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw Error("not a hex string");
        }
    }

    public IEnumerable<JsonCursor> Items(int maxItems)
    {
        if (Kind != JsonValueKind.Array) throw Error($"expected an array, found {Describe(Kind)}");
        int count = Element.GetArrayLength();
        if (count > maxItems) throw Error($"{count} entries exceed the limit of {maxItems}");
        return ItemsCore();
    }

    private IEnumerable<JsonCursor> ItemsCore()
    {
        int i = 0;
        foreach (var item in Element.EnumerateArray())
            yield return new JsonCursor(item, $"{Path}[{i++}]", File);
    }

    public IEnumerable<(string Name, JsonCursor Value)> Properties()
    {
        RequireObject();
        foreach (var p in Element.EnumerateObject())
        {
            string name;
            try
            {
                name = p.Name;
            }
            catch (InvalidOperationException)
            {
                throw Error("a field name escapes an unpaired UTF-16 surrogate");
            }
            yield return (name, new JsonCursor(p.Value, Child(name), File));
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        int at = 0;
        while (at < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[at..], out _, out int consumed) != OperationStatus.Done) return at;
            at += consumed;
        }
        return at;
    }

    private string Child(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>Absolute byte offset of a (line, byte-in-line) position reported by System.Text.Json.</summary>
    private static long? OffsetOf(ReadOnlySpan<byte> bytes, long? line, long? column)
    {
        if (line is null) return null;
        long offset = 0;
        for (long l = 0; l < line && offset < bytes.Length; l++)
        {
            int nl = bytes[(int)offset..].IndexOf((byte)'\n');
            if (nl < 0) return bytes.Length;
            offset += nl + 1;
        }
        return Math.Min(bytes.Length, offset + (column ?? 0));
    }
}
