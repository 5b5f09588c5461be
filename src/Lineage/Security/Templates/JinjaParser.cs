using System.Globalization;

namespace Lineage.Security.Templates;

/// <summary>
/// Parses the tags of a lexed template into expression trees, following jinja2/parser.py (operator precedence,
/// filters, tests, calls, subscripts, statements). It is tolerant: a broken tag becomes a syntax error and the
/// parser salvages every expression it can still read in that tag, so a deliberately malformed tag cannot hide
/// the expressions around it. Recursion is bounded by <c>maxDepth</c>.
/// </summary>
internal sealed class JinjaParser
{
    private static readonly Dictionary<string, string> BlockEnds = new(StringComparer.Ordinal)
    {
        ["endfor"] = "for", ["endif"] = "if", ["endmacro"] = "macro", ["endcall"] = "call", ["endfilter"] = "filter",
        ["endset"] = "set", ["endwith"] = "with", ["endblock"] = "block", ["endautoescape"] = "autoescape",
        ["endgeneration"] = "generation", ["endtrans"] = "trans",
    };

    private readonly List<JinjaToken> _tokens;
    private readonly JinjaProgram _program;
    private readonly int _maxDepth;
    private readonly int _tagEnd;
    private int _i;
    private int _depth;

    private JinjaParser(List<JinjaToken> tokens, JinjaProgram program, int maxDepth, int tagEnd)
    {
        _tokens = tokens;
        _program = program;
        _maxDepth = maxDepth;
        _tagEnd = tagEnd;
    }

    private sealed class ParseError(int position, string message) : Exception(message)
    {
        public int Position { get; } = position;
    }

    public static JinjaProgram Parse(JinjaLexer lexed, int maxDepth = 200)
    {
        var program = new JinjaProgram();
        program.Errors.AddRange(lexed.Errors);
        var open = new Stack<(string Tag, int Pos)>();
        foreach (var tag in lexed.Tags)
        {
            var parser = new JinjaParser(tag.Tokens, program, maxDepth, tag.End);
            try
            {
                if (tag.IsBlock) parser.ParseStatement(open, tag.Start);
                else
                {
                    if (tag.Tokens.Count == 0) throw new ParseError(tag.Start, "empty expression");
                    program.Expressions.Add(parser.ParseTuple(withCondexpr: true));
                    parser.ExpectEnd();
                }
            }
            catch (ParseError e)
            {
                program.Errors.Add(new JinjaSyntaxError(e.Position, e.Message));
                parser.Salvage(e.Position);
            }
        }
        foreach (var (tag, pos) in open) program.Errors.Add(new JinjaSyntaxError(pos, $"unclosed {{% {tag} %}}"));
        return program;
    }

    /// <summary>After a parse error, reads whatever expressions still parse from the following tokens.</summary>
    private void Salvage(int errorPosition)
    {
        int start = _tokens.FindIndex(t => t.Start >= errorPosition);
        if (start < 0) return;
        for (int k = start; k < _tokens.Count; k++)
        {
            _i = k;
            _depth = 0;
            try
            {
                var node = ParseExpression(withCondexpr: true);
                _program.Expressions.Add(node);
                k = Math.Max(k, _i - 1);
            }
            catch (ParseError)
            {
                // Try from the next token.
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- statements

    private void ParseStatement(Stack<(string Tag, int Pos)> open, int tagStart)
    {
        if (AtEnd) throw new ParseError(tagStart, "empty block tag");
        var keyword = Next();
        if (keyword.Kind != JinjaTokenKind.Name) throw new ParseError(keyword.Start, "tag name expected");
        string k = keyword.Value;
        switch (k)
        {
            case "for":
                {
                    var names = ParseAssignTargetNames(out string? single);
                    ExpectName("in");
                    var iter = ParseTuple(withCondexpr: false, "recursive", "if");
                    _program.Expressions.Add(iter);
                    if (single is not null) _program.Bindings.Add(new JBinding(single, iter, Iterates: true, keyword.Start));
                    foreach (var n in names) _program.BoundNames.Add(n);
                    if (SkipName("if")) _program.Expressions.Add(ParseExpression(withCondexpr: true));
                    SkipName("recursive");
                    open.Push(("for", keyword.Start));
                    break;
                }
            case "if":
                _program.Expressions.Add(ParseTuple(withCondexpr: false));
                open.Push(("if", keyword.Start));
                break;
            case "elif":
                _program.Expressions.Add(ParseTuple(withCondexpr: false));
                if (open.Count == 0 || open.Peek().Tag != "if") _program.Errors.Add(new(keyword.Start, "elif outside {% if %}"));
                break;
            case "else":
                if (open.Count == 0 || open.Peek().Tag is not ("if" or "for")) _program.Errors.Add(new(keyword.Start, "else outside {% if %} or {% for %}"));
                break;
            case "set":
                ParseSet(open, keyword.Start);
                break;
            case "macro":
                {
                    var name = ExpectKind(JinjaTokenKind.Name);
                    _program.BoundNames.Add(name.Value);
                    ParseSignature();
                    open.Push(("macro", keyword.Start));
                    break;
                }
            case "call":
                if (Peek().Is("(")) ParseSignature();
                _program.Expressions.Add(ParseExpression(withCondexpr: true));
                open.Push(("call", keyword.Start));
                break;
            case "filter":
                _program.Expressions.Add(ParseFilter(null, startInline: true));
                open.Push(("filter", keyword.Start));
                break;
            case "with":
                while (!AtEnd)
                {
                    if (Peek().Is(",")) Next();
                    var target = ExpectKind(JinjaTokenKind.Name);
                    Expect("=");
                    var value = ParseExpression(withCondexpr: true);
                    _program.Expressions.Add(value);
                    _program.Bindings.Add(new JBinding(target.Value, value, Iterates: false, target.Start));
                    _program.BoundNames.Add(target.Value);
                }
                open.Push(("with", keyword.Start));
                break;
            case "block":
                ExpectKind(JinjaTokenKind.Name);
                SkipName("scoped");
                SkipName("required");
                open.Push(("block", keyword.Start));
                break;
            case "extends":
            case "include":
                {
                    var template = ParseExpression(withCondexpr: true);
                    _program.Expressions.Add(template);
                    _program.Loads.Add(new JLoad(k, template, keyword.Start));
                    if (SkipName("ignore")) ExpectName("missing");
                    SkipContext();
                    break;
                }
            case "import":
                {
                    var template = ParseExpression(withCondexpr: true);
                    _program.Expressions.Add(template);
                    _program.Loads.Add(new JLoad(k, template, keyword.Start));
                    ExpectName("as");
                    _program.BoundNames.Add(ExpectKind(JinjaTokenKind.Name).Value);
                    SkipContext();
                    break;
                }
            case "from":
                {
                    var template = ParseExpression(withCondexpr: true);
                    _program.Expressions.Add(template);
                    _program.Loads.Add(new JLoad(k, template, keyword.Start));
                    ExpectName("import");
                    while (!AtEnd)
                    {
                        if (Peek().Is(",")) { Next(); continue; }
                        if (Peek().IsName("with") || Peek().IsName("without")) { SkipContext(); break; }
                        var imported = ExpectKind(JinjaTokenKind.Name);
                        if (SkipName("as")) imported = ExpectKind(JinjaTokenKind.Name);
                        _program.BoundNames.Add(imported.Value);
                    }
                    break;
                }
            case "autoescape":
                _program.Expressions.Add(ParseExpression(withCondexpr: true));
                open.Push(("autoescape", keyword.Start));
                break;
            case "generation":
                open.Push(("generation", keyword.Start));
                break;
            case "break":
            case "continue":
                if (!open.Any(o => o.Tag == "for")) _program.Errors.Add(new(keyword.Start, $"{k} outside a loop"));
                break;
            default:
                if (BlockEnds.TryGetValue(k, out var opener))
                {
                    if (k == "endblock" && Peek().Kind == JinjaTokenKind.Name) Next();
                    if (open.Count == 0 || open.Peek().Tag != opener)
                        _program.Errors.Add(new(keyword.Start, $"unexpected {{% {k} %}}"));
                    else open.Pop();
                    break;
                }
                // Unknown tag (jinja2 refuses it). Its operands are still analysed.
                _program.Errors.Add(new(keyword.Start, $"unknown tag '{k}'"));
                if (!AtEnd) _program.Expressions.Add(ParseTuple(withCondexpr: true));
                break;
        }
        ExpectEnd();
    }

    private void ParseSet(Stack<(string Tag, int Pos)> open, int start)
    {
        var first = ExpectKind(JinjaTokenKind.Name);
        string target = first.Value;
        var names = new List<string> { first.Value };
        bool tuple = false;
        if (Peek().Is("."))
        {
            Next();
            target = $"{first.Value}.{ExpectKind(JinjaTokenKind.Name).Value}";
        }
        while (Peek().Is(","))
        {
            Next();
            tuple = true;
            if (Peek().Kind == JinjaTokenKind.Name) names.Add(Next().Value);
        }
        foreach (var n in names) _program.BoundNames.Add(n);
        if (Peek().Is("="))
        {
            Next();
            var value = ParseTuple(withCondexpr: true);
            _program.Expressions.Add(value);
            if (!tuple) _program.Bindings.Add(new JBinding(target, value, Iterates: false, first.Start));
            return;
        }
        // Block set: {% set x %}…{% endset %}, optionally filtered.
        if (Peek().Is("|")) _program.Expressions.Add(ParseFilter(null, startInline: false));
        open.Push(("set", start));
    }

    private void ParseSignature()
    {
        Expect("(");
        while (!Peek().Is(")"))
        {
            if (Peek().Is(",")) { Next(); continue; }
            var p = ExpectKind(JinjaTokenKind.Name);
            _program.BoundNames.Add(p.Value);
            if (Peek().Is("="))
            {
                Next();
                _program.Expressions.Add(ParseExpression(withCondexpr: true));
            }
        }
        Expect(")");
    }

    private List<string> ParseAssignTargetNames(out string? single)
    {
        var names = new List<string>();
        bool paren = false;
        if (Peek().Is("(")) { Next(); paren = true; }
        names.Add(ExpectKind(JinjaTokenKind.Name).Value);
        while (Peek().Is(","))
        {
            Next();
            if (Peek().Kind == JinjaTokenKind.Name) names.Add(Next().Value);
        }
        if (paren) Expect(")");
        single = names.Count == 1 && !paren ? names[0] : null;
        return names;
    }

    private void SkipContext()
    {
        if (SkipName("with") || SkipName("without")) ExpectName("context");
    }

    // ---------------------------------------------------------------------------------------------- expressions

    private JNode ParseTuple(bool withCondexpr, params string[] extraEnds)
    {
        int pos = Peek().Start;
        var items = new List<JNode>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0) Expect(",");
            if (IsTupleEnd(extraEnds)) break;
            items.Add(ParseExpression(withCondexpr));
            if (Peek().Is(",")) isTuple = true;
            else break;
        }
        if (!isTuple)
        {
            if (items.Count == 0) throw new ParseError(pos, "expected an expression");
            return items[0];
        }
        return new JList(items, pos, IsTuple: true);
    }

    private bool IsTupleEnd(string[] extraEnds) =>
        AtEnd || Peek().Is(")") || Peek().Kind == JinjaTokenKind.Name && extraEnds.Contains(Peek().Value);

    private JNode ParseExpression(bool withCondexpr)
    {
        Enter();
        try
        {
            return withCondexpr ? ParseCondExpr() : ParseOr();
        }
        finally
        {
            _depth--;
        }
    }

    private JNode ParseCondExpr()
    {
        var expr = ParseOr();
        while (SkipName("if"))
        {
            var test = ParseOr();
            JNode? otherwise = SkipName("else") ? ParseCondExpr() : null;
            expr = new JCond(test, expr, otherwise, expr.Pos);
        }
        return expr;
    }

    private JNode ParseOr()
    {
        var left = ParseAnd();
        while (Peek().IsName("or")) { var t = Next(); left = new JBinary("or", left, ParseAnd(), t.Start); }
        return left;
    }

    private JNode ParseAnd()
    {
        var left = ParseNot();
        while (Peek().IsName("and")) { var t = Next(); left = new JBinary("and", left, ParseNot(), t.Start); }
        return left;
    }

    private JNode ParseNot()
    {
        if (Peek().IsName("not"))
        {
            var t = Next();
            Enter();
            try
            {
                return new JUnary("not", ParseNot(), t.Start);
            }
            finally
            {
                _depth--;
            }
        }
        return ParseCompare();
    }

    private JNode ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, JNode)>();
        while (true)
        {
            var t = Peek();
            if (t.Kind == JinjaTokenKind.Operator && t.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                Next();
                rest.Add((t.Value, ParseMath1()));
            }
            else if (t.IsName("in"))
            {
                Next();
                rest.Add(("in", ParseMath1()));
            }
            else if (t.IsName("not") && PeekAt(1).IsName("in"))
            {
                Next();
                Next();
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new JCompare(first, rest, first.Pos);
    }

    private JNode ParseMath1()
    {
        var left = ParseConcat();
        while (Peek().Is("+") || Peek().Is("-")) { var t = Next(); left = new JBinary(t.Value, left, ParseConcat(), t.Start); }
        return left;
    }

    private JNode ParseConcat()
    {
        var left = ParseMath2();
        while (Peek().Is("~")) { var t = Next(); left = new JBinary("~", left, ParseMath2(), t.Start); }
        return left;
    }

    private JNode ParseMath2()
    {
        var left = ParsePow();
        while (Peek().Kind == JinjaTokenKind.Operator && Peek().Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new JBinary(t.Value, left, ParsePow(), t.Start);
        }
        return left;
    }

    private JNode ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Peek().Is("**")) { var t = Next(); left = new JBinary("**", left, ParseUnary(withFilter: true), t.Start); }
        return left;
    }

    private JNode ParseUnary(bool withFilter)
    {
        Enter();
        try
        {
            JNode node;
            var t = Peek();
            if (t.Is("-") || t.Is("+"))
            {
                Next();
                node = new JUnary(t.Value, ParseUnary(withFilter: false), t.Start);
            }
            else
            {
                node = ParsePrimary();
            }
            node = ParsePostfix(node);
            if (withFilter) node = ParseFilterExpr(node);
            return node;
        }
        finally
        {
            _depth--;
        }
    }

    private JNode ParsePrimary()
    {
        if (AtEnd) throw new ParseError(_tagEnd, "expected an expression");
        var t = Next();
        switch (t.Kind)
        {
            case JinjaTokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new JConst(true, t.Start),
                    "false" or "False" => new JConst(false, t.Start),
                    "none" or "None" => new JConst(null, t.Start),
                    _ => new JName(t.Value, t.Start, t.NonAscii),
                };
            case JinjaTokenKind.String:
                {
                    // Adjacent literals concatenate, as in Python.
                    string value = t.Value;
                    bool escaped = t.EscapedIdentifierChars;
                    while (Peek().Kind == JinjaTokenKind.String && !AtEnd)
                    {
                        var more = Next();
                        value += more.Value;
                        escaped |= more.EscapedIdentifierChars;
                    }
                    return new JConst(value, t.Start, escaped);
                }
            case JinjaTokenKind.Integer:
                return new JConst(long.TryParse(t.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) ? l : 0L, t.Start);
            case JinjaTokenKind.Float:
                return new JConst(double.TryParse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : 0.0, t.Start);
        }
        if (t.Is("("))
        {
            if (Peek().Is(")"))
            {
                Next();
                return new JList([], t.Start, IsTuple: true);
            }
            var inner = ParseTuple(withCondexpr: true);
            Expect(")");
            return inner;
        }
        if (t.Is("["))
        {
            var items = new List<JNode>();
            while (!Peek().Is("]"))
            {
                if (items.Count > 0) Expect(",");
                if (Peek().Is("]")) break;
                items.Add(ParseExpression(withCondexpr: true));
            }
            Expect("]");
            return new JList(items, t.Start, IsTuple: false);
        }
        if (t.Is("{"))
        {
            var pairs = new List<(JNode, JNode)>();
            while (!Peek().Is("}"))
            {
                if (pairs.Count > 0) Expect(",");
                if (Peek().Is("}")) break;
                var key = ParseExpression(withCondexpr: true);
                Expect(":");
                pairs.Add((key, ParseExpression(withCondexpr: true)));
            }
            Expect("}");
            return new JDict(pairs, t.Start);
        }
        throw new ParseError(t.Start, $"unexpected '{t.Value}'");
    }

    private JNode ParsePostfix(JNode node)
    {
        while (true)
        {
            var t = Peek();
            if (t.Is(".") || t.Is("[")) node = ParseSubscript(node);
            else if (t.Is("(")) node = ParseCall(node);
            else return node;
        }
    }

    private JNode ParseFilterExpr(JNode node)
    {
        while (true)
        {
            var t = Peek();
            if (t.Is("|")) node = ParseFilter(node, startInline: false);
            else if (t.IsName("is")) node = ParseTest(node);
            else if (t.Is("(")) node = ParseCall(node);
            else return node;
        }
    }

    private JNode ParseSubscript(JNode node)
    {
        var t = Next();
        if (t.Is("."))
        {
            var attr = Next();
            if (attr.Kind == JinjaTokenKind.Name) return new JGetAttr(node, attr.Value, attr.Start, attr.NonAscii);
            if (attr.Kind == JinjaTokenKind.Integer)
                return new JGetItem(node, new JConst(long.Parse(attr.Value, CultureInfo.InvariantCulture), attr.Start), attr.Start);
            throw new ParseError(attr.Start, "expected a name or number after '.'");
        }
        var args = new List<JNode>();
        while (!Peek().Is("]"))
        {
            if (args.Count > 0) Expect(",");
            args.Add(ParseSubscribed());
        }
        Expect("]");
        return new JGetItem(node, args.Count == 1 ? args[0] : new JList(args, t.Start, IsTuple: true), t.Start);
    }

    private JNode ParseSubscribed()
    {
        int pos = Peek().Start;
        JNode? start = null;
        if (Peek().Is(":")) Next();
        else
        {
            start = ParseExpression(withCondexpr: true);
            if (!Peek().Is(":")) return start;
            Next();
        }
        JNode? stop = null, step = null;
        if (!Peek().Is("]") && !Peek().Is(",") && !Peek().Is(":")) stop = ParseExpression(withCondexpr: true);
        if (Peek().Is(":"))
        {
            Next();
            if (!Peek().Is("]") && !Peek().Is(",")) step = ParseExpression(withCondexpr: true);
        }
        return new JSlice(start, stop, step, pos);
    }

    private (List<JNode> Args, List<(string, JNode)> Kwargs, JNode? DynArgs, JNode? DynKwargs) ParseCallArgs()
    {
        Expect("(");
        var args = new List<JNode>();
        var kwargs = new List<(string, JNode)>();
        JNode? dynArgs = null, dynKwargs = null;
        bool first = true;
        while (!Peek().Is(")"))
        {
            if (!first) Expect(",");
            first = false;
            if (Peek().Is(")")) break;
            if (Peek().Is("*")) { Next(); dynArgs = ParseExpression(withCondexpr: true); }
            else if (Peek().Is("**")) { Next(); dynKwargs = ParseExpression(withCondexpr: true); }
            else if (Peek().Kind == JinjaTokenKind.Name && PeekAt(1).Is("="))
            {
                string name = Next().Value;
                Next();
                kwargs.Add((name, ParseExpression(withCondexpr: true)));
            }
            else args.Add(ParseExpression(withCondexpr: true));
        }
        Expect(")");
        return (args, kwargs, dynArgs, dynKwargs);
    }

    private JNode ParseCall(JNode node)
    {
        int pos = Peek().Start;
        var (args, kwargs, dynArgs, dynKwargs) = ParseCallArgs();
        return new JCall(node, args, kwargs, dynArgs, dynKwargs, pos);
    }

    private JNode ParseFilter(JNode? node, bool startInline)
    {
        while (Peek().Is("|") || startInline)
        {
            if (!startInline) Next();
            startInline = false;
            var nameToken = ExpectKind(JinjaTokenKind.Name);
            string name = nameToken.Value;
            while (Peek().Is(".")) { Next(); name += "." + ExpectKind(JinjaTokenKind.Name).Value; }
            if (Peek().Is("("))
            {
                var (args, kwargs, dynArgs, dynKwargs) = ParseCallArgs();
                if (dynArgs is not null) args.Add(dynArgs);
                if (dynKwargs is not null) args.Add(dynKwargs);
                node = new JFilter(node, name, args, kwargs, nameToken.Start);
            }
            else node = new JFilter(node, name, [], [], nameToken.Start);
        }
        return node!;
    }

    private JNode ParseTest(JNode node)
    {
        var isToken = Next();
        bool negated = SkipName("not");
        var nameToken = ExpectKind(JinjaTokenKind.Name);
        string name = nameToken.Value;
        while (Peek().Is(".")) { Next(); name += "." + ExpectKind(JinjaTokenKind.Name).Value; }
        var args = new List<JNode>();
        var kwargs = new List<(string, JNode)>();
        var t = Peek();
        if (t.Is("("))
        {
            var parsed = ParseCallArgs();
            args = parsed.Args;
            kwargs = parsed.Kwargs;
        }
        else if (!AtEnd && (t.Kind is JinjaTokenKind.Name or JinjaTokenKind.String or JinjaTokenKind.Integer or JinjaTokenKind.Float || t.Is("[") || t.Is("{"))
                 && !(t.Kind == JinjaTokenKind.Name && t.Value is "else" or "or" or "and" or "if" or "in" or "is" or "not"))
        {
            args.Add(ParsePostfix(ParsePrimary()));
        }
        JNode test = new JTest(node, name, args, kwargs, isToken.Start);
        return negated ? new JUnary("not", test, isToken.Start) : test;
    }

    // ---------------------------------------------------------------------------------------------- token stream

    private bool AtEnd => _i >= _tokens.Count;

    private JinjaToken Peek() => PeekAt(0);

    private JinjaToken PeekAt(int k) =>
        _i + k < _tokens.Count ? _tokens[_i + k] : new JinjaToken(JinjaTokenKind.Operator, "<end>", _tagEnd, _tagEnd);

    private JinjaToken Next()
    {
        if (AtEnd) throw new ParseError(_tagEnd, "unexpected end of tag");
        return _tokens[_i++];
    }

    private void Expect(string op)
    {
        var t = Peek();
        if (!t.Is(op)) throw new ParseError(t.Start, $"expected '{op}', found '{t.Value}'");
        _i++;
    }

    private JinjaToken ExpectKind(JinjaTokenKind kind)
    {
        var t = Peek();
        if (AtEnd || t.Kind != kind) throw new ParseError(t.Start, $"expected {kind.ToString().ToLowerInvariant()}, found '{t.Value}'");
        _i++;
        return t;
    }

    private void ExpectName(string name)
    {
        var t = Peek();
        if (!t.IsName(name)) throw new ParseError(t.Start, $"expected '{name}', found '{t.Value}'");
        _i++;
    }

    private bool SkipName(string name)
    {
        if (!Peek().IsName(name)) return false;
        _i++;
        return true;
    }

    private void ExpectEnd()
    {
        if (!AtEnd) throw new ParseError(Peek().Start, $"unexpected '{Peek().Value}'");
    }

    private void Enter()
    {
        if (++_depth > _maxDepth)
        {
            _depth = 0;
            throw new ParseError(Peek().Start, $"expression nested deeper than {_maxDepth} levels");
        }
    }
}
