using System.Globalization;
using System.Text;

namespace Lineage.Formats.Pickle;

/// <summary>
/// Renders symbolic values as Python-like text and decompiles a run into readable statements. Rendering is
/// depth- and size-bounded because values may share sub-values exponentially or form cycles.
/// </summary>
internal static class PickleFormatter
{
    public const int DefaultRenderDepth = 12;
    private const int MaxItemsPerContainer = 64;
    private const int MaxStringChars = 1000;

    public static string Render(PickleValue value, int maxDepth, int maxChars, IReadOnlyDictionary<PickleValue, string>? names = null)
    {
        var writer = new BoundedWriter(maxChars);
        Write(writer, value, maxDepth, names);
        return writer.ToString();
    }

    /// <summary>What kind of value an operand is, for computed STACK_GLOBAL descriptions.</summary>
    public static string Describe(PickleValue value) => value switch
    {
        PickleString s => $"constant str {Quote(s.Value, 200)}",
        PickleBytes b => $"bytes {Render(b, 2, 200)} (CPython requires str here)",
        PickleCall c => $"result of {c.Kind} call {Render(c, 4, 300)}",
        PickleGlobal g => $"global {g.FullName}",
        PicklePersistentRef p => $"persistent_load({Render(p.Id, 3, 200)})",
        _ => $"{value.GetType().Name.Replace("Pickle", "", StringComparison.Ordinal).ToLowerInvariant()} {Render(value, 3, 200)}",
    };

    private static void Write(BoundedWriter w, PickleValue value, int depth, IReadOnlyDictionary<PickleValue, string>? names)
    {
        if (w.Full) return;
        if (names is not null && names.TryGetValue(value, out var name))
        {
            w.Append(name);
            return;
        }
        switch (value)
        {
            case PickleNone:
                w.Append("None");
                return;
            case PickleBool b:
                w.Append(b.Value ? "True" : "False");
                return;
            case PickleInt i:
                w.Append(i.Value.ToString(CultureInfo.InvariantCulture));
                return;
            case PickleFloat f:
                w.Append(FormatFloat(f.Value));
                return;
            case PickleString s:
                w.Append(Quote(s.Value, MaxStringChars));
                return;
            case PickleBytes b:
                w.Append(b.IsByteArray ? "bytearray(" : "");
                w.Append(QuoteBytes(b.Value.Span, MaxStringChars));
                w.Append(b.IsByteArray ? ")" : "");
                return;
            case PickleGlobal g:
                w.Append(g.IsComputed ? $"getattr(__import__({Quote(g.Module, 200)}), {Quote(g.Name, 200)})" : g.FullName);
                return;
            case PickleBuffer buf:
                w.Append($"<out-of-band buffer {buf.Index}{(buf.IsReadOnly ? ", read-only" : "")}>");
                return;
            case EventMarker:
                return;
        }
        if (depth <= 0)
        {
            w.Append("...");
            return;
        }
        switch (value)
        {
            case PickleList l:
                WriteItems(w, "[", "]", l.Items, depth, names);
                break;
            case PickleTuple t:
                WriteItems(w, "(", t.Items.Count == 1 ? ",)" : ")", t.Items, depth, names);
                break;
            case PickleSet s:
                if (s.Items.Count == 0)
                {
                    w.Append(s.IsFrozen ? "frozenset()" : "set()");
                    break;
                }
                if (s.IsFrozen) w.Append("frozenset(");
                WriteItems(w, "{", "}", s.Items, depth, names);
                if (s.IsFrozen) w.Append(")");
                break;
            case PickleDict d:
                w.Append("{");
                for (int i = 0; i < d.Items.Count && !w.Full; i++)
                {
                    if (i > 0) w.Append(", ");
                    if (i == MaxItemsPerContainer)
                    {
                        w.Append($"...: ... ({d.Items.Count - i} more)");
                        break;
                    }
                    Write(w, d.Items[i].Key, depth - 1, names);
                    w.Append(": ");
                    Write(w, d.Items[i].Value, depth - 1, names);
                }
                w.Append("}");
                break;
            case PickleCall c:
                WriteCall(w, c.Event, depth, names);
                break;
            case PicklePersistentRef p:
                w.Append("persistent_load(");
                Write(w, p.Id, depth - 1, names);
                w.Append(")");
                break;
        }
    }

    private static void WriteItems(BoundedWriter w, string open, string close, IReadOnlyList<PickleValue> items, int depth, IReadOnlyDictionary<PickleValue, string>? names)
    {
        w.Append(open);
        for (int i = 0; i < items.Count && !w.Full; i++)
        {
            if (i > 0) w.Append(", ");
            if (i == MaxItemsPerContainer)
            {
                w.Append($"... ({items.Count - i} more)");
                break;
            }
            Write(w, items[i], depth - 1, names);
        }
        w.Append(close);
    }

    private static void WriteCall(BoundedWriter w, PickleEvent e, int depth, IReadOnlyDictionary<PickleValue, string>? names)
    {
        var callee = e.Target!;
        switch (e.Kind)
        {
            case PickleEventKind.NewObj:
            case PickleEventKind.NewObjEx:
                Write(w, callee, depth - 1, names);
                w.Append(".__new__(");
                Write(w, callee, depth - 1, names);
                if (e.Arguments is PickleTuple { Items.Count: 0 } && e.Keywords is null)
                {
                    w.Append(")");
                    return;
                }
                w.Append(", ");
                WriteArguments(w, e.Arguments, e.Keywords, depth, names);
                w.Append(")");
                return;
            default:
                bool parenthesize = callee is PickleCall && (names is null || !names.ContainsKey(callee));
                if (parenthesize) w.Append("(");
                Write(w, callee, depth - 1, names);
                if (parenthesize) w.Append(")");
                w.Append("(");
                WriteArguments(w, e.Arguments, e.Keywords, depth, names);
                w.Append(")");
                return;
        }
    }

    private static void WriteArguments(BoundedWriter w, PickleValue args, PickleValue? kwargs, int depth, IReadOnlyDictionary<PickleValue, string>? names)
    {
        bool any = false;
        if (args is PickleTuple t)
        {
            for (int i = 0; i < t.Items.Count && !w.Full; i++)
            {
                if (i > 0) w.Append(", ");
                if (i == MaxItemsPerContainer)
                {
                    w.Append($"... ({t.Items.Count - i} more)");
                    break;
                }
                Write(w, t.Items[i], depth - 1, names);
                any = true;
            }
        }
        else
        {
            w.Append("*");
            Write(w, args, depth - 1, names);
            any = true;
        }
        if (kwargs is null) return;
        if (any) w.Append(", ");
        if (kwargs is PickleDict d && d.Items.All(kv => kv.Key is PickleString s && IsIdentifier(s.Value)))
        {
            for (int i = 0; i < d.Items.Count && !w.Full; i++)
            {
                if (i > 0) w.Append(", ");
                w.Append(((PickleString)d.Items[i].Key).Value + "=");
                Write(w, d.Items[i].Value, depth - 1, names);
            }
        }
        else
        {
            w.Append("**");
            Write(w, kwargs, depth - 1, names);
        }
    }

    public static string FormatFloat(double v)
    {
        if (double.IsPositiveInfinity(v)) return "float('inf')";
        if (double.IsNegativeInfinity(v)) return "float('-inf')";
        if (double.IsNaN(v)) return "float('nan')";
        string s = v.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.', StringComparison.Ordinal) || s.Contains('E', StringComparison.Ordinal) ? s : s + ".0";
    }

    /// <summary>A Python repr of a str: single quotes unless the text has a single quote and no double quote.</summary>
    public static string Quote(string s, int maxChars)
    {
        var sb = new StringBuilder(Math.Min(s.Length, maxChars) + 2);
        int n = Math.Min(s.Length, maxChars);
        char quote = s.AsSpan(0, n).Contains('\'') && !s.AsSpan(0, n).Contains('"') ? '"' : '\'';
        sb.Append(quote);
        for (int i = 0; i < n; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7F) sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else if (char.IsHighSurrogate(c) && i + 1 < n && char.IsLowSurrogate(s[i + 1]))
                    {
                        sb.Append(c).Append(s[i + 1]);
                        i++;
                    }
                    else if (char.IsSurrogate(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.Control or UnicodeCategory.OtherNotAssigned)
                        sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(quote);
        if (s.Length > maxChars) sb.Append(CultureInfo.InvariantCulture, $"[...{s.Length - maxChars} more chars]");
        return sb.ToString();
    }

    public static string QuoteBytes(ReadOnlySpan<byte> bytes, int maxChars)
    {
        var sb = new StringBuilder(Math.Min(bytes.Length, maxChars) + 3);
        sb.Append("b'");
        int n = Math.Min(bytes.Length, maxChars);
        for (int i = 0; i < n; i++)
        {
            byte b = bytes[i];
            switch (b)
            {
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'\'': sb.Append("\\'"); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                default:
                    if (b is < 0x20 or >= 0x7F) sb.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
                    else sb.Append((char)b);
                    break;
            }
        }
        sb.Append('\'');
        if (bytes.Length > maxChars) sb.Append(CultureInfo.InvariantCulture, $"[...{bytes.Length - maxChars} more bytes]");
        return sb.ToString();
    }

    public static bool IsIdentifier(string s)
    {
        if (s.Length == 0 || !(char.IsAsciiLetter(s[0]) || s[0] == '_')) return false;
        foreach (char c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_')) return false;
        return true;
    }

    private static bool IsDottedIdentifier(string s) => s.Length > 0 && s.Split('.').All(IsIdentifier);

    // ---- decompiler ----

    public static string Decompile(PickleResult result, int maxChars)
    {
        var names = new Dictionary<PickleValue, string>(ReferenceEqualityComparer.Instance);
        var imported = new Dictionary<string, string>(StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var output = new StringBuilder();
        int depth = result.Limits.MaxRenderDepth;
        int lineBudget = Math.Max(200, maxChars / 4);
        int variables = 0, computed = 0;
        int written = 0;

        bool Emit(string line)
        {
            if (output.Length + line.Length + 1 > maxChars)
            {
                output.Append(CultureInfo.InvariantCulture, $"# ... output truncated ({result.Timeline.Count - written} more statements)\n");
                return false;
            }
            output.Append(line).Append('\n');
            return true;
        }

        string Fresh(string stem)
        {
            string candidate = stem;
            for (int k = 1; !used.Add(candidate); k++) candidate = $"{stem}_{k}";
            return candidate;
        }

        string R(PickleValue v) => Render(v, depth, lineBudget, names);

        foreach (var item in result.Timeline)
        {
            string line;
            if (item is PickleGlobal g)
            {
                if (!g.IsComputed && IsDottedIdentifier(g.Module) && IsDottedIdentifier(g.Name))
                {
                    string key = g.FullName;
                    if (imported.TryGetValue(key, out var existing))
                    {
                        names[g] = existing;
                        written++;
                        continue;
                    }
                    string[] parts = g.Name.Split('.');
                    string alias = Fresh(parts[0]);
                    string rest = parts.Length > 1 ? "." + string.Join('.', parts[1..]) : "";
                    line = alias == parts[0] ? $"from {g.Module} import {parts[0]}" : $"from {g.Module} import {parts[0]} as {alias}";
                    names[g] = alias + rest;
                    imported[key] = alias + rest;
                    if (g.ResolvedFullName != g.FullName) line += $"  # loads {g.ResolvedFullName}";
                }
                else if (g.Source == PickleGlobalSource.Extension)
                {
                    string v = Fresh($"_ext{g.ExtensionCode}");
                    names[g] = v;
                    line = $"{v} = find_class(*copyreg._inverted_registry[{g.ExtensionCode}])  # extension code {g.ExtensionCode}";
                }
                else
                {
                    string v = Fresh($"_global{computed++}");
                    names[g] = v;
                    line = $"{v} = find_class({Quote(g.Module, 400)}, {Quote(g.Name, 400)})";
                    if (g.IsComputed) line += $"  # STACK_GLOBAL with computed operands: {g.Computed!.ReplaceLineEndings(" ")}";
                }
            }
            else if (item is EventMarker { Event: var e })
            {
                switch (e.Kind)
                {
                    case PickleEventKind.PersistentLoad:
                        {
                            string v = Fresh($"_var{variables++}");
                            line = $"{v} = persistent_load({R(e.Arguments)})";
                            names[e.Result!] = v;
                            break;
                        }
                    case PickleEventKind.Build:
                        line = $"{R(e.Target!)}.__setstate__({R(e.Arguments)})";
                        break;
                    case PickleEventKind.Append:
                        line = $"{R(e.Target!)}.append({R(((PickleTuple)e.Arguments).Items[0])})";
                        break;
                    case PickleEventKind.Extend:
                        line = $"{R(e.Target!)}.extend({R(new PickleList(e.Offset, [.. ((PickleTuple)e.Arguments).Items]))})";
                        break;
                    case PickleEventKind.AddItems:
                        line = $"{R(e.Target!)}.update({R(new PickleSet(e.Offset, [.. ((PickleTuple)e.Arguments).Items], false))})";
                        break;
                    case PickleEventKind.SetItem:
                        {
                            var sb = new StringBuilder();
                            string target = R(e.Target!);
                            foreach (var pair in ((PickleTuple)e.Arguments).Items)
                            {
                                var kv = ((PickleTuple)pair).Items;
                                if (sb.Length > 0) sb.Append('\n');
                                sb.Append(CultureInfo.InvariantCulture, $"{target}[{R(kv[0])}] = {R(kv[1])}");
                                if (sb.Length > lineBudget) break;
                            }
                            line = sb.ToString();
                            break;
                        }
                    default:
                        {
                            string v = Fresh($"_var{variables++}");
                            line = $"{v} = {R(e.Result!)}";
                            names[e.Result!] = v;
                            break;
                        }
                }
            }
            else
            {
                continue;
            }
            written++;
            if (!Emit(line)) return output.ToString();
        }
        if (result.Root is not null)
            Emit($"result = {R(result.Root)}");
        if (result.Error is not null)
            Emit($"# error at byte {result.Error.Offset}: {result.Error.Message.ReplaceLineEndings(" ")}");
        return output.ToString();
    }

    /// <summary>A string builder that stops accepting text past a budget and marks the cut.</summary>
    private sealed class BoundedWriter(int maxChars)
    {
        private readonly StringBuilder _sb = new();

        public bool Full { get; private set; }

        public void Append(string s)
        {
            if (Full) return;
            if (_sb.Length + s.Length > maxChars)
            {
                _sb.Append(s.AsSpan(0, Math.Max(0, maxChars - _sb.Length)));
                _sb.Append("…");
                Full = true;
                return;
            }
            _sb.Append(s);
        }

        public override string ToString() => _sb.ToString();
    }
}
