using System.Numerics;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.Tests.Support;

namespace Lineage.Tests.Formats.Pickle;

public class PickleMachineTests
{
    private static PickleResult Run(PickleBuilder b, PickleLimits? limits = null) => PickleMachine.Run(b.ToArray(), "t.pkl", limits);

    private static PickleResult Run(byte[] bytes, PickleLimits? limits = null) => PickleMachine.Run(bytes, "t.pkl", limits);

    // CPython 3.11 pickle.dumps({'a': [1, 2.5, 'x', None, True, (1, 2), 10**30, -5, 'é', -2**40, 'its\n']}, protocol=p)
    [Theory]
    [InlineData(0, "286470300a56610a70310a286c70320a49310a6146322e350a6156780a70330a614e614930310a612849310a49320a7470340a614c313030303030303030303030303030303030303030303030303030303030304c0a61492d350a6156e90a70350a614c2d313039393531313632373737364c0a61566974735c75303030610a70360a61732e")]
    [InlineData(1, "7d710058010000006171015d7102284b0147400400000000000058010000007871034e4930310a284b014b027471044c313030303030303030303030303030303030303030303030303030303030304c0a4afbffffff5802000000c3a971054c2d313039393531313632373737364c0a58040000006974730a710665732e")]
    [InlineData(2, "80027d710058010000006171015d7102284b0147400400000000000058010000007871034e884b014b028671048a0d00000040eaed7446d09c2c9f0c4afbffffff5802000000c3a971058a060000000000ff58040000006974730a710665732e")]
    [InlineData(3, "80037d710058010000006171015d7102284b0147400400000000000058010000007871034e884b014b028671048a0d00000040eaed7446d09c2c9f0c4afbffffff5802000000c3a971058a060000000000ff58040000006974730a710665732e")]
    [InlineData(4, "8004954b000000000000007d948c0161945d94284b014740040000000000008c0178944e884b014b0286948a0d00000040eaed7446d09c2c9f0c4afbffffff8c02c3a9948a060000000000ff8c046974730a9465732e")]
    [InlineData(5, "8005954b000000000000007d948c0161945d94284b014740040000000000008c0178944e884b014b0286948a0d00000040eaed7446d09c2c9f0c4afbffffff8c02c3a9948a060000000000ff8c046974730a9465732e")]
    public void CPython_pickles_of_every_protocol_decode_to_the_same_value(int protocol, string hex)
    {
        var r = Run(Convert.FromHexString(hex));
        Assert.Null(r.Error);
        Assert.True(r.Completed);
        Assert.Equal("{'a': [1, 2.5, 'x', None, True, (1, 2), 1000000000000000000000000000000, -5, 'é', -1099511627776, 'its\\n']}", r.Root!.ToString());
        Assert.Equal(protocol >= 2 ? protocol : null, r.DeclaredProtocol);
        Assert.Equal(protocol, r.Protocol);
        Assert.Equal(hex.Length / 2, r.EndOffset);
        Assert.Empty(r.Globals);
        Assert.Empty(r.Events);
    }

    [Fact]
    public void Every_opcode_of_every_protocol_runs()
    {
        var b = new PickleBuilder().Proto(5).Frame(16).Op(PickleOpcode.EmptyList).Op(PickleOpcode.Memoize).Mark();
        b.None().Bool(true).Bool(false);                                            // 0..2
        b.IntText("00").IntText("01").IntText("-42");                               // 3..5
        b.Int(-7).Int(200).Int(60000);                                              // 6..8 BININT, BININT1, BININT2
        b.LongText("123456789012345678901234567890L");                              // 9
        b.Long1(-1).Long4(BigInteger.Pow(2, 70));                                   // 10, 11
        b.FloatText("2.5").BinFloat(1.25);                                          // 12, 13
        b.StringText("'a\\nb\\x41'").BinString("bin").ShortBinString("sb");        // 14..16
        b.UnicodeText("caf\\u00e9").BinUnicode("bu").Str("sbu").BinUnicode8("bu8"); // 17..20
        b.BinBytes([1, 2]).Bytes([3]).BinBytes8([4, 5]).ByteArray8([6]);            // 21..24
        b.Tuple().Tuple(x => x.Int(1)).Tuple(x => x.Int(1), x => x.Int(2))
            .Tuple(x => x.Int(1), x => x.Int(2), x => x.Int(3))
            .Tuple(x => x.Int(1), x => x.Int(2), x => x.Int(3), x => x.Int(4));      // 25..29
        b.Op(PickleOpcode.EmptyDict).Mark().Str("k1").Int(1).Str("k2").Int(2).Op(PickleOpcode.SetItems)
            .Str("k3").Int(3).Op(PickleOpcode.SetItem);                              // 30
        b.Mark().Str("d").Int(4).Op(PickleOpcode.Dict);                             // 31
        b.Op(PickleOpcode.EmptyList).Int(1).Op(PickleOpcode.Append).Mark().Int(2).Int(3).Op(PickleOpcode.Appends); // 32
        b.Mark().Int(5).Op(PickleOpcode.List);                                      // 33
        b.Op(PickleOpcode.EmptySet).Mark().Int(6).Int(7).Op(PickleOpcode.AddItems); // 34
        b.Mark().Int(8).Op(PickleOpcode.FrozenSet);                                 // 35
        b.Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce)
            .Str("od").Int(9).Op(PickleOpcode.SetItem);                              // 36 (mutation of a call result)
        b.StackGlobal("mod", "Cls").Tuple(x => x.Int(1)).Op(PickleOpcode.NewObj);   // 37
        b.StackGlobal("mod", "Cls").Tuple().Op(PickleOpcode.EmptyDict).Str("kw").Int(2).Op(PickleOpcode.SetItem)
            .Op(PickleOpcode.NewObjEx);                                              // 38
        b.Mark().Int(1).Int(2).Inst("mod", "Inst");                                 // 39
        b.Mark().Global("mod", "Obj").Int(3).Op(PickleOpcode.Obj);                  // 40
        b.Op(PickleOpcode.EmptyDict).Str("state").Int(1).Op(PickleOpcode.SetItem).Op(PickleOpcode.Build); // BUILD on 40
        b.PersId("pid0");                                                            // 41
        b.Mark().Str("storage").Str("0").Op(PickleOpcode.Tuple).Op(PickleOpcode.BinPersId); // 42
        b.Str("memo").Put(5).Op(PickleOpcode.Pop).Get(5);                           // 43
        b.BinPut(6).BinGet(6);                                                       // 44
        b.LongBinPut(70000).LongBinGet(70000);                                       // 45
        b.Ext1(1).Ext2(300).Ext4(70000);                                             // 46..48
        b.Op(PickleOpcode.NextBuffer).Op(PickleOpcode.ReadOnlyBuffer);               // 49
        b.Op(PickleOpcode.Dup);                                                      // 50
        b.Mark().Int(1).Op(PickleOpcode.PopMark);                                    // (nothing)
        b.Mark().Op(PickleOpcode.Pop);                                               // POP of an empty mark frame pops the mark
        b.Op(PickleOpcode.Appends).Stop();

        Assert.Equal(PickleOpcodes.All.ToHashSet(), b.Used);
        Assert.Equal(68, b.Used.Count);

        var r = Run(b);
        Assert.Null(r.Error);
        var items = Assert.IsType<PickleList>(r.Root).Items;
        Assert.Equal(51, items.Count);
        string S(int i) => items[i].ToString();
        Assert.Equal(["None", "True", "False", "False", "True", "-42", "-7", "200", "60000", "123456789012345678901234567890", "-1", "1180591620717411303424"],
            Enumerable.Range(0, 12).Select(S));
        Assert.Equal(["2.5", "1.25", "'a\\nbA'", "'bin'", "'sb'", "'café'", "'bu'", "'sbu'", "'bu8'"], Enumerable.Range(12, 9).Select(S));
        Assert.True(((PickleString)items[14]).FromByteString);
        Assert.Equal(["b'\\x01\\x02'", "b'\\x03'", "b'\\x04\\x05'", "bytearray(b'\\x06')"], Enumerable.Range(21, 4).Select(S));
        Assert.Equal(["()", "(1,)", "(1, 2)", "(1, 2, 3)", "(1, 2, 3, 4)"], Enumerable.Range(25, 5).Select(S));
        Assert.Equal("{'k1': 1, 'k2': 2, 'k3': 3}", S(30));
        Assert.Equal("{'d': 4}", S(31));
        Assert.Equal("[1, 2, 3]", S(32));
        Assert.Equal("[5]", S(33));
        Assert.Equal("{6, 7}", S(34));
        Assert.Equal("frozenset({8})", S(35));
        var od = Assert.IsType<PickleCall>(items[36]);
        Assert.Equal("collections.OrderedDict", od.CallableGlobal!.FullName);
        Assert.Equal("od", ((PickleString)Assert.Single(od.SetItems).Key).Value);
        Assert.Equal(PickleEventKind.NewObj, ((PickleCall)items[37]).Kind);
        Assert.Equal("mod.Cls.__new__(mod.Cls, 1)", S(37));
        Assert.Equal("mod.Cls.__new__(mod.Cls, kw=2)", S(38));
        Assert.Equal("mod.Inst(1, 2)", S(39));
        var obj = Assert.IsType<PickleCall>(items[40]);
        Assert.Equal("mod.Obj(3)", S(40));
        Assert.Equal("{'state': 1}", Assert.Single(obj.States).ToString());
        Assert.Equal("persistent_load('pid0')", S(41));
        Assert.Equal("persistent_load(('storage', '0'))", S(42));
        Assert.Same(items[43], items[44]);
        Assert.Same(items[44], items[45]);
        Assert.Equal([1, 300, 70000], r.Globals.Where(g => g.Source == PickleGlobalSource.Extension).Select(g => g.ExtensionCode!.Value));
        var buffer = Assert.IsType<PickleBuffer>(items[49]);
        Assert.True(buffer.IsReadOnly);
        Assert.Same(items[49], items[50]);

        Assert.Equal(5, r.DeclaredProtocol);
        Assert.Equal(5, r.HighestOpcodeProtocol);
        Assert.Equal(["collections.OrderedDict", "mod.Cls", "mod.Cls", "mod.Inst", "mod.Obj"],
            r.Globals.Where(g => g.Source != PickleGlobalSource.Extension).Select(g => g.FullName));
        Assert.Equal(
            [PickleEventKind.Reduce, PickleEventKind.SetItem, PickleEventKind.NewObj, PickleEventKind.NewObjEx, PickleEventKind.Inst,
             PickleEventKind.Obj, PickleEventKind.Build, PickleEventKind.PersistentLoad, PickleEventKind.PersistentLoad],
            r.Events.Select(e => e.Kind));
        Assert.Contains(r.Notes, n => n.Code == "out-of-band-buffer");
        Assert.Equal(r.Events.Select(e => e.Offset).Order(), r.Events.Select(e => e.Offset));
    }

    [Fact]
    public void Protocol_zero_reduce_is_a_call_and_decompiles()
    {
        var r = Run(new PickleBuilder().Raw("cos\nsystem\n(S'id'\ntR."));
        Assert.True(r.Completed);
        var g = Assert.Single(r.Globals);
        Assert.Equal(("os", "system", 0L), (g.Module, g.Name, g.Offset));
        var e = Assert.Single(r.Events);
        Assert.Equal(PickleEventKind.Reduce, e.Kind);
        Assert.Equal(19, e.Offset);
        Assert.Same(g, e.Target);
        Assert.Equal("from os import system\n_var0 = system('id')\nresult = _var0\n", r.Decompile());
        Assert.Equal(0, r.Protocol);
    }

    [Fact]
    public void Decompile_names_globals_calls_and_mutations()
    {
        var b = new PickleBuilder().Proto(4)
            .Global("builtins", "getattr").Mark().Global("builtins", "__import__").Tuple(x => x.Str("os")).Op(PickleOpcode.Reduce)
            .Str("system").Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Tuple(x => x.Str("echo hi")).Op(PickleOpcode.Reduce)
            .Global("a", "open").Tuple().Op(PickleOpcode.Reduce).Str("x").Op(PickleOpcode.Append)
            .Global("b", "open").Op(PickleOpcode.Tuple2).Stop();
        var r = Run(b);
        Assert.True(r.Completed);
        string code = r.Decompile();
        Assert.Equal(
            """
            from builtins import getattr
            from builtins import __import__
            _var0 = __import__('os')
            _var1 = getattr(_var0, 'system')
            _var2 = _var1('echo hi')
            from a import open
            _var3 = open()
            _var3.append('x')
            from b import open as open_1
            result = (_var3, open_1)

            """.ReplaceLineEndings("\n"), code);
    }

    [Fact]
    public void Stack_global_with_computed_operands_is_recorded_not_dropped()
    {
        // module name built by a call: ''.join(['o', 's']); name fetched from the memo as a plain string.
        var b = new PickleBuilder().Proto(4)
            .Str("system").BinPut(0).Op(PickleOpcode.Pop)
            .Global("builtins", "str.join").Tuple(x => x.Str(""), x => x.Op(PickleOpcode.EmptyList).Mark().Str("o").Str("s").Op(PickleOpcode.Appends))
            .Op(PickleOpcode.Reduce)
            .BinGet(0)
            .Op(PickleOpcode.StackGlobal)
            .Tuple(x => x.Str("id")).Op(PickleOpcode.Reduce).Stop();
        var r = Run(b);
        Assert.True(r.Completed);
        var computed = Assert.Single(r.Globals, g => g.Source == PickleGlobalSource.StackGlobal);
        Assert.True(computed.IsComputed);
        Assert.Equal("system", computed.Name);
        Assert.Contains("result of Reduce call", computed.Computed);
        Assert.Contains("builtins.str.join", computed.Module);
        Assert.Contains(r.Notes, n => n.Code == "computed-stack-global");
        Assert.Contains("STACK_GLOBAL with computed operands", r.Decompile());
        var call = r.Events[^1];
        Assert.Same(computed, call.Target);
    }

    [Fact]
    public void Stack_global_with_non_string_operands_is_still_reported()
    {
        var r = Run(new PickleBuilder().Proto(4).Bytes("os"u8.ToArray()).Int(7).Op(PickleOpcode.StackGlobal).Stop());
        var g = Assert.Single(r.Globals);
        Assert.True(g.IsComputed);
        Assert.Contains("bytes", g.Computed);
        Assert.Contains("int", g.Computed);
    }

    [Fact]
    public void Plain_stack_global_via_memo_is_a_plain_reference()
    {
        var r = Run(new PickleBuilder().Proto(4).Str("posix").Op(PickleOpcode.Memoize).Str("system").Op(PickleOpcode.Memoize)
            .Op(PickleOpcode.Pop).Op(PickleOpcode.Pop).BinGet(0).BinGet(1).Op(PickleOpcode.StackGlobal).Stop());
        var g = Assert.Single(r.Globals);
        Assert.False(g.IsComputed);
        Assert.Equal("posix.system", g.FullName);
    }

    [Fact]
    public void Payload_before_a_corrupt_byte_is_still_reported()
    {
        var b = new PickleBuilder().Proto(2).Global("os", "system").Tuple(x => x.Str("rm -rf /")).Op(PickleOpcode.Reduce).Raw(0xFF).Stop();
        var r = Run(b);
        Assert.NotNull(r.Error);
        Assert.False(r.Completed);
        Assert.Null(r.Root);
        Assert.Equal("t.pkl", r.Error!.File);
        Assert.Equal(b.Length - 2, r.Error.Offset);
        Assert.Contains("0xFF", r.Error.Message);
        Assert.Equal("os.system", Assert.Single(r.Globals).FullName);
        Assert.Equal(PickleEventKind.Reduce, Assert.Single(r.Events).Kind);
        string code = r.Decompile();
        Assert.Contains("_var0 = system('rm -rf /')", code);
        Assert.Contains($"# error at byte {b.Length - 2}", code);
    }

    [Fact]
    public void Errors_name_the_archive_entry_and_absolute_offset()
    {
        byte[] bytes = [.. "junk"u8, .. new PickleBuilder().Proto(2).None().Raw(0xFE).ToArray()];
        using var source = new MemoryByteSource("ck.pt", bytes);
        var r = PickleMachine.Run(source, 4, entry: "archive/data.pkl");
        Assert.Equal(4, r.StartOffset);
        Assert.Equal("archive/data.pkl", r.Error!.Entry);
        Assert.Equal("ck.pt", r.Error.File);
        Assert.Equal(7, r.Error.Offset);
        Assert.Equal(7, r.EndOffset);
    }

    [Fact]
    public void Truncated_payload_keeps_what_was_seen()
    {
        var bytes = new PickleBuilder().Proto(2).Global("subprocess", "Popen").Tuple(x => x.Str("sh")).Op(PickleOpcode.Reduce).Stop().ToArray();
        var r = Run(bytes[..^1]);
        Assert.NotNull(r.Error);
        Assert.Contains("STOP", r.Error!.Message);
        Assert.Single(r.Events);
    }

    [Fact]
    public void Mutations_of_non_containers_are_events()
    {
        var r = Run(new PickleBuilder().Proto(2)
            .Global("os", "environ").Str("LD_PRELOAD").Str("/tmp/x.so").Op(PickleOpcode.SetItem)
            .Global("sys", "path").Str("/tmp").Op(PickleOpcode.Append)
            .Op(PickleOpcode.Tuple2).Stop());
        Assert.True(r.Completed);
        Assert.Equal([PickleEventKind.SetItem, PickleEventKind.Append], r.Events.Select(e => e.Kind));
        string code = r.Decompile();
        Assert.Contains("environ['LD_PRELOAD'] = '/tmp/x.so'", code);
        Assert.Contains("path.append('/tmp')", code);
    }

    [Fact]
    public void Containers_are_not_events_and_dict_order_is_kept()
    {
        var r = Run(new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyDict).Mark().Str("b").Int(1).Str("a").Int(2).Op(PickleOpcode.SetItems).Stop());
        Assert.Empty(r.Events);
        var d = Assert.IsType<PickleDict>(r.Root);
        Assert.Equal(["b", "a"], d.Items.Select(kv => ((PickleString)kv.Key).Value));
        Assert.Equal("2", d.Get("a")!.ToString());
    }

    [Fact]
    public void Stacked_pickles_are_read_back_to_back()
    {
        var b = new PickleBuilder().Proto(2).Int(1).Stop().Proto(2).Str("two").Stop().Raw("cos\nsystem\n.");
        using var source = new MemoryByteSource("s.pkl", b.ToArray());
        var results = PickleMachine.RunAll(source);
        Assert.Equal(3, results.Count);
        Assert.Equal("1", results[0].Root!.ToString());
        Assert.Equal(results[0].EndOffset, results[1].StartOffset);
        Assert.Equal("'two'", results[1].Root!.ToString());
        Assert.Equal("os.system", results[2].Globals.Single().FullName);
        Assert.Equal(b.Length, results[2].EndOffset);
    }

    [Fact]
    public void Protocol_zero_text_opcodes_decode_like_cpython()
    {
        var r = Run(new PickleBuilder().Mark()
            .StringText("\"q\\'s\\\\\\101\"")
            .UnicodeText("a\\u20acb\\\\u0041\\U0001F600")
            .FloatText("-1e3").FloatText("inf").IntText("0x1F").LongText("-12L")
            .Op(PickleOpcode.List).Stop());
        Assert.True(r.Completed, r.Error?.Message);
        Assert.Equal("[\"q's\\\\A\", 'a€b\\\\\\\\u0041😀', -1000.0, float('inf'), 31, -12]", r.Root!.ToString());
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x06, 0x4E, 0x2E }, "unsupported pickle protocol 6")]
    [InlineData(new byte[] { 0x4E, 0x30, 0x30, 0x2E }, "stack underflow")]
    [InlineData(new byte[] { 0x28, 0x4E, 0x52, 0x2E }, "stack underflow")]
    [InlineData(new byte[] { 0x4E, 0x65, 0x2E }, "without a MARK")]
    [InlineData(new byte[] { 0x68, 0x03, 0x2E }, "memo key 3 not found")]
    [InlineData(new byte[] { 0x28, 0x4B, 0x01, 0x64, 0x2E }, "odd number")]
    [InlineData(new byte[] { 0x28, 0x6F, 0x2E }, "no class")]
    [InlineData(new byte[] { 0x82, 0x00, 0x2E }, "code 0 <= 0")]
    [InlineData(new byte[] { 0x53, 0x61, 0x62, 0x0A, 0x2E }, "must be quoted")]
    [InlineData(new byte[] { 0x4E }, "without a STOP")]
    [InlineData(new byte[] { }, "no pickle data")]
    [InlineData(new byte[] { 0x49, 0x31, 0x78, 0x0A, 0x2E }, "invalid integer")]
    [InlineData(new byte[] { 0x71, 0x01, 0x2E }, "stack underflow")]
    [InlineData(new byte[] { 0x4E, 0x70, 0x2D, 0x31, 0x0A, 0x2E }, "negative PUT")]
    public void Malformed_streams_fail_with_offsets(byte[] bytes, string expected)
    {
        var r = Run(bytes);
        Assert.NotNull(r.Error);
        Assert.Contains(expected, r.Error!.Message, StringComparison.Ordinal);
        Assert.NotNull(r.Error.Offset);
        Assert.Equal("t.pkl", r.Error.File);
    }

    [Theory]
    [InlineData(PickleOpcode.BinUnicode, 0xFFFFFFFFUL, 4)]
    [InlineData(PickleOpcode.BinBytes, 0x7FFFFFFFUL, 4)]
    [InlineData(PickleOpcode.BinBytes8, ulong.MaxValue, 8)]
    [InlineData(PickleOpcode.BinUnicode8, 1UL << 62, 8)]
    [InlineData(PickleOpcode.ByteArray8, 1UL << 40, 8)]
    [InlineData(PickleOpcode.BinString, 0x7FFFFFF0UL, 4)]
    [InlineData(PickleOpcode.Long4, 0x7FFFFFF0UL, 4)]
    public void Huge_length_fields_are_refused_before_allocation(PickleOpcode op, ulong length, int width)
    {
        var bytes = new byte[1 + width + 16];
        bytes[0] = (byte)op;
        for (int i = 0; i < width; i++) bytes[1 + i] = (byte)(length >> (8 * i));
        var r = Run(bytes);
        Assert.NotNull(r.Error);
        Assert.Matches("remain|exceeds|negative|runs past", r.Error!.Message);
        Assert.Equal(0, r.Error.Offset);
    }

    [Fact]
    public void String_limit_applies_even_when_bytes_remain()
    {
        var b = new PickleBuilder().Str(new string('x', 5000)).Stop();
        var r = Run(b, new PickleLimits { MaxStringBytes = 1000 });
        Assert.Contains("limit of 1000", r.Error!.Message);
    }

    [Fact]
    public void Opcode_limit_stops_op_bombs()
    {
        var b = new PickleBuilder();
        for (int i = 0; i < 10_000; i++) b.None().Op(PickleOpcode.Pop);
        b.None().Stop();
        Assert.True(Run(b).Completed);
        var r = Run(b, new PickleLimits { MaxOpcodes = 5000 });
        Assert.Contains("more than 5000 opcodes", r.Error!.Message);
        Assert.Equal(5000, r.Error.Offset);
    }

    [Fact]
    public void Stack_and_mark_depth_limits_are_enforced()
    {
        var b = new PickleBuilder();
        for (int i = 0; i < 3000; i++) b.None();
        Assert.Contains("stack deeper than 2000", Run(b, new PickleLimits { MaxStackDepth = 2000 }).Error!.Message);

        var m = new PickleBuilder();
        for (int i = 0; i < 3000; i++) m.Mark();
        Assert.Contains("more than 2000 open MARKs", Run(m, new PickleLimits { MaxMarkDepth = 2000 }).Error!.Message);
    }

    [Fact]
    public void Memo_abuse_is_bounded()
    {
        // Sparse huge indices cost one entry each, never an array sized by the index.
        var sparse = new PickleBuilder().None().LongBinPut(uint.MaxValue).LongBinGet(uint.MaxValue).Op(PickleOpcode.Tuple2).Stop();
        Assert.True(Run(sparse).Completed);

        var many = new PickleBuilder().None();
        for (uint i = 0; i < 200; i++) many.LongBinPut(i * 1000);
        var r = Run(many.Stop(), new PickleLimits { MaxMemoEntries = 100 });
        Assert.Contains("more than 100 memo entries", r.Error!.Message);

        var overwrite = new PickleBuilder().None().BinPut(1).BinPut(1).Stop();
        Assert.Contains(Run(overwrite).Notes, n => n.Code == "memo-overwrite");
    }

    [Fact]
    public void Deep_nesting_does_not_recurse_and_renders_bounded()
    {
        // 200,000 nested lists: [[[[...]]]] built with EMPTY_LIST ... APPEND chains.
        const int depth = 200_000;
        var b = new PickleBuilder().Proto(2);
        for (int i = 0; i < depth; i++) b.Op(PickleOpcode.EmptyList);
        for (int i = 0; i < depth - 1; i++) b.Op(PickleOpcode.Append);
        b.Stop();
        var r = Run(b);
        Assert.True(r.Completed);
        string text = r.Root!.ToString();
        Assert.True(text.Length < 200, text);
        Assert.Contains("...", text);
        Assert.True(r.Decompile().Length < 500);
    }

    [Fact]
    public void Exponential_sharing_and_cycles_render_bounded()
    {
        // l0 = []; l(k+1) = [lk, lk]; 64 levels: 2^64 leaves if expanded.
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyList).BinPut(0);
        for (int k = 0; k < 64; k++)
            b.Op(PickleOpcode.Pop).Op(PickleOpcode.EmptyList).Mark().BinGet(k % 2).BinGet(k % 2).Op(PickleOpcode.Appends).BinPut((k + 1) % 2);
        // A list that contains itself.
        b.Op(PickleOpcode.EmptyList).BinPut(9).BinGet(9).Op(PickleOpcode.Append).Op(PickleOpcode.Tuple2).Stop();
        var r = Run(b);
        Assert.True(r.Completed, r.Error?.Message);
        Assert.True(r.Root!.ToString().Length <= 402);
        Assert.True(r.Decompile(4096).Length <= 4096 + 100);
    }

    [Fact]
    public void Decompile_output_is_bounded()
    {
        var b = new PickleBuilder().Proto(2).Op(PickleOpcode.EmptyList);
        for (int i = 0; i < 5000; i++) b.Global("os", "system").Tuple(x => x.Str("echo " + i)).Op(PickleOpcode.Reduce).Op(PickleOpcode.Append);
        b.Stop();
        var r = Run(b);
        Assert.Equal(5000, r.Events.Count);
        Assert.Equal(5000, r.Globals.Count);
        string code = r.Decompile(10_000);
        Assert.True(code.Length <= 10_100, code.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("output truncated", code);
        Assert.Single(code.Split('\n'), l => l.StartsWith("from os import", StringComparison.Ordinal));
    }

    [Fact]
    public void Opcodes_newer_than_the_declared_protocol_are_noted()
    {
        var r = Run(new PickleBuilder().Proto(2).StackGlobal("os", "system").Stop());
        Assert.True(r.Completed);
        Assert.Contains(r.Notes, n => n.Code == "opcode-newer-than-protocol");
        Assert.Equal(2, r.Protocol);
        Assert.Equal(4, r.HighestOpcodeProtocol);
    }

    [Fact]
    public void Invalid_utf8_global_names_are_kept_visible()
    {
        var r = Run(new PickleBuilder().Raw("c").Raw(0x6F, 0xFF, 0x73, 0x0A).Raw("system\n.").ToArray());
        Assert.True(r.Completed);
        Assert.Equal("o\u00FFs", r.Globals.Single().Module);
        Assert.Contains(r.Notes, n => n.Code == "invalid-utf8-name");
    }

    [Fact]
    public void Bytes_values_know_their_data_offset()
    {
        var b = new PickleBuilder().Proto(3).Bytes([9, 8, 7]).Stop();
        var r = Run(b);
        var bytes = Assert.IsType<PickleBytes>(r.Root);
        Assert.Equal(4, bytes.DataOffset);
        Assert.Equal([9, 8, 7], bytes.Value.ToArray());
    }

    [Fact]
    public void Hostile_mutations_of_built_pickles_only_fail_as_results()
    {
        var b = new PickleBuilder().Proto(4).Frame(100).Op(PickleOpcode.EmptyDict).Op(PickleOpcode.Memoize).Mark()
            .Str("weights").Global("torch._utils", "_rebuild_tensor_v2")
            .Mark().Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(4).Op(PickleOpcode.Tuple).Op(PickleOpcode.BinPersId)
            .Int(0).Tuple(x => x.Int(2), x => x.Int(2)).Tuple(x => x.Int(2), x => x.Int(1)).Bool(false)
            .Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Str("text").UnicodeText("a\\u1234").Str("n").LongText("123L").Str("f").FloatText("1.5")
            .Str("s").StringText("'x\\x41'").Str("big").Long4(BigInteger.Pow(3, 200))
            .Op(PickleOpcode.SetItems).Stop();
        byte[] original = b.ToArray();
        Assert.True(Run(original).Completed);
        foreach (var variant in Hostile.Truncations(original, 60, 1).Concat(Hostile.BitFlips(original, 400, 2)))
        {
            var r = Run(variant);
            if (r.Error is not null) Assert.Equal("t.pkl", r.Error.File);
            _ = r.Decompile();
            _ = r.Root?.ToString();
        }
    }

    [Fact]
    public void Short_frames_are_followed_like_the_python_unpickler()
    {
        var r = Run(new PickleBuilder().Proto(4).Frame(1000).StackGlobal("nt", "system").Stop());
        Assert.True(r.Completed);
        Assert.Equal("nt.system", r.Globals.Single().FullName);
        Assert.Contains(r.Notes, n => n.Code == "frame-past-end");
    }

    [Fact]
    public void Python2_names_resolve_as_cpython_imports_them()
    {
        var p0 = Run(new PickleBuilder().Raw("c__builtin__\neval\n(S'1+1'\ntR."));
        var g = Assert.Single(p0.Globals);
        Assert.Equal("__builtin__.eval", g.FullName);
        Assert.Equal("builtins.eval", g.ResolvedFullName);
        Assert.Contains("from __builtin__ import eval  # loads builtins.eval", p0.Decompile());

        var p2 = Run(new PickleBuilder().Proto(2).Global("commands", "getoutput").Global("__builtin__", "xrange").Op(PickleOpcode.Tuple2).Stop());
        Assert.Equal(["subprocess.getoutput", "builtins.range"], p2.Globals.Select(x => x.ResolvedFullName));

        // Protocol 3 and later streams are not renamed.
        var p3 = Run(new PickleBuilder().Proto(3).Global("__builtin__", "eval").Stop());
        Assert.Equal("__builtin__.eval", p3.Globals.Single().ResolvedFullName);
    }

    [Theory]
    [InlineData("scanner/modelaudit/samples/pickles/malicious_system_call.pkl", "posix.system")]
    [InlineData("scanner/modelaudit/samples/pickles/evil.pickle", "system")]
    [InlineData("scanner/modelaudit/pickles/stack_global_attack.pkl", "posix.system")]
    [InlineData("scanner/modelaudit/pickles/memo_attack.pkl", "subprocess.call")]
    [InlineData("scanner/modelaudit/pickles/nt_alias_attack.pkl", "nt.system")]
    [InlineData("scanner/modelaudit/pickles/posix_alias_attack.pkl", "posix.system")]
    [InlineData("scanner/modelaudit/exploits/exploit7_nested_collections.pkl", "Popen")]
    [InlineData("scanner/modelaudit/exploits/exploit2_advanced_torch_bypass.pkl", "call")]
    [InlineData("scanner/modelaudit/pickles/multiple_stream_attack.pkl", "eval")]
    [InlineData("scanner/modelaudit/scenarios/security_scenarios/mixed_malicious_model/model.pkl", "eval")]
    public void Malicious_corpus_pickles_show_their_call(string path, string expectedSuffix)
    {
        using var source = RandomAccessFile.Open(Corpus.Path(path));
        var results = PickleMachine.RunAll(source);
        Assert.All(results, r => Assert.Null(r.Error));
        Assert.Equal(source.Length, results[^1].EndOffset);
        var g = results.SelectMany(r => r.Globals).Single(x => x.ResolvedFullName.EndsWith(expectedSuffix, StringComparison.Ordinal));
        // The alias samples only return the function; the others call it.
        var call = results.SelectMany(r => r.Events).FirstOrDefault(e => e.IsCall && ReferenceEquals(e.Target, g));
        if (!path.Contains("alias", StringComparison.Ordinal)) Assert.Equal(PickleEventKind.Reduce, call!.Kind);
        else Assert.Same(g, results[^1].Root);
        Assert.Contains(g.Name, results.First(r => r.Globals.Contains(g)).Decompile());
    }

    [Fact]
    public void Every_corpus_pickle_runs_to_completion()
    {
        string root = Corpus.Path("scanner/modelaudit");
        var files = Directory.EnumerateFiles(root, "*.pkl", SearchOption.AllDirectories).Concat(Directory.EnumerateFiles(root, "*.pickle", SearchOption.AllDirectories)).ToList();
        Assert.True(files.Count >= 30);
        foreach (var file in files)
        {
            using var source = RandomAccessFile.Open(file);
            var results = PickleMachine.RunAll(source);
            Assert.True(results.All(r => r.Completed), file + ": " + results.FirstOrDefault(r => !r.Completed)?.Error?.Message);
            Assert.True(results[^1].EndOffset == source.Length, file);
            _ = results[0].Decompile();
        }
    }
}
