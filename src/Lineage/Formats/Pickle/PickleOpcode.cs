namespace Lineage.Formats.Pickle;

/// <summary>Every opcode of CPython's pickle protocols 0–5, by its byte value (names as in pickletools).</summary>
public enum PickleOpcode : byte
{
    Mark = (byte)'(',
    Stop = (byte)'.',
    Pop = (byte)'0',
    PopMark = (byte)'1',
    Dup = (byte)'2',
    Float = (byte)'F',
    Int = (byte)'I',
    BinInt = (byte)'J',
    BinInt1 = (byte)'K',
    Long = (byte)'L',
    BinInt2 = (byte)'M',
    None = (byte)'N',
    PersId = (byte)'P',
    BinPersId = (byte)'Q',
    Reduce = (byte)'R',
    String = (byte)'S',
    BinString = (byte)'T',
    ShortBinString = (byte)'U',
    Unicode = (byte)'V',
    BinUnicode = (byte)'X',
    Append = (byte)'a',
    Build = (byte)'b',
    Global = (byte)'c',
    Dict = (byte)'d',
    EmptyDict = (byte)'}',
    Appends = (byte)'e',
    Get = (byte)'g',
    BinGet = (byte)'h',
    Inst = (byte)'i',
    LongBinGet = (byte)'j',
    List = (byte)'l',
    EmptyList = (byte)']',
    Obj = (byte)'o',
    Put = (byte)'p',
    BinPut = (byte)'q',
    LongBinPut = (byte)'r',
    SetItem = (byte)'s',
    Tuple = (byte)'t',
    EmptyTuple = (byte)')',
    SetItems = (byte)'u',
    BinFloat = (byte)'G',

    // Protocol 2.
    Proto = 0x80,
    NewObj = 0x81,
    Ext1 = 0x82,
    Ext2 = 0x83,
    Ext4 = 0x84,
    Tuple1 = 0x85,
    Tuple2 = 0x86,
    Tuple3 = 0x87,
    NewTrue = 0x88,
    NewFalse = 0x89,
    Long1 = 0x8A,
    Long4 = 0x8B,

    // Protocol 3.
    BinBytes = (byte)'B',
    ShortBinBytes = (byte)'C',

    // Protocol 4.
    ShortBinUnicode = 0x8C,
    BinUnicode8 = 0x8D,
    BinBytes8 = 0x8E,
    EmptySet = 0x8F,
    AddItems = 0x90,
    FrozenSet = 0x91,
    NewObjEx = 0x92,
    StackGlobal = 0x93,
    Memoize = 0x94,
    Frame = 0x95,

    // Protocol 5.
    ByteArray8 = 0x96,
    NextBuffer = 0x97,
    ReadOnlyBuffer = 0x98,
}

/// <summary>Names and introducing protocol of each opcode, as pickletools lists them.</summary>
public static class PickleOpcodes
{
    private static readonly (string Name, int Protocol)?[] Table = Build();

    /// <summary>True when <paramref name="code"/> is an opcode of protocols 0–5.</summary>
    public static bool IsDefined(byte code) => Table[code] is not null;

    /// <summary>The pickletools name (e.g. <c>SHORT_BINUNICODE</c>), or <c>0xNN</c> for an undefined byte.</summary>
    public static string Name(byte code) => Table[code]?.Name ?? $"0x{code:X2}";

    /// <summary>The protocol that introduced the opcode (0 for undefined bytes).</summary>
    public static int Protocol(byte code) => Table[code]?.Protocol ?? 0;

    /// <summary>All defined opcodes.</summary>
    public static IEnumerable<PickleOpcode> All
    {
        get
        {
            for (int i = 0; i < 256; i++)
                if (Table[i] is not null) yield return (PickleOpcode)i;
        }
    }

    private static (string, int)?[] Build()
    {
        var t = new (string, int)?[256];
        void Add(PickleOpcode op, string name, int protocol) => t[(byte)op] = (name, protocol);
        Add(PickleOpcode.Mark, "MARK", 0);
        Add(PickleOpcode.Stop, "STOP", 0);
        Add(PickleOpcode.Pop, "POP", 0);
        Add(PickleOpcode.PopMark, "POP_MARK", 1);
        Add(PickleOpcode.Dup, "DUP", 0);
        Add(PickleOpcode.Float, "FLOAT", 0);
        Add(PickleOpcode.Int, "INT", 0);
        Add(PickleOpcode.BinInt, "BININT", 1);
        Add(PickleOpcode.BinInt1, "BININT1", 1);
        Add(PickleOpcode.Long, "LONG", 0);
        Add(PickleOpcode.BinInt2, "BININT2", 1);
        Add(PickleOpcode.None, "NONE", 0);
        Add(PickleOpcode.PersId, "PERSID", 0);
        Add(PickleOpcode.BinPersId, "BINPERSID", 1);
        Add(PickleOpcode.Reduce, "REDUCE", 0);
        Add(PickleOpcode.String, "STRING", 0);
        Add(PickleOpcode.BinString, "BINSTRING", 1);
        Add(PickleOpcode.ShortBinString, "SHORT_BINSTRING", 1);
        Add(PickleOpcode.Unicode, "UNICODE", 0);
        Add(PickleOpcode.BinUnicode, "BINUNICODE", 1);
        Add(PickleOpcode.Append, "APPEND", 0);
        Add(PickleOpcode.Build, "BUILD", 0);
        Add(PickleOpcode.Global, "GLOBAL", 0);
        Add(PickleOpcode.Dict, "DICT", 0);
        Add(PickleOpcode.EmptyDict, "EMPTY_DICT", 1);
        Add(PickleOpcode.Appends, "APPENDS", 1);
        Add(PickleOpcode.Get, "GET", 0);
        Add(PickleOpcode.BinGet, "BINGET", 1);
        Add(PickleOpcode.Inst, "INST", 0);
        Add(PickleOpcode.LongBinGet, "LONG_BINGET", 1);
        Add(PickleOpcode.List, "LIST", 0);
        Add(PickleOpcode.EmptyList, "EMPTY_LIST", 1);
        Add(PickleOpcode.Obj, "OBJ", 1);
        Add(PickleOpcode.Put, "PUT", 0);
        Add(PickleOpcode.BinPut, "BINPUT", 1);
        Add(PickleOpcode.LongBinPut, "LONG_BINPUT", 1);
        Add(PickleOpcode.SetItem, "SETITEM", 0);
        Add(PickleOpcode.Tuple, "TUPLE", 0);
        Add(PickleOpcode.EmptyTuple, "EMPTY_TUPLE", 1);
        Add(PickleOpcode.SetItems, "SETITEMS", 1);
        Add(PickleOpcode.BinFloat, "BINFLOAT", 1);
        Add(PickleOpcode.Proto, "PROTO", 2);
        Add(PickleOpcode.NewObj, "NEWOBJ", 2);
        Add(PickleOpcode.Ext1, "EXT1", 2);
        Add(PickleOpcode.Ext2, "EXT2", 2);
        Add(PickleOpcode.Ext4, "EXT4", 2);
        Add(PickleOpcode.Tuple1, "TUPLE1", 2);
        Add(PickleOpcode.Tuple2, "TUPLE2", 2);
        Add(PickleOpcode.Tuple3, "TUPLE3", 2);
        Add(PickleOpcode.NewTrue, "NEWTRUE", 2);
        Add(PickleOpcode.NewFalse, "NEWFALSE", 2);
        Add(PickleOpcode.Long1, "LONG1", 2);
        Add(PickleOpcode.Long4, "LONG4", 2);
        Add(PickleOpcode.BinBytes, "BINBYTES", 3);
        Add(PickleOpcode.ShortBinBytes, "SHORT_BINBYTES", 3);
        Add(PickleOpcode.ShortBinUnicode, "SHORT_BINUNICODE", 4);
        Add(PickleOpcode.BinUnicode8, "BINUNICODE8", 4);
        Add(PickleOpcode.BinBytes8, "BINBYTES8", 4);
        Add(PickleOpcode.EmptySet, "EMPTY_SET", 4);
        Add(PickleOpcode.AddItems, "ADDITEMS", 4);
        Add(PickleOpcode.FrozenSet, "FROZENSET", 4);
        Add(PickleOpcode.NewObjEx, "NEWOBJ_EX", 4);
        Add(PickleOpcode.StackGlobal, "STACK_GLOBAL", 4);
        Add(PickleOpcode.Memoize, "MEMOIZE", 4);
        Add(PickleOpcode.Frame, "FRAME", 4);
        Add(PickleOpcode.ByteArray8, "BYTEARRAY8", 5);
        Add(PickleOpcode.NextBuffer, "NEXT_BUFFER", 5);
        Add(PickleOpcode.ReadOnlyBuffer, "READONLY_BUFFER", 5);
        return t;
    }
}
