using System.Globalization;
using System.Text;

namespace Lineage.Formats.Numpy;

/// <summary>
/// Parses the tiny subset of Python literal syntax that .npy headers use — dicts, tuples, lists, strings,
/// integers (with a Python 2 'L' suffix), True/False/None — into plain .NET values. It never evaluates
/// anything; nesting is depth-limited. Tuples and lists become <see cref="List{T}"/> of object.
/// </summary>
internal sealed class PythonLiteral
{
    private const int MaxDepth = 16;

    private readonly string _text;
    private readonly Func<string, int, LineageException> _error;
    private int _pos;

    private PythonLiteral(string text, Func<string, int, LineageException> error)
    {
        _text = text;
        _error = error;
    }

    /// <summary>Parses a dict literal with string keys; <paramref name="error"/> builds an exception for a message and character position.</summary>
    public static Dictionary<string, object?> ParseDict(string text, Func<string, int, LineageException> error)
    {
        var parser = new PythonLiteral(text, error);
        parser.SkipSpace();
        if (parser.Peek() != '{')
            throw error("header is not a dict literal", parser._pos);
        var dict = parser.ParseDictBody(0);
        parser.SkipSpace();
        if (parser._pos < text.Length)
            throw error("unexpected text after the header dict", parser._pos);
        return dict;
    }

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private void SkipSpace()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\r' or '\n') _pos++;
    }

    private void Expect(char c)
    {
        SkipSpace();
        if (Peek() != c)
            throw _error($"expected '{c}'", _pos);
        _pos++;
    }

    private Dictionary<string, object?> ParseDictBody(int depth)
    {
        Expect('{');
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            SkipSpace();
            if (Peek() == '}')
            {
                _pos++;
                return dict;
            }
            int keyAt = _pos;
            if (ParseValue(depth + 1) is not string key)
                throw _error("dict key is not a string", keyAt);
            Expect(':');
            var value = ParseValue(depth + 1);
            if (!dict.TryAdd(key, value))
                throw _error($"duplicate key '{key}'", keyAt);
            SkipSpace();
            if (Peek() == ',')
            {
                _pos++;
                continue;
            }
            if (Peek() != '}')
                throw _error("expected ',' or '}'", _pos);
        }
    }

    private List<object?> ParseSequence(char close, int depth)
    {
        _pos++;
        var items = new List<object?>();
        while (true)
        {
            SkipSpace();
            if (Peek() == close)
            {
                _pos++;
                return items;
            }
            if (items.Count >= 1024)
                throw _error("sequence longer than 1024 items", _pos);
            items.Add(ParseValue(depth + 1));
            SkipSpace();
            if (Peek() == ',')
            {
                _pos++;
                continue;
            }
            if (Peek() != close)
                throw _error($"expected ',' or '{close}'", _pos);
        }
    }

    private object? ParseValue(int depth)
    {
        if (depth > MaxDepth)
            throw _error("literal nested too deeply", _pos);
        SkipSpace();
        char c = Peek();
        switch (c)
        {
            case '{':
                return ParseDictBody(depth);
            case '(':
                return ParseSequence(')', depth);
            case '[':
                return ParseSequence(']', depth);
            case '\'' or '"':
                return ParseString(c);
        }
        if (c is '-' or '+' || char.IsAsciiDigit(c))
            return ParseInteger();
        foreach (var (word, value) in new (string, object?)[] { ("True", true), ("False", false), ("None", null) })
        {
            if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) == 0)
            {
                _pos += word.Length;
                return value;
            }
        }
        throw _error($"unexpected character '{c}' in the header", _pos);
    }

    private string ParseString(char quote)
    {
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length)
                throw _error("unterminated string", _pos);
            char c = _text[_pos++];
            if (c == quote) return sb.ToString();
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            if (_pos >= _text.Length)
                throw _error("unterminated string", _pos);
            char e = _text[_pos++];
            sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => e });
        }
    }

    private long ParseInteger()
    {
        int start = _pos;
        if (Peek() is '-' or '+') _pos++;
        while (char.IsAsciiDigit(Peek())) _pos++;
        string digits = _text[start.._pos];
        if (Peek() is 'L' or 'l') _pos++;
        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            throw _error($"integer '{digits}' is out of range", start);
        return value;
    }
}
