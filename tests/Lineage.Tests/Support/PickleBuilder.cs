using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using Lineage.Formats.Pickle;

namespace Lineage.Tests.Support;

/// <summary>
/// Emits pickle opcodes one by one, so tests can build any stream — ordinary, obfuscated or broken — without
/// Python. It remembers which opcodes it wrote, so coverage of the whole opcode set can be asserted.
/// </summary>
internal sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [];

    public HashSet<PickleOpcode> Used { get; } = [];

    public int Length => _bytes.Count;

    public byte[] ToArray() => [.. _bytes];

    public PickleBuilder Op(PickleOpcode op)
    {
        Used.Add(op);
        _bytes.Add((byte)op);
        return this;
    }

    public PickleBuilder Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public PickleBuilder Raw(string latin1) => Raw(Encoding.Latin1.GetBytes(latin1));

    private PickleBuilder Line(string text) => Raw(Encoding.UTF8.GetBytes(text + "\n"));

    private PickleBuilder U16(int v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v);
        return Raw(b);
    }

    private PickleBuilder I32(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return Raw(b);
    }

    private PickleBuilder U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return Raw(b);
    }

    private PickleBuilder U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return Raw(b);
    }

    public PickleBuilder Proto(int p) => Op(PickleOpcode.Proto).Raw((byte)p);

    public PickleBuilder Frame(ulong length) => Op(PickleOpcode.Frame).U64(length);

    public PickleBuilder Mark() => Op(PickleOpcode.Mark);

    public PickleBuilder Stop() => Op(PickleOpcode.Stop);

    public PickleBuilder None() => Op(PickleOpcode.None);

    public PickleBuilder Bool(bool v) => Op(v ? PickleOpcode.NewTrue : PickleOpcode.NewFalse);

    /// <summary>The smallest binary integer opcode for <paramref name="v"/>.</summary>
    public PickleBuilder Int(long v)
    {
        if (v is >= 0 and <= 0xFF) return Op(PickleOpcode.BinInt1).Raw((byte)v);
        if (v is >= 0 and <= 0xFFFF) return Op(PickleOpcode.BinInt2).U16((int)v);
        if (v is >= int.MinValue and <= int.MaxValue) return Op(PickleOpcode.BinInt).I32((int)v);
        return Long1(v);
    }

    public PickleBuilder IntText(string text) => Op(PickleOpcode.Int).Line(text);

    public PickleBuilder LongText(string text) => Op(PickleOpcode.Long).Line(text);

    public PickleBuilder Long1(BigInteger v)
    {
        byte[] b = v.IsZero ? [] : v.ToByteArray(isUnsigned: false, isBigEndian: false);
        return Op(PickleOpcode.Long1).Raw((byte)b.Length).Raw(b);
    }

    public PickleBuilder Long4(BigInteger v)
    {
        byte[] b = v.ToByteArray(isUnsigned: false, isBigEndian: false);
        return Op(PickleOpcode.Long4).I32(b.Length).Raw(b);
    }

    public PickleBuilder FloatText(string text) => Op(PickleOpcode.Float).Line(text);

    public PickleBuilder BinFloat(double v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, v);
        return Op(PickleOpcode.BinFloat).Raw(b);
    }

    /// <summary>SHORT_BINUNICODE or BINUNICODE, by length.</summary>
    public PickleBuilder Str(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        return b.Length < 256 ? Op(PickleOpcode.ShortBinUnicode).Raw((byte)b.Length).Raw(b) : Op(PickleOpcode.BinUnicode).U32((uint)b.Length).Raw(b);
    }

    public PickleBuilder BinUnicode(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        return Op(PickleOpcode.BinUnicode).U32((uint)b.Length).Raw(b);
    }

    public PickleBuilder BinUnicode8(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        return Op(PickleOpcode.BinUnicode8).U64((ulong)b.Length).Raw(b);
    }

    /// <summary>UNICODE (protocol 0): raw-unicode-escape text up to a newline.</summary>
    public PickleBuilder UnicodeText(string rawEscaped) => Op(PickleOpcode.Unicode).Raw(Encoding.Latin1.GetBytes(rawEscaped + "\n"));

    /// <summary>STRING (protocol 0): the quoted literal as written.</summary>
    public PickleBuilder StringText(string quotedLiteral) => Op(PickleOpcode.String).Raw(Encoding.Latin1.GetBytes(quotedLiteral + "\n"));

    public PickleBuilder BinString(string latin1)
    {
        byte[] b = Encoding.Latin1.GetBytes(latin1);
        return Op(PickleOpcode.BinString).I32(b.Length).Raw(b);
    }

    public PickleBuilder ShortBinString(string latin1)
    {
        byte[] b = Encoding.Latin1.GetBytes(latin1);
        return Op(PickleOpcode.ShortBinString).Raw((byte)b.Length).Raw(b);
    }

    public PickleBuilder Bytes(byte[] b) =>
        b.Length < 256 ? Op(PickleOpcode.ShortBinBytes).Raw((byte)b.Length).Raw(b) : Op(PickleOpcode.BinBytes).U32((uint)b.Length).Raw(b);

    public PickleBuilder BinBytes(byte[] b) => Op(PickleOpcode.BinBytes).U32((uint)b.Length).Raw(b);

    public PickleBuilder BinBytes8(byte[] b) => Op(PickleOpcode.BinBytes8).U64((ulong)b.Length).Raw(b);

    public PickleBuilder ByteArray8(byte[] b) => Op(PickleOpcode.ByteArray8).U64((ulong)b.Length).Raw(b);

    public PickleBuilder Global(string module, string name) => Op(PickleOpcode.Global).Line(module).Line(name);

    public PickleBuilder Inst(string module, string name) => Op(PickleOpcode.Inst).Line(module).Line(name);

    public PickleBuilder StackGlobal(string module, string name) => Str(module).Str(name).Op(PickleOpcode.StackGlobal);

    public PickleBuilder PersId(string id) => Op(PickleOpcode.PersId).Line(id);

    public PickleBuilder Put(int index) => Op(PickleOpcode.Put).Line(index.ToString(CultureInfo.InvariantCulture));

    public PickleBuilder Get(int index) => Op(PickleOpcode.Get).Line(index.ToString(CultureInfo.InvariantCulture));

    public PickleBuilder BinPut(int index) => Op(PickleOpcode.BinPut).Raw((byte)index);

    public PickleBuilder BinGet(int index) => Op(PickleOpcode.BinGet).Raw((byte)index);

    public PickleBuilder LongBinPut(uint index) => Op(PickleOpcode.LongBinPut).U32(index);

    public PickleBuilder LongBinGet(uint index) => Op(PickleOpcode.LongBinGet).U32(index);

    public PickleBuilder Ext1(byte code) => Op(PickleOpcode.Ext1).Raw(code);

    public PickleBuilder Ext2(int code) => Op(PickleOpcode.Ext2).U16(code);

    public PickleBuilder Ext4(int code) => Op(PickleOpcode.Ext4).I32(code);

    /// <summary>A tuple of the values the actions push (TUPLE1/2/3 or MARK … TUPLE).</summary>
    public PickleBuilder Tuple(params Action<PickleBuilder>[] items)
    {
        switch (items.Length)
        {
            case 0:
                return Op(PickleOpcode.EmptyTuple);
            case <= 3:
                foreach (var item in items) item(this);
                return Op(items.Length == 1 ? PickleOpcode.Tuple1 : items.Length == 2 ? PickleOpcode.Tuple2 : PickleOpcode.Tuple3);
            default:
                Mark();
                foreach (var item in items) item(this);
                return Op(PickleOpcode.Tuple);
        }
    }

    /// <summary><c>module.name(*args)</c> through GLOBAL and REDUCE.</summary>
    public PickleBuilder Call(string module, string name, params Action<PickleBuilder>[] args) =>
        Global(module, name).Tuple(args).Op(PickleOpcode.Reduce);
}
