using System.Globalization;
using System.Text;

namespace Lineage.Security.Analyzers;

/// <summary>One scalar value of a YAML document with the key path that leads to it.</summary>
internal readonly record struct YamlScalar(string Path, string Key, string Value, int Position);

/// <summary>
/// Extracts the scalar values of block-style YAML (nested mappings and sequences; plain, single-quoted,
/// double-quoted and block scalars with folding). It is not a full YAML parser: anchors, tags and flow
/// collections are read as plain text. That is enough to find templates, _target_ references and payloads in
/// model configs without a YAML dependency; nothing is ever constructed from the document.
/// </summary>
internal static class YamlScalars
{
    private const int MaxScalars = 100_000;

    public static List<YamlScalar> Extract(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var starts = new int[lines.Length];
        for (int k = 1; k < lines.Length; k++) starts[k] = starts[k - 1] + lines[k - 1].Length + 1;
        var result = new List<YamlScalar>();
        var stack = new List<(int Indent, string Key)>();
        int i = 0;
        while (i < lines.Length && result.Count < MaxScalars)
        {
            string line = lines[i];
            string trimmed = line.TrimStart(' ');
            int indent = line.Length - trimmed.Length;
            if (trimmed.Length == 0 || trimmed.StartsWith('#') || trimmed.StartsWith("---", StringComparison.Ordinal) || trimmed.StartsWith("...", StringComparison.Ordinal))
            {
                i++;
                continue;
            }
            // Sequence items: "- value" or "- key: value".
            int itemIndent = indent;
            while (trimmed.StartsWith("- ", StringComparison.Ordinal) || trimmed == "-")
            {
                Pop(stack, indent);
                stack.Add((indent, "[]"));
                string rest = trimmed.Length > 1 ? trimmed[2..] : "";
                indent += 2 + (rest.Length - rest.TrimStart(' ').Length);
                trimmed = rest.TrimStart(' ');
            }
            Pop(stack, indent);
            if (trimmed.Length == 0)
            {
                i++;
                continue;
            }
            int valuePos;
            string key;
            string valueText;
            int colon = FindKeyColon(trimmed);
            if (colon >= 0)
            {
                key = Unquote(trimmed[..colon].Trim());
                valueText = trimmed[(colon + 1)..].TrimStart(' ');
                valuePos = starts[i] + indent + colon + 1 + (trimmed.Length - colon - 1 - valueText.Length);
            }
            else
            {
                key = stack.Count > 0 ? stack[^1].Key : "";
                valueText = trimmed;
                valuePos = starts[i] + indent;
            }
            string path = string.Join('.', stack.Select(s => s.Key).Append(colon >= 0 ? key : "").Where(s => s.Length > 0));
            if (colon >= 0 && StripComment(valueText).Length == 0)
            {
                stack.Add((indent, key));
                i++;
                continue;
            }
            i = ReadValue(lines, i, indent, valueText, out string value);
            result.Add(new YamlScalar(path, key, value, valuePos));
            _ = itemIndent;
        }
        return result;
    }

    private static void Pop(List<(int Indent, string Key)> stack, int indent)
    {
        while (stack.Count > 0 && stack[^1].Indent >= indent) stack.RemoveAt(stack.Count - 1);
    }

    /// <summary>Index of the ':' ending a mapping key (followed by space or end), outside quotes.</summary>
    private static int FindKeyColon(string s)
    {
        if (s.Length == 0 || s[0] is '{' or '[' or '|' or '>') return -1;
        if (s[0] is '"' or '\'')
        {
            // A quoted key: the colon must follow its closing quote.
            int close = FindClosingQuote(s[1..], s[0]);
            if (close < 0) return -1;
            int k = close + 2;
            while (k < s.Length && s[k] == ' ') k++;
            return k < s.Length && s[k] == ':' && (k + 1 == s.Length || s[k + 1] == ' ') ? k : -1;
        }
        for (int k = 0; k < s.Length; k++)
        {
            char c = s[k];
            if (c == '#' && k > 0 && s[k - 1] == ' ') return -1;
            if (c == ':' && (k + 1 == s.Length || s[k + 1] == ' ')) return k;
        }
        return -1;
    }

    private static int ReadValue(string[] lines, int i, int indent, string valueText, out string value)
    {
        string v = valueText;
        if (v.StartsWith('"')) return ReadQuoted(lines, i, v, '"', out value);
        if (v.StartsWith('\'')) return ReadQuoted(lines, i, v, '\'', out value);
        if (v.StartsWith('|') || v.StartsWith('>'))
        {
            bool literal = v[0] == '|';
            var block = new List<string>();
            int k = i + 1, blockIndent = -1;
            for (; k < lines.Length; k++)
            {
                string l = lines[k];
                if (l.Trim().Length == 0) { block.Add(""); continue; }
                int ind = l.Length - l.TrimStart(' ').Length;
                if (ind <= indent) break;
                if (blockIndent < 0) blockIndent = ind;
                block.Add(l.Length >= blockIndent ? l[Math.Min(blockIndent, ind)..] : l.TrimStart());
            }
            while (block.Count > 0 && block[^1].Length == 0) block.RemoveAt(block.Count - 1);
            value = literal ? string.Join('\n', block) : Fold(block);
            return k;
        }
        // Plain scalar, possibly continued on more-indented lines.
        var parts = new List<string> { StripComment(v) };
        int j = i + 1;
        for (; j < lines.Length; j++)
        {
            string l = lines[j];
            string t = l.TrimStart(' ');
            if (t.Length == 0) { parts.Add(""); continue; }
            int ind = l.Length - t.Length;
            if (ind <= indent || t.StartsWith('#') || FindKeyColon(t) >= 0 || t.StartsWith("- ", StringComparison.Ordinal)) break;
            parts.Add(StripComment(t));
        }
        while (parts.Count > 1 && parts[^1].Length == 0) parts.RemoveAt(parts.Count - 1);
        value = Fold(parts);
        return j;
    }

    private static int ReadQuoted(string[] lines, int i, string start, char quote, out string value)
    {
        var raw = new StringBuilder();
        string current = start[1..];
        int k = i;
        while (true)
        {
            int end = FindClosingQuote(current, quote);
            if (end >= 0)
            {
                raw.Append(current[..end]);
                break;
            }
            raw.Append(current).Append('\n');
            if (++k >= lines.Length) break;
            current = lines[k].TrimStart(' ', '\t');
        }
        value = quote == '"' ? DoubleQuoted(raw.ToString()) : SingleQuoted(raw.ToString());
        return k + 1;
    }

    private static int FindClosingQuote(string s, char quote)
    {
        for (int k = 0; k < s.Length; k++)
        {
            if (quote == '"' && s[k] == '\\') { k++; continue; }
            if (s[k] != quote) continue;
            if (quote == '\'' && k + 1 < s.Length && s[k + 1] == '\'') { k++; continue; }
            return k;
        }
        return -1;
    }

    /// <summary>Line folding of flow scalars: a single line break becomes a space, an empty line a newline.</summary>
    private static string Fold(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        bool pendingSpace = false;
        bool first = true;
        foreach (var line in lines)
        {
            string l = line.Trim(' ', '\t');
            if (l.Length == 0)
            {
                sb.Append('\n');
                pendingSpace = false;
                continue;
            }
            if (pendingSpace && !first) sb.Append(' ');
            sb.Append(l);
            pendingSpace = true;
            first = false;
        }
        return sb.ToString();
    }

    private static string SingleQuoted(string raw) => Fold(raw.Split('\n')).Replace("''", "'", StringComparison.Ordinal);

    private static string DoubleQuoted(string raw)
    {
        // Escaped line breaks join lines without a space; the rest folds like plain text.
        string joined = raw.Replace("\\\n", "", StringComparison.Ordinal);
        string folded = Fold(joined.Split('\n'));
        var sb = new StringBuilder(folded.Length);
        for (int k = 0; k < folded.Length; k++)
        {
            char c = folded[k];
            if (c != '\\' || k + 1 >= folded.Length)
            {
                sb.Append(c);
                continue;
            }
            char e = folded[++k];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case '"': sb.Append('"'); break;
                case '/': sb.Append('/'); break;
                case '\\': sb.Append('\\'); break;
                case ' ': sb.Append(' '); break;
                case 'x' or 'u' or 'U':
                    {
                        int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                        if (k + digits < folded.Length && int.TryParse(folded.AsSpan(k + 1, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int cp)
                            && cp <= 0x10FFFF && cp is not (>= 0xD800 and <= 0xDFFF))
                        {
                            sb.Append(char.ConvertFromUtf32(cp));
                            k += digits;
                        }
                        else sb.Append('\\').Append(e);
                        break;
                    }
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    private static string StripComment(string s)
    {
        int hash = s.IndexOf(" #", StringComparison.Ordinal);
        return (hash >= 0 ? s[..hash] : s).TrimEnd();
    }

    private static string Unquote(string key) =>
        key.Length >= 2 && (key[0] == '"' && key[^1] == '"' || key[0] == '\'' && key[^1] == '\'') ? key[1..^1] : key;
}
