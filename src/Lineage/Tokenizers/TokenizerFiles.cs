using System.Text.RegularExpressions;
using Lineage.Formats;
using Lineage.IO;
using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>What a single file holds, decided from its content (and, for plain-text vocabularies, its name).</summary>
internal enum TokenizerFileKind
{
    None,
    SentencePiece,
    Tiktoken,
    Json,
    WordPieceText,
}

/// <summary>
/// Finds and loads the tokenizer of a model folder — tokenizer.json first, then a SentencePiece (or Llama 3
/// tiktoken) tokenizer.model / spiece.model / *.model.vN, vocab.txt, vocab.json (+ merges.txt), *.tiktoken — and
/// amends it with special_tokens_map.json, tokenizer_config.json and chat_template.jinja. Also opens a single
/// tokenizer file on its own.
/// </summary>
internal static partial class TokenizerFiles
{
    private const int HeadLength = 512;

    public static Tokenizer? LoadFromFolder(string dir, List<ModelFile> files, List<Diagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(files);
        var used = new List<(string Path, string Format)>();
        var draft = LoadVocabulary(dir, used, diagnostics);
        if (draft is null) return null;

        string addedTokens = Path.Combine(dir, "added_tokens.json");
        if (File.Exists(addedTokens))
        {
            // Older Hugging Face layout: {"token": id} for tokens appended to vocab.txt / vocab.json / a SentencePiece model.
            using var doc = HfTokenizerJson.Parse(TextVocabularies.ReadFile(addedTokens), addedTokens);
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object)
            {
                HfTokenizerJson.ApplyAddedTokens(draft, doc.RootElement, addedTokens, diagnostics);
                used.Add((addedTokens, "added-tokens"));
            }
        }
        foreach (string name in new[] { "special_tokens_map.json", "tokenizer_config.json" })
        {
            string path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            var bytes = TextVocabularies.ReadFile(path);
            using var doc = HfTokenizerJson.Parse(bytes, path);
            HfTokenizerJson.ApplyConfig(draft, doc.RootElement, path, diagnostics);
            used.Add((path, "tokenizer-config"));
        }
        string chatJson = Path.Combine(dir, "chat_template.json");
        if (File.Exists(chatJson))
        {
            using var doc = HfTokenizerJson.Parse(TextVocabularies.ReadFile(chatJson), chatJson);
            if (doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out var t))
                HfTokenizerJson.ApplyChatTemplate(draft, t, chatJson);
            used.Add((chatJson, "chat-template"));
        }
        string jinja = Path.Combine(dir, "chat_template.jinja");
        if (File.Exists(jinja))
        {
            // transformers prefers the standalone template file over the config's entry.
            string text = System.Text.Encoding.UTF8.GetString(TextVocabularies.ReadFile(jinja));
            draft.ChatTemplate = text;
            draft.ChatTemplates["default"] = text;
            used.Add((jinja, "chat-template"));
        }
        foreach (var (path, format) in used)
            if (!files.Any(f => f.Path == path))
                files.Add(new ModelFile(path, new FileInfo(path).Length, "tokenizer", format));
        return draft.Build();
    }

    private static TokenizerDraft? LoadVocabulary(string dir, List<(string Path, string Format)> used, List<Diagnostic> diagnostics)
    {
        string tokenizerJson = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(tokenizerJson))
        {
            using var doc = HfTokenizerJson.Parse(TextVocabularies.ReadFile(tokenizerJson), tokenizerJson);
            if (HfTokenizerJson.IsTokenizerJson(doc.RootElement))
            {
                used.Add((tokenizerJson, "tokenizer.json"));
                return HfTokenizerJson.ReadTokenizerJson(doc.RootElement, tokenizerJson, diagnostics);
            }
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.json-unrecognised", "tokenizer.json has no model.vocab; looking for other tokenizer files", tokenizerJson));
        }

        var modelFiles = Directory.EnumerateFiles(dir).Where(f => IsModelFileName(Path.GetFileName(f)))
            .OrderBy(f => ModelFilePreference(Path.GetFileName(f))).ThenBy(f => f, StringComparer.Ordinal).ToList();
        foreach (string file in modelFiles)
        {
            var kind = Sniff(file, out _);
            TokenizerDraft? draft = kind switch
            {
                TokenizerFileKind.SentencePiece => TokenizerDraft.From(ReadSentencePiece(file)),
                TokenizerFileKind.Tiktoken => TokenizerDraft.From(TextVocabularies.ReadTiktoken(TextVocabularies.ReadFile(file), file, diagnostics)),
                _ => null,
            };
            if (draft is null)
            {
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.unrecognised",
                    $"{Path.GetFileName(file)} is neither a SentencePiece model nor tiktoken ranks; skipped", file));
                continue;
            }
            used.Add((file, kind == TokenizerFileKind.SentencePiece ? "sentencepiece" : "tiktoken"));
            var others = modelFiles.Where(f => f != file).Select(Path.GetFileName).ToList();
            if (others.Count > 0)
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "tokenizer.alternatives",
                    $"used {Path.GetFileName(file)}; the folder also holds {string.Join(", ", others)}", file));
            return draft;
        }

        string vocabTxt = Path.Combine(dir, "vocab.txt");
        if (File.Exists(vocabTxt))
        {
            used.Add((vocabTxt, "wordpiece-vocab"));
            return TokenizerDraft.From(TextVocabularies.ReadWordPieceLines(TextVocabularies.ReadFile(vocabTxt), vocabTxt, diagnostics));
        }

        string vocabJson = Path.Combine(dir, "vocab.json");
        if (File.Exists(vocabJson))
        {
            using var doc = HfTokenizerJson.Parse(TextVocabularies.ReadFile(vocabJson), vocabJson);
            if (HfTokenizerJson.IsVocabularyMap(doc.RootElement))
            {
                string mergesPath = Path.Combine(dir, "merges.txt");
                List<string>? merges = null;
                if (File.Exists(mergesPath))
                {
                    merges = HfTokenizerJson.ReadMergesText(TextVocabularies.ReadFile(mergesPath));
                    used.Add((mergesPath, "bpe-merges"));
                }
                used.Add((vocabJson, "vocab-json"));
                return HfTokenizerJson.ReadVocabularyMap(doc.RootElement, vocabJson, merges, diagnostics);
            }
        }

        foreach (string file in Directory.EnumerateFiles(dir, "*.tiktoken").Order(StringComparer.Ordinal))
        {
            if (Sniff(file, out _) != TokenizerFileKind.Tiktoken) continue;
            used.Add((file, "tiktoken"));
            return TokenizerDraft.From(TextVocabularies.ReadTiktoken(TextVocabularies.ReadFile(file), file, diagnostics));
        }
        return null;
    }

    /// <summary>
    /// Loads a single file that is a tokenizer (SentencePiece model, tokenizer.json, {"token": id} map, tiktoken
    /// ranks, or a vocab.txt by name); null when it is something else, such as weights.
    /// </summary>
    public static Tokenizer? TryLoadFile(string path, List<Diagnostic> diagnostics, out string format)
    {
        var kind = Sniff(path, out var detected);
        format = "";
        switch (kind)
        {
            case TokenizerFileKind.SentencePiece:
                format = "sentencepiece";
                return ReadSentencePiece(path);
            case TokenizerFileKind.Tiktoken:
                format = "tiktoken";
                return TextVocabularies.ReadTiktoken(TextVocabularies.ReadFile(path), path, diagnostics);
            case TokenizerFileKind.WordPieceText:
                format = "wordpiece-vocab";
                return TextVocabularies.ReadWordPieceLines(TextVocabularies.ReadFile(path), path, diagnostics);
            case TokenizerFileKind.Json:
                var bytes = TextVocabularies.ReadFile(path);
                System.Text.Json.JsonDocument doc;
                try
                {
                    doc = HfTokenizerJson.Parse(bytes, path);
                }
                catch (LineageException) when (detected != ContainerFormat.Json)
                {
                    return null; // starts like JSON but is not: not ours to judge
                }
                using (doc)
                {
                    if (HfTokenizerJson.IsTokenizerJson(doc.RootElement))
                    {
                        format = "tokenizer.json";
                        return HfTokenizerJson.ReadTokenizerJson(doc.RootElement, path, diagnostics).Build();
                    }
                    if (HfTokenizerJson.IsVocabularyMap(doc.RootElement))
                    {
                        format = "vocab-json";
                        return HfTokenizerJson.ReadVocabularyMap(doc.RootElement, path, null, diagnostics).Build();
                    }
                }
                return null;
            default:
                return null;
        }
    }

    private static Tokenizer ReadSentencePiece(string path)
    {
        using var source = RandomAccessFile.Open(path);
        return SentencePieceReader.ToTokenizer(SentencePieceReader.Read(source), path);
    }

    /// <summary>Decides from the first bytes (weight formats are ruled out first by the container detector).</summary>
    internal static TokenizerFileKind Sniff(string path, out ContainerFormat format)
    {
        byte[] head;
        long length;
        using (var source = RandomAccessFile.Open(path))
        {
            length = source.Length;
            head = source.ReadBytes(0, Math.Min(HeadLength, source.Length));
        }
        format = FormatDetector.Detect(head, length, path);
        if (length == 0) return TokenizerFileKind.None;
        // Text formats can trip the protocol-0 pickle heuristic ("IQ== 0" starts with INT); binary weights cannot pass these tests.
        bool candidate = format is ContainerFormat.Unknown or ContainerFormat.Json or ContainerFormat.Protobuf
            || (format == ContainerFormat.Pickle && head[0] != 0x80);
        if (!candidate) return TokenizerFileKind.None;
        if (SentencePieceReader.LooksLike(head)) return TokenizerFileKind.SentencePiece;
        if (TextVocabularies.LooksLikeTiktoken(head)) return TokenizerFileKind.Tiktoken;
        int i = head.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        while (i < head.Length && head[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        if (i < head.Length && head[i] == (byte)'{') return TokenizerFileKind.Json;
        string name = Path.GetFileName(path).ToLowerInvariant();
        bool vocabName = name == "vocab.txt" || (name.EndsWith(".txt", StringComparison.Ordinal) && name.Contains("vocab", StringComparison.Ordinal))
            || name.EndsWith(".vocab", StringComparison.Ordinal);
        if (vocabName && !head.AsSpan().Contains((byte)0)) return TokenizerFileKind.WordPieceText;
        return TokenizerFileKind.None;
    }

    private static bool IsModelFileName(string name) =>
        name.EndsWith(".model", StringComparison.OrdinalIgnoreCase) || VersionedModel().IsMatch(name);

    /// <summary>tokenizer.model, then spiece.model, then other *.model, then versioned files newest first.</summary>
    private static (int, int) ModelFilePreference(string name)
    {
        if (name.Equals("tokenizer.model", StringComparison.OrdinalIgnoreCase)) return (0, 0);
        if (name.Equals("spiece.model", StringComparison.OrdinalIgnoreCase)) return (1, 0);
        var m = VersionedModel().Match(name);
        return m.Success && int.TryParse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out int v) ? (3, -v) : (2, 0);
    }

    [GeneratedRegex(@"\.model\.v(\d{1,6})$", RegexOptions.IgnoreCase)]
    private static partial Regex VersionedModel();
}
