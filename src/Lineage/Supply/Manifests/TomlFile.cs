using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;
using Tomlyn.Serialization;

namespace Lineage.Supply.Manifests;

/// <summary>
/// A TOML document read with Tomlyn (strict: duplicate keys are errors, nesting depth bounded), with the source
/// positions of keys so that findings and errors can name lines.
/// </summary>
internal sealed class TomlFile
{
    private readonly TomlMetadataStore _metadata;
    private readonly LineIndex _lines;

    private TomlFile(string path, string text, TomlTable root, TomlMetadataStore metadata)
    {
        Path = path;
        Text = text;
        Root = root;
        _metadata = metadata;
        _lines = new LineIndex(text);
    }

    public string Path { get; }

    public string Text { get; }

    public TomlTable Root { get; }

    public static TomlFile Read(string path)
    {
        string text = TextLines.ReadAll(path);
        var metadata = new TomlMetadataStore();
        try
        {
            // The syntax parser validates what the object reader lets through (duplicate keys and tables).
            _ = SyntaxParser.ParseStrict(text, path);
            var root = TomlSerializer.Deserialize<TomlTable>(text, new TomlSerializerOptions
            {
                MetadataStore = metadata, SourceName = path, MaxDepth = 64, DuplicateKeyHandling = TomlDuplicateKeyHandling.Error,
            }) ?? new TomlTable();
            return new TomlFile(path, text, root, metadata);
        }
        catch (TomlException e)
        {
            // Tomlyn reports every diagnostic as "source(line,column) : error : text" on its own line; the first one
            // is the cause, the rest follow from it.
            string message = e.Message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? e.Message;
            int cut = message.IndexOf(" : error : ", StringComparison.Ordinal);
            if (cut >= 0) message = message[(cut + " : error : ".Length)..];
            long? offset = e.Offset is { } o and >= 0 ? TextLines.ByteOffset(text, (int)Math.Min(o, int.MaxValue)) : null;
            throw new LineageException($"line {e.Line ?? 0}: invalid TOML: {message}", path, offset, inner: e);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            throw new LineageException($"invalid TOML: {e.Message.ReplaceLineEndings(" ")}", path, inner: e);
        }
    }

    /// <summary>The 1-based line where <paramref name="key"/> of <paramref name="table"/> is written, when known.</summary>
    public int? LineOf(TomlTable table, string key)
    {
        if (_metadata.TryGetProperties(table, out var props) && props is not null && props.TryGetProperty(key, out var p) && p?.Span is { } span)
            return span.Start.Line + 1;
        return null;
    }

    /// <summary>The first line at or after <paramref name="fromLine"/> whose text contains <paramref name="needle"/>.</summary>
    public int? FindLine(string needle, int? fromLine) => _lines.Find(needle, Math.Max(1, fromLine ?? 1)) ?? fromLine;

    public static TomlTable? Table(TomlTable? t, params string[] path)
    {
        foreach (var key in path)
        {
            if (t is null || !t.TryGetValue(key, out var v) || v is not TomlTable next) return null;
            t = next;
        }
        return t;
    }

    public static string? String(TomlTable t, string key) => t.TryGetValue(key, out var v) && v is string s ? s : null;
}
