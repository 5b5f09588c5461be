using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>Line-oriented vocabulary files: tiktoken ranks ("base64 rank" per line) and WordPiece vocab.txt (one token per line).</summary>
internal static class TextVocabularies
{
    /// <summary>Tokenizer files larger than this are refused before being read.</summary>
    public const long MaxFileBytes = 512L << 20;

    private static readonly (string Token, string Role)[] WordPieceSpecials =
        [("[UNK]", "unk"), ("[CLS]", "cls"), ("[SEP]", "sep"), ("[PAD]", "pad"), ("[MASK]", "mask")];

    public static byte[] ReadFile(string path)
    {
        try
        {
            long length = new FileInfo(path).Length;
            if (length > MaxFileBytes)
                throw new LineageException($"tokenizer file of {length} bytes exceeds the {MaxFileBytes}-byte limit", path, 0);
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot read: {e.Message}", path, inner: e);
        }
    }

    /// <summary>True when the first complete lines (up to two) of the head read "base64 SPACE integer".</summary>
    public static bool LooksLikeTiktoken(ReadOnlySpan<byte> head)
    {
        int checkedLines = 0;
        foreach (var (start, end) in Lines(head))
        {
            if (end >= head.Length) break; // the last line of a head may be cut short
            if (!TryParseRankLine(head[start..end], out _, out _)) return false;
            if (++checkedLines == 2) break;
        }
        return checkedLines > 0;
    }

    public static Tokenizer ReadTiktoken(byte[] bytes, string file, List<Diagnostic> diagnostics)
    {
        var vocab = new VocabularyBuilder(file);
        foreach (var (start, end) in Lines(bytes))
        {
            var line = bytes.AsSpan(start, end - start);
            if (line.IsEmpty) continue;
            if (!TryParseRankLine(line, out var token, out int rank))
                throw new LineageException("tiktoken line is not 'base64-token rank'", file, start);
            if (!vocab.Add(rank, ByteLevelAlphabet.Encode(token), start))
                throw new LineageException($"rank {rank} appears twice", file, start);
        }
        if (vocab.Count == 0)
            throw new LineageException("tiktoken file holds no ranks", file, 0);
        return new Tokenizer
        {
            Kind = TokenizerKind.Tiktoken,
            Tokens = vocab.Build(diagnostics),
            Source = file,
            Family = "tiktoken",
        };
    }

    private static bool TryParseRankLine(ReadOnlySpan<byte> line, out byte[] token, out int rank)
    {
        token = [];
        rank = 0;
        int space = line.LastIndexOf((byte)' ');
        if (space <= 0 || space == line.Length - 1) return false;
        var digits = line[(space + 1)..];
        if (digits.Length > 9) return false;
        foreach (byte d in digits)
        {
            if (d is < (byte)'0' or > (byte)'9') return false;
            rank = rank * 10 + (d - '0');
        }
        var b64 = line[..space];
        var buffer = new byte[Base64.GetMaxDecodedFromUtf8Length(b64.Length)];
        if (Base64.DecodeFromUtf8(b64, buffer, out int consumed, out int written) != OperationStatus.Done || consumed != b64.Length || written == 0)
            return false;
        token = buffer[..written];
        return true;
    }

    /// <summary>vocab.txt: token i is line i (a final newline does not start another token).</summary>
    public static Tokenizer ReadWordPieceLines(byte[] bytes, string file, List<Diagnostic> diagnostics)
    {
        if (bytes.AsSpan().Contains((byte)0))
            throw new LineageException("vocabulary text contains a NUL byte", file, bytes.AsSpan().IndexOf((byte)0));
        var tokens = new List<string>();
        var utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var (start, end) in Lines(bytes))
        {
            int e = end > start && bytes[end - 1] == (byte)'\r' ? end - 1 : end;
            try
            {
                tokens.Add(utf8.GetString(bytes, start, e - start));
            }
            catch (DecoderFallbackException)
            {
                throw new LineageException("vocabulary line is not valid UTF-8", file, start);
            }
            if (tokens.Count > VocabularyBuilder.MaxVocabulary)
                throw new LineageException($"more than {VocabularyBuilder.MaxVocabulary} tokens", file, start);
        }
        if (tokens.Count == 0)
            throw new LineageException("vocabulary file is empty", file, 0);
        return WordPiece(tokens, file, diagnostics);
    }

    /// <summary>A WordPiece tokenizer from tokens by id, with BERT's bracketed special tokens found by name.</summary>
    public static Tokenizer WordPiece(IReadOnlyList<string> tokens, string file, List<Diagnostic> diagnostics)
    {
        _ = diagnostics;
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) index.TryAdd(tokens[i], i);
        foreach (var (token, role) in WordPieceSpecials)
            if (index.TryGetValue(token, out int id)) special[role] = id;
        return new Tokenizer
        {
            Kind = TokenizerKind.WordPiece,
            Tokens = tokens,
            SpecialTokens = special,
            AddedTokens = WordPieceSpecials.Where(s => index.ContainsKey(s.Token)).Select(s => s.Token).ToArray(),
            Source = file,
            Family = "WordPiece",
        };
    }

    /// <summary>Start and end (exclusive, without the '\n') of every line; no entry for the empty tail after a final newline.</summary>
    private static List<(int Start, int End)> Lines(ReadOnlySpan<byte> bytes)
    {
        var lines = new List<(int, int)>();
        int start = 0;
        while (start < bytes.Length)
        {
            int nl = bytes[start..].IndexOf((byte)'\n');
            int end = nl < 0 ? bytes.Length : start + nl;
            lines.Add((start, end));
            start = end + 1;
        }
        return lines;
    }
}
