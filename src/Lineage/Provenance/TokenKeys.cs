using System.Text;
using Lineage.Models;

namespace Lineage.Provenance;

/// <summary>
/// Stable 64-bit keys for tokens, so vocabularies of different files and formats can be aligned by what a
/// token spells rather than by its id. Keys come from the token's canonical text (SentencePiece's '▁' is a
/// space; byte-level alphabets are mapped back to bytes), hashed with FNV-1a and a SplitMix64 finalizer so
/// that "the k smallest keys" is a uniform, consistent sample of any vocabulary (a bottom-k sketch).
/// </summary>
public static class TokenKeys
{
    public static ulong ForText(string canonical)
    {
        ArgumentNullException.ThrowIfNull(canonical);
        return Mix(Fnv1a(Encoding.UTF8.GetBytes(canonical)));
    }

    public static ulong ForBytes(ReadOnlySpan<byte> bytes) => Mix(Fnv1a(bytes));

    /// <summary>Key for a token known only by id (no tokenizer available).</summary>
    public static ulong ForId(int id) => Mix(0x9E3779B97F4A7C15UL ^ (ulong)(uint)id * 0xD6E8FEB86659FD93UL);

    /// <summary>Canonical text keys for every token of a vocabulary.</summary>
    public static ulong[] ForVocabulary(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var keys = new ulong[tokenizer.Tokens.Count];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = ForBytes(TokenCanonicalizer.ToBytes(tokenizer.Tokens[i], tokenizer.Kind));
        return keys;
    }

    private static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (byte b in bytes)
        {
            h ^= b;
            h *= 0x100000001B3UL;
        }
        return h;
    }

    internal static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>Maps a token's stored spelling to the bytes it stands for.</summary>
public static class TokenCanonicalizer
{
    private static readonly Lazy<Dictionary<char, byte>> ByteLevelDecode = new(BuildByteLevelDecode);

    public static byte[] ToBytes(string token, TokenizerKind kind)
    {
        ArgumentNullException.ThrowIfNull(token);
        switch (kind)
        {
            case TokenizerKind.ByteLevelBpe:
            case TokenizerKind.Tiktoken:
            {
                var map = ByteLevelDecode.Value;
                var bytes = new byte[token.Length];
                for (int i = 0; i < token.Length; i++)
                {
                    if (!map.TryGetValue(token[i], out bytes[i]))
                        return Encoding.UTF8.GetBytes(token);
                }
                return bytes;
            }
            case TokenizerKind.SentencePieceBpe:
            case TokenizerKind.SentencePieceUnigram:
                if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token.EndsWith('>')
                    && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b))
                    return [b];
                return Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '));
            default:
                return Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '));
        }
    }

    /// <summary>GPT-2's reversible byte-to-unicode alphabet, inverted.</summary>
    private static Dictionary<char, byte> BuildByteLevelDecode()
    {
        var map = new Dictionary<char, byte>();
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            char c = printable ? (char)b : (char)(256 + n++);
            map[c] = (byte)b;
        }
        return map;
    }
}
