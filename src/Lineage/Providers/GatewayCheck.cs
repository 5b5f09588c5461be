using System.Text.RegularExpressions;
using Lineage.Security;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Lineage.Providers;

/// <summary>One problem in a gateway configuration. Messages never contain a secret's value.</summary>
public sealed record GatewayFinding(string Rule, Severity Severity, string Message)
{
    /// <summary>The model group (model_name) concerned, when the finding is about one.</summary>
    public string? ModelName { get; init; }

    /// <summary>Where in the document: model_list[2].litellm_params.api_key.</summary>
    public string? Path { get; init; }

    /// <summary>1-based line of the node in the file.</summary>
    public long? Line { get; init; }
}

/// <summary>The findings for one configuration file.</summary>
public sealed record GatewayReport(string File, string Kind, int ModelGroups, int Deployments, IReadOnlyList<GatewayFinding> Findings)
{
    public bool HasFindingsAtOrAbove(Severity threshold) => Findings.Any(f => f.Severity >= threshold);
}

/// <summary>
/// Lints a LiteLLM proxy config.yaml: credentials written inline, deployments on moving model aliases, model
/// groups without a fallback or with fallbacks only on the same provider, and keys LiteLLM does not know.
/// Parsing is bounded (file size, nesting depth, event count, alias expansion) and never executes anything.
/// </summary>
public static partial class GatewayCheck
{
    internal const int MaxFileBytes = 4 << 20;
    internal const int MaxDepth = 64;
    internal const int MaxEvents = 1_000_000;
    internal const int MaxVisitedNodes = 1_000_000;

    public static GatewayReport CheckFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new LineageException("file not found", path);
            if (info.Length > MaxFileBytes) throw new LineageException($"the file is {info.Length} bytes; the limit is {MaxFileBytes}", path);
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException(e.Message, path, inner: e);
        }
        return Check(text, path);
    }

    /// <summary>Checks configuration text; <paramref name="source"/> names it in findings and errors.</summary>
    public static GatewayReport Check(string yaml, string source)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            return CheckCore(yaml, source);
        }
        catch (LineageException e)
        {
            throw e.WithFile(source);
        }
    }

    private static GatewayReport CheckCore(string yaml, string source)
    {
        var root = Load(yaml, source);
        var findings = new List<GatewayFinding>();
        var context = new Walk(findings);

        // Secrets anywhere in the document (environment_variables, general_settings, callbacks, model entries).
        var modelNameByEntry = new Dictionary<YamlNode, string>(ReferenceEqualityComparer.Instance);
        var models = root.Children.TryGetValue(new YamlScalarNode("model_list"), out var list) ? list as YamlSequenceNode : null;
        if (models is not null)
        {
            foreach (var entry in models.Children.OfType<YamlMappingNode>())
            {
                if (Scalar(entry, "model_name") is { } name) modelNameByEntry[entry] = name;
            }
        }
        FindSecrets(root, "", null, modelNameByEntry, context, 0);
        UnknownFields(root, findings);

        var groups = new Dictionary<string, List<Deployment>>(StringComparer.Ordinal);
        int deployments = 0;
        if (models is not null)
        {
            for (int i = 0; i < models.Children.Count; i++)
            {
                if (models.Children[i] is not YamlMappingNode entry) continue;
                string? name = Scalar(entry, "model_name");
                var parameters = Child(entry, "litellm_params") as YamlMappingNode;
                string? model = parameters is null ? null : Scalar(parameters, "model");
                if (name is null || model is null) continue;
                deployments++;
                var (provider, _) = ModelPinning.Split(model, Scalar(parameters!, "custom_llm_provider"));
                var deployment = new Deployment(name, model, ProviderIdentity(provider, parameters!), $"model_list[{i}].litellm_params.model", Child(parameters!, "model")!.Start.Line);
                if (!groups.TryGetValue(name, out var members)) groups[name] = members = [];
                members.Add(deployment);
                if (ModelPinning.FindUnpinned(model, Scalar(parameters!, "custom_llm_provider")) is { } rule)
                {
                    findings.Add(new GatewayFinding(GatewayRules.UnpinnedModel.Id, GatewayRules.UnpinnedModel.Severity,
                        $"'{model}' is a moving alias: {rule.Reason}; {rule.Suggestion}")
                    { ModelName = name, Path = deployment.Path, Line = deployment.Line });
                }
            }
        }
        Fallbacks(root, groups, findings);

        var ordered = findings
            .OrderByDescending(f => f.Severity)
            .ThenBy(f => f.Line ?? long.MaxValue)
            .ThenBy(f => f.Rule, StringComparer.Ordinal)
            .ToList();
        return new GatewayReport(source, "litellm", groups.Count, deployments, ordered);
    }

    private sealed record Deployment(string Group, string Model, string Provider, string Path, long Line);

    /// <summary>
    /// Nodes already walked, by reference: an alias points at its anchored node, so each node is walked once and
    /// an alias bomb ("billion laughs") costs time linear in the file, not in its expansion.
    /// </summary>
    private sealed class Walk(List<GatewayFinding> findings)
    {
        public List<GatewayFinding> Findings { get; } = findings;

        public HashSet<YamlNode> Visited { get; } = new(ReferenceEqualityComparer.Instance);
    }

    /// <summary>Parses the first YAML document with limits; merge keys (&lt;&lt;) are resolved.</summary>
    private static YamlMappingNode Load(string yaml, string source)
    {
        try
        {
            // Pass 1: bound nesting depth and event count before anything is built.
            var scan = new Parser(new StringReader(yaml));
            int depth = 0, events = 0;
            while (scan.MoveNext())
            {
                if (++events > MaxEvents) throw new LineageException($"more than {MaxEvents} YAML events", source);
                switch (scan.Current)
                {
                    case MappingStart or SequenceStart:
                        if (++depth > MaxDepth) throw new LineageException($"YAML nesting deeper than {MaxDepth} at line {scan.Current.Start.Line}", source, scan.Current.Start.Index);
                        break;
                    case MappingEnd or SequenceEnd:
                        depth--;
                        break;
                }
            }
            // Pass 2: build the tree; merge keys can multiply events, so the count is bounded again.
            var stream = new YamlStream();
            stream.Load(new BoundedParser(new MergingParser(new Parser(new StringReader(yaml))), MaxEvents * 4, source));
            if (stream.Documents.Count == 0) throw new LineageException("the file holds no YAML document", source);
            if (stream.Documents[0].RootNode is not YamlMappingNode root)
                throw new LineageException("not a LiteLLM config: the document is not a mapping", source);
            if (!root.Children.ContainsKey(new YamlScalarNode("model_list")))
                throw new LineageException("not a LiteLLM proxy config: no model_list", source);
            if (Child(root, "model_list") is not YamlSequenceNode)
                throw new LineageException("model_list is not a list", source, Child(root, "model_list")!.Start.Index);
            return root;
        }
        catch (YamlException e)
        {
            // YamlDotNet messages name positions and token kinds, never scalar values; the position prefix is ours.
            string message = e.Message;
            int dash = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith("(Line", StringComparison.Ordinal) && dash > 0) message = message[(dash + 3)..];
            throw new LineageException($"YAML error at line {e.Start.Line}, column {e.Start.Column}: {Redacted(message)}", source, e.Start.Index, inner: null);
        }
        catch (ArgumentException)
        {
            throw new LineageException("YAML error: a mapping has a duplicate key", source);
        }
    }

    /// <summary>Messages from the parser may quote a token; anything secret-shaped in them is masked.</summary>
    private static string Redacted(string message) => KnownSecretPattern().Replace(message, "[redacted]");

    private sealed class BoundedParser(IParser inner, int maxEvents, string source) : IParser
    {
        private int _events;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (++_events > maxEvents) throw new LineageException($"more than {maxEvents} YAML events after merge keys were expanded", source);
            return inner.MoveNext();
        }
    }

    private static void FindSecrets(YamlNode node, string path, string? modelName, Dictionary<YamlNode, string> modelNames, Walk walk, int depth)
    {
        if (depth > MaxDepth || !walk.Visited.Add(node)) return;
        if (walk.Visited.Count > MaxVisitedNodes) throw new LineageException($"more than {MaxVisitedNodes} YAML nodes");
        if (modelNames.TryGetValue(node, out var name)) modelName = name;
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (keyNode, value) in mapping.Children)
                {
                    string key = (keyNode as YamlScalarNode)?.Value ?? "?";
                    string childPath = path.Length == 0 ? key : $"{path}.{key}";
                    if (value is YamlScalarNode scalar)
                    {
                        if (walk.Visited.Add(scalar)) CheckScalar(key, scalar, childPath, modelName, walk.Findings);
                    }
                    else FindSecrets(value, childPath, modelName, modelNames, walk, depth + 1);
                }
                break;
            case YamlSequenceNode sequence:
                for (int i = 0; i < sequence.Children.Count; i++)
                {
                    var child = sequence.Children[i];
                    string childPath = $"{path}[{i}]";
                    if (child is YamlScalarNode scalar)
                    {
                        if (walk.Visited.Add(scalar)) CheckScalar(null, scalar, childPath, modelName, walk.Findings);
                    }
                    else FindSecrets(child, childPath, modelName, modelNames, walk, depth + 1);
                }
                break;
        }
    }

    private static void CheckScalar(string? key, YamlScalarNode scalar, string path, string? modelName, List<GatewayFinding> findings)
    {
        string? value = scalar.Value;
        if (string.IsNullOrWhiteSpace(value)) return;
        string v = value.Trim();
        if (v.StartsWith("os.environ/", StringComparison.Ordinal)) return;
        string? kind = null;
        if (KnownSecretPattern().Match(v) is { Success: true } m) kind = DescribeKnown(m.Value);
        else if (CredentialUrlPattern().IsMatch(v)) kind = "a URL with an embedded password";
        else if (key is not null && IsSecretKey(key) && !IsPlaceholder(v) && !IsPlainFlag(scalar, v) && !LooksLikePath(key, v)) kind = "a literal value";
        if (kind is null) return;
        string where = key is null ? path : $"'{key}'";
        findings.Add(new GatewayFinding(GatewayRules.InlineSecret.Id, GatewayRules.InlineSecret.Severity,
            $"{where} holds {kind} ({v.Length} characters, redacted); read it from the environment with os.environ/NAME")
        { ModelName = modelName, Path = path, Line = scalar.Start.Line });
    }

    internal static bool IsSecretKey(string key)
    {
        string k = key.ToLowerInvariant();
        if (k.Contains("public", StringComparison.Ordinal)) return false;
        return SecretKeyPattern().IsMatch(k);
    }

    private static bool IsPlaceholder(string v) => (v.StartsWith('<') && v.EndsWith('>')) || (v.StartsWith("${", StringComparison.Ordinal) && v.EndsWith('}'));

    private static bool IsPlainFlag(YamlScalarNode scalar, string v) =>
        scalar.Style == ScalarStyle.Plain && (v is "true" or "false" or "True" or "False" or "null" or "~" or "none" or "None");

    private static bool LooksLikePath(string key, string v) =>
        key.Contains("credentials", StringComparison.OrdinalIgnoreCase) && (v.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || v.StartsWith('/') || v.StartsWith("./", StringComparison.Ordinal));

    private static string DescribeKnown(string match) => match switch
    {
        _ when match.StartsWith("sk-ant-", StringComparison.Ordinal) => "an Anthropic API key",
        _ when match.StartsWith("sk-", StringComparison.Ordinal) => "an OpenAI-style API key",
        _ when match.StartsWith("AKIA", StringComparison.Ordinal) || match.StartsWith("ASIA", StringComparison.Ordinal) => "an AWS access key id",
        _ when match.StartsWith("AIza", StringComparison.Ordinal) => "a Google API key",
        _ when match.StartsWith("hf_", StringComparison.Ordinal) => "a Hugging Face token",
        _ when match.StartsWith("gh", StringComparison.Ordinal) => "a GitHub token",
        _ when match.StartsWith("gsk_", StringComparison.Ordinal) => "a Groq API key",
        _ when match.StartsWith("xox", StringComparison.Ordinal) => "a Slack token",
        _ when match.StartsWith("-----BEGIN", StringComparison.Ordinal) => "a private key",
        _ => "a credential",
    };

    private static void UnknownFields(YamlMappingNode root, List<GatewayFinding> findings)
    {
        Check(root, GatewayFields.TopLevel, "", null, "top level");
        if (Child(root, "model_list") is YamlSequenceNode models)
        {
            for (int i = 0; i < models.Children.Count; i++)
            {
                if (models.Children[i] is not YamlMappingNode entry) continue;
                string? name = Scalar(entry, "model_name");
                Check(entry, GatewayFields.ModelEntry, $"model_list[{i}]", name, "a model_list entry");
                if (Child(entry, "litellm_params") is YamlMappingNode p) Check(p, GatewayFields.LitellmParams, $"model_list[{i}].litellm_params", name, "litellm_params");
                if (Child(entry, "model_info") is YamlMappingNode info) Check(info, GatewayFields.ModelInfo, $"model_list[{i}].model_info", name, "model_info");
            }
        }
        if (Child(root, "router_settings") is YamlMappingNode router) Check(router, GatewayFields.RouterSettings, "router_settings", null, "router_settings");
        if (Child(root, "litellm_settings") is YamlMappingNode litellm) Check(litellm, GatewayFields.LitellmSettings, "litellm_settings", null, "litellm_settings");
        if (Child(root, "general_settings") is YamlMappingNode general) Check(general, GatewayFields.GeneralSettings, "general_settings", null, "general_settings");

        void Check(YamlMappingNode mapping, HashSet<string> known, string path, string? modelName, string section)
        {
            foreach (var key in mapping.Children.Keys)
            {
                string k = (key as YamlScalarNode)?.Value ?? "";
                if (known.Contains(k)) continue;
                string? suggestion = GatewayFields.Closest(k, known);
                string shown = k.Length > 64 ? k[..64] + "…" : k;
                findings.Add(new GatewayFinding(GatewayRules.UnknownField.Id, GatewayRules.UnknownField.Severity,
                    $"unknown key '{shown}' in {section}" + (suggestion is null ? "" : $" (did you mean '{suggestion}'?)"))
                { ModelName = modelName, Path = path.Length == 0 ? k : $"{path}.{k}", Line = key.Start.Line });
            }
        }
    }

    /// <summary>
    /// Fallback rules. Fallbacks are read from router_settings and litellm_settings: <c>fallbacks</c>
    /// ([{group: [targets]}]) and <c>default_fallbacks</c> ([targets], for every group). Context-window and
    /// content-policy fallbacks do not cover an outage and do not count. A group with several deployments on
    /// different providers is its own fallback.
    /// </summary>
    private static void Fallbacks(YamlMappingNode root, Dictionary<string, List<Deployment>> groups, List<GatewayFinding> findings)
    {
        var fallbacks = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var defaults = new List<string>();
        var targets = new HashSet<string>(StringComparer.Ordinal);
        foreach (string section in new[] { "router_settings", "litellm_settings" })
        {
            if (Child(root, section) is not YamlMappingNode settings) continue;
            if (Child(settings, "fallbacks") is YamlSequenceNode list)
            {
                foreach (var item in list.Children.OfType<YamlMappingNode>())
                {
                    foreach (var (k, v) in item.Children)
                    {
                        if (k is not YamlScalarNode { Value: { } from }) continue;
                        if (!fallbacks.TryGetValue(from, out var to)) fallbacks[from] = to = [];
                        to.AddRange(Names(v));
                    }
                }
            }
            if (Child(settings, "default_fallbacks") is { } d) defaults.AddRange(Names(d));
            foreach (string other in new[] { "context_window_fallbacks", "content_policy_fallbacks" })
            {
                if (Child(settings, other) is not YamlSequenceNode extra) continue;
                foreach (var item in extra.Children.OfType<YamlMappingNode>())
                {
                    foreach (var (_, v) in item.Children) targets.UnionWith(Names(v));
                }
            }
        }
        foreach (var to in fallbacks.Values) targets.UnionWith(to);
        targets.UnionWith(defaults);

        foreach (var (group, members) in groups.OrderBy(g => g.Value[0].Line))
        {
            var first = members[0];
            var providers = members.Select(m => m.Provider).ToHashSet(StringComparer.Ordinal);
            var chain = (fallbacks.TryGetValue(group, out var explicitTargets) ? explicitTargets : []).Concat(defaults).Where(t => t != group).Distinct(StringComparer.Ordinal).ToList();
            var defined = chain.Where(groups.ContainsKey).ToList();
            var undefined = chain.Where(t => !groups.ContainsKey(t)).ToList();
            if (defined.Count == 0)
            {
                if (targets.Contains(group)) continue;
                if (members.Count > 1)
                {
                    if (providers.Count == 1)
                        findings.Add(new GatewayFinding(GatewayRules.SameProviderFallback.Id, GatewayRules.SameProviderFallback.Severity,
                            $"model group '{group}' has no fallback; its {members.Count} deployments are all on {providers.First()}")
                        { ModelName = group, Path = first.Path, Line = first.Line });
                    continue;
                }
                string why = undefined.Count > 0 ? $"its fallbacks ({string.Join(", ", undefined)}) are not model groups of this config" : "no fallbacks entry names it and no default_fallbacks are set";
                findings.Add(new GatewayFinding(GatewayRules.NoFallback.Id, GatewayRules.NoFallback.Severity,
                    $"model group '{group}' ({first.Model}) has a single deployment and no fallback: {why}")
                { ModelName = group, Path = first.Path, Line = first.Line });
                continue;
            }
            var reachable = defined.SelectMany(t => groups[t]).Select(d => d.Provider).ToHashSet(StringComparer.Ordinal);
            if (reachable.IsSubsetOf(providers) && providers.Count == 1)
            {
                findings.Add(new GatewayFinding(GatewayRules.SameProviderFallback.Id, GatewayRules.SameProviderFallback.Severity,
                    $"model group '{group}' falls back only to {string.Join(", ", defined)}, on the same provider ({providers.First()})")
                { ModelName = group, Path = first.Path, Line = first.Line });
            }
        }
    }

    /// <summary>The provider a deployment depends on: LiteLLM's provider, or for OpenAI-compatible servers the host they live on.</summary>
    private static string ProviderIdentity(string provider, YamlMappingNode parameters)
    {
        string? apiBase = Scalar(parameters, "api_base");
        if (provider is "openai" or "text-completion-openai" && apiBase is not null && !apiBase.StartsWith("os.environ/", StringComparison.Ordinal)
            && Uri.TryCreate(apiBase, UriKind.Absolute, out var uri) && !uri.Host.Equals("api.openai.com", StringComparison.OrdinalIgnoreCase))
            return $"openai-compatible({uri.Host.ToLowerInvariant()})";
        return provider;
    }

    private static IEnumerable<string> Names(YamlNode node) => node switch
    {
        YamlScalarNode { Value: { } s } => [s],
        YamlSequenceNode seq => seq.Children.OfType<YamlScalarNode>().Where(c => c.Value is not null).Select(c => c.Value!),
        _ => [],
    };

    private static YamlNode? Child(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlMappingNode mapping, string key) => Child(mapping, key) is YamlScalarNode { Value: { } s } ? s : null;

    [GeneratedRegex(@"(^|_)(api_?key|apikey|secret|secret_key|password|passwd|token|credentials?|master_key|salt_key|private_key|access_key|access_key_id|auth_token|webhook_url)(_|$)", RegexOptions.CultureInvariant)]
    private static partial Regex SecretKeyPattern();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?:sk-ant-[A-Za-z0-9_\-]{16,}|sk-[A-Za-z0-9_\-]{16,}|(AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{30,}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|gsk_[A-Za-z0-9]{20,}|xox[baprs]-[A-Za-z0-9\-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)", RegexOptions.CultureInvariant)]
    private static partial Regex KnownSecretPattern();

    [GeneratedRegex(@"^[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CredentialUrlPattern();
}
