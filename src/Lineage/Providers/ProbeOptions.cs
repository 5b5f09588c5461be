namespace Lineage.Providers;

/// <summary>Whether responses are streamed.</summary>
public enum StreamMode
{
    /// <summary>Ask for a stream; fall back to plain responses when the server refuses or ignores it.</summary>
    Auto,

    On,

    Off,
}

/// <summary>What to probe and how hard.</summary>
public sealed record ProbeOptions
{
    /// <summary>The API base, e.g. https://api.openai.com/v1 (/chat/completions is appended unless present).</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>The model name to ask for.</summary>
    public required string Model { get; init; }

    /// <summary>Sent as a bearer token, nowhere else; redacted from anything recorded.</summary>
    public string? ApiKey { get; init; }

    public int Runs { get; init; } = 3;

    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Per attempt, from sending to the end of the response.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Retries after the first attempt, on 408/429/5xx, timeouts and dropped connections.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>Base of the exponential backoff (with jitter); Retry-After wins when the server sends it.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Sent while the model accepts it; null never sends one.</summary>
    public double? Temperature { get; init; } = 0;

    public StreamMode Stream { get; init; } = StreamMode.Auto;

    /// <summary>Completion budget for prompts whose suite line sets none.</summary>
    public int DefaultMaxTokens { get; init; } = 256;

    /// <summary>Allows sending a key over plain http to a host other than loopback.</summary>
    public bool AllowInsecureHttp { get; init; }

    internal const int MaxRuns = 1000;
    internal const int MaxConcurrency = 64;

    internal void Validate()
    {
        if (!BaseUrl.IsAbsoluteUri || BaseUrl.Scheme is not ("http" or "https")) throw new LineageException("the base URL must be an absolute http(s) URL");
        if (string.IsNullOrWhiteSpace(Model)) throw new LineageException("no model name given");
        if (Runs is < 1 or > MaxRuns) throw new LineageException($"runs must be in 1..{MaxRuns}");
        if (Concurrency is < 1 or > MaxConcurrency) throw new LineageException($"concurrency must be in 1..{MaxConcurrency}");
        if (Timeout <= TimeSpan.Zero) throw new LineageException("the timeout must be positive");
        if (MaxRetries is < 0 or > 20) throw new LineageException("retries must be in 0..20");
        if (DefaultMaxTokens is < 1 or > PromptSuite.MaxTokensLimit) throw new LineageException($"max tokens must be in 1..{PromptSuite.MaxTokensLimit}");
        if (Temperature is double t && (!double.IsFinite(t) || t < 0 || t > 2)) throw new LineageException("temperature must be in 0..2");
        if (!string.IsNullOrEmpty(ApiKey) && BaseUrl.Scheme == "http" && !BaseUrl.IsLoopback && !AllowInsecureHttp)
            throw new LineageException($"refusing to send the API key over plain http to {BaseUrl.Host}: use https (or --allow-insecure-http)");
        if (!string.IsNullOrEmpty(ApiKey) && ApiKey.Any(c => c is < '!' or > '~')) throw new LineageException("the API key holds characters other than printable ASCII (a stray space or line break?)");
    }

    /// <summary>The chat-completions URL derived from <see cref="BaseUrl"/>.</summary>
    internal Uri Endpoint
    {
        get
        {
            var builder = new UriBuilder(BaseUrl);
            string path = builder.Path.TrimEnd('/');
            if (!path.EndsWith("/chat/completions", StringComparison.Ordinal)) path += "/chat/completions";
            builder.Path = path;
            return builder.Uri;
        }
    }

    /// <summary>The base URL as recorded: no user info, query or fragment (they may hold credentials).</summary>
    internal string RecordedBaseUrl => new UriBuilder(BaseUrl) { UserName = "", Password = "", Query = "", Fragment = "" }.Uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
}
