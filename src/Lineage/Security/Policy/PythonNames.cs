using System.Text;

namespace Lineage.Security.Policy;

/// <summary>
/// Spelling rules for Python module and attribute names as a pickle (or a Keras config) hands them to the
/// importer. A canonical name is pure ASCII identifiers joined by single dots; anything else is how deny-lists
/// get bypassed, so it is detected here and folded to a "skeleton" that the policy can evaluate as well.
/// </summary>
internal static class PythonNames
{
    /// <summary>True when <paramref name="dotted"/> is one or more ASCII identifiers separated by single dots.</summary>
    public static bool IsCanonicalDotted(string dotted)
    {
        if (dotted.Length == 0) return false;
        bool atStart = true;
        foreach (char c in dotted)
        {
            if (c == '.')
            {
                if (atStart) return false;
                atStart = true;
                continue;
            }
            bool ok = atStart ? IsAsciiIdentifierStart(c) : IsAsciiIdentifierPart(c);
            if (!ok) return false;
            atStart = false;
        }
        return !atStart;
    }

    public static bool IsAsciiIdentifierStart(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';

    public static bool IsAsciiIdentifierPart(char c) => IsAsciiIdentifierStart(c) || c is >= '0' and <= '9';

    /// <summary>A name of the form <c>__x__</c>.</summary>
    public static bool IsDunder(string segment) =>
        segment.Length > 4 && segment.StartsWith("__", StringComparison.Ordinal) && segment.EndsWith("__", StringComparison.Ordinal);

    /// <summary>
    /// Folds a suspicious spelling to what a human (or a lenient consumer) would read: drops whitespace, control
    /// and zero-width characters, maps fullwidth forms, mathematical alphanumerics, ligatures and common
    /// Cyrillic/Greek lookalikes to ASCII. (InvariantGlobalization rules out string.Normalize(FormKC), and the
    /// lookalike part is beyond NFKC anyway.)
    /// </summary>
    public static string Skeleton(string name)
    {
        var sb = new StringBuilder(name.Length);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                int cp = char.ConvertToUtf32(c, name[i + 1]);
                i++;
                sb.Append(FoldAstral(cp));
                continue;
            }
            if (char.IsWhiteSpace(c) || char.IsControl(c) || IsInvisible(c)) continue;
            if (c is >= '\uFF01' and <= '\uFF5E')
            {
                sb.Append((char)(c - 0xFEE0));
                continue;
            }
            switch (c)
            {
                case '\uFB01': sb.Append("fi"); continue;
                case '\uFB02': sb.Append("fl"); continue;
                case '\u2024': case '\uFE52': case '\u3002': sb.Append('.'); continue;
                case '\uFF3F': case '\uFE4D': case '\uFE4E': case '\uFE4F': sb.Append('_'); continue;
            }
            sb.Append(Lookalikes.TryGetValue(c, out char ascii) ? ascii : c);
        }
        return sb.ToString();
    }

    private static bool IsInvisible(char c) =>
        c is '\u00AD' or '\u034F' or '\u061C' or '\u115F' or '\u1160' or '\u17B4' or '\u17B5' or '\u180E'
            or (>= '\u200B' and <= '\u200F') or (>= '\u202A' and <= '\u202E') or (>= '\u2060' and <= '\u206F')
            or '\u3164' or '\uFEFF' or '\uFFA0';

    private static string FoldAstral(int cp)
    {
        // Mathematical alphanumeric symbols: 13 styled alphabets of A–Z a–z, then styled digits.
        if (cp is >= 0x1D400 and <= 0x1D6A3)
        {
            int k = (cp - 0x1D400) % 52;
            return ((char)(k < 26 ? 'A' + k : 'a' + k - 26)).ToString();
        }
        if (cp is >= 0x1D7CE and <= 0x1D7FF) return ((char)('0' + (cp - 0x1D7CE) % 10)).ToString();
        // Tag characters and variation selectors are invisible.
        if (cp is >= 0xE0000 and <= 0xE007F or >= 0xE0100 and <= 0xE01EF) return "";
        return char.ConvertFromUtf32(cp);
    }

    private static readonly Dictionary<char, char> Lookalikes = new()
    {
        // Cyrillic lower case
        ['\u0430'] = 'a', ['\u0435'] = 'e', ['\u043E'] = 'o', ['\u0440'] = 'p', ['\u0441'] = 'c', ['\u0443'] = 'y',
        ['\u0445'] = 'x', ['\u0455'] = 's', ['\u0456'] = 'i', ['\u0458'] = 'j', ['\u0501'] = 'd', ['\u04BB'] = 'h',
        ['\u0442'] = 't', ['\u043C'] = 'm', ['\u043A'] = 'k', ['\u0432'] = 'b', ['\u043D'] = 'h', ['\u0491'] = 'r',
        ['\u051B'] = 'q', ['\u051D'] = 'w', ['\u0460'] = 'w', ['\u0461'] = 'w',
        // Cyrillic upper case
        ['\u0410'] = 'A', ['\u0412'] = 'B', ['\u0415'] = 'E', ['\u041A'] = 'K', ['\u041C'] = 'M', ['\u041D'] = 'H',
        ['\u041E'] = 'O', ['\u0420'] = 'P', ['\u0421'] = 'C', ['\u0422'] = 'T', ['\u0425'] = 'X', ['\u0405'] = 'S',
        ['\u0406'] = 'I', ['\u0408'] = 'J', ['\u04AE'] = 'Y',
        // Greek
        ['\u03B1'] = 'a', ['\u03BF'] = 'o', ['\u03C1'] = 'p', ['\u03B9'] = 'i', ['\u03BA'] = 'k', ['\u03BD'] = 'v',
        ['\u03C5'] = 'u', ['\u03C7'] = 'x', ['\u03F2'] = 'c', ['\u03F3'] = 'j',
        ['\u0391'] = 'A', ['\u0392'] = 'B', ['\u0395'] = 'E', ['\u0396'] = 'Z', ['\u0397'] = 'H', ['\u0399'] = 'I',
        ['\u039A'] = 'K', ['\u039C'] = 'M', ['\u039D'] = 'N', ['\u039F'] = 'O', ['\u03A1'] = 'P', ['\u03A4'] = 'T',
        ['\u03A5'] = 'Y', ['\u03A7'] = 'X',
        // Latin variants
        ['\u0131'] = 'i', ['\u017F'] = 's', ['\u0261'] = 'g', ['\u0251'] = 'a', ['\u1D0F'] = 'o', ['\u1D1C'] = 'u',
        ['\u0269'] = 'i', ['\u01C0'] = 'l', ['\u2170'] = 'i', ['\u217C'] = 'l', ['\u2173'] = 'v', ['\u2179'] = 'x',
        // Modifier / superscript / subscript letters that NFKC folds
        ['\u1D43'] = 'a', ['\u1D49'] = 'e', ['\u1D52'] = 'o', ['\u02E2'] = 's', ['\u02B8'] = 'y', ['\u1D57'] = 't',
        ['\u2090'] = 'a', ['\u2091'] = 'e', ['\u2092'] = 'o', ['\u209B'] = 's', ['\u209C'] = 't', ['\u2071'] = 'i',
    };

    /// <summary>Human-readable rendering of a raw name for messages: control and non-ASCII characters escaped.</summary>
    public static string Printable(string raw)
    {
        var sb = new StringBuilder(raw.Length + 8);
        foreach (char c in raw)
        {
            if (c is >= ' ' and < '\x7F' && c != '\\') sb.Append(c);
            else if (c == '\\') sb.Append("\\\\");
            else sb.Append(c <= '\xFF' ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}");
        }
        return sb.ToString();
    }
}
