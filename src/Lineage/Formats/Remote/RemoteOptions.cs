using Lineage.IO.Http;

namespace Lineage.Formats.Remote;

/// <summary>
/// Where and how remote models are fetched. <see cref="FromEnvironment"/> reads LINEAGE_HF_ENDPOINT (or
/// HF_ENDPOINT) for the hub's base URL, so tests and mirrors can point hf:// at another server, and HF_TOKEN
/// (or HUGGING_FACE_HUB_TOKEN) for gated models. The token is sent as a bearer header to the hub's host only.
/// </summary>
public sealed class RemoteOptions
{
    public const string DefaultHfEndpoint = "https://huggingface.co";

    public Uri HfEndpoint { get; init; } = new(DefaultHfEndpoint);

    /// <summary>Never logged, never printed (see <see cref="ToString"/>).</summary>
    public string? HfToken { get; init; }

    public HttpRangeOptions Http { get; init; } = HttpRangeOptions.Default;

    /// <summary>Config and tokenizer files are fetched whole; larger ones are skipped with a diagnostic.</summary>
    public long MaxSidecarBytes { get; init; } = 64L << 20;

    public int MaxSidecarFiles { get; init; } = 64;

    /// <summary>Largest API answer or sharded index accepted.</summary>
    public long MaxIndexBytes { get; init; } = 32L << 20;

    /// <summary>Weights files opened (probed or sharded) at most.</summary>
    public int MaxWeightFiles { get; init; } = 1024;

    public static RemoteOptions FromEnvironment()
    {
        string? endpoint = Environment.GetEnvironmentVariable("LINEAGE_HF_ENDPOINT");
        if (string.IsNullOrWhiteSpace(endpoint)) endpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT");
        if (string.IsNullOrWhiteSpace(endpoint)) endpoint = DefaultHfEndpoint;
        if (!Uri.TryCreate(endpoint.Trim().TrimEnd('/'), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new LineageException($"LINEAGE_HF_ENDPOINT/HF_ENDPOINT is not an http(s) URL: '{endpoint}'");
        string? token = Environment.GetEnvironmentVariable("HF_TOKEN");
        if (string.IsNullOrWhiteSpace(token)) token = Environment.GetEnvironmentVariable("HUGGING_FACE_HUB_TOKEN");
        return new RemoteOptions { HfEndpoint = uri, HfToken = string.IsNullOrWhiteSpace(token) ? null : token.Trim() };
    }

    /// <summary>HTTP options carrying the token, which may only go to the hub's host.</summary>
    internal HttpRangeOptions HttpWithToken() =>
        HfToken is null ? Http.With(tokenHost: Http.TokenHost ?? HfEndpoint.Authority) : Http.With(bearerToken: HfToken, tokenHost: HfEndpoint.Authority);

    public override string ToString() => $"RemoteOptions(endpoint {HfEndpoint}, token {(HfToken is null ? "none" : "set")})";
}
