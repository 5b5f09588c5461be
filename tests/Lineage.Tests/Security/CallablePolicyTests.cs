using Lineage.Security;
using Lineage.Security.Policy;

namespace Lineage.Tests.Security;

public class CallablePolicyTests
{
    private static readonly CallablePolicy Policy = CallablePolicy.Default;

    /// <summary>Every name the brief lists as known-dangerous, with the module/name split a pickle would use.</summary>
    public static TheoryData<string, string, string> DangerousNames => new()
    {
        { "os", "system", "process-execution" },
        { "os", "popen", "process-execution" },
        { "os", "execv", "process-execution" },
        { "posix", "system", "process-execution" },
        { "nt", "system", "process-execution" },
        { "nt", "spawnl", "process-execution" },
        { "subprocess", "Popen", "process-execution" },
        { "subprocess", "check_output", "process-execution" },
        { "_posixsubprocess", "fork_exec", "process-execution" },
        { "commands", "getoutput", "process-execution" },
        { "builtins", "eval", "code-execution" },
        { "builtins", "exec", "code-execution" },
        { "builtins", "compile", "code-execution" },
        { "builtins", "__import__", "code-execution" },
        { "builtins", "breakpoint", "code-execution" },
        { "builtins", "getattr", "attribute-access" },
        { "builtins", "setattr", "attribute-access" },
        { "builtins", "open", "file-access" },
        { "__builtin__", "eval", "code-execution" },
        { "__builtin__", "getattr", "attribute-access" },
        { "__builtin__", "execfile", "code-execution" },
        { "__builtin__", "apply", "code-execution" },
        { "__builtin__", "reduce", "attribute-access" },
        { "exceptions", "eval", "code-execution" },
        { "runpy", "_run_code", "code-execution" },
        { "runpy", "run_path", "code-execution" },
        { "importlib", "import_module", "code-execution" },
        { "importlib.machinery", "SourceFileLoader", "code-execution" },
        { "pkgutil", "resolve_name", "code-execution" },
        { "marshal", "loads", "code-execution" },
        { "types", "CodeType", "code-execution" },
        { "types", "FunctionType", "code-execution" },
        { "operator", "attrgetter", "attribute-access" },
        { "operator", "methodcaller", "attribute-access" },
        { "operator", "itemgetter", "attribute-access" },
        { "_operator", "attrgetter", "attribute-access" },
        { "functools", "partial", "attribute-access" },
        { "ctypes", "CDLL", "native-code" },
        { "ctypes", "cdll.LoadLibrary", "native-code" },
        { "_ctypes", "dlopen", "native-code" },
        { "uuid", "_get_command_stdout", "process-execution" },
        { "imaplib", "IMAP4", "network-access" },
        { "_osx_support", "_read_output", "process-execution" },
        { "pip", "main", "package-install" },
        { "pip._internal", "main", "package-install" },
        { "torch", "load", "nested-deserialization" },
        { "torch.serialization", "load", "nested-deserialization" },
        { "torch.hub", "load", "code-execution" },
        { "torch.jit", "load", "code-execution" },
        { "torch._dynamo", "optimize", "code-execution" },
        { "torch.storage", "_load_from_bytes", "nested-deserialization" },
        { "torch.fx.graph_module", "reduce_graph_module", "code-execution" },
        { "code", "InteractiveInterpreter", "code-execution" },
        { "codeop", "compile_command", "code-execution" },
        { "pty", "spawn", "process-execution" },
        { "shutil", "rmtree", "file-access" },
        { "socket", "socket", "network-access" },
        { "http.client", "HTTPSConnection", "network-access" },
        { "urllib.request", "urlopen", "network-access" },
        { "urllib2", "urlopen", "network-access" },
        { "requests", "get", "network-access" },
        { "requests.api", "post", "network-access" },
        { "ftplib", "FTP", "network-access" },
        { "smtplib", "SMTP", "network-access" },
        { "telnetlib", "Telnet", "network-access" },
        { "webbrowser", "open", "network-access" },
        { "pickle", "loads", "nested-deserialization" },
        { "pickle", "load", "nested-deserialization" },
        { "_pickle", "loads", "nested-deserialization" },
        { "cPickle", "loads", "nested-deserialization" },
        { "dill", "loads", "nested-deserialization" },
        { "dill._dill", "_create_function", "nested-deserialization" },
        { "cloudpickle", "loads", "nested-deserialization" },
        { "sys", "modules", "interpreter-state" },
        { "platform", "popen", "process-execution" },
        { "asyncio.subprocess", "create_subprocess_shell", "process-execution" },
        { "asyncio", "create_subprocess_exec", "process-execution" },
        { "multiprocessing", "Process", "process-execution" },
        { "multiprocessing.util", "spawnv_passfds", "process-execution" },
        { "numpy", "load", "nested-deserialization" },
        { "numpy.testing._private.utils", "runstring", "code-execution" },
        { "joblib", "load", "nested-deserialization" },
        { "yaml", "unsafe_load", "nested-deserialization" },
        { "timeit", "timeit", "code-execution" },
        { "logging.config", "listen", "code-execution" },
        { "atexit", "register", "code-execution" },
    };

    [Theory]
    [MemberData(nameof(DangerousNames))]
    public void Known_dangerous_names_are_flagged_with_their_category(string module, string name, string category)
    {
        var d = Policy.Evaluate(module, name);
        Assert.Equal(CallableVerdict.Dangerous, d.Verdict);
        Assert.Equal(category, d.Category);
        Assert.Equal(Severity.Critical, d.Severity);
        var finding = d.ToFinding(offset: 17, entry: "archive/data.pkl", evidence: "REDUCE");
        Assert.NotNull(finding);
        Assert.Equal("LIN-PKL-001", finding.Rule);
        Assert.Equal(17, finding.Offset);
        Assert.Contains(module, finding.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("torch._utils", "_rebuild_tensor_v2", "pytorch")]
    [InlineData("torch._utils", "_rebuild_parameter", "pytorch")]
    [InlineData("torch", "_utils._rebuild_tensor_v2", "pytorch")]
    [InlineData("torch", "FloatStorage", "pytorch")]
    [InlineData("torch", "BFloat16Storage", "pytorch")]
    [InlineData("torch.cuda", "HalfStorage", "pytorch")]
    [InlineData("torch", "Size", "pytorch")]
    [InlineData("torch", "device", "pytorch")]
    [InlineData("torch", "bfloat16", "pytorch")]
    [InlineData("torch", "float8_e4m3fn", "pytorch")]
    [InlineData("torch", "strided", "pytorch")]
    [InlineData("torch._tensor", "_rebuild_from_type_v2", "pytorch")]
    [InlineData("torch.nn.modules.linear", "Linear", "pytorch")]
    [InlineData("torch.nn.modules.container", "ModuleList", "pytorch")]
    [InlineData("collections", "OrderedDict", "core")]
    [InlineData("builtins", "set", "core")]
    [InlineData("builtins", "frozenset", "core")]
    [InlineData("builtins", "bytearray", "core")]
    [InlineData("builtins", "slice", "core")]
    [InlineData("builtins", "complex", "core")]
    [InlineData("__builtin__", "set", "core")]
    [InlineData("__builtin__", "xrange", "core")]
    [InlineData("copy_reg", "_reconstructor", "core")]
    [InlineData("_codecs", "encode", "core")]
    [InlineData("numpy.core.multiarray", "_reconstruct", "numpy")]
    [InlineData("numpy._core.multiarray", "_reconstruct", "numpy")]
    [InlineData("numpy", "ndarray", "numpy")]
    [InlineData("numpy", "dtype", "numpy")]
    [InlineData("numpy.core.multiarray", "scalar", "numpy")]
    [InlineData("numpy.random._pickle", "__randomstate_ctor", "numpy")]
    [InlineData("numpy.dtypes", "Float32DType", "numpy")]
    [InlineData("sklearn.linear_model._logistic", "LogisticRegression", "sklearn")]
    [InlineData("sklearn.tree._classes", "DecisionTreeClassifier", "sklearn")]
    [InlineData("sklearn.tree._tree", "Tree", "sklearn")]
    [InlineData("sklearn.pipeline", "Pipeline", "sklearn")]
    [InlineData("sklearn.preprocessing._data", "StandardScaler", "sklearn")]
    [InlineData("sklearn._loss._loss", "__pyx_unpickle_CyHalfSquaredError", "sklearn")]
    [InlineData("scipy.sparse._csr", "csr_matrix", "sklearn")]
    [InlineData("joblib.numpy_pickle", "NumpyArrayWrapper", "sklearn")]
    [InlineData("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper", "sklearn")]
    [InlineData("transformers.training_args", "TrainingArguments", "transformers")]
    [InlineData("transformers.trainer_utils", "IntervalStrategy", "transformers")]
    [InlineData("trl.trainer.sft_config", "SFTConfig", "transformers")]
    public void Benign_framework_names_are_allowed(string module, string name, string profile)
    {
        var d = Policy.Evaluate(module, name);
        Assert.Equal(CallableVerdict.Allowed, d.Verdict);
        Assert.Equal(profile, d.Profile);
        Assert.Null(d.ToFinding());
    }

    [Theory]
    [InlineData("sklearn.utils._testing", "SkipTest")]
    [InlineData("sklearn.utils.parallel", "_FuncWrapper")]
    [InlineData("sklearn.utils", "resample")]
    [InlineData("sklearn.externals.joblib", "Parallel")]
    [InlineData("__main__", "MyModel")]
    [InlineData("mypackage.layers", "Custom")]
    [InlineData("os.path", "join")]
    [InlineData("posixpath", "join")]
    [InlineData("io", "BytesIO")]
    [InlineData("builtins", "print")]
    [InlineData("torch.nn.modules.module", "Module.register_forward_hook")]
    public void Names_outside_every_profile_are_unknown_and_fail(string module, string name)
    {
        var d = Policy.Evaluate(module, name);
        Assert.Equal(CallableVerdict.Unknown, d.Verdict);
        Assert.Equal(Severity.High, d.Severity);
        Assert.Equal("LIN-PKL-002", d.ToFinding()!.Rule);
    }

    [Theory]
    [InlineData("posixpath", "os.system")]
    [InlineData("os.path", "os.system")]
    [InlineData("torch.serialization", "pickle.loads")]
    [InlineData("numpy", "os.popen")]
    [InlineData("transformers.utils", "sys.modules")]
    [InlineData("builtins", "object.__subclasses__")]
    [InlineData("torch._utils", "_rebuild_tensor_v2.__globals__")]
    [InlineData("collections", "OrderedDict.__init__.__globals__")]
    public void Dotted_names_are_resolved_through_module_attributes(string module, string name)
    {
        var d = Policy.Evaluate(module, name);
        Assert.Equal(CallableVerdict.Dangerous, d.Verdict);
    }

    [Theory]
    [InlineData("os ", "system")]
    [InlineData("os", "system ")]
    [InlineData(" os", "system")]
    [InlineData("os\n", "system")]
    [InlineData("os\r", "system")]
    [InlineData("o s", "system")]
    [InlineData("os", "sys\ttem")]
    [InlineData("\u043Es", "system")]          // Cyrillic о
    [InlineData("os", "\u0455ystem")]          // Cyrillic ѕ
    [InlineData("\uFF4F\uFF53", "system")]     // fullwidth ｏｓ
    [InlineData("o\u200Bs", "system")]         // zero-width space
    [InlineData("builtins", "ev\u0430l")]      // Cyrillic а
    [InlineData("subprocess\u00A0", "Popen")]  // no-break space
    [InlineData("__builtin__", "g\u0435tattr")]
    [InlineData("OS", "system")]
    [InlineData("Subprocess", "Popen")]
    [InlineData("BUILTINS", "eval")]
    public void Lookalike_and_odd_whitespace_spellings_of_dangerous_names_are_critical(string module, string name)
    {
        var d = Policy.Evaluate(module, name);
        Assert.Equal(CallableVerdict.NonCanonical, d.Verdict);
        Assert.NotNull(d.LookalikeOf);
        Assert.Equal(Severity.Critical, d.Severity);
        var f = d.ToFinding()!;
        Assert.Equal("LIN-PKL-003", f.Rule);
        Assert.DoesNotContain('\n', f.Message);
    }

    [Theory]
    [InlineData("", "foo")]
    [InlineData("torch", "")]
    [InlineData("torch..nn", "Linear")]
    [InlineData(".torch", "Size")]
    [InlineData("torch", "Size.")]
    [InlineData("t\u00F6rch", "Size")]
    [InlineData("torch", "Size\u0000")]
    [InlineData("1torch", "Size")]
    public void Non_canonical_names_are_never_allowed(string module, string name)
    {
        var d = Policy.Evaluate(module, name);
        Assert.Equal(CallableVerdict.NonCanonical, d.Verdict);
        Assert.True(d.Severity >= Severity.High);
    }

    [Fact]
    public void Profiles_restrict_the_allow_list()
    {
        var torchOnly = CallablePolicy.ForProfiles(["pytorch"]);
        Assert.Equal(CallableVerdict.Allowed, torchOnly.Evaluate("torch._utils", "_rebuild_tensor_v2").Verdict);
        Assert.Equal(CallableVerdict.Allowed, torchOnly.Evaluate("collections", "OrderedDict").Verdict);
        Assert.Equal(CallableVerdict.Unknown, torchOnly.Evaluate("numpy", "ndarray").Verdict);
        Assert.Equal(CallableVerdict.Unknown, torchOnly.Evaluate("sklearn.pipeline", "Pipeline").Verdict);
        Assert.Equal(CallableVerdict.Dangerous, torchOnly.Evaluate("os", "system").Verdict);
        Assert.Same(CallablePolicy.Default, CallablePolicy.ForProfiles(["all"]));
        Assert.Throws<ArgumentException>(() => CallablePolicy.ForProfiles(["tensorflow"]));
    }

    [Fact]
    public void Every_deny_entry_is_dangerous_and_none_is_also_allowed()
    {
        foreach (var (entry, category) in CallablePolicy.DangerousEntries)
        {
            var d = Policy.Evaluate(entry + ".anything");
            if (entry is "types" or "io" or "pathlib.Path.write_text" or "pathlib.Path.write_bytes" or "pathlib.Path.unlink" or "pathlib.Path.open")
                continue; // allowed members exist under these (types.SimpleNamespace, io.BytesIO), checked elsewhere
            Assert.True(d.Verdict == CallableVerdict.Dangerous, $"{entry}.anything: {d.Verdict} {d.Reason}");
            Assert.Equal(category, d.Category);
        }
    }

    [Fact]
    public void Dotted_path_overload_splits_module_and_name()
    {
        Assert.Equal(CallableVerdict.Dangerous, Policy.Evaluate("os.system").Verdict);
        Assert.Equal("os.system", Policy.Evaluate("posix.system").Resolved);
        Assert.Equal(CallableVerdict.Allowed, Policy.Evaluate("torch.FloatStorage").Verdict);
    }
}
