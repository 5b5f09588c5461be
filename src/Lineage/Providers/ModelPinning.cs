using System.Text.RegularExpressions;

namespace Lineage.Providers;

/// <summary>
/// The one table of provider alias rules: which model names move under you. A name is unpinned when it is a
/// moving alias (<c>*-latest</c>, <c>:latest</c>, a wildcard route) or an undated name of a family whose
/// provider publishes dated (or numbered) snapshots, so the alias is repointed when a new snapshot ships.
/// Providers whose names carry no such information (Azure deployment names, self-hosted servers) are not judged.
/// </summary>
public static partial class ModelPinning
{
    /// <summary>One rule: for these providers, a model name matching <see cref="Unpinned"/> is unpinned.</summary>
    public sealed record AliasRule(string[] Providers, Regex Unpinned, string Reason, string Suggestion);

    /// <summary>"*" in <see cref="AliasRule.Providers"/> applies to every provider.</summary>
    public static readonly IReadOnlyList<AliasRule> Rules =
    [
        new(["*"], LatestPattern(), "a '-latest' or ':latest' alias follows every new release", "name a dated snapshot"),
        new(["*"], WildcardPattern(), "a wildcard route lets clients call any model of the provider", "list the pinned models the gateway should serve"),
        new(["openai", "openrouter", "text-completion-openai"], OpenAiPattern(), "OpenAI repoints this alias to new snapshots", "pin a dated snapshot such as gpt-4o-2024-08-06 or o3-mini-2025-01-31"),
        new(["anthropic", "vertex_ai", "openrouter"], AnthropicPattern(), "Anthropic publishes dated snapshots (claude-…-YYYYMMDD); the undated name is an alias", "pin a dated snapshot such as claude-3-5-sonnet-20241022 (on Vertex AI: claude-…@YYYYMMDD)"),
        new(["gemini", "vertex_ai", "vertex_ai_beta", "openrouter"], GeminiPattern(), "Google publishes numbered stable versions (-001, -002) of this family; the bare name is an alias", "pin a numbered version such as gemini-1.5-pro-002 or gemini-2.0-flash-001"),
        new(["mistral", "openrouter"], MistralPattern(), "Mistral publishes dated versions (-2411, -2407); the bare name is an alias", "pin a dated version such as mistral-large-2411"),
        new(["ollama", "ollama_chat"], OllamaUntaggedPattern(), "an Ollama model without a tag means ':latest', which moves", "pin an explicit tag (better: a digest)"),
    ];

    /// <summary>The LiteLLM provider of a model string ("openai/gpt-4o" → openai; "gpt-4o" → inferred from the name).</summary>
    public static (string Provider, string Name) Split(string model, string? customProvider = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        int slash = model.IndexOf('/', StringComparison.Ordinal);
        if (!string.IsNullOrEmpty(customProvider)) return (customProvider.ToLowerInvariant(), slash > 0 && model[..slash].Equals(customProvider, StringComparison.OrdinalIgnoreCase) ? model[(slash + 1)..] : model);
        if (slash > 0) return (model[..slash].ToLowerInvariant(), model[(slash + 1)..]);
        return (InferProvider(model), model);
    }

    /// <summary>Why <paramref name="model"/> is unpinned, or null when it is pinned or cannot be judged.</summary>
    public static AliasRule? FindUnpinned(string model, string? customProvider = null)
    {
        var (provider, name) = Split(model, customProvider);
        // OpenRouter names nest the upstream provider: openrouter/openai/gpt-4o.
        string inner = provider == "openrouter" && name.Contains('/', StringComparison.Ordinal) ? name[(name.IndexOf('/', StringComparison.Ordinal) + 1)..] : name;
        foreach (var rule in Rules)
        {
            if (!rule.Providers.Contains("*") && !rule.Providers.Contains(provider)) continue;
            if (rule.Unpinned.IsMatch(rule.Providers.Contains("*") ? model : inner)) return rule;
        }
        return null;
    }

    internal static string InferProvider(string name)
    {
        string n = name.ToLowerInvariant();
        if (n.StartsWith("gpt-", StringComparison.Ordinal) || n.StartsWith("chatgpt-", StringComparison.Ordinal) || OpenAiReasoningPrefix().IsMatch(n)
            || n.StartsWith("text-embedding-", StringComparison.Ordinal) || n.StartsWith("dall-e", StringComparison.Ordinal)) return "openai";
        if (n.StartsWith("claude", StringComparison.Ordinal)) return "anthropic";
        if (n.StartsWith("gemini", StringComparison.Ordinal)) return "gemini";
        if (n.StartsWith("mistral", StringComparison.Ordinal) || n.StartsWith("codestral", StringComparison.Ordinal) || n.StartsWith("pixtral", StringComparison.Ordinal)
            || n.StartsWith("ministral", StringComparison.Ordinal) || n.StartsWith("open-mistral", StringComparison.Ordinal)) return "mistral";
        if (n.StartsWith("command", StringComparison.Ordinal)) return "cohere";
        return "unknown";
    }

    [GeneratedRegex(@"(-latest|:latest)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex LatestPattern();

    [GeneratedRegex(@"(^|/)\*$", RegexOptions.CultureInvariant)]
    private static partial Regex WildcardPattern();

    [GeneratedRegex(@"^(gpt-(3\.5-turbo|4|4-turbo|4o|4o-mini|4\.1|4\.1-mini|4\.1-nano|4\.5-preview|5|5-mini|5-nano|5\.1)|o1|o1-mini|o1-preview|o1-pro|o3|o3-mini|o3-pro|o4-mini|chatgpt-4o)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex OpenAiPattern();

    [GeneratedRegex(@"^o\d", RegexOptions.CultureInvariant)]
    private static partial Regex OpenAiReasoningPrefix();

    /// <summary>claude-… without a trailing -YYYYMMDD or @YYYYMMDD.</summary>
    [GeneratedRegex(@"^claude-(?!.*([-@]\d{8})$)[a-z0-9.\-]+$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex AnthropicPattern();

    [GeneratedRegex(@"^gemini-(1\.0-pro|1\.5-pro|1\.5-flash|1\.5-flash-8b|2\.0-flash|2\.0-flash-lite)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex GeminiPattern();

    [GeneratedRegex(@"^(mistral-(large|medium|small|tiny|saba)|codestral|pixtral-large|pixtral|ministral-(3b|8b)|open-mistral-nemo)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MistralPattern();

    [GeneratedRegex(@"^[^:]+$", RegexOptions.CultureInvariant)]
    private static partial Regex OllamaUntaggedPattern();
}
