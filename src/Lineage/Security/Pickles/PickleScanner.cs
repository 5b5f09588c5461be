using System.Globalization;
using System.Text;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.Security.Metadata;
using Lineage.Security.Policy;

namespace Lineage.Security.Pickles;

/// <summary>What scanning a pickle source found, for container analyzers that need more than findings.</summary>
internal sealed class PickleScanOutcome
{
    public List<PickleResult> Streams { get; } = [];

    /// <summary>Storage keys named by torch persistent ids (<c>('storage', type, key, location, numel)</c>).</summary>
    public HashSet<string> StorageKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>True when the first streams are the legacy torch header (magic number, protocol, sys_info).</summary>
    public bool LegacyTorch { get; set; }

    /// <summary>True when every stream parsed to its STOP.</summary>
    public bool Completed => Streams.Count > 0 && Streams.All(s => s.Completed);
}

/// <summary>
/// Runs the symbolic <see cref="PickleMachine"/> over a source and turns what it saw into findings: every global
/// through the <see cref="CallablePolicy"/> (allow-list; dangerous names named; unknown names fail CI), every call
/// whose callable is not a named global, state tampering (BUILD setting dunders, mutations of globals), copyreg
/// extension codes, computed STACK_GLOBAL operands, string payloads, and pickles nested in pickles (bytes passed to
/// pickle.loads and friends, decoded symbolically from base64/hex/zlib literals, or merely stored as data), which
/// are scanned recursively with depth limits. Streams back to back are all scanned (legacy torch files, hidden
/// second pickles). A parse error fails the file closed, and everything seen before it is still reported.
/// </summary>
internal sealed class PickleScanner
{
    /// <summary>Callables that deserialize their first argument (bytes or a file object over bytes).</summary>
    private static readonly HashSet<string> Loaders = new(StringComparer.Ordinal)
    {
        "pickle.loads", "pickle._loads", "pickle.load", "pickle._load", "pickle.Unpickler", "pickle._Unpickler", "_pickle.loads",
        "_pickle.load", "cPickle.loads", "cPickle.load", "dill.loads", "dill.load", "dill._dill.loads", "dill._dill.load",
        "cloudpickle.loads", "cloudpickle.load", "cloudpickle.cloudpickle.loads", "joblib.load", "joblib.numpy_pickle.load",
        "torch.load", "torch.serialization.load", "torch.storage._load_from_bytes", "numpy.loads", "numpy.load",
        "pandas.read_pickle", "pandas.io.pickle.read_pickle", "shelve.Unpickler", "copyreg._reconstructor",
    };

    private static readonly HashSet<string> JoblibWrappers = new(StringComparer.Ordinal)
    {
        "joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    };

    private const string LoadFromBytes = "torch.storage._load_from_bytes";
    private const int MaxVisits = 2_000_000;
    private const int MaxStringsInspected = 20_000;
    private const int MaxPayloadFindings = 50;
    private const int EvidenceChars = 400;

    private readonly ScanContext _context;
    private readonly IByteSource _source;
    private readonly CallablePolicy _policy;
    private const int MaxInlineDepth = 8;
    private int _embedded;
    private int _payloadFindings;
    private int _inlineDepth;

    private PickleScanner(IByteSource source, ScanContext context)
    {
        _source = source;
        _context = context;
        _policy = context.Policy;
    }

    /// <summary>
    /// Scans the pickle at <paramref name="offset"/> and, when <paramref name="multiple"/>, every pickle that follows
    /// it back to back. Findings go to <paramref name="context"/>; a parse error is reported (fail closed) and ends the run.
    /// </summary>
    public static PickleScanOutcome ScanStreams(IByteSource source, long offset, ScanContext context, bool multiple = true)
    {
        var scanner = new PickleScanner(source, context);
        var outcome = new PickleScanOutcome();
        long position = offset;
        int max = context.Options.MaxPickleStreams;
        while (position < source.Length)
        {
            var result = scanner.RunOne(position, label: outcome.Streams.Count == 0 ? null : $"pickle {outcome.Streams.Count + 1} at byte {position}", outcome);
            outcome.Streams.Add(result);
            if (!result.Completed) break;
            if (outcome.Streams.Count == 1 && result.Root is PickleInt magic && magic.Value == Formats.PyTorch.TorchStateDict.LegacyMagic && result.Globals.Count == 0)
                outcome.LegacyTorch = true;
            position = result.EndOffset;
            // Legacy torch: magic, protocol, sys_info, object, storage keys; raw storages follow and are never unpickled.
            if (outcome.LegacyTorch && outcome.Streams.Count == 5) break;
            if (position >= source.Length) break;
            if (!multiple) break;
            if (!StartsPickle(source, position))
            {
                if (!outcome.LegacyTorch)
                    context.Report(ScanRules.StreamAnomaly, $"{source.Length - position} bytes follow the last pickle (pickle.load ignores them)", position);
                break;
            }
            if (outcome.Streams.Count >= max)
            {
                context.ReportError(ScanRules.LimitExceeded, $"more than {max} pickles back to back; the rest of the stream was not scanned", position);
                break;
            }
        }
        if (outcome.Streams.Count > 1 && !outcome.LegacyTorch)
            context.Report(ScanRules.StreamAnomaly, $"{outcome.Streams.Count} pickles back to back: a loader that calls pickle.load repeatedly runs them all (every one was scanned)", offset);
        return outcome;
    }

    /// <summary>True when the bytes at <paramref name="offset"/> plausibly start another pickle.</summary>
    private static bool StartsPickle(IByteSource source, long offset)
    {
        int n = (int)Math.Min(Formats.FormatDetector.HeadLength, source.Length - offset);
        if (n <= 0) return false;
        var head = new byte[n];
        source.ReadExactly(offset, head);
        return head[0] != (byte)'.' && PickleSniffer.IsPlausible(head, source.Length - offset);
    }

    private PickleResult RunOne(long offset, string? label, PickleScanOutcome? outcome)
    {
        var joblib = new JoblibInline(this, label);
        var result = PickleMachine.Run(_source, offset, _context.Options.PickleLimits, label, joblib.Read);
        Evaluate(result, label, outcome);
        return result;
    }

    // ------------------------------------------------------------------------------------------ evaluation

    private void Evaluate(PickleResult result, string? label, PickleScanOutcome? outcome)
    {
        var usedAsCallable = new Dictionary<PickleValue, PickleEvent>(ReferenceEqualityComparer.Instance);
        foreach (var e in result.Events)
            if (e.IsCall && e.Target is not null) usedAsCallable.TryAdd(e.Target, e);

        _context.AddProgram(label, result.StartOffset, result.Decompile(64 * 1024));
        var consumed = new HashSet<PickleValue>(ReferenceEqualityComparer.Instance);
        var cleared = new HashSet<PickleGlobal>(ReferenceEqualityComparer.Instance);
        EvaluateEvents(result, label, usedAsCallable, consumed, cleared, outcome);
        EvaluateGlobals(result, label, usedAsCallable, cleared);
        ReportNotes(result, label);
        InspectData(result, label, consumed);
        if (result.Error is { } error)
        {
            string where = label is null ? "" : $"{label}: ";
            var rule = error is LimitExceededException ? ScanRules.LimitExceeded : ScanRules.Unparseable;
            _context.ReportError(rule, $"{where}pickle {(rule == ScanRules.LimitExceeded ? "analysis stopped" : "does not parse")}: {error.Message}" +
                (result.Globals.Count + result.Events.Count > 0 ? $" ({result.Globals.Count} globals and {result.Events.Count} calls before it were analysed)" : ""),
                error.Offset, label);
        }
    }

    private void EvaluateGlobals(PickleResult result, string? label, Dictionary<PickleValue, PickleEvent> usedAsCallable, HashSet<PickleGlobal> cleared)
    {
        var seen = new Dictionary<string, (Finding Finding, int Count)>(StringComparer.Ordinal);
        foreach (var g in result.Globals)
        {
            Finding? finding;
            string key;
            if (g.Source == PickleGlobalSource.Extension)
            {
                key = "ext:" + g.ExtensionCode;
                finding = Finding.Of(ScanRules.ExtensionCode, $"extension code {g.ExtensionCode} ({PickleOpcodes.Name((byte)(g.ExtensionCode <= 0xFF ? PickleOpcode.Ext1 : g.ExtensionCode <= 0xFFFF ? PickleOpcode.Ext2 : PickleOpcode.Ext4))}) imports whatever the loading process registered with copyreg.add_extension",
                    g.Offset, label, Chain(g, usedAsCallable));
            }
            else if (g.IsComputed)
            {
                key = "computed:" + g.Offset;
                string? reaches = SymbolicReach(g);
                var severity = reaches is not null && _policy.Evaluate(reaches).Verdict == CallableVerdict.Dangerous ? Severity.Critical : ScanRules.ComputedGlobal.DefaultSeverity;
                finding = new Finding(severity, ScanRules.ComputedGlobal.Id, $"STACK_GLOBAL with computed operands: {g.Computed}") { Offset = g.Offset, Entry = label, Evidence = Chain(g, usedAsCallable) };
            }
            else
            {
                if (cleared.Contains(g)) continue;
                var decision = _policy.Evaluate(g.ResolvedModule, g.ResolvedName);
                key = decision.Resolved + "|" + g.FullName;
                string shown = g.FullName == g.ResolvedFullName ? "" : $" ({g.FullName} loads {g.ResolvedFullName})";
                finding = decision.ToFinding(g.Offset, label, Chain(g, usedAsCallable));
                if (finding is not null && shown.Length > 0) finding = finding with { Message = finding.Message + shown };
            }
            if (finding is null) continue;
            if (seen.TryGetValue(key, out var known))
            {
                seen[key] = (known.Finding, known.Count + 1);
                continue;
            }
            seen[key] = (finding, 1);
        }
        foreach (var (finding, count) in seen.Values)
            _context.Report(count > 1 ? finding with { Message = $"{finding.Message} ({count} references)" } : finding);
    }

    /// <summary>For a computed STACK_GLOBAL, the name it would import when its operands can be evaluated statically.</summary>
    private static string? SymbolicReach(PickleGlobal g) =>
        g.Module.Length > 0 && g.Name.Length > 0 && PythonNames.IsCanonicalDotted(g.Module) && PythonNames.IsCanonicalDotted(g.Name) ? g.Module + "." + g.Name : null;

    private void EvaluateEvents(PickleResult result, string? label, Dictionary<PickleValue, PickleEvent> usedAsCallable,
        HashSet<PickleValue> consumed, HashSet<PickleGlobal> cleared, PickleScanOutcome? outcome)
    {
        var loadFromBytes = new Dictionary<PickleGlobal, bool>(ReferenceEqualityComparer.Instance);
        var setstateOverwritten = new HashSet<PickleValue>(ReferenceEqualityComparer.Instance);
        foreach (var e in result.Events)
        {
            switch (e.Kind)
            {
                case PickleEventKind.PersistentLoad:
                    if (outcome is not null && e.Arguments is PickleTuple { Items: [PickleString { Value: "storage" }, _, PickleString key, ..] })
                        outcome.StorageKeys.Add(key.Value);
                    break;
                case PickleEventKind.Build:
                    CheckBuild(e, label, setstateOverwritten);
                    break;
                case PickleEventKind.SetItem or PickleEventKind.Append or PickleEventKind.Extend or PickleEventKind.AddItems:
                    if (e.Target is PickleGlobal mutated)
                        _context.Report(ScanRules.StateTampering, $"{e.Kind} on {mutated.FullName}, a module-level object, changes interpreter state when the file is loaded",
                            e.Offset, label, Render(e));
                    break;
                default:
                    if (!e.IsCall) break;
                    CheckCall(e, label, usedAsCallable, consumed, loadFromBytes);
                    break;
            }
        }
        foreach (var (g, clean) in loadFromBytes)
            if (clean) cleared.Add(g);
    }

    private void CheckCall(PickleEvent e, string? label, Dictionary<PickleValue, PickleEvent> usedAsCallable, HashSet<PickleValue> consumed, Dictionary<PickleGlobal, bool> loadFromBytes)
    {
        var callable = e.Target!;
        string? callee = SymbolicValues.CalleeName(callable);
        if (callable is not PickleGlobal)
        {
            if (callable is PickleCall or PicklePersistentRef)
            {
                var reaches = callee is null ? null : _policy.Evaluate(callee);
                string what = callee is null ? "a value computed at load time" : $"{callee}";
                var severity = reaches is { Verdict: CallableVerdict.Dangerous } ? Severity.Critical : ScanRules.IndirectCall.DefaultSeverity;
                string reason = reaches is { Verdict: CallableVerdict.Dangerous } ? $" ({reaches.Category})" : reaches is { Verdict: CallableVerdict.Allowed } ? " (allowed name, reached indirectly)" : "";
                _context.Report(new Finding(severity, ScanRules.IndirectCall.Id, $"{PickleOpcodes.Name((byte)e.Opcode)} calls {what}{reason}, not a named global")
                { Offset = e.Offset, Entry = label, Evidence = Chain(e.Result ?? callable, usedAsCallable) });
            }
            else
            {
                _context.Report(ScanRules.StreamAnomaly, $"{PickleOpcodes.Name((byte)e.Opcode)} calls a {Describe(callable)}, which is not callable (loading fails here)", e.Offset, label);
            }
        }
        if (callee is null || !Loaders.Contains(Policy.CallablePolicy.Resolve(callee))) return;
        string resolved = Policy.CallablePolicy.Resolve(callee);
        if (resolved == "copyreg._reconstructor") return;
        var args = e.Result is PickleCall c ? c.ArgumentItems : [];
        var steps = new List<string>();
        byte[]? payload = null;
        if (args.Count > 0)
        {
            payload = SymbolicValues.Bytes(args[0], _context, steps);
            Consume(args[0], consumed, 0);
        }
        bool isLoadFromBytes = resolved == LoadFromBytes && callable is PickleGlobal;
        if (payload is null)
        {
            if (isLoadFromBytes) loadFromBytes[(PickleGlobal)callable] = false;
            return;
        }
        int before = CountSignificant();
        string entry = $"{callee} argument at byte {e.Offset}";
        string how = steps.Count == 0 ? "constant bytes" : $"decoded with {string.Join(" ∘ ", steps)}";
        ScanEmbedded(payload, entry, label, $"{callee} would deserialize {payload.Length} bytes ({how}); scanned as '{entry}'", e.Offset);
        if (isLoadFromBytes)
        {
            // torch.save'd storages inside old pickles: allowed when the nested checkpoint itself scans clean.
            var g = (PickleGlobal)callable;
            bool clean = CountSignificant() == before;
            loadFromBytes[g] = (!loadFromBytes.TryGetValue(g, out bool prior) || prior) && clean;
        }
    }

    /// <summary>Marks a loader argument and the values it is decoded from, so the data walk does not scan them twice.</summary>
    private static void Consume(PickleValue v, HashSet<PickleValue> consumed, int depth)
    {
        if (depth > 16 || !consumed.Add(v)) return;
        if (v is PickleCall c)
            foreach (var a in c.ArgumentItems) Consume(a, consumed, depth + 1);
        else if (v is PickleTuple t)
            foreach (var a in t.Items) Consume(a, consumed, depth + 1);
    }

    private int CountSignificant() => _context.ReportForFormat.Findings.Count(f => f.Severity >= Severity.Low);

    private void CheckBuild(PickleEvent e, string? label, HashSet<PickleValue> setstateOverwritten)
    {
        var target = e.Target!;
        if (target is PickleGlobal g)
        {
            _context.Report(ScanRules.StateTampering, $"BUILD applies state to {g.FullName}, a module-level object, not to an object the pickle built", e.Offset, label, Render(e));
            return;
        }
        var dunders = StateDunders(e.Arguments).ToList();
        if (dunders.Count > 0)
        {
            bool setstate = dunders.Contains("__setstate__");
            if (setstate) setstateOverwritten.Add(target);
            _context.Report(new Finding(setstate ? Severity.Critical : ScanRules.StateTampering.DefaultSeverity, ScanRules.StateTampering.Id,
                $"BUILD sets {string.Join(", ", dunders)} on {Describe(target)}{(setstate ? ": a later BUILD on the same object calls whatever was stored there" : "")}")
            { Offset = e.Offset, Entry = label, Evidence = Render(e) });
            return;
        }
        if (setstateOverwritten.Contains(target))
            _context.Report(new Finding(Severity.Critical, ScanRules.StateTampering.Id, $"BUILD on {Describe(target)} after its __setstate__ was overwritten calls the stored callable with this state")
            { Offset = e.Offset, Entry = label, Evidence = Render(e) });
    }

    /// <summary>Dunder keys of a BUILD state: a dict, or a (state, slotstate) pair of dicts.</summary>
    private static IEnumerable<string> StateDunders(PickleValue state)
    {
        IEnumerable<PickleValue> dicts = state is PickleTuple { Items.Count: 2 } pair ? pair.Items : [state];
        foreach (var d in dicts)
        {
            if (d is not PickleDict dict) continue;
            foreach (var (k, _) in dict.Items)
                if (k is PickleString s && PythonNames.IsDunder(s.Value)) yield return s.Value;
        }
    }

    private void ReportNotes(PickleResult result, string? label)
    {
        if (result.Notes.Count == 0) return;
        var codes = result.Notes.GroupBy(n => n.Code).Select(g => g.Count() > 1 ? $"{g.Key} ×{g.Count()}" : g.Key);
        _context.Report(ScanRules.StreamAnomaly, $"opcode anomalies: {string.Join(", ", codes)}", result.Notes[0].Offset, label,
            string.Join("; ", result.Notes.Take(5).Select(n => $"byte {n.Offset}: {n.Message}")));
    }

    // ------------------------------------------------------------------------------------------ embedded data

    /// <summary>Walks the values the pickle builds for embedded pickles (raw, base64, hex) and payload strings.</summary>
    private void InspectData(PickleResult result, string? label, HashSet<PickleValue> consumed)
    {
        var visited = new HashSet<PickleValue>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<PickleValue>();
        if (result.Root is not null) stack.Push(result.Root);
        foreach (var e in result.Events)
        {
            stack.Push(e.Arguments);
            if (e.Keywords is not null) stack.Push(e.Keywords);
        }
        int strings = 0;
        while (stack.Count > 0 && visited.Count < MaxVisits)
        {
            var v = stack.Pop();
            if (!visited.Add(v)) continue;
            switch (v)
            {
                case PickleBytes b when !consumed.Contains(b):
                    CheckEmbeddedBytes(b.Value, b.Offset, label, "bytes");
                    break;
                case PickleString s when !consumed.Contains(s) && s.Value.Length >= 12:
                    if (++strings <= MaxStringsInspected) CheckString(s, label);
                    break;
                case PickleList l:
                    foreach (var x in l.Items) stack.Push(x);
                    break;
                case PickleTuple t:
                    foreach (var x in t.Items) stack.Push(x);
                    break;
                case PickleSet set:
                    foreach (var x in set.Items) stack.Push(x);
                    break;
                case PickleDict d:
                    foreach (var (k, x) in d.Items)
                    {
                        stack.Push(k);
                        stack.Push(x);
                    }
                    break;
                case PickleCall c:
                    stack.Push(c.Arguments);
                    if (c.Keywords is not null) stack.Push(c.Keywords);
                    foreach (var x in c.States) stack.Push(x);
                    foreach (var x in c.Appends) stack.Push(x);
                    foreach (var (k, x) in c.SetItems)
                    {
                        stack.Push(k);
                        stack.Push(x);
                    }
                    break;
            }
        }
    }

    private bool CheckEmbeddedBytes(ReadOnlyMemory<byte> bytes, long offset, string? label, string how)
    {
        var span = bytes.Span;
        if (span.Length < 4 || span[0] != 0x80 || span[1] is < 2 or > 5) return false;
        // Tensor and array bytes can start like a pickle by chance: only a stream that parses to its STOP counts.
        using (var probe = new MemoryByteSource("<probe>", bytes))
        {
            var trial = PickleMachine.Run(probe, 0, TrialLimits);
            if (!trial.Completed) return false;
        }
        string entry = $"embedded pickle at byte {offset}";
        ScanEmbedded(bytes.ToArray(), entry, label, $"{how} holding a {bytes.Length}-byte pickle (not loaded by this file, but a consumer may unpickle it); scanned as '{entry}'", offset);
        return true;
    }

    private static readonly PickleLimits TrialLimits = new() { MaxOpcodes = 5_000_000, MaxEvents = 1_000_000 };

    private void CheckString(PickleString s, string? label)
    {
        string value = s.Value;
        // A Python 2 byte string holding pickle bytes, or base64/hex text of a pickle.
        if (value.Length >= 4 && value[0] == '\x80' && value.All(c => c <= '\xFF') && CheckEmbeddedBytes(Encoding.Latin1.GetBytes(value), s.Offset, label, "a byte string"))
            return;
        string trimmed = value.Trim();
        if (trimmed.Length >= 16)
        {
            byte[] ascii = Encoding.Latin1.GetBytes(trimmed.Length > SymbolicValues.MaxDecodedBytes ? trimmed[..SymbolicValues.MaxDecodedBytes] : trimmed);
            var decoded = trimmed.All(char.IsAsciiHexDigit) ? SymbolicValues.Hex(ascii) : SymbolicValues.Base64(ascii, urlSafe: trimmed.Contains('-', StringComparison.Ordinal) || trimmed.Contains('_', StringComparison.Ordinal));
            if (decoded is not null && trimmed.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=' or '-' or '_')
                && CheckEmbeddedBytes(decoded, s.Offset, label, trimmed.All(char.IsAsciiHexDigit) ? "hex text" : "base64 text"))
                return;
        }
        if (_payloadFindings >= MaxPayloadFindings) return;
        foreach (var hit in PayloadDetector.Inspect(value))
        {
            // Only what reads as code, commands or script: URLs and credential-like strings are ordinary data in pickles.
            if (hit.Rule.Id is not ("LIN-META-001" or "LIN-META-002" or "LIN-META-003") && !(hit.Rule.Id == "LIN-META-004" && hit.Severity >= Severity.High)) continue;
            _payloadFindings++;
            _context.Report(hit.Rule, $"pickle string constant: {hit.Message}", s.Offset, label, hit.Excerpt, hit.Severity);
        }
    }

    /// <summary>Scans decoded pickle bytes one level down and reports that they were found.</summary>
    private void ScanEmbedded(byte[] payload, string entry, string? label, string message, long offset)
    {
        if (++_embedded > _context.Options.MaxEmbeddedPickles)
        {
            if (_embedded == _context.Options.MaxEmbeddedPickles + 1)
                _context.ReportError(ScanRules.LimitExceeded, $"more than {_context.Options.MaxEmbeddedPickles} embedded pickles; the rest were not scanned", offset, label);
            return;
        }
        _context.Report(ScanRules.NestedPickle, message, offset, label, PayloadDetector.Printable(PickleFormatter.QuoteBytes(payload.AsSpan(0, Math.Min(payload.Length, 48)), 48)));
        _context.ScanNested(new MemoryByteSource(entry, payload), label is null ? entry : $"{label}/{entry}");
    }

    // ------------------------------------------------------------------------------------------ evidence

    /// <summary>The decompiled call chain that uses <paramref name="value"/>: the outermost call it feeds, rendered as Python.</summary>
    private static string Chain(PickleValue value, Dictionary<PickleValue, PickleEvent> usedAsCallable)
    {
        var current = value;
        for (int i = 0; i < 6 && usedAsCallable.TryGetValue(current, out var e) && e.Result is not null; i++) current = e.Result;
        if (ReferenceEquals(current, value))
            return value is PickleGlobal g ? $"{g.FullName} (imported when the file is loaded; not called)" : value.Render(6, EvidenceChars);
        string rendered = current.Render(8, EvidenceChars);
        return SymbolicValues.CalleeName(current is PickleCall c ? c.Callable : current) is { } name && !rendered.StartsWith(name, StringComparison.Ordinal)
            ? $"{rendered}  # calls {name}" : rendered;
    }

    private static string Render(PickleEvent e) => e.Kind switch
    {
        PickleEventKind.Build => $"{e.Target!.Render(4, 160)}.__setstate__({e.Arguments.Render(4, 200)})",
        _ => $"{e.Kind}: {e.Target?.Render(4, 160)} <- {e.Arguments.Render(4, 200)}",
    };

    private static string Describe(PickleValue v) => v switch
    {
        PickleCall c => $"the result of {c.Callable.Render(3, 120)}(…)",
        PickleGlobal g => g.FullName,
        _ => v.GetType().Name.Replace("Pickle", "", StringComparison.Ordinal).ToLowerInvariant() + " " + v.Render(2, 80),
    };

    // ------------------------------------------------------------------------------------------ joblib

    /// <summary>
    /// joblib writes each numeric array's bytes straight into the stream after the BUILD of its NumpyArrayWrapper
    /// (optionally after a padding-length byte and padding), and object arrays as a whole protocol-2 pickle there.
    /// This skips the numeric bytes and scans the object-array pickles.
    /// </summary>
    private sealed class JoblibInline(PickleScanner owner, string? label)
    {
        public long Read(PickleValue target, PickleValue state, long position)
        {
            if (target is not PickleCall { CallableGlobal: { } cls } || !JoblibWrappers.Contains(cls.ResolvedFullName)) return position;
            if (state is not PickleDict d)
                throw new LineageException("joblib NumpyArrayWrapper state is not a dict", owner._source.Name, position, label);
            var (typeCode, elementSize) = DType(d.Get("dtype"));
            if (typeCode == 'O')
            {
                // Legacy joblib: object arrays as an inline pickle (which could hold wrappers again: bounded).
                if (owner._inlineDepth >= MaxInlineDepth)
                    throw new LimitExceededException($"joblib object arrays nested deeper than {MaxInlineDepth} levels", owner._source.Name, position, label);
                owner._inlineDepth++;
                PickleResult nested;
                try
                {
                    nested = owner.RunOne(position, Join(label, $"joblib object array at byte {position}"), null);
                }
                finally
                {
                    owner._inlineDepth--;
                }
                if (!nested.Completed) throw new LineageException("joblib object-array pickle does not parse", owner._source.Name, position, label);
                return nested.EndOffset;
            }
            if (d.Get("shape") is not PickleTuple shape || elementSize <= 0)
                throw new LineageException($"joblib array wrapper has no usable shape or dtype (dtype {typeCode}{elementSize})", owner._source.Name, position, label);
            long count = 1;
            foreach (var item in shape.Items)
            {
                if (item is not PickleInt n || !n.TryGetInt64(out long dim) || dim < 0 || (dim > 0 && count > long.MaxValue / dim))
                    throw new LineageException("joblib array shape is not a tuple of sizes", owner._source.Name, position, label);
                count *= dim;
            }
            long start = position;
            if (d.Get("numpy_array_alignment_bytes") is PickleInt)
            {
                if (start >= owner._source.Length)
                    throw new LineageException("joblib array padding byte is missing", owner._source.Name, start, label);
                Span<byte> pad = stackalloc byte[1];
                owner._source.ReadExactly(start, pad);
                start += 1 + pad[0];
            }
            if (elementSize > 0 && count > (long.MaxValue - start) / elementSize)
                throw new LineageException("joblib array is larger than any file", owner._source.Name, position, label);
            long end = start + count * elementSize;
            if (end > owner._source.Length)
                throw new LineageException($"joblib array of {count} x {elementSize} bytes runs past the end of the file", owner._source.Name, position, label);
            return end;
        }

        /// <summary>Type code and item size of a pickled numpy.dtype('f8', …) with its BUILD state (elsize for strings and records).</summary>
        private static (char Code, long Size) DType(PickleValue? value)
        {
            if (value is not PickleCall { ArgumentItems: [PickleString spec, ..] } call) return ('?', 0);
            string s = spec.Value.TrimStart('<', '>', '|', '=');
            if (s.Length == 0) return ('?', 0);
            char code = s[0];
            if (call.States.Count > 0 && call.States[^1] is PickleTuple { Items.Count: >= 6 } st && st.Items[5] is PickleInt els && els.TryGetInt64(out long elsize) && elsize > 0)
                return (code, elsize);
            long size = long.TryParse(s.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : code is 'b' or '?' ? 1 : 0;
            return (code, code == 'U' ? size * 4 : size);
        }

        private static string Join(string? prefix, string entry) => prefix is null ? entry : $"{prefix}/{entry}";
    }
}
