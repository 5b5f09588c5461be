using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lineage.Providers;

/// <summary>Token usage as the provider reported it.</summary>
public sealed record TokenUsage
{
    public int? PromptTokens { get; init; }

    public int? CompletionTokens { get; init; }

    public int? TotalTokens { get; init; }
}

/// <summary>One request of a probe: a prompt in one run.</summary>
public sealed record ProbeResult
{
    public required string PromptId { get; init; }

    public required string Category { get; init; }

    /// <summary>1-based run number.</summary>
    public int Run { get; init; }

    /// <summary>True when the provider answered (a refusal is an answer).</summary>
    public bool Ok { get; init; }

    /// <summary>Why the request failed (timeout, HTTP status and the provider's message, connection error); secrets redacted.</summary>
    public string? Error { get; init; }

    public int? HttpStatus { get; init; }

    /// <summary>Requests sent for this prompt and run (1 + retries).</summary>
    public int Attempts { get; init; }

    /// <summary>Time from sending the final attempt to the end of its response.</summary>
    public double? LatencyMs { get; init; }

    /// <summary>Time to the first content chunk (streaming) or to the response headers (not streaming).</summary>
    public double? TtfbMs { get; init; }

    /// <summary>"first-chunk" or "headers": what <see cref="TtfbMs"/> measured.</summary>
    public string? TtfbSource { get; init; }

    /// <summary>The <c>model</c> the provider says answered.</summary>
    public string? Model { get; init; }

    public string? SystemFingerprint { get; init; }

    public string? FinishReason { get; init; }

    public TokenUsage? Usage { get; init; }

    public string? Answer { get; init; }

    public bool Refused { get; init; }

    public IReadOnlyList<string>? RefusalMarkers { get; init; }

    /// <summary>Null for free-text prompts; pass/fail for checkable ones.</summary>
    public bool? Passed { get; init; }
}

/// <summary>Describes the suite a run used.</summary>
public sealed record SuiteInfo
{
    public required string Name { get; init; }

    public int Version { get; init; }

    /// <summary>"sha256:…" of the suite's canonical form.</summary>
    public required string Hash { get; init; }

    public int Prompts { get; init; }

    /// <summary>Path of the suite file, or "built-in".</summary>
    public string? Source { get; init; }
}

/// <summary>How the probe talked to the provider (after any adaptation to what the server accepts).</summary>
public sealed record ProbeSettings
{
    public int Runs { get; init; }

    public int Concurrency { get; init; }

    public double TimeoutSeconds { get; init; }

    public int MaxRetries { get; init; }

    /// <summary>The temperature sent, or null when the model does not accept one.</summary>
    public double? Temperature { get; init; }

    /// <summary>Whether responses were streamed (server-sent events).</summary>
    public bool Streaming { get; init; }

    /// <summary>"max_tokens" or "max_completion_tokens".</summary>
    public string? MaxTokensField { get; init; }

    public int DefaultMaxTokens { get; init; }
}

/// <summary>
/// The record of one probe: who was asked, with which suite and settings, and every answer with its timings.
/// Written as JSON (format "lineage-provider-run", version 1); never holds the API key.
/// </summary>
public sealed record ProbeRun
{
    public const string FormatName = "lineage-provider-run";
    public const int FormatVersion = 1;
    internal const long MaxFileBytes = 256L << 20;

    public string Format { get; init; } = FormatName;

    public int Version { get; init; } = FormatVersion;

    public string? Tool { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset FinishedAt { get; init; }

    /// <summary>The endpoint's base URL without credentials or query.</summary>
    public required string BaseUrl { get; init; }

    /// <summary>The model name the probe asked for.</summary>
    public required string Model { get; init; }

    public required SuiteInfo Suite { get; init; }

    public required ProbeSettings Settings { get; init; }

    public required IReadOnlyList<ProbeResult> Results { get; init; }

    /// <summary>Serializer settings for run files (snake_case, indented).</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = 16,
    };

    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null) Directory.CreateDirectory(folder);
            string temp = path + ".tmp";
            File.WriteAllText(temp, ToJson());
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException(e.Message, path, inner: e);
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads and validates a run file.</summary>
    public static ProbeRun Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new LineageException("run file not found", path);
            if (info.Length > MaxFileBytes) throw new LineageException($"run file is {info.Length} bytes; the limit is {MaxFileBytes}", path);
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException(e.Message, path, inner: e);
        }
        return Parse(bytes, path);
    }

    public static ProbeRun Parse(ReadOnlySpan<byte> utf8, string source)
    {
        ProbeRun? run;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 16 });
            run = JsonSerializer.Deserialize<ProbeRun>(ref reader, Json);
        }
        catch (JsonException e)
        {
            long? offset = null;
            throw new LineageException($"not a provider run file: {e.Message.Split(" Path:", 2)[0]}" + (e.LineNumber is long line ? $" (line {line + 1})" : ""), source, offset, inner: e);
        }
        if (run is null) throw new LineageException("not a provider run file: null", source);
        if (run.Format != FormatName) throw new LineageException($"not a provider run file (format '{run.Format}', expected '{FormatName}')", source);
        if (run.Version != FormatVersion) throw new LineageException($"unsupported run file version {run.Version} (this build reads {FormatVersion})", source);
        if (run.Results is null || run.Suite is null || run.Settings is null) throw new LineageException("run file lacks results, suite or settings", source);
        foreach (var r in run.Results)
        {
            if (r is null || string.IsNullOrEmpty(r.PromptId)) throw new LineageException("a result has no prompt_id", source);
            if (r.LatencyMs is < 0 or double.NaN || r.TtfbMs is < 0 or double.NaN) throw new LineageException($"result {r.PromptId} run {r.Run}: negative or NaN time", source);
        }
        return run;
    }
}
