using System.Globalization;
using System.Numerics;
using System.Text;
using Lineage.IO;

namespace Lineage.Formats.Pickle;

/// <summary>
/// A symbolic pickle virtual machine for protocols 0–5. It follows CPython's unpickler opcode by opcode
/// (stack, mark frames, memo) but never imports, constructs or calls anything: globals stay (module, name)
/// pairs and calls become <see cref="PickleCall"/> records, so the result is the call graph loading would
/// perform. Hostile input is bounded by <see cref="PickleLimits"/>; the machine has no recursion at all.
/// </summary>
public static class PickleMachine
{
    /// <summary>Runs one pickle starting at <paramref name="offset"/> of <paramref name="source"/> and stops at STOP or at the first error.</summary>
    public static PickleResult Run(IByteSource source, long offset = 0, PickleLimits? limits = null, string? entry = null) =>
        Run(source, offset, limits, entry, null);

    /// <summary>
    /// Runs one pickle like <see cref="Run(IByteSource, long, PickleLimits?, string?)"/>, letting
    /// <paramref name="inline"/> skip data that a custom unpickler reads from the stream after a BUILD.
    /// </summary>
    public static PickleResult Run(IByteSource source, long offset, PickleLimits? limits, string? entry, PickleInlineReader? inline)
    {
        ArgumentNullException.ThrowIfNull(source);
        var runner = new Runner(source, offset, limits ?? PickleLimits.Default, entry, inline);
        return runner.Run();
    }

    /// <summary>Runs one pickle held in memory.</summary>
    public static PickleResult Run(ReadOnlyMemory<byte> data, string name = "<pickle>", PickleLimits? limits = null)
    {
        using var source = new MemoryByteSource(name, data);
        return Run(source, 0, limits);
    }

    /// <summary>
    /// Runs pickles back to back (legacy torch files stack five) until the source ends, a run fails, or
    /// <paramref name="maxPickles"/> have run. Stops early at trailing bytes that do not start a pickle when
    /// <paramref name="stopAtNonPickle"/> is set (legacy torch files carry raw tensor bytes after the pickles).
    /// </summary>
    public static IReadOnlyList<PickleResult> RunAll(IByteSource source, long offset = 0, PickleLimits? limits = null, string? entry = null, int maxPickles = 64)
    {
        ArgumentNullException.ThrowIfNull(source);
        var results = new List<PickleResult>();
        while (offset < source.Length && results.Count < maxPickles)
        {
            var r = Run(source, offset, limits, entry);
            results.Add(r);
            if (!r.Completed) break;
            offset = r.EndOffset;
        }
        return results;
    }

    private sealed class Runner
    {
        private const int MaxNotes = 1000;
        private const int MaxLineBytes = 1 << 20;

        private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        private readonly PickleInput _in;
        private readonly PickleLimits _limits;
        private readonly PickleResult _result;
        private readonly List<PickleValue> _stack = [];
        private readonly List<int> _marks = [];
        private readonly Dictionary<long, PickleValue> _memo = [];
        private readonly HashSet<byte> _notedNewerOpcodes = [];
        private readonly PickleInlineReader? _inline;
        private int _nextBuffer;
        private PickleOpcode _op;

        public Runner(IByteSource source, long offset, PickleLimits limits, string? entry, PickleInlineReader? inline)
        {
            _limits = limits;
            _inline = inline;
            _in = new PickleInput(source, offset, entry);
            _result = new PickleResult(source.Name, entry, offset, limits);
        }

        private long At => _in.OpcodeOffset;

        private int Fence => _marks.Count > 0 ? _marks[^1] : 0;

        public PickleResult Run()
        {
            try
            {
                Execute();
            }
            catch (LineageException e)
            {
                _result.Error = e;
                _result.EndOffset = e.Offset ?? _in.OpcodeOffset;
            }
            return _result;
        }

        private void Execute()
        {
            if (_in.AtEnd)
            {
                _in.OpcodeOffset = _in.Position;
                throw _in.Error("no pickle data (expected an opcode)");
            }
            while (true)
            {
                _in.OpcodeOffset = _in.Position;
                if (_in.AtEnd)
                    throw _in.Error("pickle data ends without a STOP opcode");
                if (++_result.OpcodeCount > _limits.MaxOpcodes)
                    throw _in.LimitError($"more than {_limits.MaxOpcodes} opcodes");
                byte code = _in.ReadByte();
                if (!PickleOpcodes.IsDefined(code))
                    throw _in.Error($"unknown pickle opcode 0x{code:X2}");
                _op = (PickleOpcode)code;
                int protocol = PickleOpcodes.Protocol(code);
                if (protocol > _result.HighestOpcodeProtocol) _result.HighestOpcodeProtocol = protocol;
                if (_result.DeclaredProtocol is { } declared && protocol > declared && _notedNewerOpcodes.Add(code))
                    Note("opcode-newer-than-protocol", $"{PickleOpcodes.Name(code)} is a protocol {protocol} opcode in a protocol {declared} stream");
                if (Step())
                {
                    _result.EndOffset = _in.Position;
                    return;
                }
            }
        }

        /// <summary>Executes one opcode; true at STOP.</summary>
        private bool Step()
        {
            switch (_op)
            {
                case PickleOpcode.Mark:
                    if (_marks.Count >= _limits.MaxMarkDepth)
                        throw _in.LimitError($"more than {_limits.MaxMarkDepth} open MARKs");
                    _marks.Add(_stack.Count);
                    break;
                case PickleOpcode.Stop:
                    _result.Root = Pop();
                    if (_stack.Count > 0 || _marks.Count > 0)
                        Note("stack-not-empty-at-stop", $"{_stack.Count} values and {_marks.Count} marks remain at STOP");
                    return true;
                case PickleOpcode.Pop:
                    if (_marks.Count > 0 && _marks[^1] == _stack.Count)
                        _marks.RemoveAt(_marks.Count - 1);
                    else
                        Pop();
                    break;
                case PickleOpcode.PopMark:
                    PopMark();
                    break;
                case PickleOpcode.Dup:
                    Push(Peek());
                    break;
                case PickleOpcode.Float:
                    Push(new PickleFloat(At, ParseFloat(ReadLineText("FLOAT argument"))));
                    break;
                case PickleOpcode.Int:
                    {
                        string text = ReadLineText("INT argument");
                        if (text == "00") Push(new PickleBool(At, false));
                        else if (text == "01") Push(new PickleBool(At, true));
                        else Push(new PickleInt(At, ParseInt(text)));
                        break;
                    }
                case PickleOpcode.BinInt:
                    Push(new PickleInt(At, _in.ReadInt32()));
                    break;
                case PickleOpcode.BinInt1:
                    Push(new PickleInt(At, _in.ReadByte()));
                    break;
                case PickleOpcode.BinInt2:
                    Push(new PickleInt(At, _in.ReadUInt16()));
                    break;
                case PickleOpcode.Long:
                    {
                        string text = ReadLineText("LONG argument");
                        if (text.EndsWith('L')) text = text[..^1];
                        Push(new PickleInt(At, ParseInt(text)));
                        break;
                    }
                case PickleOpcode.Long1:
                    Push(new PickleInt(At, ReadBinaryLong(_in.ReadByte())));
                    break;
                case PickleOpcode.Long4:
                    Push(new PickleInt(At, ReadBinaryLong(_in.ReadInt32())));
                    break;
                case PickleOpcode.None:
                    Push(new PickleNone(At));
                    break;
                case PickleOpcode.NewTrue:
                    Push(new PickleBool(At, true));
                    break;
                case PickleOpcode.NewFalse:
                    Push(new PickleBool(At, false));
                    break;
                case PickleOpcode.BinFloat:
                    Push(new PickleFloat(At, _in.ReadDoubleBigEndian()));
                    break;
                case PickleOpcode.String:
                    Push(new PickleString(At, DecodeByteString(ParseQuotedString(_in.ReadLine(_limits.MaxStringBytes, "STRING argument"))), true));
                    break;
                case PickleOpcode.BinString:
                    Push(new PickleString(At, DecodeByteString(ReadCounted(_in.ReadInt32(), "BINSTRING")), true));
                    break;
                case PickleOpcode.ShortBinString:
                    Push(new PickleString(At, DecodeByteString(ReadCounted(_in.ReadByte(), "SHORT_BINSTRING")), true));
                    break;
                case PickleOpcode.Unicode:
                    Push(new PickleString(At, DecodeRawUnicodeEscape(_in.ReadLine(_limits.MaxStringBytes, "UNICODE argument")), false));
                    break;
                case PickleOpcode.BinUnicode:
                    Push(new PickleString(At, DecodeUtf8(ReadCounted(_in.ReadUInt32(), "BINUNICODE")), false));
                    break;
                case PickleOpcode.ShortBinUnicode:
                    Push(new PickleString(At, DecodeUtf8(ReadCounted(_in.ReadByte(), "SHORT_BINUNICODE")), false));
                    break;
                case PickleOpcode.BinUnicode8:
                    Push(new PickleString(At, DecodeUtf8(ReadCounted(ToLength(_in.ReadUInt64()), "BINUNICODE8")), false));
                    break;
                case PickleOpcode.BinBytes:
                    PushBytes(_in.ReadUInt32(), "BINBYTES", false);
                    break;
                case PickleOpcode.ShortBinBytes:
                    PushBytes(_in.ReadByte(), "SHORT_BINBYTES", false);
                    break;
                case PickleOpcode.BinBytes8:
                    PushBytes(ToLength(_in.ReadUInt64()), "BINBYTES8", false);
                    break;
                case PickleOpcode.ByteArray8:
                    PushBytes(ToLength(_in.ReadUInt64()), "BYTEARRAY8", true);
                    break;
                case PickleOpcode.PersId:
                    {
                        var id = new PickleString(At, Encoding.Latin1.GetString(_in.ReadLine(MaxLineBytes, "PERSID argument")), false);
                        PersistentLoad(id);
                        break;
                    }
                case PickleOpcode.BinPersId:
                    PersistentLoad(Pop());
                    break;
                case PickleOpcode.Reduce:
                    {
                        var args = Pop();
                        var callable = Pop();
                        Push(Call(PickleEventKind.Reduce, callable, args, null));
                        break;
                    }
                case PickleOpcode.NewObj:
                    {
                        var args = Pop();
                        var cls = Pop();
                        Push(Call(PickleEventKind.NewObj, cls, args, null));
                        break;
                    }
                case PickleOpcode.NewObjEx:
                    {
                        var kwargs = Pop();
                        var args = Pop();
                        var cls = Pop();
                        Push(Call(PickleEventKind.NewObjEx, cls, args, kwargs));
                        break;
                    }
                case PickleOpcode.Global:
                    {
                        string module = ReadName("GLOBAL module");
                        string name = ReadName("GLOBAL name");
                        Push(AddGlobal(new PickleGlobal(At, module, name, PickleGlobalSource.Global)));
                        break;
                    }
                case PickleOpcode.Inst:
                    {
                        string module = ReadName("INST module");
                        string name = ReadName("INST name");
                        var cls = AddGlobal(new PickleGlobal(At, module, name, PickleGlobalSource.Inst));
                        var args = PopMark();
                        Push(Call(PickleEventKind.Inst, cls, new PickleTuple(At, args), null));
                        break;
                    }
                case PickleOpcode.Obj:
                    {
                        var items = PopMark();
                        if (items.Length == 0)
                            throw _in.Error("OBJ has no class after its MARK");
                        Push(Call(PickleEventKind.Obj, items[0], new PickleTuple(At, items[1..]), null));
                        break;
                    }
                case PickleOpcode.StackGlobal:
                    {
                        var name = Pop();
                        var module = Pop();
                        Push(AddGlobal(StackGlobal(module, name)));
                        break;
                    }
                case PickleOpcode.Ext1:
                    Extension(_in.ReadByte());
                    break;
                case PickleOpcode.Ext2:
                    Extension(_in.ReadUInt16());
                    break;
                case PickleOpcode.Ext4:
                    Extension(_in.ReadInt32());
                    break;
                case PickleOpcode.Build:
                    {
                        var state = Pop();
                        var target = Peek();
                        NewEvent(PickleEventKind.Build, target, state, null);
                        (target as PickleCall)?.AddState(state);
                        if (_inline is not null)
                        {
                            long resume = _inline(target, state, _in.Position);
                            if (resume != _in.Position) _in.SeekForward(resume);
                        }
                        break;
                    }
                case PickleOpcode.Append:
                    {
                        var item = Pop();
                        Append(Peek(), [item], PickleEventKind.Append);
                        break;
                    }
                case PickleOpcode.Appends:
                    {
                        var items = PopMark();
                        Append(Peek(), items, PickleEventKind.Extend);
                        break;
                    }
                case PickleOpcode.SetItem:
                    {
                        var value = Pop();
                        var key = Pop();
                        SetItems(Peek(), [key, value]);
                        break;
                    }
                case PickleOpcode.SetItems:
                    {
                        var items = PopMark();
                        if (items.Length % 2 != 0)
                            throw _in.Error($"SETITEMS has an odd number of items ({items.Length})");
                        SetItems(Peek(), items);
                        break;
                    }
                case PickleOpcode.AddItems:
                    {
                        var items = PopMark();
                        var target = Peek();
                        if (target is PickleSet { IsFrozen: false } set)
                        {
                            CheckContainer(set.MutableItems.Count + (long)items.Length);
                            set.MutableItems.AddRange(items);
                        }
                        else
                        {
                            NewEvent(PickleEventKind.AddItems, target, new PickleTuple(At, items), null);
                            if (target is PickleCall call)
                                foreach (var item in items) AddToCall(call, item);
                        }
                        break;
                    }
                case PickleOpcode.Dict:
                    {
                        var items = PopMark();
                        if (items.Length % 2 != 0)
                            throw _in.Error($"DICT has an odd number of items ({items.Length})");
                        var pairs = new List<KeyValuePair<PickleValue, PickleValue>>(items.Length / 2);
                        for (int i = 0; i < items.Length; i += 2) pairs.Add(new(items[i], items[i + 1]));
                        Push(new PickleDict(At, pairs));
                        break;
                    }
                case PickleOpcode.EmptyDict:
                    Push(new PickleDict(At, []));
                    break;
                case PickleOpcode.List:
                    Push(new PickleList(At, [.. PopMark()]));
                    break;
                case PickleOpcode.EmptyList:
                    Push(new PickleList(At, []));
                    break;
                case PickleOpcode.Tuple:
                    Push(new PickleTuple(At, PopMark()));
                    break;
                case PickleOpcode.EmptyTuple:
                    Push(new PickleTuple(At, []));
                    break;
                case PickleOpcode.Tuple1:
                    {
                        var a = Pop();
                        Push(new PickleTuple(At, [a]));
                        break;
                    }
                case PickleOpcode.Tuple2:
                    {
                        var b = Pop();
                        var a = Pop();
                        Push(new PickleTuple(At, [a, b]));
                        break;
                    }
                case PickleOpcode.Tuple3:
                    {
                        var c = Pop();
                        var b = Pop();
                        var a = Pop();
                        Push(new PickleTuple(At, [a, b, c]));
                        break;
                    }
                case PickleOpcode.EmptySet:
                    Push(new PickleSet(At, [], frozen: false));
                    break;
                case PickleOpcode.FrozenSet:
                    Push(new PickleSet(At, [.. PopMark()], frozen: true));
                    break;
                case PickleOpcode.Get:
                    Push(MemoGet(ParseMemoIndex(ReadLineText("GET argument"), "GET")));
                    break;
                case PickleOpcode.BinGet:
                    Push(MemoGet(_in.ReadByte()));
                    break;
                case PickleOpcode.LongBinGet:
                    Push(MemoGet(_in.ReadUInt32()));
                    break;
                case PickleOpcode.Put:
                    MemoPut(ParseMemoIndex(ReadLineText("PUT argument"), "PUT"));
                    break;
                case PickleOpcode.BinPut:
                    MemoPut(_in.ReadByte());
                    break;
                case PickleOpcode.LongBinPut:
                    MemoPut(_in.ReadUInt32());
                    break;
                case PickleOpcode.Memoize:
                    MemoPut(_memo.Count);
                    break;
                case PickleOpcode.Proto:
                    {
                        byte proto = _in.ReadByte();
                        if (proto > 5)
                            throw _in.Error($"unsupported pickle protocol {proto}");
                        if (_result.DeclaredProtocol is null)
                            _result.DeclaredProtocol = proto;
                        else
                            Note("repeated-proto", $"PROTO {proto} after PROTO {_result.DeclaredProtocol}");
                        if (_in.OpcodeOffset != _result.StartOffset)
                            Note("proto-not-first", "PROTO is not the first opcode");
                        break;
                    }
                case PickleOpcode.Frame:
                    {
                        ulong size = _in.ReadUInt64();
                        // CPython's C unpickler rejects a short frame but the pure-Python one reads on past it,
                        // so the stream is followed either way.
                        if (size > (ulong)_in.Remaining)
                            Note("frame-past-end", $"FRAME of {size} bytes runs past the end ({_in.Remaining} bytes remain)");
                        break;
                    }
                case PickleOpcode.NextBuffer:
                    Note("out-of-band-buffer", "NEXT_BUFFER refers to out-of-band data that is not in the stream");
                    Push(new PickleBuffer(At, _nextBuffer++));
                    break;
                case PickleOpcode.ReadOnlyBuffer:
                    if (Peek() is PickleBuffer buffer) buffer.IsReadOnly = true;
                    else Note("readonly-non-buffer", "READONLY_BUFFER applied to a value that is not an out-of-band buffer");
                    break;
                default:
                    throw _in.Error($"unknown pickle opcode 0x{(byte)_op:X2}");
            }
            return false;
        }

        // ---- stack ----

        private void Push(PickleValue value)
        {
            if (_stack.Count >= _limits.MaxStackDepth)
                throw _in.LimitError($"stack deeper than {_limits.MaxStackDepth} values");
            _stack.Add(value);
        }

        private PickleValue Pop()
        {
            if (_stack.Count <= Fence)
                throw _in.Error($"stack underflow at {PickleOpcodes.Name((byte)_op)}" + (_marks.Count > 0 ? " (the values are behind a MARK)" : ""));
            var v = _stack[^1];
            _stack.RemoveAt(_stack.Count - 1);
            return v;
        }

        private PickleValue Peek()
        {
            if (_stack.Count <= Fence)
                throw _in.Error($"stack underflow at {PickleOpcodes.Name((byte)_op)}" + (_marks.Count > 0 ? " (the values are behind a MARK)" : ""));
            return _stack[^1];
        }

        private PickleValue[] PopMark()
        {
            if (_marks.Count == 0)
                throw _in.Error($"{PickleOpcodes.Name((byte)_op)} without a MARK");
            int mark = _marks[^1];
            _marks.RemoveAt(_marks.Count - 1);
            int count = _stack.Count - mark;
            CheckContainer(count);
            var items = new PickleValue[count];
            _stack.CopyTo(mark, items, 0, count);
            _stack.RemoveRange(mark, count);
            return items;
        }

        private void CheckContainer(long count)
        {
            if (count > _limits.MaxContainerItems)
                throw _in.LimitError($"container of more than {_limits.MaxContainerItems} items");
        }

        // ---- memo ----

        private PickleValue MemoGet(long index) =>
            _memo.TryGetValue(index, out var v) ? v : throw _in.Error($"memo key {index} not found");

        private void MemoPut(long index)
        {
            var value = Peek();
            if (_memo.Count >= _limits.MaxMemoEntries && !_memo.ContainsKey(index))
                throw _in.LimitError($"more than {_limits.MaxMemoEntries} memo entries");
            if (!_memo.TryAdd(index, value))
            {
                Note("memo-overwrite", $"memo key {index} is overwritten");
                _memo[index] = value;
            }
        }

        private long ParseMemoIndex(string text, string what)
        {
            var value = ParseInt(text);
            if (value < 0)
                throw _in.Error($"negative {what} argument");
            if (value > uint.MaxValue)
                throw _in.Error($"{what} argument {value} is out of range");
            return (long)value;
        }

        // ---- events ----

        private PickleEvent NewEvent(PickleEventKind kind, PickleValue? target, PickleValue arguments, PickleValue? keywords)
        {
            if (_result.EventList.Count >= _limits.MaxEvents)
                throw _in.LimitError($"more than {_limits.MaxEvents} calls and builds");
            var e = new PickleEvent(_result.EventList.Count, kind, At, _op, target, arguments, keywords);
            _result.EventList.Add(e);
            _result.Timeline.Add(new EventMarker(e));
            return e;
        }

        private PickleCall Call(PickleEventKind kind, PickleValue callable, PickleValue args, PickleValue? kwargs)
        {
            var e = NewEvent(kind, callable, args, kwargs);
            var call = new PickleCall(At, e);
            e.Result = call;
            return call;
        }

        private void PersistentLoad(PickleValue id)
        {
            var e = NewEvent(PickleEventKind.PersistentLoad, null, id, null);
            var reference = new PicklePersistentRef(At, id, e);
            e.Result = reference;
            Push(reference);
        }

        private void Append(PickleValue target, PickleValue[] items, PickleEventKind kind)
        {
            if (target is PickleList list)
            {
                CheckContainer(list.MutableItems.Count + (long)items.Length);
                list.MutableItems.AddRange(items);
                return;
            }
            NewEvent(kind, target, new PickleTuple(At, items), null);
            if (target is PickleCall call)
                foreach (var item in items) AddToCall(call, item);
        }

        private void AddToCall(PickleCall call, PickleValue item)
        {
            CheckContainer(call.Appends.Count + 1L);
            call.AddAppend(item);
        }

        private void SetItems(PickleValue target, PickleValue[] flat)
        {
            if (target is PickleDict dict)
            {
                CheckContainer(dict.MutableItems.Count + (long)flat.Length / 2);
                for (int i = 0; i < flat.Length; i += 2) dict.MutableItems.Add(new(flat[i], flat[i + 1]));
                return;
            }
            var pairs = new PickleValue[flat.Length / 2];
            for (int i = 0; i < pairs.Length; i++) pairs[i] = new PickleTuple(At, [flat[2 * i], flat[2 * i + 1]]);
            NewEvent(PickleEventKind.SetItem, target, new PickleTuple(At, pairs), null);
            if (target is PickleCall call)
            {
                CheckContainer(call.SetItems.Count + (long)pairs.Length);
                for (int i = 0; i < flat.Length; i += 2) call.AddSetItem(flat[i], flat[i + 1]);
            }
        }

        // ---- globals ----

        private PickleGlobal AddGlobal(PickleGlobal g)
        {
            // CPython's find_class renames Python 2 modules when the stream's PROTO is below 3 (none means 0).
            g.ResolveFor(_result.DeclaredProtocol ?? 0);
            _result.GlobalList.Add(g);
            _result.Timeline.Add(g);
            return g;
        }

        private PickleGlobal StackGlobal(PickleValue module, PickleValue name)
        {
            if (module is PickleString m && name is PickleString n)
                return new PickleGlobal(At, m.Value, n.Value, PickleGlobalSource.StackGlobal);
            string moduleText = module is PickleString ms ? ms.Value : PickleFormatter.Render(module, 4, 200);
            string nameText = name is PickleString ns ? ns.Value : PickleFormatter.Render(name, 4, 200);
            string computed = $"module operand: {PickleFormatter.Describe(module)}; name operand: {PickleFormatter.Describe(name)}";
            Note("computed-stack-global", $"STACK_GLOBAL operands are not plain strings ({computed})");
            return new PickleGlobal(At, moduleText, nameText, PickleGlobalSource.StackGlobal, computed);
        }

        private void Extension(int code)
        {
            if (code <= 0)
                throw _in.Error($"{PickleOpcodes.Name((byte)_op)} specifies extension code {code} <= 0");
            Push(AddGlobal(new PickleGlobal(At, "copyreg", $"_inverted_registry[{code}]", PickleGlobalSource.Extension,
                $"extension code {code}, resolved through copyreg's extension registry at load time", code)));
        }

        // ---- text and number decoding ----

        private string ReadLineText(string what) => Encoding.Latin1.GetString(_in.ReadLine(MaxLineBytes, what));

        private string ReadName(string what)
        {
            byte[] bytes = _in.ReadLine(MaxLineBytes, what);
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                Note("invalid-utf8-name", $"{what} is not valid UTF-8; shown as Latin-1");
                return Encoding.Latin1.GetString(bytes);
            }
        }

        private static long ToLength(ulong length) => length > long.MaxValue ? long.MaxValue : (long)length;

        private byte[] ReadCounted(long length, string what)
        {
            int n = _in.CheckLength(length, _limits.MaxStringBytes, what);
            return _in.ReadArray(n);
        }

        private void PushBytes(long length, string what, bool byteArray)
        {
            int n = _in.CheckLength(length, _limits.MaxStringBytes, what);
            long dataOffset = _in.Position;
            Push(new PickleBytes(At, _in.ReadArray(n), dataOffset, byteArray));
        }

        private BigInteger ReadBinaryLong(long length)
        {
            int n = _in.CheckLength(length, _limits.MaxIntegerDigits, "LONG");
            if (n == 0) return BigInteger.Zero;
            return new BigInteger(_in.ReadArray(n), isUnsigned: false, isBigEndian: false);
        }

        private string DecodeUtf8(byte[] bytes)
        {
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                // CPython decodes with 'surrogatepass'; lone surrogates and other invalid sequences are kept visible.
                Note("invalid-utf8-string", "a unicode string is not valid UTF-8");
                return Encoding.UTF8.GetString(bytes);
            }
        }

        private static string DecodeByteString(byte[] bytes)
        {
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                return Encoding.Latin1.GetString(bytes);
            }
        }

        private BigInteger ParseInt(string text)
        {
            string s = text.Trim().Replace("_", "", StringComparison.Ordinal);
            if (s.Length > _limits.MaxIntegerDigits + 3)
                throw _in.Error($"integer literal longer than {_limits.MaxIntegerDigits} digits");
            bool negative = false;
            if (s.StartsWith('-') || s.StartsWith('+'))
            {
                negative = s[0] == '-';
                s = s[1..];
            }
            int radix = 10;
            if (s.Length > 2 && s[0] == '0' && s[1] is 'x' or 'X' or 'o' or 'O' or 'b' or 'B')
            {
                radix = s[1] is 'x' or 'X' ? 16 : s[1] is 'o' or 'O' ? 8 : 2;
                s = s[2..];
            }
            if (s.Length == 0)
                throw _in.Error($"invalid integer literal '{Truncate(text)}'");
            BigInteger value = BigInteger.Zero;
            if (radix == 10)
            {
                if (!BigInteger.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value))
                    throw _in.Error($"invalid integer literal '{Truncate(text)}'");
            }
            else
            {
                foreach (char c in s)
                {
                    int digit = c is >= '0' and <= '9' ? c - '0' : c is >= 'a' and <= 'f' ? c - 'a' + 10 : c is >= 'A' and <= 'F' ? c - 'A' + 10 : 99;
                    if (digit >= radix)
                        throw _in.Error($"invalid integer literal '{Truncate(text)}'");
                    value = value * radix + digit;
                }
            }
            return negative ? -value : value;
        }

        private double ParseFloat(string text)
        {
            string s = text.Trim().Replace("_", "", StringComparison.Ordinal);
            string lower = s.ToLowerInvariant();
            switch (lower)
            {
                case "inf" or "+inf" or "infinity" or "+infinity":
                    return double.PositiveInfinity;
                case "-inf" or "-infinity":
                    return double.NegativeInfinity;
                case "nan" or "+nan" or "-nan":
                    return double.NaN;
            }
            if (s.Length > 1000 || !double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                throw _in.Error($"invalid float literal '{Truncate(text)}'");
            return value;
        }

        private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

        /// <summary>STRING's argument: a quoted Python 2 literal decoded like <c>codecs.escape_decode</c>.</summary>
        private byte[] ParseQuotedString(byte[] line)
        {
            if (line.Length < 2 || line[0] != line[^1] || line[0] is not ((byte)'\'' or (byte)'"'))
                throw _in.Error("the STRING opcode argument must be quoted");
            var output = new List<byte>(line.Length);
            for (int i = 1; i < line.Length - 1; i++)
            {
                byte b = line[i];
                if (b != (byte)'\\' || i + 1 >= line.Length - 1)
                {
                    output.Add(b);
                    continue;
                }
                byte e = line[++i];
                switch (e)
                {
                    case (byte)'\\': output.Add((byte)'\\'); break;
                    case (byte)'\'': output.Add((byte)'\''); break;
                    case (byte)'"': output.Add((byte)'"'); break;
                    case (byte)'a': output.Add(7); break;
                    case (byte)'b': output.Add(8); break;
                    case (byte)'f': output.Add(12); break;
                    case (byte)'n': output.Add(10); break;
                    case (byte)'r': output.Add(13); break;
                    case (byte)'t': output.Add(9); break;
                    case (byte)'v': output.Add(11); break;
                    case (byte)'x':
                        {
                            int hi = i + 1 < line.Length - 1 ? HexValue(line[i + 1]) : -1;
                            int lo = i + 2 < line.Length - 1 ? HexValue(line[i + 2]) : -1;
                            if (hi < 0 || lo < 0)
                                throw _in.Error("invalid \\x escape in a STRING argument");
                            output.Add((byte)(hi * 16 + lo));
                            i += 2;
                            break;
                        }
                    case >= (byte)'0' and <= (byte)'7':
                        {
                            int value = e - '0';
                            for (int k = 0; k < 2 && i + 1 < line.Length - 1 && line[i + 1] is >= (byte)'0' and <= (byte)'7'; k++)
                                value = value * 8 + (line[++i] - '0');
                            output.Add((byte)value);
                            break;
                        }
                    default:
                        output.Add((byte)'\\');
                        output.Add(e);
                        break;
                }
            }
            return [.. output];
        }

        private static int HexValue(byte b) => b switch
        {
            >= (byte)'0' and <= (byte)'9' => b - '0',
            >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
            >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
            _ => -1,
        };

        /// <summary>Python's raw-unicode-escape: bytes are Latin-1 except \uXXXX and \UXXXXXXXX after an odd run of backslashes.</summary>
        private string DecodeRawUnicodeEscape(byte[] bytes)
        {
            var sb = new StringBuilder(bytes.Length);
            int i = 0;
            while (i < bytes.Length)
            {
                byte b = bytes[i];
                if (b != (byte)'\\')
                {
                    sb.Append((char)b);
                    i++;
                    continue;
                }
                int run = 0;
                while (i + run < bytes.Length && bytes[i + run] == (byte)'\\') run++;
                int next = i + run;
                if (run % 2 == 1 && next < bytes.Length && bytes[next] is (byte)'u' or (byte)'U')
                {
                    int digits = bytes[next] == (byte)'u' ? 4 : 8;
                    int code = 0;
                    for (int k = 1; k <= digits; k++)
                    {
                        int h = next + k < bytes.Length ? HexValue(bytes[next + k]) : -1;
                        if (h < 0)
                            throw _in.Error("invalid \\u escape in a UNICODE argument");
                        code = code * 16 + h;
                    }
                    if (code > 0x10FFFF)
                        throw _in.Error("\\U escape out of the Unicode range in a UNICODE argument");
                    sb.Append('\\', run - 1);
                    if (code is >= 0xD800 and <= 0xDFFF) sb.Append((char)code);
                    else sb.Append(char.ConvertFromUtf32(code));
                    i = next + digits + 1;
                }
                else
                {
                    sb.Append('\\', run);
                    i = next;
                }
            }
            return sb.ToString();
        }

        private void Note(string code, string message)
        {
            if (_result.NoteList.Count < MaxNotes)
                _result.NoteList.Add(new PickleNote(_in.OpcodeOffset, code, message));
        }
    }
}

/// <summary>
/// Called after each BUILD with the built object, its state and the stream position; returns the position at which
/// opcodes resume (the same position when nothing is read inline). Custom unpicklers read data between opcodes
/// there: joblib's NumpyArrayWrapper is followed by the array's bytes (or by a whole pickle for object arrays).
/// </summary>
public delegate long PickleInlineReader(PickleValue target, PickleValue state, long position);

/// <summary>Places an event in the decompiler's timeline next to the globals.</summary>
internal sealed class EventMarker(PickleEvent e) : PickleValue(e.Offset)
{
    public PickleEvent Event { get; } = e;
}
