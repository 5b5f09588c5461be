using System.Globalization;
using System.Text;
using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>How a vocabulary spells the bytes a token stands for.</summary>
public enum TokenSpelling
{
    /// <summary>Plain UTF-8 text.</summary>
    Text,

    /// <summary>'▁' for a space, "&lt;0xAB&gt;" for a fallback byte (SentencePiece, llama.cpp "llama"/"bert" vocabularies).</summary>
    SentencePiece,

    /// <summary>GPT-2's byte-to-unicode alphabet ("Ġthe"); tiktoken ranks are stored in it by this library.</summary>
    ByteLevel,

    /// <summary>BERT WordPiece: "##" marks a continuation, any other token starts a word, "[CLS]"-style tokens are special.</summary>
    WordPiece,
}

/// <summary>
/// Maps a token in its vocabulary's own spelling onto the bytes it stands for, so the same token compares equal
/// across SentencePiece, byte-level BPE, tiktoken, WordPiece and GGUF vocabularies: "▁the", "Ġthe", tiktoken's
/// " the" and WordPiece's word-initial "the" all become the bytes " the"; "&lt;0x0A&gt;" and "Ċ" both become 0x0A.
/// WordPiece follows llama.cpp's convention: a word-initial token gets a leading space (a phantom space, as
/// SentencePiece's '▁'), "##x" becomes "x", and bracketed special tokens such as "[CLS]" stay as written.
/// </summary>
public static class TokenText
{
    public static TokenSpelling SpellingOf(TokenizerKind kind) => kind switch
    {
        TokenizerKind.SentencePieceBpe or TokenizerKind.SentencePieceUnigram or TokenizerKind.CharLevel => TokenSpelling.SentencePiece,
        TokenizerKind.ByteLevelBpe or TokenizerKind.Tiktoken => TokenSpelling.ByteLevel,
        TokenizerKind.WordPiece => TokenSpelling.WordPiece,
        _ => TokenSpelling.Text,
    };

    /// <summary>
    /// The spelling of a whole vocabulary. A WordPiece vocabulary without any "##" continuation but with '▁' tokens
    /// is stored the SentencePiece way (llama.cpp converts BERT vocabularies so); an unknown kind is recognised by
    /// its 'Ġ' or '▁' tokens.
    /// </summary>
    public static TokenSpelling SpellingOf(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var spelling = SpellingOf(tokenizer.Kind);
        if (spelling is TokenSpelling.WordPiece or TokenSpelling.Text)
        {
            int continuations = 0, metaspace = 0, byteLevel = 0;
            foreach (var t in tokenizer.Tokens)
            {
                if (t.Length > 2 && t.StartsWith("##", StringComparison.Ordinal)) continuations++;
                else if (t.Length > 1 && t[0] == '\u2581') metaspace++;
                else if (t.Length > 1 && t[0] == '\u0120') byteLevel++;
            }
            if (spelling == TokenSpelling.WordPiece)
                return continuations == 0 && metaspace > 0 ? TokenSpelling.SentencePiece : TokenSpelling.WordPiece;
            if (byteLevel > metaspace) return TokenSpelling.ByteLevel;
            if (metaspace > 0) return TokenSpelling.SentencePiece;
        }
        return spelling;
    }

    public static byte[] ToBytes(string token, TokenizerKind kind) => ToBytes(token, SpellingOf(kind));

    public static byte[] ToBytes(string token, TokenSpelling spelling)
    {
        ArgumentNullException.ThrowIfNull(token);
        switch (spelling)
        {
            case TokenSpelling.ByteLevel:
                return ByteLevelAlphabet.Decode(token);
            case TokenSpelling.SentencePiece:
                if (TryParseByteToken(token, out byte b)) return [b];
                return Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '));
            case TokenSpelling.WordPiece:
                if (token.Length > 2 && token[0] == '[' && token[^1] == ']') return Encoding.UTF8.GetBytes(token);
                if (token.Length > 2 && token.StartsWith("##", StringComparison.Ordinal)) return Encoding.UTF8.GetBytes(token[2..]);
                return Encoding.UTF8.GetBytes(" " + token);
            default:
                return Encoding.UTF8.GetBytes(token);
        }
    }

    /// <summary>
    /// A canonical string for a token: its bytes spelled in the GPT-2 byte alphabet. Equal keys mean the same
    /// bytes; keys are readable ("Ġthe") and usable as dictionary keys with ordinal comparison.
    /// </summary>
    public static string Key(string token, TokenizerKind kind) => ByteLevelAlphabet.Encode(ToBytes(token, kind));

    public static string Key(string token, TokenSpelling spelling) => ByteLevelAlphabet.Encode(ToBytes(token, spelling));

    /// <summary>Canonical keys of every token by id, using the vocabulary's detected spelling.</summary>
    public static string[] Keys(Tokenizer tokenizer)
    {
        var spelling = SpellingOf(tokenizer);
        var keys = new string[tokenizer.Tokens.Count];
        for (int i = 0; i < keys.Length; i++) keys[i] = Key(tokenizer.Tokens[i], spelling);
        return keys;
    }

    /// <summary>SentencePiece byte-fallback tokens: exactly "&lt;0x" + two hex digits + "&gt;".</summary>
    public static bool TryParseByteToken(string token, out byte value)
    {
        ArgumentNullException.ThrowIfNull(token);
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}
