using System.Text;
using System.Text.RegularExpressions;
using Lineage.Security.Metadata;
using Lineage.Security.Policy;

namespace Lineage.Security.Templates;

/// <summary>Where a template came from, so findings can say so: the key that held it and how to map positions to bytes.</summary>
/// <param name="Label">The field or file the template came from, e.g. <c>chat_template</c> or <c>tokenizer.chat_template</c>.</param>
/// <param name="OffsetOf">Maps a character index of the template to a byte offset in the file (null: unknown).</param>
/// <param name="Entry">Archive member or tensor, if any.</param>
public sealed record TemplateOrigin(string Label, Func<int, long?>? OffsetOf = null, string? Entry = null)
{
    /// <summary>Every finding at one offset: for templates decoded out of JSON, where the string value starts.</summary>
    public static TemplateOrigin At(string label, long? offset, string? entry = null) => new(label, _ => offset, entry);
}

/// <summary>
/// Detects Jinja2 sandbox escapes in chat templates (Hugging Face tokenizer_config.json chat_template, GGUF
/// tokenizer.chat_template, standalone .jinja files). The template is lexed and parsed like Jinja2 does it, and
/// the expression trees are checked: dunder and private attribute access (direct, through |attr, getattr or
/// subscripts), dangerous Python names, globals that expose __globals__ (cycler, joiner, lipsum, self…), names
/// assembled by constant expressions (evaluated symbolically: concatenation, ~, |join, |format, %, chr,
/// |reverse, |replace, slicing, set/for/namespace variables), escape-spelled literals and code payloads in
/// strings. Benign templates (role loops, raise_exception, strftime_now, tojson, trim, namespace counters) produce
/// no findings. The analyzer never renders anything.
/// </summary>
public static class ChatTemplateAnalyzer
{
    /// <summary>Templates longer than this (characters) get an informational size finding.</summary>
    public const int LargeTemplateChars = 50_000;

    private const int MaxFindings = 100;

    private static readonly HashSet<string> DangerousAttributes = new(StringComparer.Ordinal)
    {
        "os", "sys", "subprocess", "builtins", "popen", "system", "eval", "exec", "execfile", "compile", "import_module",
        "importlib", "getattr", "setattr", "delattr", "open", "environ", "modules", "Popen", "check_output", "check_call",
        "getoutput", "getstatusoutput", "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "posix_spawn",
        "fork", "forkpty", "execl", "execle", "execlp", "execv", "execve", "execvp", "loads", "pickle", "marshal",
        "b64decode", "urlopen", "urlretrieve", "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "gi_frame",
        "gi_code", "cr_frame", "ag_frame", "tb_frame", "tb_next", "func_globals", "func_code", "func_closure", "co_code",
        "im_func", "mro", "load_module", "exec_module", "get_data", "rmtree", "socket", "pty", "shutil", "ctypes", "globals",
    };

    private static readonly HashSet<string> DangerousKeys = new(StringComparer.Ordinal)
    {
        "os", "sys", "subprocess", "builtins", "eval", "exec", "importlib", "getattr", "popen", "environ", "modules",
        "pickle", "marshal", "f_globals", "func_globals", "globals", "import_module", "posix", "nt",
    };

    private static readonly HashSet<string> DangerousFreeCalls = new(StringComparer.Ordinal)
    {
        "eval", "exec", "execfile", "compile", "getattr", "setattr", "delattr", "open", "input", "breakpoint", "globals",
        "locals", "vars", "import_module", "system", "popen",
    };

    private static readonly HashSet<string> ModuleNames = new(StringComparer.Ordinal)
    {
        "os", "sys", "subprocess", "builtins", "importlib", "socket", "shutil", "pty", "ctypes", "pickle", "marshal", "posix", "nt",
    };

    private static readonly HashSet<string> RiskyGlobals = new(StringComparer.Ordinal)
    {
        "cycler", "joiner", "lipsum", "self", "config", "request", "url_for", "get_flashed_messages", "session", "g",
    };

    /// <summary>Filters whose attribute= keyword (or first argument) names an attribute to look up.</summary>
    private static readonly HashSet<string> AttributeFilters = new(StringComparer.Ordinal)
    {
        "map", "sort", "groupby", "sum", "unique", "min", "max", "selectattr", "rejectattr", "dictsort",
    };

    private static readonly Regex DunderWord = new(@"__[A-Za-z][A-Za-z0-9_]*__", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);

    /// <summary>Analyzes one template. <paramref name="maxChars"/> bounds the work (longer text is cut and reported).</summary>
    public static IReadOnlyList<Finding> Analyze(string template, TemplateOrigin origin, int maxChars = 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(origin);
        var run = new Run(template, origin);
        if (template.Length > maxChars)
        {
            run.Add(ScanRules.LimitExceeded, 0, $"{origin.Label}: template of {template.Length} characters exceeds the {maxChars}-character analysis limit; only the first {maxChars} were analysed");
            template = template[..maxChars];
        }
        run.Execute(template);
        return run.Findings;
    }

    private sealed class Run(string fullText, TemplateOrigin origin)
    {
        private readonly HashSet<(string Rule, string Message)> _seen = [];
        private readonly HashSet<int> _constructedReported = [];
        private List<JinjaTag> _tags = [];
        private JinjaProgram _program = new();
        private ConstantFolder _folder = new();
        private int _suppressed;

        public List<Finding> Findings { get; } = [];

        public void Execute(string text)
        {
            var lexed = JinjaLexer.Lex(text);
            _tags = lexed.Tags;
            if (lexed.Truncated)
                Add(ScanRules.LimitExceeded, 0, $"{origin.Label}: more than the lexer's token limit; the rest of the template was not analysed");
            _program = JinjaParser.Parse(lexed);
            _folder = new ConstantFolder();
            _folder.Bind(_program.Bindings);

            foreach (var expression in _program.Expressions) Visit(expression);
            CheckTokens();
            foreach (var load in _program.Loads)
            {
                string what = load.Template is not null && _folder.Strings(load.Template).FirstOrDefault() is { } name ? $" '{name}'" : "";
                Add(ScanRules.JinjaLoadsTemplates, load.Pos, $"{origin.Label}: {{% {load.Keyword}{what} %}} pulls in another template");
            }
            if (_program.Errors.Count > 0)
            {
                var first = _program.Errors.OrderBy(e => e.Position).First();
                string more = _program.Errors.Count > 1 ? $" (and {_program.Errors.Count - 1} more)" : "";
                Add(ScanRules.JinjaSyntax, first.Position, $"{origin.Label}: template does not parse: {first.Message}{more}");
            }
            if (fullText.Length > LargeTemplateChars)
                Add(ScanRules.JinjaLarge, 0, $"{origin.Label}: template is {fullText.Length} characters long (real chat templates are a few thousand)");
            if (_suppressed > 0)
                Findings.Add(new Finding(Severity.Info, ScanRules.JinjaLarge.Id, $"{origin.Label}: {_suppressed} more findings not listed") { Offset = origin.OffsetOf?.Invoke(0), Entry = origin.Entry });
        }

        // ------------------------------------------------------------------------------------------ tree checks

        private void Visit(JNode node)
        {
            switch (node)
            {
                case JName n:
                    CheckFreeName(n);
                    break;
                case JConst c:
                    CheckLiteral(c);
                    break;
                case JList l:
                    foreach (var item in l.Items) Visit(item);
                    break;
                case JDict d:
                    foreach (var (k, v) in d.Pairs) { Visit(k); Visit(v); }
                    break;
                case JGetAttr ga:
                    CheckRiskyTarget(ga.Target);
                    CheckAttribute(ga.Attr, ga.Pos, constructed: false, subscript: false, ga.NonAscii);
                    if (ga.Target is JName { } owner && ModuleNames.Contains(owner.Id) && !_program.BoundNames.Contains(owner.Id))
                        Add(ScanRules.JinjaDangerousName, owner.Pos, $"{origin.Label}: uses module '{owner.Id}' ({owner.Id}.{ga.Attr})");
                    Visit(ga.Target);
                    break;
                case JGetItem gi:
                    CheckRiskyTarget(gi.Target);
                    Visit(gi.Target);
                    Visit(gi.Index);
                    if (gi.Index is not JSlice)
                        foreach (var key in Ordered(_folder.Strings(gi.Index)))
                            CheckAttribute(key, gi.Index.Pos, constructed: gi.Index is not JConst, subscript: true, nonAscii: false);
                    CheckConstruction(gi);
                    break;
                case JSlice s:
                    if (s.Start is not null) Visit(s.Start);
                    if (s.Stop is not null) Visit(s.Stop);
                    if (s.Step is not null) Visit(s.Step);
                    break;
                case JCall call:
                    VisitCall(call);
                    break;
                case JFilter f:
                    VisitFilter(f);
                    break;
                case JTest t:
                    Visit(t.Target);
                    foreach (var a in t.Args) Visit(a);
                    foreach (var (_, v) in t.Kwargs) Visit(v);
                    break;
                case JUnary u:
                    Visit(u.Operand);
                    break;
                case JBinary b:
                    Visit(b.Left);
                    Visit(b.Right);
                    if (b.Op is "+" or "~" or "%" or "*") CheckConstruction(b);
                    break;
                case JCompare cmp:
                    Visit(cmp.First);
                    foreach (var (_, operand) in cmp.Rest) Visit(operand);
                    break;
                case JCond cond:
                    Visit(cond.Test);
                    Visit(cond.Then);
                    if (cond.Else is not null) Visit(cond.Else);
                    break;
            }
        }

        private void VisitCall(JCall call)
        {
            Visit(call.Function);
            foreach (var a in call.Args) Visit(a);
            foreach (var (_, v) in call.Kwargs) Visit(v);
            if (call.DynArgs is not null) Visit(call.DynArgs);
            if (call.DynKwargs is not null) Visit(call.DynKwargs);

            if (call.Function is JName fn && !_program.BoundNames.Contains(fn.Id))
            {
                if (DangerousFreeCalls.Contains(fn.Id))
                    Add(ScanRules.JinjaDangerousName, fn.Pos, $"{origin.Label}: calls {fn.Id}()");
                if (fn.Id is "getattr" or "setattr" or "delattr" or "hasattr" && call.Args.Count >= 2)
                    CheckAttributeArgument(call.Args[1], $"{fn.Id}()");
            }
            if (call.Function is JGetAttr { Attr: "join" or "format" or "replace" or "lower" or "upper" or "strip" or "title" or "capitalize" or "swapcase" or "removeprefix" or "removesuffix" }
                || call.Function is JName { Id: "chr" or "str" or "dict" })
                CheckConstruction(call);
        }

        private void VisitFilter(JFilter f)
        {
            if (f.Target is not null) Visit(f.Target);
            foreach (var a in f.Args) Visit(a);
            foreach (var (_, v) in f.Kwargs) Visit(v);

            if (f.Name == "attr")
            {
                if (f.Target is not null) CheckRiskyTarget(f.Target);
                if (f.Args.Count > 0) CheckAttributeArgument(f.Args[0], "|attr()");
            }
            else if (AttributeFilters.Contains(f.Name))
            {
                foreach (var (name, value) in f.Kwargs)
                    if (name == "attribute") CheckAttributeArgument(value, $"|{f.Name}(attribute=)");
                if (f.Name is "selectattr" or "rejectattr" or "groupby" && f.Args.Count > 0)
                    CheckAttributeArgument(f.Args[0], $"|{f.Name}()");
                // map('attr', name) / map('getattr', …) apply the attr filter by name.
                if (f.Name is "map" or "select" or "reject" && f.Args.Count >= 2 && _folder.Strings(f.Args[0]).Contains("attr"))
                    CheckAttributeArgument(f.Args[1], $"|{f.Name}('attr')");
            }
            if (f.Name is "join" or "format" or "reverse" or "replace" or "lower" or "upper" or "string" or "first" or "last" or "list" or "title" or "capitalize" or "trim")
                CheckConstruction(f);
        }

        /// <summary>An attribute name given as an expression: constant → checked; not evaluable → dynamic lookup.</summary>
        private void CheckAttributeArgument(JNode argument, string how)
        {
            var names = _folder.Strings(argument).ToList();
            if (names.Count == 0)
            {
                Add(ScanRules.JinjaDynamicAttribute, argument.Pos, $"{origin.Label}: {how} looks up an attribute by a computed name");
                return;
            }
            foreach (var name in Ordered(names))
                CheckAttribute(name, argument.Pos, constructed: argument is not JConst, subscript: false, nonAscii: false);
        }

        private void CheckAttribute(string name, int pos, bool constructed, bool subscript, bool nonAscii)
        {
            string shown = PayloadDetector.Printable(name);
            if (PythonNames.IsDunder(name))
            {
                if (constructed) AddConstructed(name, pos);
                else Add(ScanRules.JinjaDunder, pos, $"{origin.Label}: accesses {shown}");
                return;
            }
            if (!subscript && name.StartsWith('_') && name.Length > 1)
            {
                if (constructed) AddConstructed(name, pos);
                else Add(ScanRules.JinjaPrivateAttribute, pos, $"{origin.Label}: accesses private attribute {shown}");
                return;
            }
            if ((subscript ? DangerousKeys : DangerousAttributes).Contains(name))
            {
                if (constructed) AddConstructed(name, pos);
                else Add(ScanRules.JinjaDangerousName, pos, $"{origin.Label}: accesses '{shown}'");
                return;
            }
            if (nonAscii || name.Any(c => c > '\x7F'))
            {
                string skeleton = PythonNames.Skeleton(name);
                if (PythonNames.IsDunder(skeleton) || DangerousAttributes.Contains(skeleton) || skeleton.StartsWith('_'))
                    Add(ScanRules.JinjaObfuscatedName, pos, $"{origin.Label}: '{shown}' is a lookalike spelling of '{skeleton}'");
            }
        }

        /// <summary>One obfuscation finding per expression: the most telling candidate (dunders first, shortest first).</summary>
        private void AddConstructed(string name, int pos)
        {
            if (!_constructedReported.Add(pos)) return;
            Add(ScanRules.JinjaObfuscatedName, pos, $"{origin.Label}: builds the name '{PayloadDetector.Printable(name)}' from pieces");
        }

        /// <summary>A string-building expression whose value is a forbidden name is obfuscation wherever it is used.</summary>
        private void CheckConstruction(JNode node)
        {
            foreach (var value in Ordered(_folder.Strings(node)))
                if (PythonNames.IsDunder(value) || value.Length > 1 && value.StartsWith('_') && DangerousAttributes.Contains(value.TrimStart('_'))
                    || value is "__import__" or "__builtins__")
                    AddConstructed(value, node.Pos);
        }

        /// <summary>
        /// Globals such as cycler, joiner, lipsum, self, config and request are footholds only when something is
        /// looked up on them (their methods carry __globals__); calling joiner(", ") as documented is fine.
        /// </summary>
        private void CheckRiskyTarget(JNode target)
        {
            if (target is JName n && RiskyGlobals.Contains(n.Id) && !_program.BoundNames.Contains(n.Id))
                Add(ScanRules.JinjaRiskyGlobal, n.Pos, $"{origin.Label}: looks up attributes of the '{n.Id}' global");
        }

        private static IEnumerable<string> Ordered(IEnumerable<string> candidates) =>
            candidates.OrderByDescending(PythonNames.IsDunder).ThenBy(c => c.Length).ThenBy(c => c, StringComparer.Ordinal);

        private void CheckFreeName(JName n)
        {
            if (PythonNames.IsDunder(n.Id))
            {
                Add(ScanRules.JinjaDunder, n.Pos, $"{origin.Label}: uses {n.Id}");
                return;
            }
            if (_program.BoundNames.Contains(n.Id)) return;
            if (n.NonAscii)
            {
                string skeleton = PythonNames.Skeleton(n.Id);
                if (PythonNames.IsDunder(skeleton) || RiskyGlobals.Contains(skeleton) || ModuleNames.Contains(skeleton) || DangerousFreeCalls.Contains(skeleton))
                    Add(ScanRules.JinjaObfuscatedName, n.Pos, $"{origin.Label}: '{PayloadDetector.Printable(n.Id)}' is a lookalike spelling of '{skeleton}'");
            }
        }

        private void CheckLiteral(JConst c)
        {
            if (c.Value is not string s) return;
            if (c.Escaped)
                Add(ScanRules.JinjaEscapedLiteral, c.Pos, $"{origin.Label}: string literal spells '{PayloadDetector.Printable(s)}' with escape sequences");
            if (PythonNames.IsDunder(s))
            {
                Add(ScanRules.JinjaDunder, c.Pos, $"{origin.Label}: string literal names {PayloadDetector.Printable(s)}");
                return;
            }
            if (DunderWord.IsMatch(s) || PayloadDetector.LooksLikeCodeCall(s))
            {
                Add(ScanRules.JinjaCodePayload, c.Pos, $"{origin.Label}: string literal carries code: '{PayloadDetector.Printable(s)}'");
                return;
            }
            if (PayloadDetector.TryDecodeBase64(s.Trim(), out var bytes))
            {
                string decoded = Encoding.Latin1.GetString(bytes);
                if (PayloadDetector.LooksLikeCode(decoded) || DunderWord.IsMatch(decoded) || PayloadDetector.LooksLikePickle(bytes))
                    Add(ScanRules.JinjaCodePayload, c.Pos, $"{origin.Label}: base64 literal decodes to code: '{PayloadDetector.Printable(decoded)}'");
            }
        }

        /// <summary>Token-level checks that do not depend on the parse succeeding (so broken tags cannot hide names).</summary>
        private void CheckTokens()
        {
            foreach (var tag in _tags)
            {
                for (int k = 0; k < tag.Tokens.Count; k++)
                {
                    var t = tag.Tokens[k];
                    if (t.Kind != JinjaTokenKind.Name) continue;
                    bool afterDot = k > 0 && tag.Tokens[k - 1].Is(".");
                    if (PythonNames.IsDunder(t.Value))
                        Add(ScanRules.JinjaDunder, t.Start, afterDot ? $"{origin.Label}: accesses {t.Value}" : $"{origin.Label}: uses {t.Value}");
                    else if (afterDot && t.Value.StartsWith('_') && t.Value.Length > 1)
                        Add(ScanRules.JinjaPrivateAttribute, t.Start, $"{origin.Label}: accesses private attribute {t.Value}");
                }
            }
        }

        // ------------------------------------------------------------------------------------------ reporting

        public void Add(RuleDescriptor rule, int pos, string message)
        {
            // One finding per rule and message: the tree and token passes see the same names, and repeated
            // identical uses add nothing for a reviewer.
            if (!_seen.Add((rule.Id, message)))
                return;
            if (Findings.Count >= MaxFindings)
            {
                _suppressed++;
                return;
            }
            Findings.Add(new Finding(rule.DefaultSeverity, rule.Id, message)
            {
                Offset = origin.OffsetOf?.Invoke(pos),
                Entry = origin.Entry,
                Evidence = EvidenceAt(pos),
            });
        }

        private string? EvidenceAt(int pos)
        {
            var tag = _tags.FirstOrDefault(t => t.Start <= pos && pos < t.End);
            if (tag is null) return null;
            int end = Math.Min(tag.End, fullText.Length);
            string text = fullText[tag.Start..end];
            return PayloadDetector.Printable(text.Length > 240 ? text[..240] + "…" : text);
        }
    }
}
