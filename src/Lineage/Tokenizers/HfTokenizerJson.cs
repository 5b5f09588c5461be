using System.Text.Json;
using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>
/// Hugging Face tokenizer files: tokenizer.json (BPE / WordPiece / Unigram / WordLevel models, added tokens,
/// normalizer and pre-tokenizer hints), a bare vocabulary map ({"token": id}, vocab.json / bert.vocab),
/// tokenizer_config.json (chat templates, special tokens, added_tokens_decoder) and special_tokens_map.json.
/// </summary>
internal static class HfTokenizerJson
{
    private const int MaxDepth = 128;

    /// <summary>How far past the vocabulary's end an added token id may start (holes are filled with empty tokens).</summary>
    private const int MaxAddedTokenGap = 1024;

    private static readonly (string Key, string Role)[] SpecialRoles =
        [("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unk"), ("pad_token", "pad"), ("sep_token", "sep"), ("cls_token", "cls"), ("mask_token", "mask")];

    public static JsonDocument Parse(byte[] bytes, string file)
    {
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new LineageException($"not valid JSON: {e.Message}", file, OffsetOf(bytes, e.LineNumber, e.BytePositionInLine), inner: e);
        }
    }

    /// <summary>Absolute byte offset of a (line, byte-in-line) position reported by System.Text.Json.</summary>
    private static long? OffsetOf(byte[] bytes, long? line, long? column)
    {
        if (line is null) return null;
        long offset = 0;
        for (long l = 0; l < line && offset < bytes.Length; l++)
        {
            int nl = bytes.AsSpan((int)offset).IndexOf((byte)'\n');
            if (nl < 0) return bytes.Length;
            offset += nl + 1;
        }
        return Math.Min(bytes.Length, offset + (column ?? 0));
    }

    public static bool IsTokenizerJson(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object
        && model.TryGetProperty("vocab", out var vocab) && vocab.ValueKind is JsonValueKind.Object or JsonValueKind.Array;

    /// <summary>A {"token": id} object: non-empty, and its first entries all map to integers.</summary>
    public static bool IsVocabularyMap(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) return false;
        int seen = 0;
        foreach (var p in root.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out _)) return false;
            if (++seen == 32) break;
        }
        return seen > 0;
    }

    public static TokenizerDraft ReadTokenizerJson(JsonElement root, string file, List<Diagnostic> diagnostics)
    {
        if (!IsTokenizerJson(root))
            throw new LineageException("tokenizer.json has no model.vocab", file);
        var model = root.GetProperty("model");
        string? type = Str(model, "type");
        var vocab = model.GetProperty("vocab");
        type ??= vocab.ValueKind == JsonValueKind.Array ? "Unigram"
            : model.TryGetProperty("merges", out _) ? "BPE"
            : model.TryGetProperty("continuing_subword_prefix", out _) || model.TryGetProperty("max_input_chars_per_word", out _) ? "WordPiece"
            : "WordLevel";

        var builder = new VocabularyBuilder(file);
        List<float>? scores = null;
        if (vocab.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in vocab.EnumerateObject())
                builder.Add(Int(p.Value, file, $"model.vocab['{p.Name}']"), p.Name);
        }
        else
        {
            scores = [];
            int i = 0;
            foreach (var entry in vocab.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() < 1 || entry[0].ValueKind != JsonValueKind.String)
                    throw new LineageException($"model.vocab[{i}] is not a [piece, score] pair", file);
                builder.Add(i, entry[0].GetString()!);
                scores.Add(entry.GetArrayLength() > 1 && entry[1].ValueKind == JsonValueKind.Number && entry[1].TryGetDouble(out double score) ? (float)score : 0f);
                i++;
            }
        }

        var added = new List<(int Id, string Content, bool Special)>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in addedTokens.EnumerateArray())
            {
                if (a.ValueKind != JsonValueKind.Object) throw new LineageException("added_tokens entry is not an object", file);
                string content = Str(a, "content") ?? throw new LineageException("added_tokens entry has no content", file);
                int id = a.TryGetProperty("id", out var idElement) ? Int(idElement, file, $"added_tokens '{content}'.id") : throw new LineageException($"added token '{content}' has no id", file);
                builder.Add(id, content);
                added.Add((id, content, a.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True));
            }
        }

        var draft = new TokenizerDraft
        {
            Kind = KindOf(type, root, model),
            Tokens = [.. builder.Build(diagnostics)],
            Source = file,
            Family = type,
            Scores = scores,
            ByteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind is JsonValueKind.True or JsonValueKind.False ? bf.GetBoolean() : null,
            Normalizer = root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object ? Str(norm, "type") : null,
        };
        // Added tokens keep GGUF's convention: special ones are CONTROL, the others USER_DEFINED.
        draft.TokenTypes = [.. Enumerable.Repeat(TokenType.Normal, draft.Tokens.Count)];
        foreach (var (id, content, special) in added)
        {
            draft.AddAdded(content);
            if (draft.Tokens[id] == content) draft.TokenTypes[id] = special ? TokenType.Control : TokenType.UserDefined;
        }
        if (model.TryGetProperty("merges", out var merges) && merges.ValueKind == JsonValueKind.Array)
            draft.Merges = ReadMerges(merges, file);
        if (Str(model, "unk_token") is { } unk && draft.IdOf(unk) is int unkId) draft.SpecialTokens["unk"] = unkId;
        if (model.TryGetProperty("unk_id", out var unkIdElement) && unkIdElement.ValueKind == JsonValueKind.Number
            && unkIdElement.TryGetInt32(out int uid) && uid >= 0 && uid < draft.Tokens.Count)
            draft.SpecialTokens["unk"] = uid;
        return draft;
    }

    private static List<string> ReadMerges(JsonElement merges, string file)
    {
        var list = new List<string>(merges.GetArrayLength());
        foreach (var m in merges.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.String)
                list.Add(m.GetString()!);
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                list.Add(m[0].GetString() + " " + m[1].GetString());
            else
                throw new LineageException($"merge {list.Count} is neither \"a b\" nor [a, b]", file);
        }
        return list;
    }

    private static TokenizerKind KindOf(string type, JsonElement root, JsonElement model)
    {
        switch (type)
        {
            case "WordPiece":
                return TokenizerKind.WordPiece;
            case "Unigram":
                return TokenizerKind.SentencePieceUnigram;
            case "BPE":
                bool byteLevel = HasType(root, "pre_tokenizer", "ByteLevel") || HasType(root, "decoder", "ByteLevel");
                if (byteLevel) return TokenizerKind.ByteLevelBpe;
                bool metaspace = HasType(root, "pre_tokenizer", "Metaspace") || HasType(root, "decoder", "Metaspace")
                    || Mentions(root, "normalizer", "\u2581") || Mentions(root, "decoder", "\u2581")
                    || (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True);
                return metaspace ? TokenizerKind.SentencePieceBpe : TokenizerKind.Unknown;
            default:
                return TokenizerKind.Unknown;
        }
    }

    /// <summary>Whether a component (possibly a Sequence) has an element of the given "type".</summary>
    private static bool HasType(JsonElement root, string component, string type) =>
        root.TryGetProperty(component, out var c) && Any(c, e => e.ValueKind == JsonValueKind.Object && Str(e, "type") == type);

    private static bool Mentions(JsonElement root, string component, string text) =>
        root.TryGetProperty(component, out var c) && Any(c, e => e.ValueKind == JsonValueKind.String && e.GetString()!.Contains(text, StringComparison.Ordinal));

    /// <summary>Depth-first search with an explicit stack (JSON depth is already bounded by the parser).</summary>
    private static bool Any(JsonElement start, Func<JsonElement, bool> predicate)
    {
        var stack = new Stack<JsonElement>();
        stack.Push(start);
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            if (predicate(e)) return true;
            if (e.ValueKind == JsonValueKind.Object)
                foreach (var p in e.EnumerateObject()) stack.Push(p.Value);
            else if (e.ValueKind == JsonValueKind.Array)
                foreach (var item in e.EnumerateArray()) stack.Push(item);
        }
        return false;
    }

    /// <summary>vocab.json / bert.vocab: {"token": id}; "##" continuations mean WordPiece, "Ġ" byte-level BPE.</summary>
    public static TokenizerDraft ReadVocabularyMap(JsonElement root, string file, List<string>? merges, List<Diagnostic> diagnostics)
    {
        var builder = new VocabularyBuilder(file);
        bool wordPiece = false, byteLevel = false, metaspace = false;
        foreach (var p in root.EnumerateObject())
        {
            builder.Add(Int(p.Value, file, $"'{p.Name}'"), p.Name);
            wordPiece |= p.Name.StartsWith("##", StringComparison.Ordinal) && p.Name.Length > 2;
            byteLevel |= p.Name.StartsWith('\u0120');
            metaspace |= p.Name.StartsWith('\u2581');
        }
        var tokens = builder.Build(diagnostics);
        if (wordPiece && merges is null)
            return TokenizerDraft.From(TextVocabularies.WordPiece(tokens, file, diagnostics));
        return new TokenizerDraft
        {
            Kind = byteLevel ? TokenizerKind.ByteLevelBpe : metaspace ? TokenizerKind.SentencePieceBpe : TokenizerKind.Unknown,
            Tokens = [.. tokens],
            Source = file,
            Merges = merges,
            Family = merges is null ? null : "BPE",
        };
    }

    /// <summary>merges.txt: one "a b" pair per line after an optional "#version" header.</summary>
    public static List<string> ReadMergesText(byte[] bytes)
    {
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        return text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal)).ToList();
    }

    /// <summary>Applies tokenizer_config.json or special_tokens_map.json: special tokens, added tokens, chat templates.</summary>
    public static void ApplyConfig(TokenizerDraft draft, JsonElement config, string file, List<Diagnostic> diagnostics)
    {
        if (config.ValueKind != JsonValueKind.Object)
            throw new LineageException("tokenizer config is not a JSON object", file);
        if (config.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
        {
            var entries = new List<(int Id, string Content)>();
            foreach (var p in decoder.EnumerateObject())
            {
                if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
                    throw new LineageException($"added_tokens_decoder key '{p.Name}' is not a token id", file);
                entries.Add((id, TokenContent(p.Value) ?? throw new LineageException($"added_tokens_decoder[{id}] has no content", file)));
            }
            AddTokens(draft, entries, file, diagnostics);
        }
        if (config.TryGetProperty("additional_special_tokens", out var extra) && extra.ValueKind == JsonValueKind.Array)
            foreach (var e in extra.EnumerateArray())
                if (TokenContent(e) is { } content && draft.IdOf(content) is not null) draft.AddAdded(content);
        foreach (var (key, role) in SpecialRoles)
        {
            if (!config.TryGetProperty(key, out var value) || TokenContent(value) is not { } content) continue;
            if (draft.IdOf(content) is int id) draft.SpecialTokens[role] = id;
            else diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.special-missing", $"{key} '{content}' is not in the vocabulary", file));
        }
        if (config.TryGetProperty("chat_template", out var template))
            ApplyChatTemplate(draft, template, file);
    }

    /// <summary>added_tokens.json: {"token": id}.</summary>
    public static void ApplyAddedTokens(TokenizerDraft draft, JsonElement map, string file, List<Diagnostic> diagnostics)
    {
        var entries = new List<(int Id, string Content)>();
        foreach (var p in map.EnumerateObject()) entries.Add((Int(p.Value, file, $"'{p.Name}'"), p.Name));
        AddTokens(draft, entries, file, diagnostics);
    }

    /// <summary>
    /// Added tokens extend the vocabulary contiguously; ids far past its end belong to another vocabulary (a config
    /// copied from a larger model) and are reported instead of padding the table with holes.
    /// </summary>
    private static void AddTokens(TokenizerDraft draft, List<(int Id, string Content)> entries, string file, List<Diagnostic> diagnostics)
    {
        var skipped = new List<int>();
        foreach (var (id, content) in entries.OrderBy(e => e.Id))
        {
            if (id >= draft.Tokens.Count + MaxAddedTokenGap) skipped.Add(id);
            else draft.SetToken(id, content, file, diagnostics);
        }
        if (skipped.Count > 0)
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.added-token-out-of-range",
                $"{skipped.Count} added tokens (ids {skipped[0]}..{skipped[^1]}) lie far past the {draft.Tokens.Count}-token vocabulary and were ignored", file));
    }

    public static void ApplyChatTemplate(TokenizerDraft draft, JsonElement template, string file)
    {
        if (template.ValueKind == JsonValueKind.String)
        {
            draft.ChatTemplate = template.GetString();
            draft.ChatTemplates["default"] = draft.ChatTemplate!;
        }
        else if (template.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in template.EnumerateArray())
            {
                if (t.ValueKind != JsonValueKind.Object || Str(t, "name") is not { } name || Str(t, "template") is not { } text)
                    throw new LineageException("chat_template list entries need a name and a template", file);
                draft.ChatTemplates[name] = text;
            }
            draft.ChatTemplate = draft.ChatTemplates.GetValueOrDefault("default") ?? draft.ChatTemplates.Values.FirstOrDefault();
        }
        else if (template.ValueKind != JsonValueKind.Null)
        {
            throw new LineageException($"chat_template is a {template.ValueKind}, not a string or a list", file);
        }
    }

    /// <summary>A special token written as a string or as an AddedToken object {"content": …}.</summary>
    private static string? TokenContent(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object => Str(value, "content"),
        _ => null,
    };

    private static string? Str(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Int(JsonElement value, string file, string what) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int v)
            ? v
            : throw new LineageException($"{what} is not an integer token id", file);
}
