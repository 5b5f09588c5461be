namespace Lineage.Formats.Pickle;

/// <summary>
/// Everything one run of the <see cref="PickleMachine"/> saw. When parsing failed, <see cref="Error"/> is set
/// and every global and event recorded before the failing byte is still here: a payload placed before a
/// corrupt byte stays visible.
/// </summary>
public sealed class PickleResult
{
    internal PickleResult(string file, string? entry, long startOffset, PickleLimits limits)
    {
        File = file;
        Entry = entry;
        StartOffset = startOffset;
        Limits = limits;
        EndOffset = startOffset;
    }

    public string File { get; }

    public string? Entry { get; }

    internal PickleLimits Limits { get; }

    /// <summary>The value popped by STOP; null when the run failed first.</summary>
    public PickleValue? Root { get; internal set; }

    /// <summary>Every global reference (GLOBAL, INST, STACK_GLOBAL, EXT*) in stream order.</summary>
    public IReadOnlyList<PickleGlobal> Globals => GlobalList;

    /// <summary>Calls, builds, mutations of non-containers and persistent loads, in stream order.</summary>
    public IReadOnlyList<PickleEvent> Events => EventList;

    /// <summary>Accepted oddities (CPython might reject them, or they hint at obfuscation).</summary>
    public IReadOnlyList<PickleNote> Notes => NoteList;

    /// <summary>The PROTO opcode's argument, or null when the stream has none (protocol 0 or 1).</summary>
    public int? DeclaredProtocol { get; internal set; }

    /// <summary>The highest protocol among the opcodes that ran (as pickletools reports it).</summary>
    public int HighestOpcodeProtocol { get; internal set; }

    /// <summary>Declared protocol, else the highest opcode protocol.</summary>
    public int Protocol => DeclaredProtocol ?? HighestOpcodeProtocol;

    /// <summary>Absolute offset of the first opcode.</summary>
    public long StartOffset { get; }

    /// <summary>Absolute offset just past STOP (where a following pickle begins), or of the failing opcode.</summary>
    public long EndOffset { get; internal set; }

    public long OpcodeCount { get; internal set; }

    public LineageException? Error { get; internal set; }

    /// <summary>True when the stream ended with STOP and no error.</summary>
    public bool Completed => Error is null && Root is not null;

    internal List<PickleGlobal> GlobalList { get; } = [];

    internal List<PickleEvent> EventList { get; } = [];

    internal List<PickleNote> NoteList { get; } = [];

    /// <summary>Globals and events interleaved in the order they happened (for decompiling).</summary>
    internal List<PickleValue> Timeline { get; } = [];

    /// <summary>
    /// Python-like code for what loading would do, e.g. <c>from os import system</c> / <c>_var0 = system('id')</c>
    /// / <c>result = _var0</c>. Bounded by <paramref name="maxChars"/> (default <see cref="PickleLimits.MaxDecompileChars"/>).
    /// </summary>
    public string Decompile(int? maxChars = null) => PickleFormatter.Decompile(this, maxChars ?? Limits.MaxDecompileChars);

    /// <summary>Throws <see cref="Error"/> when the run failed, else returns the root.</summary>
    public PickleValue RootOrThrow() => Error is not null ? throw Error : Root!;
}
