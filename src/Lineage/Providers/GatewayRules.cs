using Lineage.Security;

namespace Lineage.Providers;

/// <summary>A gateway rule: stable id, default severity, one-line description.</summary>
public sealed record GatewayRule(string Id, Severity Severity, string Description);

/// <summary>The rules of <c>lineage gateway check</c> (ids are stable; docs/providers.md explains each).</summary>
public static class GatewayRules
{
    public static readonly GatewayRule InlineSecret = new("inline-secret", Severity.High,
        "A credential is written into the file instead of read from the environment (os.environ/NAME). The value is never printed.");

    public static readonly GatewayRule UnpinnedModel = new("unpinned-model", Severity.Medium,
        "The deployment calls a moving alias (gpt-4o, *-latest, an undated name of a family with dated snapshots, a wildcard): the provider can change the model behind it.");

    public static readonly GatewayRule NoFallback = new("no-fallback", Severity.Medium,
        "A model group that is not itself a fallback has no fallback and a single deployment: one provider outage or retirement takes it down.");

    public static readonly GatewayRule SameProviderFallback = new("same-provider-fallback", Severity.Low,
        "Every fallback (or extra deployment) of the model group is on the same provider, which fails, rate-limits and retires models together.");

    public static readonly GatewayRule UnknownField = new("unknown-field", Severity.Low,
        "A key this checker does not know in a section it knows: often a typo that LiteLLM silently ignores (a misspelt 'fallbacks' disables them).");

    public static IReadOnlyList<GatewayRule> All { get; } = [InlineSecret, UnpinnedModel, NoFallback, SameProviderFallback, UnknownField];
}
