using System.Text;
using Lineage.Models;
using Lineage.Tokenizers;

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
        var spelling = TokenText.SpellingOf(tokenizer);
        var keys = new ulong[tokenizer.Tokens.Count];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = ForBytes(TokenText.ToBytes(tokenizer.Tokens[i], spelling));
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
