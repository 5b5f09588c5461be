namespace Lineage.Security.Policy;

/// <summary>What the policy says about one global a pickle (or config) names.</summary>
public enum CallableVerdict
{
    /// <summary>In an enabled allow-list profile.</summary>
    Allowed,

    /// <summary>A known-dangerous name; <see cref="CallableDecision.Category"/> says what it can do.</summary>
    Dangerous,

    /// <summary>Not in any enabled profile: might be harmless, might not. Fails CI by default.</summary>
    Unknown,

    /// <summary>Not a canonical dotted Python name (whitespace, lookalike letters, empty segments).</summary>
    NonCanonical,
}

/// <summary>
/// The policy's answer for one (module, qualified name) pair. <see cref="Resolved"/> is the canonical dotted path
/// after alias resolution (<c>posix.system</c> → <c>os.system</c>); for non-canonical spellings it is the folded
/// skeleton and <see cref="LookalikeOf"/> is set when that skeleton is dangerous.
/// </summary>
public sealed record CallableDecision(
    CallableVerdict Verdict,
    string Module,
    string Name,
    string Resolved,
    string? Category,
    string Reason,
    string? Profile = null,
    string? LookalikeOf = null)
{
    /// <summary>The rule a finding for this decision carries, or null when allowed.</summary>
    public RuleDescriptor? Rule => Verdict switch
    {
        CallableVerdict.Dangerous => ScanRules.DangerousCallable,
        CallableVerdict.Unknown => ScanRules.UnknownCallable,
        CallableVerdict.NonCanonical => ScanRules.NonCanonicalCallable,
        _ => null,
    };

    /// <summary>Severity of the finding: critical for dangerous names and lookalikes of them.</summary>
    public Severity Severity { get; init; } = Verdict switch
    {
        CallableVerdict.Dangerous => Severity.Critical,
        CallableVerdict.NonCanonical when LookalikeOf is not null => Severity.Critical,
        CallableVerdict.Allowed => Severity.Info,
        _ => Severity.High,
    };

    /// <summary>The finding for this decision (null when allowed).</summary>
    public Finding? ToFinding(long? offset = null, string? entry = null, string? evidence = null)
    {
        var rule = Rule;
        if (rule is null) return null;
        string shown = PythonNames.Printable(Module) + "." + PythonNames.Printable(Name);
        string message = Verdict switch
        {
            CallableVerdict.Dangerous => $"dangerous callable {shown} ({Category}): {Reason}",
            CallableVerdict.NonCanonical => $"non-canonical callable name {shown}: {Reason}",
            _ => $"callable {shown} is not in the allow-list: {Reason}",
        };
        return new Finding(Severity, rule.Id, message) { Offset = offset, Entry = entry, Evidence = evidence };
    }
}

/// <summary>
/// Allow-list policy for the globals a pickle resolves (GLOBAL, STACK_GLOBAL, INST, OBJ, EXT): given a fully
/// resolved module and qualified name it answers allowed, dangerous (with a category) or unknown. Allow-lists
/// come in profiles; the deny-list only names what is known to be bad, so that an unknown name is still a
/// failing finding rather than a pass. The policy never imports anything: it is string matching on canonical
/// dotted paths, after Python 2 and C-module aliases are resolved and non-canonical spellings are refused.
/// </summary>
public sealed class CallablePolicy
{
    /// <summary>Profile names accepted by <see cref="ForProfiles"/> (and the CLI's --profile).</summary>
    public static IReadOnlyList<string> ProfileNames { get; } = ["pytorch", "numpy", "sklearn", "transformers"];

    /// <summary>Every safe profile enabled: the scanner's default.</summary>
    public static CallablePolicy Default { get; } = new(ProfileNames);

    private readonly Dictionary<string, string> _exactAllowed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _profiles;
    private static readonly Dictionary<string, (string Category, bool Anywhere)> DenyEntries = BuildDeny();
    private static readonly int MaxDenySegments = DenyEntries.Keys.Max(k => k.Count(c => c == '.') + 1);

    private CallablePolicy(IEnumerable<string> profiles)
    {
        _profiles = new HashSet<string>(profiles, StringComparer.Ordinal);
        foreach (var n in CallableTables.Core) _exactAllowed[n] = "core";
        if (_profiles.Contains("pytorch")) foreach (var n in CallableTables.PyTorch()) _exactAllowed[n] = "pytorch";
        if (_profiles.Contains("numpy")) foreach (var n in CallableTables.NumPy()) _exactAllowed[n] = "numpy";
        if (_profiles.Contains("sklearn")) foreach (var n in CallableTables.SklearnExact) _exactAllowed[n] = "sklearn";
        if (_profiles.Contains("transformers")) foreach (var n in CallableTables.Transformers) _exactAllowed[n] = "transformers";
    }

    /// <summary>The enabled profiles ("core" is always on).</summary>
    public IReadOnlyCollection<string> Profiles => _profiles;

    /// <summary>A policy with only the named profiles (plus the always-on core containers).</summary>
    /// <exception cref="ArgumentException">An unknown profile name.</exception>
    public static CallablePolicy ForProfiles(IEnumerable<string> profiles)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        var list = profiles.Select(p => p.Trim().ToLowerInvariant()).Where(p => p.Length > 0).ToList();
        foreach (var p in list)
            if (p != "all" && !ProfileNames.Contains(p))
                throw new ArgumentException($"unknown profile '{p}' (known: {string.Join(", ", ProfileNames)}, all)", nameof(profiles));
        return list.Contains("all") ? Default : new CallablePolicy(list);
    }

    /// <summary>Evaluates the global <paramref name="module"/>.<paramref name="qualifiedName"/> exactly as an unpickler would resolve it.</summary>
    public CallableDecision Evaluate(string module, string qualifiedName)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(qualifiedName);
        if (!PythonNames.IsCanonicalDotted(module) || !PythonNames.IsCanonicalDotted(qualifiedName))
            return EvaluateNonCanonical(module, qualifiedName);
        var decision = EvaluateCanonical(module, qualifiedName);
        // Case-insensitive file systems and hand-written resolvers make "OS" or "Subprocess" worth a second look.
        string lower = module.ToLowerInvariant();
        if (decision.Verdict == CallableVerdict.Unknown && lower != module && EvaluateCanonical(lower, qualifiedName) is { Verdict: CallableVerdict.Dangerous } folded)
            return new CallableDecision(CallableVerdict.NonCanonical, module, qualifiedName, folded.Resolved, folded.Category,
                $"module name differs only in case from {lower}, which is dangerous ({folded.Category})", LookalikeOf: folded.Resolved);
        return decision;
    }

    /// <summary>Evaluates a single dotted path such as <c>os.system</c> (the last segment is taken as the name).</summary>
    public CallableDecision Evaluate(string dottedPath)
    {
        ArgumentNullException.ThrowIfNull(dottedPath);
        int dot = dottedPath.LastIndexOf('.');
        return dot <= 0 ? Evaluate(dottedPath, "") : Evaluate(dottedPath[..dot], dottedPath[(dot + 1)..]);
    }

    private CallableDecision EvaluateNonCanonical(string module, string name)
    {
        string why = Describe(module, name);
        string skModule = PythonNames.Skeleton(module), skName = PythonNames.Skeleton(name);
        if (PythonNames.IsCanonicalDotted(skModule) && PythonNames.IsCanonicalDotted(skName))
        {
            var folded = EvaluateCanonical(skModule, skName);
            if (folded.Verdict == CallableVerdict.Dangerous)
                return new CallableDecision(CallableVerdict.NonCanonical, module, name, folded.Resolved, folded.Category,
                    $"{why}; it reads as {folded.Resolved}, which is dangerous ({folded.Category})", LookalikeOf: folded.Resolved);
            return new CallableDecision(CallableVerdict.NonCanonical, module, name, folded.Resolved, null, $"{why}; it reads as {folded.Resolved}");
        }
        return new CallableDecision(CallableVerdict.NonCanonical, module, name, PythonNames.Printable(module + "." + name), null, why);
    }

    private static string Describe(string module, string name)
    {
        string both = module + name;
        if (module.Length == 0) return "empty module name";
        if (both.Any(c => c > '\x7F')) return "contains non-ASCII characters";
        if (both.Any(char.IsWhiteSpace)) return "contains whitespace";
        if (both.Any(char.IsControl)) return "contains control characters";
        if (module.Contains("..", StringComparison.Ordinal) || name.Contains("..", StringComparison.Ordinal)
            || module.StartsWith('.') || module.EndsWith('.') || name.StartsWith('.') || name.EndsWith('.'))
            return "has an empty dotted segment";
        if (name.Length == 0) return "empty attribute name";
        return "is not a Python identifier path";
    }

    private CallableDecision EvaluateCanonical(string module, string name)
    {
        string resolved = Resolve(module + "." + name);
        if (_exactAllowed.TryGetValue(resolved, out var profile))
            return new CallableDecision(CallableVerdict.Allowed, module, name, resolved, null, $"allowed by the {profile} profile", profile);
        if (MatchesPattern(resolved) is { } patternProfile)
            return new CallableDecision(CallableVerdict.Allowed, module, name, resolved, null, $"allowed by the {patternProfile} profile", patternProfile);

        var segments = resolved.Split('.');
        if (MatchDeny(segments) is { } hit)
        {
            string how = hit.Offset == 0 ? $"matches {hit.Entry}" : $"reaches {hit.Entry} through {string.Join('.', segments.Take(hit.Offset))}";
            return new CallableDecision(CallableVerdict.Dangerous, module, name, resolved, hit.Category, how);
        }
        // Traversal through dunder attributes (object.__subclasses__, f.__globals__) reaches anything.
        int nameStart = module.Count(c => c == '.') + 1;
        foreach (var seg in segments.Skip(Math.Min(nameStart, segments.Length - 1)))
            if (PythonNames.IsDunder(seg))
                return new CallableDecision(CallableVerdict.Dangerous, module, name, resolved, "attribute-traversal",
                    $"the qualified name walks through {seg}");

        return new CallableDecision(CallableVerdict.Unknown, module, name, resolved, null,
            $"{resolved} is in none of the enabled profiles ({string.Join(", ", _profiles.Order(StringComparer.Ordinal).Prepend("core"))})");
    }

    /// <summary>Applies the module aliases to the longest matching head of the path, then the Python 2 name aliases.</summary>
    internal static string Resolve(string dotted)
    {
        var segments = dotted.Split('.');
        for (int n = segments.Length - 1; n >= 1; n--)
        {
            string head = string.Join('.', segments.Take(n));
            if (CallableTables.ModuleAliases.TryGetValue(head, out var alias))
            {
                dotted = alias + "." + string.Join('.', segments.Skip(n));
                break;
            }
        }
        return CallableTables.NameAliases.TryGetValue(dotted, out var renamed) ? renamed : dotted;
    }

    private string? MatchesPattern(string resolved)
    {
        int lastDot = resolved.LastIndexOf('.');
        if (lastDot <= 0) return null;
        string modulePath = resolved[..lastDot], last = resolved[(lastDot + 1)..];
        var modSegments = modulePath.Split('.');
        if (_profiles.Contains("pytorch") && modulePath.StartsWith("torch.nn.modules.", StringComparison.Ordinal) && IsClassLike(last)
            && modSegments.Length <= 5)
            return "pytorch";
        if (_profiles.Contains("numpy") && modulePath == "numpy.dtypes" && IsClassLike(last))
            return "numpy";
        if (_profiles.Contains("sklearn"))
        {
            if (modSegments[0] == "sklearn" && modSegments.Length >= 2 && !modSegments.Any(s => CallableTables.SklearnExcludedSegments.Contains(s))
                && (IsClassLike(last) || last.StartsWith("__pyx_unpickle_", StringComparison.Ordinal)))
                return "sklearn";
            if (modulePath.StartsWith("scipy.sparse", StringComparison.Ordinal) && IsSparseClass(last))
                return "sklearn";
        }
        return null;
    }

    /// <summary>A class name by convention: CapWords (optionally after one leading underscore), no dunder.</summary>
    private static bool IsClassLike(string name)
    {
        string core = name.StartsWith('_') ? name[1..] : name;
        return core.Length > 0 && core[0] is >= 'A' and <= 'Z' && !name.StartsWith("__", StringComparison.Ordinal);
    }

    private static bool IsSparseClass(string name)
    {
        int u = name.IndexOf('_', StringComparison.Ordinal);
        if (u != 3) return false;
        string kind = name[..3], shape = name[4..];
        return kind is "csr" or "csc" or "coo" or "lil" or "dok" or "dia" or "bsr" && shape is "matrix" or "array";
    }

    private static (string Entry, string Category, int Offset)? MatchDeny(string[] segments)
    {
        for (int offset = 0; offset < segments.Length; offset++)
        {
            // At deeper offsets, single-segment module aliases (posix → os) apply as well.
            var view = segments.Skip(offset).ToArray();
            if (offset > 0 && CallableTables.ModuleAliases.TryGetValue(view[0], out var alias) && !alias.Contains('.', StringComparison.Ordinal))
                view[0] = alias;
            if (IsExempt(view)) continue;
            for (int len = Math.Min(MaxDenySegments, view.Length); len >= 1; len--)
            {
                string key = string.Join('.', view.Take(len));
                if (DenyEntries.TryGetValue(key, out var hit) && (offset == 0 || hit.Anywhere))
                    return (key, hit.Category, offset);
            }
        }
        return null;
    }

    private static bool IsExempt(string[] view)
    {
        foreach (var exempt in CallableTables.NotDangerous)
        {
            var e = exempt.Split('.');
            if (view.Length >= e.Length && e.SequenceEqual(view.Take(e.Length), StringComparer.Ordinal)) return true;
        }
        return false;
    }

    private static Dictionary<string, (string, bool)> BuildDeny()
    {
        var map = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        foreach (var (category, entries) in CallableTables.Dangerous)
            foreach (var raw in entries)
            {
                bool anywhere = raw.StartsWith('*');
                map[anywhere ? raw[1..] : raw] = (category, anywhere);
            }
        return map;
    }

    /// <summary>Every known-dangerous entry with its category (for documentation and tests).</summary>
    public static IReadOnlyList<(string Name, string Category)> DangerousEntries { get; } =
        [.. CallableTables.Dangerous.SelectMany(d => d.Entries.Select(e => (e.TrimStart('*'), d.Category)))];
}
