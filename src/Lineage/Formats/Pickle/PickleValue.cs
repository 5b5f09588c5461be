using System.Numerics;

namespace Lineage.Formats.Pickle;

/// <summary>
/// A symbolic value on the pickle machine's stack. Nothing here is a live Python object: a global is a
/// (module, name) pair, a call is a record of what would have been called with what. Values may share
/// sub-values and even form cycles (a list appended to itself through the memo), so consumers must bound
/// their traversal; <see cref="ToString"/> renders with depth and size limits.
/// </summary>
public abstract class PickleValue
{
    private protected PickleValue(long offset) => Offset = offset;

    /// <summary>Byte offset of the opcode that created the value.</summary>
    public long Offset { get; }

    /// <summary>Short Python-like rendering (bounded in depth and length).</summary>
    public override string ToString() => PickleFormatter.Render(this, PickleFormatter.DefaultRenderDepth, 400);

    /// <summary>Python-like rendering cut at <paramref name="maxDepth"/> levels and about <paramref name="maxChars"/> characters.</summary>
    public string Render(int maxDepth, int maxChars) => PickleFormatter.Render(this, Math.Max(0, maxDepth), Math.Max(16, maxChars));
}

public sealed class PickleNone : PickleValue
{
    internal PickleNone(long offset) : base(offset)
    {
    }
}

public sealed class PickleBool : PickleValue
{
    internal PickleBool(long offset, bool value) : base(offset) => Value = value;

    public bool Value { get; }
}

public sealed class PickleInt : PickleValue
{
    internal PickleInt(long offset, BigInteger value) : base(offset) => Value = value;

    public BigInteger Value { get; }

    public bool TryGetInt64(out long value)
    {
        if (Value >= long.MinValue && Value <= long.MaxValue)
        {
            value = (long)Value;
            return true;
        }
        value = 0;
        return false;
    }
}

public sealed class PickleFloat : PickleValue
{
    internal PickleFloat(long offset, double value) : base(offset) => Value = value;

    public double Value { get; }
}

/// <summary>A Python str. Protocol 0–2 byte strings (STRING, BINSTRING, SHORT_BINSTRING) load as str in Python 3, so they land here too.</summary>
public sealed class PickleString : PickleValue
{
    internal PickleString(long offset, string value, bool fromByteString) : base(offset)
    {
        Value = value;
        FromByteString = fromByteString;
    }

    public string Value { get; }

    /// <summary>True when the value came from a protocol 0–2 byte-string opcode (decoded as UTF-8, else Latin-1).</summary>
    public bool FromByteString { get; }
}

/// <summary>bytes or bytearray, with the absolute offset of its first byte so large blobs can be re-read in place.</summary>
public sealed class PickleBytes : PickleValue
{
    internal PickleBytes(long offset, ReadOnlyMemory<byte> value, long dataOffset, bool isByteArray) : base(offset)
    {
        Value = value;
        DataOffset = dataOffset;
        IsByteArray = isByteArray;
    }

    public ReadOnlyMemory<byte> Value { get; }

    /// <summary>Absolute offset of the first data byte in the source the machine read.</summary>
    public long DataOffset { get; }

    public bool IsByteArray { get; }
}

public sealed class PickleList : PickleValue
{
    internal PickleList(long offset, List<PickleValue> items) : base(offset) => MutableItems = items;

    internal List<PickleValue> MutableItems { get; }

    public IReadOnlyList<PickleValue> Items => MutableItems;
}

public sealed class PickleTuple : PickleValue
{
    internal PickleTuple(long offset, PickleValue[] items) : base(offset) => Items = items;

    public IReadOnlyList<PickleValue> Items { get; }
}

/// <summary>A dict as the ordered list of its SETITEM operations (keys are symbolic, so duplicates are kept).</summary>
public sealed class PickleDict : PickleValue
{
    internal PickleDict(long offset, List<KeyValuePair<PickleValue, PickleValue>> items) : base(offset) => MutableItems = items;

    internal List<KeyValuePair<PickleValue, PickleValue>> MutableItems { get; }

    public IReadOnlyList<KeyValuePair<PickleValue, PickleValue>> Items => MutableItems;

    /// <summary>The last value stored under the string key <paramref name="key"/> (Python keeps the last), or null.</summary>
    public PickleValue? Get(string key)
    {
        for (int i = MutableItems.Count - 1; i >= 0; i--)
            if (MutableItems[i].Key is PickleString s && s.Value == key)
                return MutableItems[i].Value;
        return null;
    }
}

public sealed class PickleSet : PickleValue
{
    internal PickleSet(long offset, List<PickleValue> items, bool frozen) : base(offset)
    {
        MutableItems = items;
        IsFrozen = frozen;
    }

    internal List<PickleValue> MutableItems { get; }

    public IReadOnlyList<PickleValue> Items => MutableItems;

    public bool IsFrozen { get; }
}

/// <summary>How a global reference entered the pickle.</summary>
public enum PickleGlobalSource
{
    /// <summary>GLOBAL opcode: module and name as text lines.</summary>
    Global,

    /// <summary>INST opcode: module and name as text lines, instantiated at once.</summary>
    Inst,

    /// <summary>STACK_GLOBAL opcode: module and name popped from the stack.</summary>
    StackGlobal,

    /// <summary>EXT1/EXT2/EXT4: an integer code resolved through copyreg's extension registry at load time.</summary>
    Extension,
}

/// <summary>
/// A reference to <c>module.name</c> that loading would import. When the operands were not plain string
/// constants (STACK_GLOBAL fed by calls or other values) or the reference is an extension code,
/// <see cref="Computed"/> describes them and <see cref="Module"/>/<see cref="Name"/> are best-effort renderings.
/// </summary>
public sealed class PickleGlobal : PickleValue
{
    internal PickleGlobal(long offset, string module, string name, PickleGlobalSource source, string? computed = null, int? extensionCode = null)
        : base(offset)
    {
        Module = module;
        Name = name;
        Source = source;
        Computed = computed;
        ExtensionCode = extensionCode;
        ResolvedModule = module;
        ResolvedName = name;
    }

    public string Module { get; }

    /// <summary>Qualified name inside the module (protocol 4 allows dotted names such as <c>Outer.method</c>).</summary>
    public string Name { get; }

    public PickleGlobalSource Source { get; }

    /// <summary>Null for a plain constant reference; otherwise a description of how the operands were computed.</summary>
    public string? Computed { get; }

    public int? ExtensionCode { get; }

    public bool IsComputed => Computed is not null;

    /// <summary><c>module.name</c> as written in the stream.</summary>
    public string FullName => Module + "." + Name;

    /// <summary>The module CPython actually imports: Python 2 names are renamed in protocol 0–2 streams (<c>__builtin__</c> → <c>builtins</c>).</summary>
    public string ResolvedModule { get; private set; }

    public string ResolvedName { get; private set; }

    /// <summary><c>ResolvedModule.ResolvedName</c>: the object loading would look up. Policies should match on this.</summary>
    public string ResolvedFullName => ResolvedModule + "." + ResolvedName;

    internal void ResolveFor(int protocol)
    {
        if (IsComputed) return;
        (ResolvedModule, ResolvedName) = PythonCompat.Resolve(Module, Name, protocol);
    }
}

/// <summary>The symbolic result of a call the pickle asks for (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ).</summary>
public sealed class PickleCall : PickleValue
{
    private List<KeyValuePair<PickleValue, PickleValue>>? _setItems;
    private List<PickleValue>? _appends;
    private List<PickleValue>? _states;

    internal PickleCall(long offset, PickleEvent creation) : base(offset) => Event = creation;

    /// <summary>The event that created this value.</summary>
    public PickleEvent Event { get; }

    public PickleEventKind Kind => Event.Kind;

    public PickleValue Callable => Event.Target!;

    public PickleValue Arguments => Event.Arguments;

    public PickleValue? Keywords => Event.Keywords;

    /// <summary>Items later stored into the result with SETITEM/SETITEMS (e.g. an OrderedDict's entries).</summary>
    public IReadOnlyList<KeyValuePair<PickleValue, PickleValue>> SetItems => _setItems ?? [];

    /// <summary>Items later appended or added with APPEND/APPENDS/ADDITEMS.</summary>
    public IReadOnlyList<PickleValue> Appends => _appends ?? [];

    /// <summary>States later applied with BUILD.</summary>
    public IReadOnlyList<PickleValue> States => _states ?? [];

    internal void AddSetItem(PickleValue key, PickleValue value) => (_setItems ??= []).Add(new(key, value));

    internal void AddAppend(PickleValue item) => (_appends ??= []).Add(item);

    internal void AddState(PickleValue state) => (_states ??= []).Add(state);

    /// <summary>The callable when it is a global reference.</summary>
    public PickleGlobal? CallableGlobal => Callable as PickleGlobal;

    /// <summary>Argument items when the arguments are a tuple (the usual case), else empty.</summary>
    public IReadOnlyList<PickleValue> ArgumentItems => Arguments is PickleTuple t ? t.Items : [];
}

/// <summary>The result of <c>persistent_load(id)</c> (PERSID/BINPERSID): resolved by the loader, e.g. a torch storage.</summary>
public sealed class PicklePersistentRef : PickleValue
{
    internal PicklePersistentRef(long offset, PickleValue id, PickleEvent creation) : base(offset)
    {
        Id = id;
        Event = creation;
    }

    public PickleValue Id { get; }

    public PickleEvent Event { get; }
}

/// <summary>An out-of-band buffer (protocol 5 NEXT_BUFFER): its bytes are not in the stream.</summary>
public sealed class PickleBuffer : PickleValue
{
    internal PickleBuffer(long offset, int index) : base(offset) => Index = index;

    /// <summary>Position of the buffer in the out-of-band sequence.</summary>
    public int Index { get; }

    public bool IsReadOnly { get; internal set; }
}

/// <summary>What an event would do when the pickle is loaded.</summary>
public enum PickleEventKind
{
    /// <summary>REDUCE: <c>callable(*args)</c>.</summary>
    Reduce,

    /// <summary>NEWOBJ: <c>cls.__new__(cls, *args)</c>.</summary>
    NewObj,

    /// <summary>NEWOBJ_EX: <c>cls.__new__(cls, *args, **kwargs)</c>.</summary>
    NewObjEx,

    /// <summary>INST: <c>module.name(*args)</c> (protocol 0).</summary>
    Inst,

    /// <summary>OBJ: <c>cls(*args)</c> (protocol 1).</summary>
    Obj,

    /// <summary>BUILD: <c>target.__setstate__(state)</c> or <c>target.__dict__.update(state)</c>.</summary>
    Build,

    /// <summary>APPEND on something that is not a list: <c>target.append(item)</c>.</summary>
    Append,

    /// <summary>APPENDS on something that is not a list: <c>target.extend(items)</c>.</summary>
    Extend,

    /// <summary>SETITEM/SETITEMS on something that is not a dict: <c>target[key] = value</c>.</summary>
    SetItem,

    /// <summary>ADDITEMS on something that is not a set: <c>target.add(item)</c>.</summary>
    AddItems,

    /// <summary>PERSID/BINPERSID: <c>persistent_load(id)</c>.</summary>
    PersistentLoad,
}

/// <summary>One step of the call graph the pickle would perform, in stream order.</summary>
public sealed class PickleEvent
{
    internal PickleEvent(int index, PickleEventKind kind, long offset, PickleOpcode opcode, PickleValue? target, PickleValue arguments, PickleValue? keywords)
    {
        Index = index;
        Kind = kind;
        Offset = offset;
        Opcode = opcode;
        Target = target;
        Arguments = arguments;
        Keywords = keywords;
    }

    /// <summary>Position in <see cref="PickleResult.Events"/>.</summary>
    public int Index { get; }

    public PickleEventKind Kind { get; }

    /// <summary>Byte offset of the opcode.</summary>
    public long Offset { get; }

    public PickleOpcode Opcode { get; }

    /// <summary>The callable (calls), the object acted on (BUILD and mutations), or null (persistent loads).</summary>
    public PickleValue? Target { get; }

    /// <summary>Call arguments (usually a tuple), the BUILD state, the mutation items as a tuple, or the persistent id.</summary>
    public PickleValue Arguments { get; }

    /// <summary>NEWOBJ_EX keyword arguments.</summary>
    public PickleValue? Keywords { get; }

    /// <summary>The value the event produces (a <see cref="PickleCall"/> or <see cref="PicklePersistentRef"/>), if any.</summary>
    public PickleValue? Result { get; internal set; }

    public bool IsCall => Kind is PickleEventKind.Reduce or PickleEventKind.NewObj or PickleEventKind.NewObjEx or PickleEventKind.Inst or PickleEventKind.Obj;

    public override string ToString() => $"byte {Offset}: {PickleOpcodes.Name((byte)Opcode)} {Kind} {Target}";
}

/// <summary>Something unusual the machine accepted (CPython might reject it, or it hints at obfuscation).</summary>
public sealed record PickleNote(long Offset, string Code, string Message);
