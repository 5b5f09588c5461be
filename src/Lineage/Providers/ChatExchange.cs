using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Lineage.Providers;

/// <summary>The parameters one request was sent with.</summary>
internal readonly record struct ShapeSnapshot(double? Temperature, bool Stream, bool StreamOptions, string MaxTokensField);

/// <summary>
/// The request shape the probe settles on. It starts from the options (temperature, streaming, max_tokens) and
/// adapts, for every later request, when the server answers 400 naming a parameter it does not accept
/// (reasoning models refuse a temperature and want max_completion_tokens; some servers refuse stream_options).
/// </summary>
internal sealed class RequestShape(double? temperature, bool stream)
{
    private volatile bool _sendTemperature = temperature is not null;
    private volatile bool _stream = stream;
    private volatile bool _streamOptions = stream;
    private volatile bool _maxCompletionTokens;

    public double? Temperature => _sendTemperature ? temperature : null;

    public bool Stream => _stream;

    public string MaxTokensField => _maxCompletionTokens ? "max_completion_tokens" : "max_tokens";

    public ShapeSnapshot Snapshot()
    {
        bool s = _stream;
        return new ShapeSnapshot(Temperature, s, s && _streamOptions, MaxTokensField);
    }

    /// <summary>
    /// Adapts to a 400 that names a parameter the request carried; false when it names nothing we can drop.
    /// Concurrent requests rejected for the same parameter all get true (the first one changed the shape).
    /// </summary>
    public bool AdaptTo(string errorText, ShapeSnapshot sent, bool streamForced)
    {
        string text = errorText.ToLowerInvariant();
        if (sent.StreamOptions && text.Contains("stream_options", StringComparison.Ordinal))
        {
            _streamOptions = false;
            return true;
        }
        if (sent.Temperature is not null && text.Contains("temperature", StringComparison.Ordinal))
        {
            _sendTemperature = false;
            return true;
        }
        if (sent.MaxTokensField == "max_tokens" && text.Contains("max_tokens", StringComparison.Ordinal))
        {
            _maxCompletionTokens = true;
            return true;
        }
        if (sent.Stream && !streamForced && text.Contains("stream", StringComparison.Ordinal))
        {
            _stream = false;
            return true;
        }
        return false;
    }

    /// <summary>The server ignored the stream request and answered with plain JSON: stop asking.</summary>
    public void StreamIgnored()
    {
        _stream = false;
        _streamOptions = false;
    }
}

/// <summary>The outcome of one HTTP attempt.</summary>
internal sealed record Attempt
{
    public int Status { get; init; }

    /// <summary>408, 409 (OpenAI's "try again"), 429 and 5xx: worth retrying.</summary>
    public bool Transient => Status is 408 or 409 or 429 or >= 500;

    public bool Success => Status is >= 200 and < 300;

    public TimeSpan? RetryAfter { get; init; }

    /// <summary>The provider's error message (body), unredacted; the caller redacts before recording.</summary>
    public string? ErrorText { get; init; }

    public double LatencyMs { get; init; }

    public double TtfbMs { get; init; }

    public string? TtfbSource { get; init; }

    public string? Model { get; init; }

    public string? SystemFingerprint { get; init; }

    public string? FinishReason { get; init; }

    public TokenUsage? Usage { get; init; }

    public string? Answer { get; init; }

    public string? Refusal { get; init; }

    public bool Streamed { get; init; }
}

/// <summary>Sends one chat-completions request and reads the whole answer, streamed or not, within size limits.</summary>
internal static class ChatExchange
{
    /// <summary>A response body larger than this is a broken or hostile server, not an answer.</summary>
    internal const int MaxResponseChars = 8 << 20;

    private const int MaxErrorChars = 64 << 10;

    public static async Task<Attempt> SendAsync(HttpClient client, Uri endpoint, string? apiKey, string model, SuitePrompt prompt,
        int maxTokens, RequestShape shape, ShapeSnapshot sent, CancellationToken ct)
    {
        bool stream = sent.Stream;
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new ByteArrayContent(Body(model, prompt, maxTokens, sent)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(stream ? "text/event-stream" : "application/json"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("lineage", "1"));
        if (!string.IsNullOrEmpty(apiKey)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);

        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        double headersMs = clock.Elapsed.TotalMilliseconds;
        int status = (int)response.StatusCode;
        if (!response.IsSuccessStatusCode)
        {
            string body = await ReadBoundedAsync(response.Content, MaxErrorChars, truncate: true, ct).ConfigureAwait(false);
            return new Attempt { Status = status, RetryAfter = RetryAfter(response), ErrorText = ErrorMessage(body, response.StatusCode) };
        }
        string? mediaType = response.Content.Headers.ContentType?.MediaType;
        if (stream && string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            return await ReadStreamAsync(response, status, clock, ct).ConfigureAwait(false);

        string json = await ReadBoundedAsync(response.Content, MaxResponseChars, truncate: false, ct).ConfigureAwait(false);
        double latencyMs = clock.Elapsed.TotalMilliseconds;
        // An empty 200 is what some proxies send when the upstream connection drops: worth a retry.
        if (string.IsNullOrWhiteSpace(json)) throw new IOException("the response body was empty");
        if (stream) shape.StreamIgnored();
        var parsed = ParseCompletion(json);
        return parsed with { Status = status, LatencyMs = latencyMs, TtfbMs = headersMs, TtfbSource = "headers", Streamed = false };
    }

    private static byte[] Body(string model, SuitePrompt prompt, int maxTokens, ShapeSnapshot shape)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("messages");
            if (prompt.System is not null)
            {
                w.WriteStartObject();
                w.WriteString("role", "system");
                w.WriteString("content", prompt.System);
                w.WriteEndObject();
            }
            w.WriteStartObject();
            w.WriteString("role", "user");
            w.WriteString("content", prompt.Prompt);
            w.WriteEndObject();
            w.WriteEndArray();
            if (shape.Temperature is double t) w.WriteNumber("temperature", t);
            w.WriteNumber(shape.MaxTokensField, maxTokens);
            if (shape.Stream)
            {
                w.WriteBoolean("stream", true);
                if (shape.StreamOptions)
                {
                    w.WriteStartObject("stream_options");
                    w.WriteBoolean("include_usage", true);
                    w.WriteEndObject();
                }
            }
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static async Task<Attempt> ReadStreamAsync(HttpResponseMessage response, int status, Stopwatch clock, CancellationToken ct)
    {
        var answer = new StringBuilder();
        var refusal = new StringBuilder();
        string? model = null, fingerprint = null, finish = null;
        TokenUsage? usage = null;
        double? firstChunkMs = null, firstEventMs = null;
        bool done = false;
        string? streamError = null;

        using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var reader = new StreamReader(body, Encoding.UTF8);
        var data = new StringBuilder();
        var line = new StringBuilder();
        var block = new char[4096];
        long total = 0;
        while (!done)
        {
            int n = await reader.ReadAsync(block.AsMemory(), ct).ConfigureAwait(false);
            if (n == 0)
            {
                if (line.Length > 0) Line(line.ToString());
                Dispatch();
                break;
            }
            total += n;
            if (total > MaxResponseChars) throw new LineageException($"the streamed response exceeds {MaxResponseChars} characters");
            for (int i = 0; i < n && !done; i++)
            {
                char c = block[i];
                if (c == '\n')
                {
                    Line(line.ToString());
                    line.Clear();
                }
                else if (c != '\r')
                {
                    line.Append(c);
                }
            }
        }
        double latencyMs = clock.Elapsed.TotalMilliseconds;
        if (streamError is not null) return new Attempt { Status = 502, ErrorText = "error event in stream: " + streamError };
        // A stream that stops without [DONE] or a finish reason was cut off: a dropped connection, worth a retry.
        if (!done && finish is null) throw new IOException("the event stream ended before the answer was complete");
        return new Attempt
        {
            Status = status,
            LatencyMs = latencyMs,
            TtfbMs = firstChunkMs ?? firstEventMs ?? latencyMs,
            TtfbSource = "first-chunk",
            Model = model,
            SystemFingerprint = fingerprint,
            FinishReason = finish,
            Usage = usage,
            Answer = answer.ToString(),
            Refusal = refusal.Length > 0 ? refusal.ToString() : null,
            Streamed = true,
        };

        void Line(string text)
        {
            if (text.Length == 0)
            {
                Dispatch();
                return;
            }
            if (text.StartsWith(':')) return;
            if (text.StartsWith("data:", StringComparison.Ordinal))
            {
                if (data.Length > 0) data.Append('\n');
                data.Append(text.AsSpan(5).TrimStart(' '));
            }
        }

        void Dispatch()
        {
            if (data.Length == 0) return;
            string payload = data.ToString();
            data.Clear();
            firstEventMs ??= clock.Elapsed.TotalMilliseconds;
            if (payload.Trim() == "[DONE]")
            {
                done = true;
                return;
            }
            try
            {
                using var doc = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 32 });
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) return;
                if (root.TryGetProperty("error", out var error))
                {
                    streamError = ErrorMessageFrom(error) ?? "unknown error";
                    done = true;
                    return;
                }
                model = Str(root, "model") ?? model;
                fingerprint = Str(root, "system_fingerprint") ?? fingerprint;
                if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object) usage = Usage(u);
                if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
                {
                    foreach (var choice in choices.EnumerateArray())
                    {
                        if (choice.ValueKind != JsonValueKind.Object) continue;
                        if (choice.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number && (!index.TryGetInt32(out int ix) || ix != 0)) continue;
                        if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
                        {
                            string? content = Str(delta, "content");
                            string? refused = Str(delta, "refusal");
                            if (!string.IsNullOrEmpty(content) || !string.IsNullOrEmpty(refused) || !string.IsNullOrEmpty(Str(delta, "reasoning_content")))
                                firstChunkMs ??= clock.Elapsed.TotalMilliseconds;
                            answer.Append(content);
                            refusal.Append(refused);
                        }
                        finish = Str(choice, "finish_reason") ?? finish;
                    }
                }
            }
            catch (JsonException)
            {
                // A malformed event is skipped; the answer is judged on what arrived.
            }
        }
    }

    internal static Attempt ParseCompletion(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new LineageException("the completion response is not a JSON object");
            if (root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null)
                return new Attempt { Status = 502, ErrorText = "error object in a 200 response: " + (ErrorMessageFrom(error) ?? "unknown") };
            string? answer = null, refusal = null, finish = null;
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
            {
                var choice = choices[0];
                if (choice.ValueKind == JsonValueKind.Object)
                {
                    finish = Str(choice, "finish_reason");
                    if (choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
                    {
                        answer = Content(message);
                        refusal = Str(message, "refusal");
                    }
                    else
                    {
                        answer = Str(choice, "text");
                    }
                }
            }
            else
            {
                throw new LineageException("the completion response has no choices");
            }
            return new Attempt
            {
                Model = Str(root, "model"),
                SystemFingerprint = Str(root, "system_fingerprint"),
                FinishReason = finish,
                Usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? Usage(u) : null,
                Answer = answer ?? "",
                Refusal = refusal,
            };
        }
        catch (JsonException e)
        {
            throw new LineageException($"the completion response is not valid JSON: {e.Message.Split(" Path:", 2)[0]}");
        }
    }

    private static string? Content(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content)) return null;
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) return null;
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.Object && Str(part, "text") is { } t) text.Append(t);
        }
        return text.ToString();
    }

    private static TokenUsage Usage(JsonElement u) => new()
    {
        PromptTokens = Int(u, "prompt_tokens"),
        CompletionTokens = Int(u, "completion_tokens"),
        TotalTokens = Int(u, "total_tokens"),
    };

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;

    private static string ErrorMessage(string body, HttpStatusCode status)
    {
        string? message = null;
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
                message = ErrorMessageFrom(error);
        }
        catch (JsonException)
        {
        }
        message ??= body.Trim();
        if (message.Length > 500) message = message[..500] + "…";
        return message.Length == 0 ? $"HTTP {(int)status} {status}" : $"HTTP {(int)status}: {message.ReplaceLineEndings(" ")}";
    }

    private static string? ErrorMessageFrom(JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.String) return error.GetString();
        if (error.ValueKind != JsonValueKind.Object) return null;
        string? message = Str(error, "message");
        string? param = Str(error, "param");
        string? code = Str(error, "code");
        return string.Join(" ", new[] { message, param is null ? null : $"(param: {param})", code is null ? null : $"(code: {code})" }.Where(s => s is not null));
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is TimeSpan delta) return delta;
        if (header?.Date is DateTimeOffset date) return date - DateTimeOffset.UtcNow;
        // OpenAI-style hints in milliseconds or seconds.
        if (response.Headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out double m))
            return TimeSpan.FromMilliseconds(m);
        return null;
    }

    private static async Task<string> ReadBoundedAsync(HttpContent content, int maxChars, bool truncate, CancellationToken ct)
    {
        using var body = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var reader = new StreamReader(body, Encoding.UTF8);
        var text = new StringBuilder();
        var block = new char[8192];
        while (true)
        {
            int n = await reader.ReadAsync(block.AsMemory(), ct).ConfigureAwait(false);
            if (n == 0) return text.ToString();
            if (text.Length + n > maxChars)
            {
                if (truncate) return text.Append(block, 0, maxChars - text.Length).ToString();
                throw new LineageException($"the response exceeds {maxChars} characters");
            }
            text.Append(block, 0, n);
        }
    }
}
