using System.Globalization;
using System.Text;

namespace Lineage.Security.Templates;

internal enum JinjaTokenKind
{
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
}

/// <summary>
/// One token of a Jinja2 tag. For strings, <see cref="Value"/> is the decoded literal and
/// <see cref="EscapedIdentifierChars"/> says whether an escape (\x, \u, \U, \N{…}, octal) produced a letter, digit,
/// '_' or '.', which real templates never need. <see cref="Start"/>/<see cref="End"/> index the template text.
/// </summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Start, int End, bool EscapedIdentifierChars = false, bool NonAscii = false)
{
    public bool Is(string op) => Kind == JinjaTokenKind.Operator && Value == op;

    public bool IsName(string name) => Kind == JinjaTokenKind.Name && Value == name;
}

/// <summary>A tag (<c>{{ … }}</c> or <c>{% … %}</c>) and its tokens, without the delimiters.</summary>
internal sealed record JinjaTag(bool IsBlock, int Start, int End, List<JinjaToken> Tokens);

/// <summary>A problem Jinja2 itself would refuse the template for.</summary>
internal readonly record struct JinjaSyntaxError(int Position, string Message);

/// <summary>
/// A lexer for Jinja2's default syntax, following jinja2/lexer.py: data, <c>{# comments #}</c>, <c>{% raw %}</c>
/// blocks, whitespace control (<c>-</c>, <c>+</c>), bracket balancing inside tags (so <c>}}</c> inside a dict
/// literal does not close the tag) and Python string-escape decoding. It never throws: problems become
/// <see cref="JinjaSyntaxError"/>s and lexing resumes after the broken tag.
/// </summary>
internal sealed class JinjaLexer
{
    private readonly string _s;
    private readonly int _maxTokens;
    private int _tokenCount;

    private JinjaLexer(string source, int maxTokens)
    {
        _s = source;
        _maxTokens = maxTokens;
    }

    public List<JinjaTag> Tags { get; } = [];

    public List<JinjaSyntaxError> Errors { get; } = [];

    /// <summary>True when the token limit stopped lexing early.</summary>
    public bool Truncated { get; private set; }

    public static JinjaLexer Lex(string source, int maxTokens = 500_000)
    {
        var lexer = new JinjaLexer(source, maxTokens);
        lexer.Run();
        return lexer;
    }

    private void Run()
    {
        int i = 0;
        while (i < _s.Length)
        {
            int open = _s.IndexOf('{', i);
            if (open < 0 || open + 1 >= _s.Length) break;
            char kind = _s[open + 1];
            if (kind == '#')
            {
                int close = _s.IndexOf("#}", open + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    Errors.Add(new(open, "unterminated comment"));
                    return;
                }
                i = close + 2;
                continue;
            }
            if (kind is not ('{' or '%'))
            {
                i = open + 1;
                continue;
            }
            bool block = kind == '%';
            int p = open + 2;
            if (p < _s.Length && _s[p] is '-' or '+') p++;
            if (block && TryRaw(open, p, out int afterRaw))
            {
                i = afterRaw;
                continue;
            }
            i = LexTag(open, p, block);
            if (Truncated) return;
        }
    }

    /// <summary>Handles <c>{% raw %}…{% endraw %}</c>: the content is data, whatever it looks like.</summary>
    private bool TryRaw(int open, int p, out int after)
    {
        after = p;
        int q = SkipSpace(p);
        if (!Matches(q, "raw")) return false;
        q = SkipSpace(q + 3);
        if (q < _s.Length && _s[q] is '-' or '+') q++;
        if (!Matches(q, "%}")) return false;
        int search = q + 2;
        while (true)
        {
            int start = _s.IndexOf("{%", search, StringComparison.Ordinal);
            if (start < 0)
            {
                Errors.Add(new(open, "missing {% endraw %}"));
                after = _s.Length;
                return true;
            }
            int r = start + 2;
            if (r < _s.Length && _s[r] is '-' or '+') r++;
            r = SkipSpace(r);
            if (Matches(r, "endraw"))
            {
                r = SkipSpace(r + 6);
                if (r < _s.Length && _s[r] is '-' or '+') r++;
                if (Matches(r, "%}"))
                {
                    after = r + 2;
                    return true;
                }
            }
            search = start + 2;
        }
    }

    private int LexTag(int open, int p, bool block)
    {
        var tokens = new List<JinjaToken>();
        string end = block ? "%}" : "}}";
        int depth = 0;
        int i = p;
        while (true)
        {
            i = SkipSpace(i);
            if (i >= _s.Length)
            {
                Errors.Add(new(open, block ? "unexpected end of template inside {% … %}" : "unexpected end of template inside {{ … }}"));
                Tags.Add(new JinjaTag(block, open, _s.Length, tokens));
                return _s.Length;
            }
            if (depth == 0)
            {
                if (Matches(i, end) || (_s[i] is '-' or '+' && Matches(i + 1, end)))
                {
                    int close = i + (_s[i] is '-' or '+' ? 1 : 0) + 2;
                    Tags.Add(new JinjaTag(block, open, close, tokens));
                    return close;
                }
                if (!block && Matches(i, "%}") || block && Matches(i, "}}"))
                {
                    // The wrong closing delimiter: Jinja reports it; resume after it.
                    Errors.Add(new(i, $"unexpected '{_s.Substring(i, 2)}'"));
                    Tags.Add(new JinjaTag(block, open, i + 2, tokens));
                    return i + 2;
                }
            }
            if (++_tokenCount > _maxTokens)
            {
                Truncated = true;
                Tags.Add(new JinjaTag(block, open, i, tokens));
                return _s.Length;
            }
            char c = _s[i];
            if (c is '\'' or '"')
            {
                if (!LexString(i, out var token, out int next))
                {
                    Errors.Add(new(i, "unterminated string literal"));
                    Tags.Add(new JinjaTag(block, open, _s.Length, tokens));
                    return _s.Length;
                }
                tokens.Add(token);
                i = next;
                continue;
            }
            if (char.IsAsciiDigit(c) || c == '.' && i + 1 < _s.Length && char.IsAsciiDigit(_s[i + 1]) && (i == 0 || _s[i - 1] != '.') && !PrecededByOperand(tokens))
            {
                i = LexNumber(i, tokens);
                continue;
            }
            if (IsNameStart(c, i))
            {
                int start = i;
                bool nonAscii = false;
                while (i < _s.Length && IsNamePart(_s[i], i))
                {
                    if (_s[i] > '\x7F') nonAscii = true;
                    i += char.IsHighSurrogate(_s[i]) && i + 1 < _s.Length ? 2 : 1;
                }
                tokens.Add(new JinjaToken(JinjaTokenKind.Name, _s[start..i], start, i, NonAscii: nonAscii));
                continue;
            }
            string? op = MatchOperator(i);
            if (op is null)
            {
                Errors.Add(new(i, $"unexpected character '{PrintableChar(c)}'"));
                i++;
                continue;
            }
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}")
            {
                if (depth == 0) Errors.Add(new(i, $"unexpected '{op}'"));
                else depth--;
            }
            tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, i, i + op.Length));
            i += op.Length;
        }
    }

    private static bool PrecededByOperand(List<JinjaToken> tokens) =>
        tokens.Count > 0 && tokens[^1].Kind is JinjaTokenKind.Name or JinjaTokenKind.Integer or JinjaTokenKind.Float or JinjaTokenKind.String
            || tokens.Count > 0 && tokens[^1].Kind == JinjaTokenKind.Operator && tokens[^1].Value is ")" or "]" or "}";

    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"];

    private string? MatchOperator(int i)
    {
        foreach (var op in Operators)
            if (Matches(i, op)) return op;
        return null;
    }

    private int LexNumber(int i, List<JinjaToken> tokens)
    {
        int start = i;
        if (_s[i] == '0' && i + 1 < _s.Length && _s[i + 1] is 'x' or 'X' or 'o' or 'O' or 'b' or 'B')
        {
            char radix = char.ToLowerInvariant(_s[i + 1]);
            i += 2;
            while (i < _s.Length && (char.IsAsciiHexDigit(_s[i]) || _s[i] == '_')) i++;
            string digits = _s[(start + 2)..i].Replace("_", "", StringComparison.Ordinal);
            long value = 0;
            try
            {
                value = radix == 'x' ? long.Parse(digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : Convert.ToInt64(digits, radix == 'o' ? 8 : 2);
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                Errors.Add(new(start, "invalid integer literal"));
            }
            tokens.Add(new JinjaToken(JinjaTokenKind.Integer, value.ToString(CultureInfo.InvariantCulture), start, i));
            return i;
        }
        while (i < _s.Length && (char.IsAsciiDigit(_s[i]) || _s[i] == '_')) i++;
        bool isFloat = false;
        if (i + 1 < _s.Length && _s[i] == '.' && char.IsAsciiDigit(_s[i + 1]) && (start == 0 || _s[start - 1] != '.'))
        {
            isFloat = true;
            i++;
            while (i < _s.Length && (char.IsAsciiDigit(_s[i]) || _s[i] == '_')) i++;
        }
        if (i < _s.Length && _s[i] is 'e' or 'E')
        {
            int e = i + 1;
            if (e < _s.Length && _s[e] is '+' or '-') e++;
            if (e < _s.Length && char.IsAsciiDigit(_s[e]))
            {
                isFloat = true;
                i = e;
                while (i < _s.Length && (char.IsAsciiDigit(_s[i]) || _s[i] == '_')) i++;
            }
        }
        string text = _s[start..i].Replace("_", "", StringComparison.Ordinal);
        tokens.Add(new JinjaToken(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, text, start, i));
        return i;
    }

    private bool LexString(int start, out JinjaToken token, out int next)
    {
        char quote = _s[start];
        var sb = new StringBuilder();
        bool escapedIdentifier = false;
        int i = start + 1;
        while (i < _s.Length)
        {
            char c = _s[i];
            if (c == quote)
            {
                next = i + 1;
                token = new JinjaToken(JinjaTokenKind.String, sb.ToString(), start, next, escapedIdentifier);
                return true;
            }
            if (c != '\\')
            {
                sb.Append(c == '\r' ? '\n' : c);
                if (c == '\r' && i + 1 < _s.Length && _s[i + 1] == '\n') i++;
                i++;
                continue;
            }
            if (i + 1 >= _s.Length) break;
            char e = _s[i + 1];
            i += 2;
            string? decoded = null;
            switch (e)
            {
                case '\\': sb.Append('\\'); continue;
                case '\'': sb.Append('\''); continue;
                case '"': sb.Append('"'); continue;
                case 'a': sb.Append('\a'); continue;
                case 'b': sb.Append('\b'); continue;
                case 'f': sb.Append('\f'); continue;
                case 'n': sb.Append('\n'); continue;
                case 'r': sb.Append('\r'); continue;
                case 't': sb.Append('\t'); continue;
                case 'v': sb.Append('\v'); continue;
                case '\n': continue;
                case 'x': decoded = HexEscape(ref i, 2); break;
                case 'u': decoded = HexEscape(ref i, 4); break;
                case 'U': decoded = HexEscape(ref i, 8); break;
                case 'N': decoded = NamedEscape(ref i); break;
                case >= '0' and <= '7':
                    {
                        int v = e - '0', n = 1;
                        while (n < 3 && i < _s.Length && _s[i] is >= '0' and <= '7')
                        {
                            v = v * 8 + (_s[i] - '0');
                            i++;
                            n++;
                        }
                        decoded = ((char)v).ToString();
                        break;
                    }
                default:
                    sb.Append('\\').Append(e);
                    continue;
            }
            if (decoded is null)
            {
                sb.Append('\\').Append(e);
                continue;
            }
            if (decoded.Any(ch => PythonIdentifierish(ch))) escapedIdentifier = true;
            sb.Append(decoded);
        }
        token = default;
        next = _s.Length;
        return false;
    }

    private static bool PythonIdentifierish(char c) => char.IsLetterOrDigit(c) || c is '_' or '.';

    private string? HexEscape(ref int i, int digits)
    {
        if (i + digits > _s.Length) return null;
        string hex = _s.Substring(i, digits);
        if (!hex.All(char.IsAsciiHexDigit)) return null;
        int cp = Convert.ToInt32(hex, 16);
        i += digits;
        if (cp > 0x10FFFF || cp is >= 0xD800 and <= 0xDFFF) return "\uFFFD";
        return char.ConvertFromUtf32(cp);
    }

    /// <summary>\N{NAME}: the names an evasion would use (LOW LINE, LATIN … LETTER X, DIGIT N); others decode to U+FFFD.</summary>
    private string? NamedEscape(ref int i)
    {
        if (i >= _s.Length || _s[i] != '{') return null;
        int close = _s.IndexOf('}', i);
        if (close < 0 || close - i > 100) return null;
        string name = _s[(i + 1)..close].ToUpperInvariant().Trim();
        i = close + 1;
        if (name is "LOW LINE" or "SPACING UNDERSCORE") return "_";
        if (name is "FULL STOP" or "PERIOD") return ".";
        if (name.StartsWith("LATIN SMALL LETTER ", StringComparison.Ordinal) && name.Length == 20) return char.ToLowerInvariant(name[19]).ToString();
        if (name.StartsWith("LATIN CAPITAL LETTER ", StringComparison.Ordinal) && name.Length == 22) return name[21].ToString();
        if (name.StartsWith("DIGIT ", StringComparison.Ordinal))
        {
            string[] digits = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"];
            int d = Array.IndexOf(digits, name[6..]);
            if (d >= 0) return ((char)('0' + d)).ToString();
        }
        return "\uFFFD";
    }

    private bool IsNameStart(char c, int i) =>
        c == '_' || char.IsLetter(c) || char.IsHighSurrogate(c) && i + 1 < _s.Length && char.IsLetter(_s, i);

    private bool IsNamePart(char c, int i)
    {
        if (c == '_' || char.IsLetterOrDigit(c)) return true;
        if (char.IsHighSurrogate(c)) return i + 1 < _s.Length && char.IsLetterOrDigit(_s, i);
        var cat = CharUnicodeInfo.GetUnicodeCategory(c);
        return cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.ConnectorPunctuation
            or UnicodeCategory.Format;
    }

    private int SkipSpace(int i)
    {
        while (i < _s.Length && _s[i] is ' ' or '\t' or '\n' or '\r' or '\f' or '\v') i++;
        return i;
    }

    private bool Matches(int i, string what) => i >= 0 && i + what.Length <= _s.Length && string.CompareOrdinal(_s, i, what, 0, what.Length) == 0;

    private static string PrintableChar(char c) => c is >= ' ' and < '\x7F' ? c.ToString() : $"\\u{(int)c:x4}";
}
