namespace Lineage.Tokenizers;

/// <summary>
/// GPT-2's reversible byte-to-unicode alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen) map to U+0100 onwards in byte order. Byte-level BPE vocabularies are
/// spelled in it, and tiktoken's raw-byte tokens are spelled in it here, so every byte-level vocabulary shares one
/// spelling ("Ġthe" for " the").
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(p => p.c, p => (byte)p.b);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The alphabet character standing for <paramref name="b"/>.</summary>
    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>Spells raw bytes in the alphabet.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>True when <paramref name="c"/> is one of the 256 alphabet characters.</summary>
    public static bool TryDecode(char c, out byte b) => CharToByte.TryGetValue(c, out b);

    /// <summary>
    /// The bytes a byte-level token stands for. Characters outside the alphabet (added tokens may hold any text)
    /// contribute their UTF-8 bytes.
    /// </summary>
    public static byte[] Decode(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var bytes = new List<byte>(token.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in token.EnumerateRunes())
        {
            if (rune.IsBmp && CharToByte.TryGetValue((char)rune.Value, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            int n = rune.EncodeToUtf8(utf8);
            for (int i = 0; i < n; i++) bytes.Add(utf8[i]);
        }
        return [.. bytes];
    }
}
