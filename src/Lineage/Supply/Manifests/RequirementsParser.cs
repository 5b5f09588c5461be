using Lineage.Security;

namespace Lineage.Supply.Manifests;

/// <summary>
/// pip requirements files: comments (# at line start or after whitespace), backslash continuations, -r/-c
/// includes (relative to the including file; cycles and depth bounded; remote includes noted, not fetched),
/// -e editables, global options, per-requirement --hash options, PEP 508 requirements with extras, markers and
/// URLs, and bare URL/VCS/path lines. Anything else is an error naming the file and line, as pip would refuse it.
/// Hash-checking: once any requirement of one install (the root file and everything it includes) has --hash,
/// or --require-hashes is given, every requirement without one gets an <c>unhashed</c> finding.
/// </summary>
internal static class RequirementsParser
{
    private const int MaxIncludeDepth = 16;
    private const int MaxLogicalLineChars = 1 << 20;

    private static readonly HashSet<string> GlobalOptionsWithValue = new(StringComparer.Ordinal)
    {
        "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-binary", "--only-binary", "--trusted-host",
        "--use-feature", "--progress-bar", "--platform", "--python-version", "--implementation", "--abi",
    };

    private static readonly HashSet<string> GlobalFlags = new(StringComparer.Ordinal)
    {
        "--no-index", "--pre", "--prefer-binary", "--require-hashes", "-Z", "--always-unzip", "--process-dependency-links",
        "--no-deps", "--only-deps",
    };

    private static readonly HashSet<string> PerRequirementOptionsWithValue = new(StringComparer.Ordinal)
    {
        "--hash", "--global-option", "--install-option", "--config-settings", "-C",
    };

    private sealed class State
    {
        public ManifestResult Result { get; } = new();

        public HashSet<string> Visiting { get; } = new(StringComparer.Ordinal);

        public bool RequireHashes { get; set; }
    }

    public static ManifestResult Parse(string file)
    {
        var state = new State();
        ParseFile(Path.GetFullPath(file), DependencyOrigin.Manifest, state, 0, null);
        var result = state.Result;
        bool hashMode = state.RequireHashes || result.Dependencies.Any(d => d.Origin == DependencyOrigin.Manifest && d.Hashes.Count > 0);
        if (hashMode)
        {
            foreach (var d in result.Dependencies.Where(d => d.Origin == DependencyOrigin.Manifest && d.Hashes.Count == 0 && d.Vcs is null))
            {
                result.Findings.Add(new DependencyFinding
                {
                    Rule = DependencyRules.Unhashed.Id, Severity = Severity.Low, Package = d.Name, Version = d.Version, Ecosystem = d.Ecosystem,
                    Summary = $"{d.Name} has no --hash while other requirements of this install do (hash-checking mode)",
                    File = d.File, Line = d.Line,
                });
            }
        }
        return result;
    }

    private static void ParseFile(string file, DependencyOrigin origin, State state, int depth, (string File, int Line)? includedFrom)
    {
        if (!File.Exists(file))
        {
            if (includedFrom is { } from) throw new LineageException($"line {from.Line}: included file not found: {file}", from.File);
            throw new LineageException("no such file", file);
        }
        if (!state.Visiting.Add(file + "|" + origin)) return;
        state.Result.Files.Add(file);
        foreach (var (line, text) in LogicalLines(file))
            ParseLine(file, line, text, origin, state, depth);
    }

    /// <summary>Physical lines joined at trailing backslashes; each logical line keeps the number of its first line.</summary>
    private static IEnumerable<(int Line, string Text)> LogicalLines(string file)
    {
        var sb = new System.Text.StringBuilder();
        int start = 0;
        foreach (var (line, text) in TextLines.Read(file))
        {
            if (sb.Length == 0) start = line;
            bool continued = text.EndsWith('\\') && !IsComment(text);
            sb.Append(continued ? text[..^1] : text);
            if (sb.Length > MaxLogicalLineChars) throw new LineageException($"line {start}: continued line longer than {MaxLogicalLineChars} characters", file);
            if (continued) continue;
            yield return (start, sb.ToString());
            sb.Clear();
        }
        if (sb.Length > 0) yield return (start, sb.ToString());
    }

    private static bool IsComment(string line) => line.TrimStart().StartsWith('#');

    /// <summary>Strips a comment: '#' at the start or after whitespace (a '#' inside a URL fragment is kept).</summary>
    private static string StripComment(string line)
    {
        for (int i = 0; i < line.Length; i++)
            if (line[i] == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        return line;
    }

    private static void ParseLine(string file, int line, string raw, DependencyOrigin origin, State state, int depth)
    {
        string text = StripComment(raw).Trim();
        if (text.Length == 0) return;
        var tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (tokens[0].StartsWith('-'))
        {
            ParseOptionLine(file, line, tokens, origin, state, depth);
            return;
        }
        // pip: the requirement is every token before the first option; the rest are per-requirement options.
        int firstOption = Array.FindIndex(tokens, t => t.StartsWith("--", StringComparison.Ordinal) || t == "-C");
        var reqTokens = firstOption < 0 ? tokens : tokens[..firstOption];
        var options = firstOption < 0 ? [] : tokens[firstOption..];
        var hashes = new List<string>();
        for (int i = 0; i < options.Length; i++)
        {
            string opt = options[i], value;
            int eq = opt.IndexOf('=', StringComparison.Ordinal);
            string key = eq > 0 ? opt[..eq] : opt;
            if (!PerRequirementOptionsWithValue.Contains(key))
                throw new LineageException($"line {line}: unknown option '{Clip(opt)}' after a requirement", file);
            if (eq > 0) value = opt[(eq + 1)..];
            else if (i + 1 < options.Length) value = options[++i];
            else throw new LineageException($"line {line}: option '{key}' needs a value", file);
            if (key == "--hash")
            {
                if (!value.Contains(':', StringComparison.Ordinal)) throw new LineageException($"line {line}: --hash needs algorithm:digest, got '{Clip(value)}'", file);
                hashes.Add(value);
            }
        }
        AddRequirement(file, line, string.Join(' ', reqTokens), origin, hashes, editable: false, state);
    }

    private static void ParseOptionLine(string file, int line, string[] tokens, DependencyOrigin origin, State state, int depth)
    {
        string opt = tokens[0];
        string? value = null;
        int eq = opt.IndexOf('=', StringComparison.Ordinal);
        string key = opt;
        if (eq > 0 && opt.StartsWith("--", StringComparison.Ordinal))
        {
            key = opt[..eq];
            value = opt[(eq + 1)..];
        }
        else if (opt.Length > 2 && !opt.StartsWith("--", StringComparison.Ordinal) && opt[1] != '-')
        {
            // Short options may be glued to their value: -rfile.txt, -e.
            key = opt[..2];
            value = opt[2..];
        }
        string Value() => value ?? (tokens.Length > 1 ? string.Join(' ', tokens[1..]) : throw new LineageException($"line {line}: option '{key}' needs a value", file));
        switch (key)
        {
            case "-r" or "--requirement" or "-c" or "--constraint":
            {
                string target = Value().Trim();
                if (target.Contains("://", StringComparison.Ordinal))
                {
                    state.Result.Notes.Add($"{file}:{line}: remote include {target} not followed (offline)");
                    return;
                }
                if (depth >= MaxIncludeDepth) throw new LineageException($"line {line}: includes nested deeper than {MaxIncludeDepth}", file);
                string path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, target));
                var childOrigin = key is "-c" or "--constraint" ? DependencyOrigin.Constraint : origin;
                ParseFile(path, childOrigin, state, depth + 1, (file, line));
                return;
            }
            case "-e" or "--editable":
                AddRequirement(file, line, Value().Trim(), origin, [], editable: true, state);
                return;
            case "--require-hashes":
                state.RequireHashes = true;
                return;
        }
        if (GlobalFlags.Contains(key)) return;
        if (GlobalOptionsWithValue.Contains(key))
        {
            _ = Value();
            return;
        }
        throw new LineageException($"line {line}: unknown option '{Clip(key)}'", file);
    }

    private static void AddRequirement(string file, int line, string text, DependencyOrigin origin, List<string> hashes, bool editable, State state)
    {
        string format = origin == DependencyOrigin.Constraint ? "constraints" : "requirements";
        if (DirectReferences.LooksLikeUrlOrPath(text) && Pep508.Parse(text) is not { Url: not null })
        {
            // A bare URL, VCS reference or local path (pip accepts these without a name).
            string urlText = text;
            string? marker = null;
            int semi = text.IndexOf("; ", StringComparison.Ordinal);
            if (semi > 0)
            {
                urlText = text[..semi].Trim();
                marker = text[(semi + 2)..].Trim();
            }
            var reference = DirectReferences.Parse(urlText);
            if (reference.Name is null)
            {
                if (reference.Vcs is not null)
                    throw new LineageException($"line {line}: VCS requirement without a package name (add #egg=name or use 'name @ url'): '{Clip(text)}'", file);
                state.Result.Notes.Add($"{file}:{line}: local project {Clip(urlText)} not resolved to a package");
                return;
            }
            state.Result.Dependencies.Add(new Dependency
            {
                Ecosystem = Ecosystems.PyPI, Name = reference.Name, Version = reference.Version, Origin = origin, File = file, Line = line,
                Hashes = reference.Hash is null ? hashes : [.. hashes, reference.Hash], Marker = marker, Url = urlText,
                Vcs = reference.Vcs, VcsRef = reference.Ref, VcsPinned = reference.Pinned, Format = format, Group = editable ? "editable" : null,
            });
            return;
        }
        var req = Pep508.Parse(text) ?? throw new LineageException($"line {line}: not a valid requirement: '{Clip(text)}'", file);
        DirectReference? direct = req.Url is null ? null : DirectReferences.Parse(req.Url);
        state.Result.Dependencies.Add(new Dependency
        {
            Ecosystem = Ecosystems.PyPI, Name = req.Name, Version = req.ExactVersion ?? direct?.Version, Specifier = req.Specifier,
            Origin = origin, File = file, Line = line, Hashes = direct?.Hash is null ? hashes : [.. hashes, direct.Hash],
            Extras = req.Extras, Marker = req.Marker, Url = req.Url, Vcs = direct?.Vcs, VcsRef = direct?.Ref, VcsPinned = direct?.Pinned ?? false,
            Format = format, Group = editable ? "editable" : null,
        });
    }

    private static string Clip(string s) => s.Length <= 120 ? s : s[..120] + "…";
}
