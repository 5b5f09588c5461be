using System.Globalization;
using System.Text;

namespace Lineage.Security.Templates;

/// <summary>A list value: items that could not be evaluated are <see cref="ConstantFolder.Unknown"/>.</summary>
internal sealed record ListValue(object[] Items);

/// <summary>dict(a=…, b=…): only the keys matter (|list, |first turn them into strings).</summary>
internal sealed record DictValue(string[] Keys);

internal sealed record NoneValue
{
    public static readonly NoneValue Instance = new();
}

/// <summary>
/// Evaluates Jinja expressions symbolically where it is cheap: each expression yields a small set of candidate
/// constant values (strings, numbers, lists), or nothing when it depends on runtime data. Variables bound by
/// set/for/with and namespace attributes are followed flow-insensitively (every value ever assigned is a
/// candidate), which is what lets names assembled across statements and loop iterations be recognised.
/// Bounded everywhere: candidates per expression, string length, nesting depth.
/// </summary>
internal sealed class ConstantFolder
{
    public static readonly object Unknown = new();

    private const int MaxCandidates = 32;
    private const int MaxStringLength = 8192;
    private const int MaxDepth = 120;

    private readonly Dictionary<string, List<object>> _env = new(StringComparer.Ordinal);
    private readonly Dictionary<JNode, List<object>> _memo = new(ReferenceEqualityComparer.Instance);
    private int _depth;

    /// <summary>Runs the bindings to a fixpoint (a few passes: enough for names built over a few iterations).</summary>
    public void Bind(IReadOnlyList<JBinding> bindings, int passes = 4)
    {
        for (int pass = 0; pass < passes; pass++)
        {
            bool changed = false;
            _memo.Clear();
            foreach (var b in bindings)
            {
                if (b.Value is JCall { Function: JName { Id: "namespace" } } ns)
                {
                    foreach (var (name, value) in ns.Kwargs) changed |= Add($"{b.Target}.{name}", Eval(value));
                    continue;
                }
                var values = Eval(b.Value);
                if (!b.Iterates)
                {
                    changed |= Add(b.Target, values);
                    continue;
                }
                var elements = new List<object>();
                foreach (var v in values)
                {
                    if (v is ListValue list) elements.AddRange(list.Items.Where(i => i != Unknown));
                    else if (v is string s && s.Length <= 256) elements.AddRange(s.Select(c => (object)c.ToString()));
                    else if (v is DictValue d) elements.AddRange(d.Keys);
                }
                changed |= Add(b.Target, elements);
            }
            if (!changed) break;
        }
        _memo.Clear();
    }

    private bool Add(string name, IEnumerable<object> values)
    {
        if (!_env.TryGetValue(name, out var list)) _env[name] = list = [];
        bool changed = false;
        foreach (var v in values)
        {
            if (list.Count >= MaxCandidates * 2) break;
            if (!list.Any(x => ValueEquals(x, v)))
            {
                list.Add(v);
                changed = true;
            }
        }
        return changed;
    }

    /// <summary>Candidate values of <paramref name="node"/>; empty when it depends on data the template receives.</summary>
    public List<object> Eval(JNode node)
    {
        if (_memo.TryGetValue(node, out var cached)) return cached;
        if (++_depth > MaxDepth)
        {
            _depth--;
            return [];
        }
        try
        {
            var result = Distinct(EvalCore(node));
            _memo[node] = result;
            return result;
        }
        finally
        {
            _depth--;
        }
    }

    /// <summary>String candidates only.</summary>
    public IEnumerable<string> Strings(JNode node) => Eval(node).OfType<string>();

    private IEnumerable<object> EvalCore(JNode node)
    {
        switch (node)
        {
            case JConst c:
                return c.Value is null ? [NoneValue.Instance] : [c.Value];
            case JName n:
                return _env.TryGetValue(n.Id, out var bound) ? bound : [];
            case JList l:
                {
                    var items = l.Items.Select(i => Eval(i) is [var single] ? single : Unknown).ToArray();
                    return [new ListValue(items)];
                }
            case JGetAttr { Target: JName ns } ga when _env.TryGetValue($"{ns.Id}.{ga.Attr}", out var attr):
                return attr;
            case JGetItem gi:
                return Cross(Eval(gi.Target), gi.Index is JSlice ? new List<object> { gi.Index } : Eval(gi.Index), Index);
            case JCond cond:
                return Eval(cond.Then).Concat(cond.Else is null ? [] : Eval(cond.Else));
            case JBinary b:
                return Cross(Eval(b.Left), Eval(b.Right), (l, r) => Binary(b.Op, l, r));
            case JFilter f when f.Target is not null:
                return EvalFilter(f);
            case JCall call:
                return EvalCall(call);
            case JUnary { Op: "-" } u:
                return Eval(u.Operand).Select(v => v switch { long x => (object)(-x), double d => -d, _ => Unknown });
            default:
                return [];
        }
    }

    private IEnumerable<object> EvalFilter(JFilter f)
    {
        var targets = Eval(f.Target!);
        var args = f.Args.Select(Eval).ToList();
        object? Arg(int k) => k < args.Count && args[k] is [var a] ? a : null;
        string? Kw(string name) => f.Kwargs.FirstOrDefault(kv => kv.Name == name).Value is { } v && Eval(v) is [string s] ? s : null;
        foreach (var t in targets)
        {
            object? r = f.Name switch
            {
                "join" => Join(t, Arg(0) as string ?? Kw("d") ?? ""),
                "format" => t is string fmt ? PercentFormat(fmt, args.Select(a => a is [var x] ? x : Unknown).ToArray()) : null,
                "lower" => (t as string)?.ToLowerInvariant(),
                "upper" => (t as string)?.ToUpperInvariant(),
                "capitalize" => t is string cs && cs.Length > 0 ? char.ToUpperInvariant(cs[0]) + cs[1..].ToLowerInvariant() : t as string,
                "title" => t is string ts ? CultureInfo.InvariantCulture.TextInfo.ToTitleCase(ts.ToLowerInvariant()) : null,
                "reverse" => t switch { string s => new string(s.Reverse().ToArray()), ListValue l => new ListValue([.. l.Items.Reverse()]), _ => null },
                "replace" => t is string rs && Arg(0) is string from && Arg(1) is string to && from.Length > 0 ? SafeReplace(rs, from, to) : null,
                "trim" => (t as string)?.Trim(),
                "string" or "safe" or "e" or "escape" or "forceescape" => Str(t),
                "list" => t switch { string s => new ListValue([.. s.Select(c => (object)c.ToString())]), ListValue l => l, DictValue d => new ListValue([.. d.Keys]), _ => null },
                "first" => First(t),
                "last" => Last(t),
                "join_attr" => null,
                "default" or "d" => t,
                "int" => t is string istr && long.TryParse(istr, NumberStyles.Integer, CultureInfo.InvariantCulture, out long iv) ? iv : t is long ? t : null,
                "sort" => t is ListValue sl && sl.Items.All(i => i is string) ? new ListValue([.. sl.Items.Cast<string>().Order(StringComparer.Ordinal)]) : null,
                "unique" => t is ListValue ul ? new ListValue([.. ul.Items.Distinct()]) : null,
                _ => null,
            };
            if (r is not null) yield return r;
        }
    }

    private IEnumerable<object> EvalCall(JCall call)
    {
        var args = call.Args.Select(Eval).ToList();
        object? Arg(int k) => k < args.Count && args[k] is [var a] ? a : null;
        if (call.Function is JName fn)
        {
            switch (fn.Id)
            {
                case "chr" when Arg(0) is long code && code is >= 0 and <= 0x10FFFF and not (>= 0xD800 and <= 0xDFFF):
                    return [char.ConvertFromUtf32((int)code)];
                case "str" when Arg(0) is { } v:
                    return Str(v) is { } sv ? [sv] : [];
                case "dict" when call.Args.Count == 0:
                    return [new DictValue([.. call.Kwargs.Select(k => k.Name)])];
                case "list" when Arg(0) is { } lv:
                    return lv switch { string s => [new ListValue([.. s.Select(c => (object)c.ToString())])], ListValue l => [l], DictValue d => [new ListValue([.. d.Keys])], _ => [] };
                default:
                    return [];
            }
        }
        if (call.Function is not JGetAttr method) return [];
        var results = new List<object>();
        foreach (var t in Eval(method.Target))
        {
            object? r = (method.Attr, t) switch
            {
                ("join", string sep) => Join(Arg(0) ?? Unknown, sep),
                ("format", string fmt) => BraceFormat(fmt, args.Select(a => a is [var x] ? x : Unknown).ToArray()),
                ("lower", string s) => s.ToLowerInvariant(),
                ("upper", string s) => s.ToUpperInvariant(),
                ("strip", string s) => Arg(0) is string chars ? s.Trim(chars.ToCharArray()) : s.Trim(),
                ("lstrip", string s) => Arg(0) is string chars ? s.TrimStart(chars.ToCharArray()) : s.TrimStart(),
                ("rstrip", string s) => Arg(0) is string chars ? s.TrimEnd(chars.ToCharArray()) : s.TrimEnd(),
                ("replace", string s) when Arg(0) is string from && Arg(1) is string to && from.Length > 0 => SafeReplace(s, from, to),
                ("title", string s) => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(s.ToLowerInvariant()),
                ("capitalize", string s) => s.Length > 0 ? char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant() : s,
                ("swapcase", string s) => new string(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)).ToArray()),
                ("removeprefix", string s) when Arg(0) is string p => s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s,
                ("removesuffix", string s) when Arg(0) is string p => s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s,
                ("decode" or "encode", string s) => s,
                _ => null,
            };
            if (r is not null) results.Add(r);
        }
        return results;
    }

    private static object? Binary(string op, object l, object r) => (op, l, r) switch
    {
        ("+", string a, string b) => Cap(a + b),
        ("+", long a, long b) => a + b,
        ("+", ListValue a, ListValue b) => new ListValue([.. a.Items, .. b.Items]),
        ("~", _, _) => Str(l) is { } sa && Str(r) is { } sb ? Cap(sa + sb) : null,
        ("*", string a, long n) when n >= 0 && n * a.Length <= MaxStringLength => string.Concat(Enumerable.Repeat(a, (int)n)),
        ("*", long n, string a) when n >= 0 && n * a.Length <= MaxStringLength => string.Concat(Enumerable.Repeat(a, (int)n)),
        ("*", long a, long b) => a * b,
        ("-", long a, long b) => a - b,
        ("//", long a, long b) when b != 0 => a / b,
        ("%", string fmt, ListValue args) => PercentFormat(fmt, args.Items),
        ("%", string fmt, _) => PercentFormat(fmt, [r]),
        ("%", long a, long b) when b != 0 => a % b,
        _ => null,
    };

    private static object? Index(object target, object index)
    {
        int Norm(long i, int len) => (int)(i < 0 ? i + len : i);
        return (target, index) switch
        {
            (string s, long i) when Norm(i, s.Length) is var k && k >= 0 && k < s.Length => s[k].ToString(),
            (ListValue l, long i) when Norm(i, l.Items.Length) is var k && k >= 0 && k < l.Items.Length && l.Items[k] != Unknown => l.Items[k],
            _ => null,
        };
    }

    private IEnumerable<object> Cross(List<object> left, IEnumerable<object> right, Func<object, object, object?> op)
    {
        var rightList = right as IList<object> ?? right.ToList();
        int produced = 0;
        foreach (var l in left)
            foreach (var r in rightList)
            {
                object? v = r is JSlice s ? SliceOf(l, s) : op(l, r);
                if (v is null) continue;
                yield return v;
                if (++produced >= MaxCandidates) yield break;
            }
    }

    private object? SliceOf(object target, JSlice slice)
    {
        long? Bound(JNode? n) => n is null ? null : Eval(n) is [long v] ? v : long.MinValue;
        long? start = Bound(slice.Start), stop = Bound(slice.Stop), step = Bound(slice.Step);
        if (start == long.MinValue || stop == long.MinValue || step == long.MinValue || step == 0) return null;
        object[] items = target switch
        {
            string s => [.. s.Select(c => (object)c.ToString())],
            ListValue l => l.Items,
            _ => [],
        };
        if (target is not (string or ListValue)) return null;
        int len = items.Length;
        long st = step ?? 1;
        var picked = new List<object>();
        if (st > 0)
        {
            long a = start is null ? 0 : start < 0 ? Math.Max(0, start.Value + len) : Math.Min(start.Value, len);
            long b = stop is null ? len : stop < 0 ? Math.Max(0, stop.Value + len) : Math.Min(stop.Value, len);
            for (long i = a; i < b; i += st) picked.Add(items[i]);
        }
        else
        {
            long a = start is null ? len - 1 : start < 0 ? start.Value + len : Math.Min(start.Value, len - 1);
            long b = stop is null ? -1 : stop < 0 ? Math.Max(-1, stop.Value + len) : stop.Value;
            for (long i = a; i > b && i >= 0; i += st) picked.Add(items[i]);
        }
        return target is string ? string.Concat(picked.Cast<string>()) : new ListValue([.. picked]);
    }

    private static object? Join(object list, string sep) => list switch
    {
        // Length checked before building, so a long list of long strings cannot allocate much.
        ListValue l when l.Items.All(i => i != Unknown)
            && l.Items.Sum(i => (long)(Str(i)?.Length ?? 0) + sep.Length) <= MaxStringLength => string.Join(sep, l.Items.Select(Str)),
        string s when (long)s.Length * (sep.Length + 1) <= MaxStringLength => string.Join(sep, s.Select(c => c.ToString())),
        DictValue d => Cap(string.Join(sep, d.Keys)),
        _ => null,
    };

    private static object? First(object v) => v switch
    {
        string s when s.Length > 0 => s[0].ToString(),
        ListValue l when l.Items.Length > 0 && l.Items[0] != Unknown => l.Items[0],
        DictValue d when d.Keys.Length > 0 => d.Keys[0],
        _ => null,
    };

    private static object? Last(object v) => v switch
    {
        string s when s.Length > 0 => s[^1].ToString(),
        ListValue l when l.Items.Length > 0 && l.Items[^1] != Unknown => l.Items[^1],
        DictValue d when d.Keys.Length > 0 => d.Keys[^1],
        _ => null,
    };

    /// <summary>Python's str(): what ~ and |string produce.</summary>
    private static string? Str(object? v) => v switch
    {
        string s => s,
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "True" : "False",
        NoneValue => "None",
        _ => null,
    };

    /// <summary>printf-style formatting (<c>%s %c %d %r %x %o</c>), as |format and the % operator do.</summary>
    private static string? PercentFormat(string fmt, object[] args)
    {
        var sb = new StringBuilder();
        int a = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%')
            {
                sb.Append(fmt[i]);
                continue;
            }
            if (++i >= fmt.Length) return null;
            while (i < fmt.Length && (char.IsAsciiDigit(fmt[i]) || fmt[i] is '-' or '+' or ' ' or '#' or '.')) i++;
            if (i >= fmt.Length) return null;
            char conv = fmt[i];
            if (conv == '%')
            {
                sb.Append('%');
                continue;
            }
            if (a >= args.Length || args[a] == Unknown) return null;
            object arg = args[a++];
            string? piece = conv switch
            {
                's' or 'r' => Str(arg),
                'c' => arg is long code && code is >= 0 and <= 0x10FFFF and not (>= 0xD800 and <= 0xDFFF) ? char.ConvertFromUtf32((int)code) : arg as string,
                'd' or 'i' => arg is long l ? l.ToString(CultureInfo.InvariantCulture) : null,
                'x' => arg is long h ? h.ToString("x", CultureInfo.InvariantCulture) : null,
                'X' => arg is long hx ? hx.ToString("X", CultureInfo.InvariantCulture) : null,
                'o' => arg is long o ? Convert.ToString(o, 8) : null,
                _ => null,
            };
            if (piece is null) return null;
            sb.Append(piece);
        }
        return Cap(sb.ToString());
    }

    /// <summary>str.format with positional fields (<c>{}</c>, <c>{0}</c>, <c>{:c}</c>); attribute fields give up.</summary>
    private static string? BraceFormat(string fmt, object[] args)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{' && i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int close = fmt.IndexOf('}', i);
            if (close < 0) return null;
            string field = fmt[(i + 1)..close];
            i = close;
            string spec = "";
            int colon = field.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0) { spec = field[(colon + 1)..]; field = field[..colon]; }
            int index = field.Length == 0 ? auto++ : int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int k) ? k : -1;
            if (index < 0 || index >= args.Length || args[index] == Unknown) return null;
            object arg = args[index];
            string? piece = spec == "c" && arg is long code && code is >= 0 and <= 0x10FFFF and not (>= 0xD800 and <= 0xDFFF)
                ? char.ConvertFromUtf32((int)code)
                : Str(arg);
            if (piece is null) return null;
            sb.Append(piece);
        }
        return Cap(sb.ToString());
    }

    /// <summary>str.replace, refusing results that could exceed the length cap before building them.</summary>
    private static string? SafeReplace(string s, string from, string to) =>
        to.Length > from.Length && (long)(s.Length / from.Length) * to.Length + s.Length > MaxStringLength
            ? null
            : Cap(s.Replace(from, to, StringComparison.Ordinal));

    private static string? Cap(string s) => s.Length > MaxStringLength ? null : s;

    private static List<object> Distinct(IEnumerable<object> values)
    {
        var list = new List<object>();
        foreach (var v in values)
        {
            if (v == Unknown) continue;
            if (list.Count >= MaxCandidates) break;
            if (!list.Any(x => ValueEquals(x, v))) list.Add(v);
        }
        return list;
    }

    private static bool ValueEquals(object a, object b) => a switch
    {
        ListValue la when b is ListValue lb => la.Items.SequenceEqual(lb.Items),
        DictValue da when b is DictValue db => da.Keys.SequenceEqual(db.Keys),
        _ => Equals(a, b),
    };
}
