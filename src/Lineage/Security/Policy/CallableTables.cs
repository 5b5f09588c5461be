namespace Lineage.Security.Policy;

/// <summary>
/// The data behind <see cref="CallablePolicy"/>: allow-list profiles, known-dangerous names with their category,
/// and the module aliases Python's unpickler applies. Names are canonical dotted paths (module + qualified name).
/// </summary>
internal static class CallableTables
{
    // ---------------------------------------------------------------------------------------------- aliases

    /// <summary>
    /// Module renames applied to the head of a dotted path: the Python 2 names that pickle's fix_imports maps
    /// (protocol 0–2 pickles), the C modules behind public ones (os is posix or nt), and vendored copies.
    /// </summary>
    public static readonly Dictionary<string, string> ModuleAliases = new(StringComparer.Ordinal)
    {
        ["__builtin__"] = "builtins",
        ["__builtins__"] = "builtins",
        ["exceptions"] = "builtins",
        ["copy_reg"] = "copyreg",
        ["cPickle"] = "pickle",
        ["_pickle"] = "pickle",
        ["posix"] = "os",
        ["nt"] = "os",
        ["posixpath"] = "os.path",
        ["ntpath"] = "os.path",
        ["macpath"] = "os.path",
        ["commands"] = "subprocess",
        ["popen2"] = "subprocess",
        ["urllib2"] = "urllib.request",
        ["httplib"] = "http.client",
        ["urlparse"] = "urllib.parse",
        ["cookielib"] = "http.cookiejar",
        ["BaseHTTPServer"] = "http.server",
        ["SimpleHTTPServer"] = "http.server",
        ["CGIHTTPServer"] = "http.server",
        ["SocketServer"] = "socketserver",
        ["xmlrpclib"] = "xmlrpc.client",
        ["thread"] = "_thread",
        ["dummy_thread"] = "_dummy_thread",
        ["Queue"] = "queue",
        ["cStringIO"] = "io",
        ["StringIO"] = "io",
        ["_io"] = "io",
        ["UserDict"] = "collections",
        ["UserList"] = "collections",
        ["UserString"] = "collections",
        ["_collections"] = "collections",
        ["_operator"] = "operator",
        ["_functools"] = "functools",
        ["_socket"] = "socket",
        ["_ctypes"] = "ctypes",
        ["_imp"] = "imp",
        ["_frozen_importlib"] = "importlib",
        ["_frozen_importlib_external"] = "importlib",
        ["sklearn.externals.joblib"] = "joblib",
    };

    /// <summary>Python 2 builtins and itertools names that the unpickler maps to other modules (fix_imports).</summary>
    public static readonly Dictionary<string, string> NameAliases = new(StringComparer.Ordinal)
    {
        ["builtins.xrange"] = "builtins.range",
        ["builtins.reduce"] = "functools.reduce",
        ["builtins.intern"] = "sys.intern",
        ["builtins.unichr"] = "builtins.chr",
        ["builtins.unicode"] = "builtins.str",
        ["builtins.long"] = "builtins.int",
        ["builtins.basestring"] = "builtins.str",
        ["builtins.raw_input"] = "builtins.input",
        ["builtins.StandardError"] = "builtins.Exception",
        ["itertools.izip"] = "builtins.zip",
        ["itertools.imap"] = "builtins.map",
        ["itertools.ifilter"] = "builtins.filter",
        ["itertools.ifilterfalse"] = "itertools.filterfalse",
        ["itertools.izip_longest"] = "itertools.zip_longest",
        ["collections.IterableUserDict"] = "collections.UserDict",
        ["socket._socketobject"] = "socket.SocketType",
    };

    // ---------------------------------------------------------------------------------------------- allow-lists

    /// <summary>Always allowed: plain containers and value types a state dict or config pickle is made of.</summary>
    public static readonly string[] Core =
    [
        "builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.bytes", "builtins.slice", "builtins.complex",
        "builtins.range", "builtins.int", "builtins.float", "builtins.bool", "builtins.str", "builtins.list",
        "builtins.tuple", "builtins.dict", "builtins.object", "builtins.NoneType", "builtins.Ellipsis", "builtins.NotImplemented",
        "collections.OrderedDict", "collections.defaultdict", "collections.deque", "collections.Counter",
        // Protocol 0/1 object reconstruction: they only call cls.__new__ on a class that is itself a checked global.
        "copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__",
        // Protocol 2 pickles written by Python 3 encode bytes as _codecs.encode(str, 'latin1').
        "_codecs.encode",
        "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
        "decimal.Decimal", "fractions.Fraction", "uuid.UUID", "argparse.Namespace", "types.SimpleNamespace",
        "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
    ];

    private static readonly string[] TorchDtypes =
    [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32", "chalf", "complex64", "cfloat",
        "complex128", "cdouble", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "short", "int32", "int", "int64",
        "long", "bool", "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2",
        "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
        "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
    ];

    private static readonly string[] TorchStorageKinds =
    [
        "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool", "ComplexFloat", "ComplexDouble",
        "QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4",
    ];

    /// <summary>PyTorch state dicts and whole-module checkpoints: tensors, storages, rebuild functions, dtypes.</summary>
    public static IEnumerable<string> PyTorch()
    {
        string[] rebuild =
        [
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_sparse_tensor",
            "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_device_tensor_from_numpy",
            "torch._utils._rebuild_device_tensor_from_cpu_tensor", "torch._utils._rebuild_meta_tensor_no_storage",
            "torch._utils._rebuild_qtensor", "torch._utils._rebuild_nested_tensor", "torch._utils._rebuild_wrapper_subclass",
            "torch._utils._rebuild_buffer",
            "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
            "torch.Tensor", "torch._tensor.Tensor", "torch.nn.parameter.Parameter", "torch.nn.parameter.Buffer",
            "torch.nn.parameter.UninitializedParameter", "torch.nn.parameter.UninitializedBuffer", "torch.nn.Parameter",
            "torch.Size", "torch.device", "torch.serialization._get_layout",
            "torch.UntypedStorage", "torch.TypedStorage", "torch.storage.UntypedStorage", "torch.storage.TypedStorage",
            "torch.storage._TypedStorage", "torch.storage._UntypedStorage",
            "torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr", "torch.sparse_bsc",
            "torch._mkldnn", "torch.jagged",
            "torch.contiguous_format", "torch.channels_last", "torch.channels_last_3d", "torch.preserve_format",
            "torch.per_tensor_affine", "torch.per_channel_affine", "torch.per_tensor_symmetric", "torch.per_channel_symmetric",
            "torch.per_channel_affine_float_qparams",
        ];
        foreach (var n in rebuild) yield return n;
        foreach (var d in TorchDtypes) yield return "torch." + d;
        foreach (var k in TorchStorageKinds)
        {
            yield return $"torch.{k}Storage";
            yield return $"torch.cuda.{k}Storage";
        }
    }

    /// <summary>NumPy arrays, scalars, dtypes, masked arrays and random generator state.</summary>
    public static IEnumerable<string> NumPy()
    {
        string[] names =
        [
            "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
            "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
            "numpy._core.numeric._frombuffer", "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray",
            "numpy.matrixlib.defmatrix.matrix", "numpy.matrix", "numpy.core.records.recarray", "numpy._core.records.recarray",
            "numpy.core.records.record", "numpy._core.records.record",
            "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
            "numpy.random._pickle.__generator_ctor", "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
            "numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64", "numpy.random._pcg64.PCG64DXSM",
            "numpy.random._philox.Philox", "numpy.random._sfc64.SFC64", "numpy.random.bit_generator.SeedSequence",
        ];
        foreach (var n in names) yield return n;
        string[] scalars =
        [
            "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool_",
            "bool", "complex64", "complex128", "str_", "bytes_", "object_", "longlong", "ulonglong", "intc", "uintc", "half",
            "single", "double", "longdouble", "clongdouble", "datetime64", "timedelta64", "void", "intp", "uintp",
        ];
        foreach (var s in scalars) yield return "numpy." + s;
    }

    /// <summary>scikit-learn / joblib extras that are exact names (classes are matched by pattern in the policy).</summary>
    public static readonly string[] SklearnExact =
    [
        "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
        "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    ];

    /// <summary>sklearn module segments whose classes are not model state (test helpers, vendored loaders, call wrappers).</summary>
    public static readonly string[] SklearnExcludedSegments = ["externals", "_testing", "tests", "conftest", "parallel", "_joblib", "fixes"];

    /// <summary>transformers / accelerate / TRL / PEFT training-argument objects (training_args.bin) and their enums.</summary>
    public static readonly string[] Transformers =
    [
        "transformers.training_args.TrainingArguments", "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
        "transformers.training_args_tf.TFTrainingArguments", "transformers.training_args.OptimizerNames",
        "transformers.training_args.ParallelMode", "transformers.trainer_utils.IntervalStrategy",
        "transformers.trainer_utils.SchedulerType", "transformers.trainer_utils.HubStrategy", "transformers.trainer_utils.SaveStrategy",
        "transformers.trainer_utils.EvaluationStrategy", "transformers.trainer_utils.FSDPOption",
        "transformers.trainer_utils.ShardedDDPOption", "transformers.debug_utils.DebugOption",
        "transformers.trainer_pt_utils.AcceleratorConfig", "transformers.utils.generic.PaddingStrategy",
        "transformers.utils.generic.TensorType", "transformers.generation.configuration_utils.GenerationConfig",
        "transformers.generation.configuration_utils.GenerationMode",
        "accelerate.utils.dataclasses.DistributedType", "accelerate.utils.dataclasses.DynamoBackend",
        "accelerate.utils.dataclasses.PrecisionType", "accelerate.utils.dataclasses.RNGType",
        "accelerate.utils.dataclasses.GradientAccumulationPlugin",
        "trl.trainer.sft_config.SFTConfig", "trl.trainer.dpo_config.DPOConfig", "trl.trainer.grpo_config.GRPOConfig",
        "trl.trainer.reward_config.RewardConfig", "trl.trainer.orpo_config.ORPOConfig", "trl.trainer.kto_config.KTOConfig",
        "trl.trainer.ppo_config.PPOConfig", "trl.trainer.cpo_config.CPOConfig", "trl.trainer.dpo_config.FDivergenceType",
        "peft.utils.peft_types.TaskType", "peft.utils.peft_types.PeftType",
    ];

    // ---------------------------------------------------------------------------------------------- deny-list

    /// <summary>
    /// Known-dangerous names by category. An entry matches a dotted path that starts with it on segment
    /// boundaries (an entry naming a module covers everything in it). Entries marked with a leading '*' also
    /// match deeper in a path (<c>posixpath.os.system</c>, <c>torch.serialization.pickle.loads</c>): modules
    /// re-export the modules they import, so reaching them through another module is the same call.
    /// </summary>
    public static readonly (string Category, string[] Entries)[] Dangerous =
    [
        ("process-execution",
        [
            "*os", "*subprocess", "*_posixsubprocess", "*pty", "asyncio.subprocess", "asyncio.create_subprocess_exec",
            "asyncio.create_subprocess_shell", "asyncio.base_events.BaseEventLoop.subprocess_exec",
            "multiprocessing", "concurrent.futures", "_winapi", "_subprocess", "uuid._get_command_stdout", "uuid._popen",
            "_osx_support", "_aix_support", "platform", "pydoc", "mailcap", "pipes", "distutils.spawn", "torch.utils.collect_env",
            "sh", "plumbum", "pexpect", "fabric", "invoke",
        ]),
        ("code-execution",
        [
            "builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__", "builtins.breakpoint",
            "builtins.execfile", "builtins.apply", "builtins.reload", "builtins.input", "builtins.help", "builtins.__build_class__",
            "builtins.type", "*runpy", "*importlib", "imp", "pkgutil", "zipimport", "*code", "*codeop", "types", "*marshal",
            "timeit", "trace", "profile", "cProfile", "pdb", "bdb", "doctest", "idlelib", "IPython", "logging.config",
            "atexit", "weakref.finalize", "_thread", "_dummy_thread", "threading._start_new_thread", "pkg_resources",
            "torch.jit", "torch._dynamo", "torch._inductor", "torch.fx", "torch.package", "torch.compile", "torch.hub",
            "torch._C._jit_script_compile", "torch.library", "torch.utils.data.datapipes",
            "numpy.testing", "numpy.f2py", "numpy.distutils", "jinja2", "mako", "IPython", "lib2to3", "torch.utils.bottleneck",
        ]),
        ("attribute-access",
        [
            "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.super", "builtins.property",
            "builtins.classmethod", "builtins.staticmethod", "operator.attrgetter", "operator.methodcaller",
            "operator.itemgetter", "operator.call", "functools.partial", "functools.partialmethod", "functools.reduce",
            "inspect", "copyreg.dispatch_table",
        ]),
        ("interpreter-state",
        [
            "*sys", "builtins.globals", "builtins.locals", "builtins.vars", "builtins.exit", "builtins.quit", "gc", "site",
            "sysconfig", "faulthandler",
        ]),
        ("file-access",
        [
            "builtins.open", "builtins.file", "io", "*shutil", "tempfile", "glob", "fileinput", "linecache", "codecs.open",
            "tarfile", "zipfile", "dbm", "sqlite3", "mmap", "torch.save", "torch.serialization.save", "torch.from_file",
            "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt", "numpy.fromfile", "numpy.memmap",
            "numpy.loadtxt", "numpy.genfromtxt", "numpy.lib.format.open_memmap", "pathlib.Path.write_text",
            "pathlib.Path.write_bytes", "pathlib.Path.unlink", "pathlib.Path.open",
        ]),
        ("network-access",
        [
            "*socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib",
            "imaplib", "poplib", "nntplib", "xmlrpc", "socketserver", "webbrowser", "antigravity", "asyncio", "paramiko",
            "torch.distributed", "torch.utils.model_zoo", "huggingface_hub", "keras.utils.get_file", "tensorflow.keras.utils.get_file",
        ]),
        ("native-code",
        [
            "*ctypes", "cffi", "torch.ops", "torch._ops", "torch.classes", "torch._classes", "torch.utils.cpp_extension",
            "numpy.ctypeslib",
        ]),
        ("nested-deserialization",
        [
            "*pickle", "shelve", "*dill", "*cloudpickle", "joblib.load", "joblib.numpy_pickle.load", "torch.load",
            "torch.serialization.load", "torch.serialization._load", "torch.serialization._legacy_load",
            "torch.storage._load_from_bytes", "numpy.load", "numpy.loads", "numpy.lib.npyio.load", "numpy.lib.format.read_array",
            "pandas.read_pickle", "pandas.io.pickle", "yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all",
            "yaml.unsafe_load_all", "yaml.UnsafeLoader", "yaml.Loader", "yaml.FullLoader", "jsonpickle",
            "keras.models.load_model", "keras.saving.load_model", "tensorflow.keras.models.load_model",
        ]),
        ("package-install", ["pip", "setuptools", "distutils", "ensurepip", "venv"]),
    ];

    /// <summary>Paths under a dangerous module that are not themselves dangerous (they stay "unknown").</summary>
    public static readonly string[] NotDangerous = ["os.path", "io.BytesIO", "io.StringIO"];

    /// <summary>Dunder attributes that reach interpreter internals when they appear inside a qualified name.</summary>
    public static readonly HashSet<string> EscapeDunders = new(StringComparer.Ordinal)
    {
        "__class__", "__mro__", "__base__", "__bases__", "__subclasses__", "__globals__", "__builtins__", "__import__",
        "__init__", "__dict__", "__getattribute__", "__getattr__", "__code__", "__closure__", "__func__", "__self__",
        "__reduce__", "__reduce_ex__", "__loader__", "__spec__", "__module__", "__call__", "__new__", "__setattr__",
        "__delattr__", "__getitem__", "__setstate__", "__wrapped__", "__defaults__", "__kwdefaults__", "__qualname__",
        "__name__", "__doc__", "__file__", "__path__", "__package__", "__annotations__", "__objclass__", "__set_name__",
    };
}
