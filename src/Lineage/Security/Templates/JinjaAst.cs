namespace Lineage.Security.Templates;

/// <summary>Jinja2 expression nodes (the subset of jinja2.nodes the analysis needs). Pos indexes the template text.</summary>
internal abstract record JNode(int Pos);

internal sealed record JName(string Id, int Pos, bool NonAscii) : JNode(Pos);

/// <summary>A literal: string, long, double, bool or null. Escaped: a string whose escapes spelled identifier characters.</summary>
internal sealed record JConst(object? Value, int Pos, bool Escaped = false) : JNode(Pos);

internal sealed record JList(List<JNode> Items, int Pos, bool IsTuple) : JNode(Pos);

internal sealed record JDict(List<(JNode Key, JNode Value)> Pairs, int Pos) : JNode(Pos);

internal sealed record JGetAttr(JNode Target, string Attr, int Pos, bool NonAscii) : JNode(Pos);

internal sealed record JGetItem(JNode Target, JNode Index, int Pos) : JNode(Pos);

internal sealed record JSlice(JNode? Start, JNode? Stop, JNode? Step, int Pos) : JNode(Pos);

internal sealed record JCall(JNode Function, List<JNode> Args, List<(string Name, JNode Value)> Kwargs, JNode? DynArgs, JNode? DynKwargs, int Pos) : JNode(Pos);

/// <summary>A filter application; <see cref="Target"/> is null for <c>{% filter %}</c> blocks.</summary>
internal sealed record JFilter(JNode? Target, string Name, List<JNode> Args, List<(string Name, JNode Value)> Kwargs, int Pos) : JNode(Pos);

internal sealed record JTest(JNode Target, string Name, List<JNode> Args, List<(string Name, JNode Value)> Kwargs, int Pos) : JNode(Pos);

internal sealed record JUnary(string Op, JNode Operand, int Pos) : JNode(Pos);

internal sealed record JBinary(string Op, JNode Left, JNode Right, int Pos) : JNode(Pos);

internal sealed record JCompare(JNode First, List<(string Op, JNode Operand)> Rest, int Pos) : JNode(Pos);

internal sealed record JCond(JNode Test, JNode Then, JNode? Else, int Pos) : JNode(Pos);

/// <summary>
/// A name binding the analysis follows for constant folding: <c>{% set x = … %}</c>, <c>{% set ns.a = … %}</c>,
/// <c>{% for x in … %}</c> (<see cref="Iterates"/>: x takes each element), <c>{% with x = … %}</c>.
/// </summary>
internal sealed record JBinding(string Target, JNode Value, bool Iterates, int Pos);

/// <summary>A statement that pulls in other templates (include, import, from, extends).</summary>
internal sealed record JLoad(string Keyword, JNode? Template, int Pos);

/// <summary>Everything the parser extracted from a template.</summary>
internal sealed class JinjaProgram
{
    /// <summary>Every top-level expression (tag contents, statement operands), in template order.</summary>
    public List<JNode> Expressions { get; } = [];

    public List<JBinding> Bindings { get; } = [];

    public List<JLoad> Loads { get; } = [];

    /// <summary>Names the template binds anywhere (loop targets, set, macro parameters…): not free globals.</summary>
    public HashSet<string> BoundNames { get; } = new(StringComparer.Ordinal) { "loop", "caller", "varargs", "kwargs" };

    public List<JinjaSyntaxError> Errors { get; } = [];
}
