using System.Net;
using System.Reflection;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Lineage.Providers;

/// <summary>
/// Sends a prompt suite to an OpenAI-compatible chat-completions endpoint, <see cref="ProbeOptions.Runs"/>
/// times, and records every answer with its timings. Requests run with bounded concurrency; each attempt has a
/// timeout; 408/409/429/5xx, timeouts and dropped connections are retried with exponential backoff and jitter
/// (Polly), honouring Retry-After. A request that still fails is recorded as an error, not dropped. The API
/// key goes into the Authorization header only, redirects are not followed (a key never leaves its host), and
/// everything recorded from the server (errors, answers) has the key redacted.
/// </summary>
public static class ProviderProbe
{
    /// <summary>Adapting to a 400 that names a parameter (temperature, max_tokens, stream) at most this often per request.</summary>
    private const int MaxAdaptations = 4;

    public static async Task<ProbeRun> RunAsync(PromptSuite suite, ProbeOptions options, IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var redactor = new Redactor(options.ApiKey);
        var shape = new RequestShape(options.Temperature, options.Stream != StreamMode.Off);
        var pipeline = BuildPipeline(options);
        var endpoint = options.Endpoint;
        var started = DateTimeOffset.UtcNow;

        using var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.All,
            ConnectTimeout = options.Timeout,
            MaxConnectionsPerServer = options.Concurrency,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseCookies = false,
        };
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };

        var work = new List<(SuitePrompt Prompt, int Run, int Index)>();
        for (int run = 1; run <= options.Runs; run++)
        {
            foreach (var prompt in suite.Prompts) work.Add((prompt, run, work.Count));
        }
        var results = new ProbeResult[work.Count];
        int done = 0, answered = 0, failed = 0;
        // An endpoint that fails every one of the first requests (unreachable, wrong key, unknown model) is not
        // asked the rest: each would only wait through its retries to fail the same way.
        int giveUpAfter = Math.Max(8, 2 * options.Concurrency);
        progress?.Report((0, work.Count));
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency, CancellationToken = ct }, async (item, token) =>
        {
            ProbeResult result;
            if (Volatile.Read(ref answered) == 0 && Volatile.Read(ref failed) >= giveUpAfter)
            {
                result = new ProbeResult
                {
                    PromptId = item.Prompt.Id,
                    Category = item.Prompt.Category,
                    Run = item.Run,
                    Error = $"not sent: the first {giveUpAfter} requests all failed",
                };
            }
            else
            {
                result = await ProbeOne(client, endpoint, options, shape, pipeline, redactor, item.Prompt, item.Run, token).ConfigureAwait(false);
                Interlocked.Increment(ref result.Ok ? ref answered : ref failed);
            }
            results[item.Index] = result;
            progress?.Report((Interlocked.Increment(ref done), work.Count));
        }).ConfigureAwait(false);

        return new ProbeRun
        {
            Tool = ToolVersion,
            StartedAt = started,
            FinishedAt = DateTimeOffset.UtcNow,
            BaseUrl = options.RecordedBaseUrl,
            Model = options.Model,
            Suite = new SuiteInfo { Name = suite.Name, Version = suite.Version, Hash = suite.Hash, Prompts = suite.Prompts.Count, Source = suite.Source },
            Settings = new ProbeSettings
            {
                Runs = options.Runs,
                Concurrency = options.Concurrency,
                TimeoutSeconds = options.Timeout.TotalSeconds,
                MaxRetries = options.MaxRetries,
                Temperature = shape.Temperature,
                Streaming = results.Any(r => r.TtfbSource == "first-chunk"),
                MaxTokensField = shape.MaxTokensField,
                DefaultMaxTokens = options.DefaultMaxTokens,
            },
            Results = results,
        };
    }

    internal static string ToolVersion =>
        "lineage " + (typeof(ProviderProbe).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0").Split('+')[0];

    private static ResiliencePipeline<Attempt> BuildPipeline(ProbeOptions options)
    {
        var builder = new ResiliencePipelineBuilder<Attempt>();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<Attempt>
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: TimeoutRejectedException or HttpRequestException or IOException } => true,
                    { Exception: null, Result.Transient: true } => true,
                    _ => false,
                }),
                DelayGenerator = args =>
                {
                    if (args.Outcome.Result?.RetryAfter is TimeSpan after)
                        return ValueTask.FromResult<TimeSpan?>(after < TimeSpan.Zero ? TimeSpan.Zero : after > options.MaxRetryDelay ? options.MaxRetryDelay : after);
                    return ValueTask.FromResult<TimeSpan?>(null);
                },
            });
        }
        builder.AddTimeout(options.Timeout);
        return builder.Build();
    }

    private static async Task<ProbeResult> ProbeOne(HttpClient client, Uri endpoint, ProbeOptions options, RequestShape shape,
        ResiliencePipeline<Attempt> pipeline, Redactor redactor, SuitePrompt prompt, int run, CancellationToken ct)
    {
        int attempts = 0;
        int maxTokens = prompt.MaxTokens ?? options.DefaultMaxTokens;
        var failed = new ProbeResult { PromptId = prompt.Id, Category = prompt.Category, Run = run };
        try
        {
            Attempt attempt;
            for (int adaptation = 0; ; adaptation++)
            {
                var sent = shape.Snapshot();
                attempt = await pipeline.ExecuteAsync(async token =>
                {
                    Interlocked.Increment(ref attempts);
                    return await ChatExchange.SendAsync(client, endpoint, options.ApiKey, options.Model, prompt, maxTokens, shape, sent, token).ConfigureAwait(false);
                }, ct).ConfigureAwait(false);
                if (attempt.Status == 400 && adaptation < MaxAdaptations && shape.AdaptTo(attempt.ErrorText ?? "", sent, options.Stream == StreamMode.On)) continue;
                break;
            }
            if (!attempt.Success)
            {
                string error = attempt.Status is >= 300 and < 400 ? $"HTTP {attempt.Status}: redirect not followed (the key stays with its host)" : attempt.ErrorText ?? $"HTTP {attempt.Status}";
                return failed with { Attempts = attempts, HttpStatus = attempt.Status, Error = redactor.Apply(error) };
            }
            string answer = redactor.Apply(attempt.Answer) ?? "";
            var markers = AnswerChecks.FindRefusalMarkers(answer, attempt.Refusal, attempt.FinishReason);
            bool refused = markers.Count > 0;
            return new ProbeResult
            {
                PromptId = prompt.Id,
                Category = prompt.Category,
                Run = run,
                Ok = true,
                HttpStatus = attempt.Status,
                Attempts = attempts,
                LatencyMs = Math.Round(attempt.LatencyMs, 3),
                TtfbMs = Math.Round(attempt.TtfbMs, 3),
                TtfbSource = attempt.TtfbSource,
                Model = redactor.Apply(attempt.Model),
                SystemFingerprint = redactor.Apply(attempt.SystemFingerprint),
                FinishReason = attempt.FinishReason,
                Usage = attempt.Usage,
                Answer = answer,
                Refused = refused,
                RefusalMarkers = refused ? markers : null,
                Passed = prompt.Expect is null ? null : !refused && AnswerChecks.Passes(prompt.Expect, answer),
            };
        }
        catch (TimeoutRejectedException)
        {
            return failed with { Attempts = attempts, Error = $"timeout: no complete answer within {options.Timeout.TotalSeconds:0.###} s" };
        }
        catch (HttpRequestException e)
        {
            return failed with { Attempts = attempts, Error = redactor.Apply("connection: " + Flatten(e)) };
        }
        catch (IOException e)
        {
            return failed with { Attempts = attempts, Error = redactor.Apply("connection: " + Flatten(e)) };
        }
        catch (LineageException e)
        {
            return failed with { Attempts = attempts, Error = redactor.Apply(e.Message) };
        }
    }

    private static string Flatten(Exception e)
    {
        var parts = new List<string>();
        for (var x = e; x is not null && parts.Count < 3; x = x.InnerException) parts.Add(x.Message.ReplaceLineEndings(" "));
        return string.Join(" <- ", parts.Distinct());
    }
}
