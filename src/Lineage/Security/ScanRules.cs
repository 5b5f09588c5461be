namespace Lineage.Security;

/// <summary>
/// A rule the scanner can report: a stable id (never renamed or reused), a short kebab-case name, the severity a
/// finding gets unless the analyzer has a reason to raise or lower it, and the text a SARIF viewer shows.
/// <see cref="Integrity"/> rules say the scan itself is incomplete (unreadable, unparseable, unanalysed): they
/// make the run fail closed through the file status rather than through <c>--fail-on</c>.
/// </summary>
public sealed record RuleDescriptor(string Id, string Name, Severity DefaultSeverity, string Summary, string Help, bool Integrity = false);

/// <summary>
/// Every rule id the scanner uses, in one place (docs/scanner-rules.md documents each one). Scheme:
/// <c>LIN-AREA-NNN</c> with AREA one of SCAN (the scan itself), PKL (pickles), ARC (archives: zip, tar, 7z),
/// NPY (NumPy), JINJA (chat templates), KERAS, ST (safetensors), ONNX, TF (TensorFlow graphs), META (payloads in
/// free-form metadata strings), CFG (configs and manifests).
/// </summary>
public static class ScanRules
{
    // --- the scan itself ---------------------------------------------------------------------------------------
    public static readonly RuleDescriptor Unparseable = new("LIN-SCAN-001", "unparseable-file", Severity.High,
        "The file could not be parsed",
        "The bytes do not form a valid file of the detected format, or break a structural limit. A loader may still accept them, so the file is not clean: the run fails closed (exit 2).",
        Integrity: true);

    public static readonly RuleDescriptor Unreadable = new("LIN-SCAN-002", "unreadable-path", Severity.High,
        "The path could not be read",
        "The path does not exist, or the file cannot be opened. The run fails closed (exit 2).",
        Integrity: true);

    public static readonly RuleDescriptor NoAnalyzer = new("LIN-SCAN-003", "format-not-analyzed", Severity.Medium,
        "No analyzer for this format yet",
        "The format was recognised from the content but no analyzer is registered for it, so nothing is known about its safety. The file is reported as unanalysed, never as clean, and the run fails closed (exit 2).",
        Integrity: true);

    public static readonly RuleDescriptor SymlinkEscapes = new("LIN-SCAN-004", "symlink-outside-root", Severity.Medium,
        "A symbolic link points outside the scanned folder",
        "Symbolic links are never followed out of the folder given on the command line: a model folder whose files link elsewhere can make a loader read files the reviewer never saw. Scan the link target explicitly if it is meant to be part of the model.");

    public static readonly RuleDescriptor UnrecognisedContent = new("LIN-SCAN-005", "unrecognised-model-content", Severity.High,
        "A model-file name holds content of no known format",
        "The file name says it holds weights or a serialized object (.bin, .pt, .pkl, .h5, …) but its bytes match no format the scanner knows. Loaders may still accept it, so the file is not clean (exit 2).",
        Integrity: true);

    public static readonly RuleDescriptor LimitExceeded = new("LIN-SCAN-006", "analysis-limit-exceeded", Severity.High,
        "An analysis limit was exceeded",
        "The file is larger or deeper than an analyzer is willing to process (size, nesting, token count). What was not analysed is not clean (exit 2).",
        Integrity: true);

    public static readonly RuleDescriptor NothingScannable = new("LIN-SCAN-007", "nothing-scannable", Severity.Info,
        "Nothing scannable under this path",
        "The path holds only files that carry no code or model data (text, images, empty files) or links that were not followed. When every path is like this the run exits 3.");

    public static readonly RuleDescriptor PythonSource = new("LIN-SCAN-008", "python-source-file", Severity.Low,
        "Python source shipped with the model",
        "Python files in a model folder run when a loader is asked to trust remote code (transformers trust_remote_code=True, custom pipelines). Review them before enabling that.");

    // --- pickle callables (used by the pickle analyzer through CallablePolicy) ---------------------------------
    public static readonly RuleDescriptor DangerousCallable = new("LIN-PKL-001", "dangerous-callable", Severity.Critical,
        "The pickle references a known-dangerous callable",
        "Unpickling resolves and may call this global: process execution, code execution, attribute access primitives, file or network access, nested deserialization. Never load this file with pickle, torch.load(weights_only=False) or joblib.");

    public static readonly RuleDescriptor UnknownCallable = new("LIN-PKL-002", "unknown-callable", Severity.High,
        "The pickle references a callable outside the allow-list",
        "The scanner allows only callables known to be safe for the selected profiles (PyTorch state dicts, NumPy arrays, scikit-learn estimators, transformers training arguments, builtin containers). Anything else could run code when loaded; the finding fails CI at the default threshold. Widen --profile only if the named library is trusted.");

    public static readonly RuleDescriptor NonCanonicalCallable = new("LIN-PKL-003", "non-canonical-callable-name", Severity.High,
        "A callable name is not a canonical Python dotted name",
        "Module or attribute names with whitespace, control characters, non-ASCII lookalike letters, empty segments or dunder traversal are how deny-lists are bypassed. The name is reported as suspicious; it is critical when its normalised spelling is a dangerous callable.");

    public static readonly RuleDescriptor IndirectCall = new("LIN-PKL-004", "indirect-call", Severity.High,
        "The pickle calls something that is not a named global",
        "REDUCE/NEWOBJ applied to the result of another call (getattr(module, name)(…), a loader's return value), to a persistent object or to a value fetched from the memo. Such chains are how allow-lists that only look at GLOBAL opcodes are bypassed; state dicts never need them. The evidence shows the decompiled chain and, where it can be resolved statically, the callable it reaches.");

    public static readonly RuleDescriptor StateTampering = new("LIN-PKL-005", "state-tampering", Severity.High,
        "BUILD or item assignment changes Python internals",
        "BUILD with a state that sets dunder attributes (__setstate__, __reduce__, __class__, __dict__ …) lets a second BUILD call any function (the __setstate__ overwrite trick); BUILD, SETITEM or APPEND applied to a module, class or function (a global) instead of an object the pickle built mutates the interpreter. Critical when __setstate__ is overwritten.");

    public static readonly RuleDescriptor ExtensionCode = new("LIN-PKL-006", "extension-code", Severity.High,
        "The pickle uses a copyreg extension code",
        "EXT1/EXT2/EXT4 import whatever (module, name) the loading process registered under the code with copyreg.add_extension. Nothing in the file says what that is; no standard library or ML framework writes such codes.");

    public static readonly RuleDescriptor ComputedGlobal = new("LIN-PKL-007", "computed-global", Severity.High,
        "STACK_GLOBAL imports a name computed at load time",
        "The module or attribute name handed to STACK_GLOBAL is not a string constant (the result of a call, a persistent object …), so what gets imported is decided when the file is loaded. Scanners that only read constant names miss it.");

    public static readonly RuleDescriptor NestedPickle = new("LIN-PKL-008", "nested-pickle", Severity.Info,
        "The pickle carries another pickle",
        "Pickle bytes inside a pickle: passed to a deserializer (pickle.loads, dill, joblib, torch.load …) or stored as data (raw, base64 or hex) that a consumer may unpickle. The embedded stream is decoded and scanned recursively (depth-limited); its findings are reported with their own rules under an entry that says where it was found.");

    public static readonly RuleDescriptor StreamAnomaly = new("LIN-PKL-009", "pickle-stream-anomaly", Severity.Info,
        "The pickle stream has an unusual structure",
        "Several pickles back to back (only legacy torch files do this), bytes after STOP, opcodes newer than the declared protocol, memo overwrites, a non-empty stack at STOP. Loaders accept these, and they are how content is hidden from tools that stop at the first STOP; every stream is scanned.");

    // --- archives ------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor ArchivePathTraversal = new("LIN-ARC-001", "archive-path-traversal", Severity.High,
        "An archive member name escapes the extraction folder",
        "Absolute paths, drive letters, '..' components, NUL bytes or backslashes in member names (zip, tar, 7z) write outside the target folder when the archive is extracted (zip slip).");

    public static readonly RuleDescriptor ArchiveLink = new("LIN-ARC-002", "archive-link", Severity.High,
        "An archive member is a symbolic or hard link",
        "Links inside archives make an extracted model read or overwrite files outside its folder. Link members are reported and never followed.");

    public static readonly RuleDescriptor ArchiveAmbiguous = new("LIN-ARC-003", "archive-ambiguous-member", Severity.High,
        "Readers of this archive can disagree on a member's content",
        "Duplicate names, a local header whose name or method differs from the central directory, overlapping member data, local headers the directory does not list. A scanner and a loader can then read different bytes under the same name; every variant the scanner can locate is scanned.");

    public static readonly RuleDescriptor ArchiveIntegrity = new("LIN-ARC-004", "archive-integrity-quirk", Severity.Medium,
        "The archive has a CRC, size, flag or directory quirk",
        "CRC mismatches, sizes that disagree between headers, unknown flag bits, a damaged or missing central directory. Some loaders ignore these, others refuse the file; either way the file was altered after it was written or was written to confuse readers.");

    public static readonly RuleDescriptor ArchivePolyglot = new("LIN-ARC-005", "archive-polyglot", Severity.Medium,
        "The archive carries data outside its members",
        "Bytes before the first member (a file that is also another format), gaps between members, data after the end record. Loaders skip it; other tools may read it as something else.");

    public static readonly RuleDescriptor ArchiveSpecialMember = new("LIN-ARC-006", "archive-special-member", Severity.Medium,
        "An archive member is a device, FIFO or other special file",
        "Model archives hold regular files and folders only; extracting special files can block or touch devices.");

    // --- NumPy ---------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor NumpyObjectArray = new("LIN-NPY-001", "numpy-object-array", Severity.Low,
        "A NumPy array holds Python objects (a pickle)",
        "Object arrays are stored as a pickle and load only with allow_pickle=True. The pickle is scanned like any other; this finding says the opt-in is needed.");

    // --- ONNX ----------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor OnnxExternalEscape = new("LIN-ONNX-001", "onnx-external-data-escape", Severity.High,
        "An ONNX external-data path leaves the model folder",
        "external_data locations that are absolute, contain '..', or resolve through a symbolic link outside the folder make the runtime read arbitrary files (and leak them through model outputs).");

    public static readonly RuleDescriptor OnnxCustomDomain = new("LIN-ONNX-002", "onnx-custom-operator-domain", Severity.Medium,
        "The ONNX graph uses custom operator domains",
        "Operators outside the standard ai.onnx domains need a custom-op library that the runtime loads as native code. ONNX Runtime's own contrib domains (com.microsoft …) are informational; any other domain is medium.");

    public static readonly RuleDescriptor OnnxPythonOp = new("LIN-ONNX-003", "onnx-python-operator", Severity.High,
        "The ONNX graph calls Python operators",
        "PyOp/PyFunc nodes (onnxruntime-extensions) call back into Python functions registered in the loading process.");

    // --- TensorFlow ----------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor TfPythonOp = new("LIN-TF-001", "tf-python-callback-op", Severity.Critical,
        "The TensorFlow graph calls back into Python",
        "PyFunc, PyFuncStateless and EagerPyFunc run a Python function when the graph executes: arbitrary code.");

    public static readonly RuleDescriptor TfFileOp = new("LIN-TF-002", "tf-file-or-system-op", Severity.High,
        "The TensorFlow graph reads or writes files or talks to other systems",
        "ReadFile, WriteFile, MatchingFiles, ImmutableConst (memory-maps a file), DebugIdentity (writes to files or gRPC), file readers and writers, summary writers, SQL and dataset savers act on the host when the graph runs. Checkpoint save/restore ops that every SavedModel carries are not reported.");

    public static readonly RuleDescriptor TfSuspiciousOp = new("LIN-TF-003", "tf-suspicious-op-name", Severity.Medium,
        "A TensorFlow op name suggests file, process or network access",
        "Op types whose names mention files, shells, processes, sockets, URLs or downloads are not part of the known-safe set; a custom op needs a native library to run.");

    // --- Jinja chat templates ------------------------------------------------------------------------------------
    public static readonly RuleDescriptor JinjaDunder = new("LIN-JINJA-001", "template-sandbox-escape", Severity.Critical,
        "The template accesses Python internals (dunder attributes)",
        "Attribute or item access to __class__, __mro__, __subclasses__, __globals__, __builtins__, __init__, __import__ and similar is the first step of every Jinja2 sandbox escape (CVE-2024-34359). Real chat templates never need it.");

    public static readonly RuleDescriptor JinjaPrivateAttribute = new("LIN-JINJA-002", "template-private-attribute", Severity.High,
        "The template accesses a private attribute",
        "Attributes starting with '_' are refused by the Jinja2 sandbox and have no use in a chat template; escapes use them (catch_warnings()._module).");

    public static readonly RuleDescriptor JinjaDangerousName = new("LIN-JINJA-003", "template-dangerous-name", Severity.High,
        "The template names a dangerous Python object",
        "Attribute, item or call names such as os, subprocess, popen, system, eval, exec, __import__, getattr, open or environ reach process or code execution once a sandbox escape succeeds.");

    public static readonly RuleDescriptor JinjaRiskyGlobal = new("LIN-JINJA-004", "template-risky-global", Severity.Medium,
        "The template uses a global that exposes Python objects",
        "Attribute or item lookups on cycler, joiner, lipsum, self, config, request, url_for, session or g: these objects are the usual footholds of escapes (their methods carry __globals__). Calling joiner(\", \") as documented is not reported.");

    public static readonly RuleDescriptor JinjaObfuscatedName = new("LIN-JINJA-005", "template-obfuscated-name", Severity.Critical,
        "The template builds a forbidden name from pieces",
        "A constant expression (concatenation, ~, |join, |format, %-formatting, character codes, |reverse, |replace, escapes) evaluates to a dunder or dangerous name. Building names this way only serves to evade filters.");

    public static readonly RuleDescriptor JinjaDynamicAttribute = new("LIN-JINJA-006", "template-dynamic-attribute", Severity.High,
        "The template looks up an attribute by a computed name",
        "|attr(x), getattr(obj, x) or attribute=x with a name the scanner cannot evaluate can reach any attribute, including dunders.");

    public static readonly RuleDescriptor JinjaEscapedLiteral = new("LIN-JINJA-007", "template-escaped-identifier", Severity.Medium,
        "A string literal spells identifier characters with escapes",
        "\\x5f, \\u005f, \\137 and \\N{…} escapes that decode to letters, digits or '_' hide names from text filters; real templates use escapes only for control characters.");

    public static readonly RuleDescriptor JinjaCodePayload = new("LIN-JINJA-008", "template-code-payload", Severity.High,
        "A string literal carries Python code or an encoded payload",
        "Strings such as \"__import__('os').system(…)\" or base64 that decodes to code are payloads waiting for an eval reached by an escape.");

    public static readonly RuleDescriptor JinjaSyntax = new("LIN-JINJA-009", "template-syntax-error", Severity.Low,
        "The template does not parse",
        "Jinja2 would refuse to compile this template, so it cannot run as written; everything that could be lexed was still analysed. Other template engines (minja, llama.cpp) may be more lenient.");

    public static readonly RuleDescriptor JinjaLarge = new("LIN-JINJA-010", "template-unusually-large", Severity.Info,
        "The template is unusually large",
        "Real chat templates are a few kilobytes; very large ones hide content from review. Size alone is not a risk.");

    public static readonly RuleDescriptor JinjaLoadsTemplates = new("LIN-JINJA-011", "template-loads-templates", Severity.Medium,
        "The template includes, imports or extends other templates",
        "include/import/extends/from pull template source from a loader; a chat template has none, so these only make sense to probe the host.");

    // --- Keras ------------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor KerasLambda = new("LIN-KERAS-001", "keras-lambda-layer", Severity.Critical,
        "The Keras model contains a Lambda layer with serialized Python code",
        "Lambda layers store Python bytecode (marshal, base64) or source that runs when the model is loaded with safe_mode=False or by older Keras versions. The code is decoded for its size and never unmarshalled.");

    public static readonly RuleDescriptor KerasModuleReference = new("LIN-KERAS-002", "keras-non-keras-reference", Severity.High,
        "The Keras config references an object outside the Keras modules",
        "module/registered_name/function references are resolved by importing the named module. Anything outside the allow-listed Keras modules can run code on load; known-dangerous modules are critical.");

    public static readonly RuleDescriptor KerasCustomObject = new("LIN-KERAS-003", "keras-custom-object", Severity.Medium,
        "The Keras config uses a custom object",
        "A layer, loss, metric or function registered outside Keras needs user code (custom_objects) to load. Review that code.");

    public static readonly RuleDescriptor KerasRiskyOp = new("LIN-KERAS-004", "keras-risky-tf-op", Severity.High,
        "A TFOpLambda layer calls a risky TensorFlow operation",
        "tf.io file operations, py_function/numpy_function and raw_ops read or write files or call Python when the model runs.");

    // --- safetensors ------------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor SafetensorsHeader = new("LIN-ST-001", "safetensors-header-invalid", Severity.High,
        "The safetensors header is invalid",
        "Header length over the cap, invalid JSON, duplicate keys, overlapping or out-of-range offsets, holes or trailing bytes. Lenient readers disagree on such files, which is how content is hidden from one tool and seen by another.",
        Integrity: true);

    // --- payloads in free-form metadata strings ------------------------------------------------------------------------
    public static readonly RuleDescriptor MetaCode = new("LIN-META-001", "metadata-code", Severity.High,
        "Metadata holds Python code",
        "Import statements, eval/exec, os.system, subprocess calls: metadata is never code, and tools that eval it run the payload.");

    public static readonly RuleDescriptor MetaShell = new("LIN-META-002", "metadata-shell-command", Severity.High,
        "Metadata holds a shell command",
        "rm -rf, curl/wget downloads, chmod, pipes into sh: a hook waiting for a careless deployment script.");

    public static readonly RuleDescriptor MetaScript = new("LIN-META-003", "metadata-script-injection", Severity.Medium,
        "Metadata holds HTML or JavaScript",
        "<script>, javascript: URLs and event handlers target the web pages (model hubs, dashboards) that display metadata. High when the script reads cookies, sends data away (fetch, XMLHttpRequest, beacons) or redirects the viewer.");

    public static readonly RuleDescriptor MetaEncoded = new("LIN-META-004", "metadata-encoded-payload", Severity.Medium,
        "Metadata holds an encoded or serialized blob",
        "Escape-sequence text, base64 or hex that decodes to code, or pickle bytes. High when the decoded bytes are code or a pickle.");

    public static readonly RuleDescriptor MetaUrl = new("LIN-META-005", "metadata-url", Severity.Low,
        "Metadata holds a URL",
        "URLs in weight-file metadata are not loaded by any standard loader but may be fetched by tooling; check where they point.");

    public static readonly RuleDescriptor MetaSecret = new("LIN-META-006", "metadata-credential", Severity.Low,
        "Metadata holds something that looks like a credential",
        "API keys and tokens shipped with a model are leaked secrets or bait.");

    // --- configs and manifests ----------------------------------------------------------------------------------------------
    public static readonly RuleDescriptor RemoteCode = new("LIN-CFG-001", "config-remote-code", Severity.Medium,
        "The config requires remote code",
        "auto_map (transformers) names classes in Python files that run when the model is loaded with trust_remote_code=True. High when the code lives in another repository (\"org/repo--module.Class\") than the one reviewed.");

    public static readonly RuleDescriptor TrustRemoteCode = new("LIN-CFG-002", "config-trust-remote-code", Severity.Medium,
        "The config enables trust_remote_code",
        "A config that turns trust_remote_code on asks every consumer to run the repository's Python code.");

    public static readonly RuleDescriptor CustomPipeline = new("LIN-CFG-003", "config-custom-code-reference", Severity.Medium,
        "The config references custom code",
        "custom_pipelines, diffusers components from non-standard libraries, or class paths into local modules load Python code from the repository.");

    /// <summary>Every rule, in id order.</summary>
    public static IReadOnlyList<RuleDescriptor> All { get; } =
    [
        Unparseable, Unreadable, NoAnalyzer, SymlinkEscapes, UnrecognisedContent, LimitExceeded, NothingScannable, PythonSource,
        DangerousCallable, UnknownCallable, NonCanonicalCallable, IndirectCall, StateTampering, ExtensionCode, ComputedGlobal, NestedPickle, StreamAnomaly,
        ArchivePathTraversal, ArchiveLink, ArchiveAmbiguous, ArchiveIntegrity, ArchivePolyglot, ArchiveSpecialMember,
        NumpyObjectArray, OnnxExternalEscape, OnnxCustomDomain, OnnxPythonOp, TfPythonOp, TfFileOp, TfSuspiciousOp,
        JinjaDunder, JinjaPrivateAttribute, JinjaDangerousName, JinjaRiskyGlobal, JinjaObfuscatedName, JinjaDynamicAttribute,
        JinjaEscapedLiteral, JinjaCodePayload, JinjaSyntax, JinjaLarge, JinjaLoadsTemplates,
        KerasLambda, KerasModuleReference, KerasCustomObject, KerasRiskyOp,
        SafetensorsHeader,
        MetaCode, MetaShell, MetaScript, MetaEncoded, MetaUrl, MetaSecret,
        RemoteCode, TrustRemoteCode, CustomPipeline,
    ];

    private static readonly Dictionary<string, RuleDescriptor> ById = All.ToDictionary(r => r.Id, StringComparer.Ordinal);

    /// <summary>The rule with this id, or null for an id registered elsewhere (a plug-in analyzer's own rules).</summary>
    public static RuleDescriptor? Find(string id) => ById.GetValueOrDefault(id);

    /// <summary>True for rules that mean "the scan is incomplete" rather than "something bad was found".</summary>
    public static bool IsIntegrityRule(string id) => Find(id)?.Integrity ?? false;
}
