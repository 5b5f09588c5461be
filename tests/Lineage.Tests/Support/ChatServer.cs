using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Providers;

namespace Lineage.Tests.Support;

/// <summary>What the stand-in server answers to one prompt.</summary>
internal sealed record ScriptedPrompt(string Category)
{
    /// <summary>Reworded answers, picked at random per call (the unchanged provider's run-to-run variation).</summary>
    public required string[] Answers { get; init; }

    /// <summary>What a silently updated model answers instead (other content, similar length).</summary>
    public required string[] OtherAnswers { get; init; }

    /// <summary>Probability of a refusal before the update.</summary>
    public double RefuseProbability { get; init; }

    /// <summary>Probability of a refusal after the update.</summary>
    public double UpdatedRefuseProbability { get; init; }
}

/// <summary>The switches of the stand-in provider; each changes one kind of behaviour.</summary>
internal sealed class ChatBehaviour
{
    public string ModelId { get; set; } = "stand-in-2024-05-13";

    public string? Fingerprint { get; set; } = "fp_a1b2c3";

    /// <summary>Uniform latency in [Min, Max] ms per request, times <see cref="LatencyFactor"/>.</summary>
    public int LatencyMinMs { get; set; } = 8;

    public int LatencyMaxMs { get; set; } = 16;

    public double LatencyFactor { get; set; } = 1;

    /// <summary>Answer with <see cref="ScriptedPrompt.OtherAnswers"/>.</summary>
    public bool OtherAnswers { get; set; }

    /// <summary>Refuse with <see cref="ScriptedPrompt.UpdatedRefuseProbability"/>.</summary>
    public bool RefuseMore { get; set; }

    /// <summary>
    /// Share of the prompts (spread evenly over the script's order) that <see cref="OtherAnswers"/>,
    /// <see cref="RefuseMore"/> and <see cref="LengthFactor"/> apply to: an update that changed only some behaviour.
    /// </summary>
    public double ChangedShare { get; set; } = 1;

    /// <summary>Repeat every free answer this many times (longer answers, same content).</summary>
    public int LengthFactor { get; set; } = 1;

    /// <summary>Every odd call of a prompt fails once: a 429 (Retry-After: 0) or a dropped connection, alternately.</summary>
    public bool Flaky { get; set; }

    /// <summary>Calls whose prompt id is in this set (all when null and <see cref="StallAll"/>) hang past any timeout.</summary>
    public HashSet<string>? StallPrompts { get; set; }

    public bool StallAll { get; set; }

    /// <summary>Stream server-sent events when asked.</summary>
    public bool SupportsStreaming { get; set; } = true;

    /// <summary>Answer 400 to any request carrying a temperature (as reasoning models do).</summary>
    public bool RejectTemperature { get; set; }

    /// <summary>When set, requests must carry this bearer token; a wrong one gets a 401 that echoes it.</summary>
    public string? RequiredKey { get; set; }

    /// <summary>A broken server that puts the caller's key into answers and model ids.</summary>
    public bool EchoKey { get; set; }
}

/// <summary>
/// A stand-in OpenAI-compatible chat-completions server on 127.0.0.1 for tests. Answers come from a script keyed
/// by prompt text; randomness is seeded per server and derived from the prompt and its call count, so a run's
/// answers do not depend on request interleaving. It speaks minimal HTTP/1.1 (keep-alive, Content-Length or
/// chunked server-sent events) over sockets with Nagle's algorithm off: HttpListener on Linux leaves it on, and
/// each streamed event then waits for the client's delayed ACK (~40 ms measured), which would drown the fake
/// latencies the tests switch. Dropped connections are real (RST mid-answer). Stops when disposed.
/// </summary>
internal sealed class ChatServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Dictionary<string, (string Id, ScriptedPrompt Script)> _script;
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<JsonObject> _bodies = new();
    private readonly ConcurrentQueue<string?> _authorizations = new();
    private readonly ConcurrentDictionary<Socket, bool> _connections = new();
    private readonly Dictionary<string, int> _order;
    private readonly int _seed;

    public ChatServer(IReadOnlyDictionary<string, (string Id, ScriptedPrompt Script)> script, int seed, ChatBehaviour? behaviour = null)
    {
        _script = new Dictionary<string, (string, ScriptedPrompt)>(script, StringComparer.Ordinal);
        _order = script.Keys.Select((prompt, i) => (prompt, i)).ToDictionary(x => x.prompt, x => x.i, StringComparer.Ordinal);
        _seed = seed;
        Behaviour = behaviour ?? new ChatBehaviour();
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = Task.Run(AcceptLoop);
    }

    public ChatBehaviour Behaviour { get; }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}/v1";

    public IReadOnlyList<JsonObject> Bodies => [.. _bodies];

    public IReadOnlyList<string?> Authorizations => [.. _authorizations];

    public int Requests => _bodies.Count;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var socket in _connections.Keys) socket.Dispose();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                return;
            }
            socket.NoDelay = true;
            _connections[socket] = true;
            _ = Task.Run(() => Serve(socket));
        }
    }

    /// <summary>One keep-alive connection: requests in turn until the client closes or the server drops it.</summary>
    private async Task Serve(Socket socket)
    {
        try
        {
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var buffer = new List<byte>();
            while (!_stop.IsCancellationRequested)
            {
                var request = await ReadRequest(stream, buffer).ConfigureAwait(false);
                if (request is null) return;
                if (!await Handle(stream, socket, request).ConfigureAwait(false)) return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or JsonException)
        {
        }
        finally
        {
            _connections.TryRemove(socket, out _);
            socket.Dispose();
        }
    }

    private sealed record Request(string Method, string Path, Dictionary<string, string> Headers, string Body);

    private async Task<Request?> ReadRequest(NetworkStream stream, List<byte> pending)
    {
        var chunk = new byte[8192];
        int headEnd;
        while ((headEnd = IndexOf(pending, "\r\n\r\n"u8)) < 0)
        {
            if (pending.Count > 65536) return null;
            int n = await stream.ReadAsync(chunk, _stop.Token).ConfigureAwait(false);
            if (n == 0) return null;
            pending.AddRange(chunk.AsSpan(0, n));
        }
        var lines = Encoding.ASCII.GetString([.. pending.GetRange(0, headEnd)]).Split("\r\n");
        pending.RemoveRange(0, headEnd + 4);
        var first = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        int length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, CultureInfo.InvariantCulture) : 0;
        while (pending.Count < length)
        {
            int n = await stream.ReadAsync(chunk, _stop.Token).ConfigureAwait(false);
            if (n == 0) return null;
            pending.AddRange(chunk.AsSpan(0, n));
        }
        string body = Encoding.UTF8.GetString([.. pending.GetRange(0, length)]);
        pending.RemoveRange(0, length);
        return new Request(first[0], first.Length > 1 ? first[1] : "/", headers, body);
    }

    private static int IndexOf(List<byte> data, ReadOnlySpan<byte> pattern)
    {
        for (int i = 0; i + pattern.Length <= data.Count; i++)
        {
            bool match = true;
            for (int j = 0; j < pattern.Length && match; j++) match = data[i + j] == pattern[j];
            if (match) return i;
        }
        return -1;
    }

    /// <summary>Answers one request; false when the connection was dropped on purpose.</summary>
    private async Task<bool> Handle(NetworkStream stream, Socket socket, Request request)
    {
        if (request.Method != "POST" || request.Path != "/v1/chat/completions")
        {
            await Json(stream, 404, new JsonObject { ["error"] = new JsonObject { ["message"] = "not found" } }).ConfigureAwait(false);
            return true;
        }
        var body = JsonNode.Parse(request.Body)!.AsObject();
        _bodies.Enqueue(body);
        string? auth = request.Headers.GetValueOrDefault("Authorization");
        _authorizations.Enqueue(auth);
        var b = Behaviour;

        string presented = auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : "";
        if (b.RequiredKey is not null && presented != b.RequiredKey)
        {
            // Like real providers, the error echoes the key that was presented.
            await Json(stream, 401, new JsonObject { ["error"] = new JsonObject { ["message"] = $"Incorrect API key provided: {presented}. You can find your API key in your account.", ["code"] = "invalid_api_key" } }).ConfigureAwait(false);
            return true;
        }
        if (b.RejectTemperature && body.ContainsKey("temperature"))
        {
            await Json(stream, 400, new JsonObject { ["error"] = new JsonObject { ["message"] = "Unsupported value: 'temperature' does not support 0 with this model.", ["param"] = "temperature" } }).ConfigureAwait(false);
            return true;
        }

        string prompt = body["messages"]!.AsArray().Last()!["content"]!.GetValue<string>();
        if (!_script.TryGetValue(prompt, out var entry))
        {
            await Json(stream, 400, new JsonObject { ["error"] = new JsonObject { ["message"] = "unknown prompt" } }).ConfigureAwait(false);
            return true;
        }
        int call = _calls.AddOrUpdate(prompt, 1, (_, n) => n + 1);
        var random = new Random(unchecked(_seed * 486187739 + StableHash(prompt) * 31 + call));

        if (b.Flaky && call % 2 == 1)
        {
            if ((call / 2) % 2 == 0)
            {
                await Write(stream, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n").ConfigureAwait(false);
                return true;
            }
            // A connection dropped mid-answer: the headers promise more bytes than ever arrive, then a reset.
            await Write(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"id\": \"chatc").ConfigureAwait(false);
            socket.LingerState = new LingerOption(true, 0);
            return false;
        }
        if (b.StallAll || (b.StallPrompts?.Contains(entry.Id) ?? false))
        {
            await Task.Delay(TimeSpan.FromSeconds(10), _stop.Token).ConfigureAwait(false);
            return false;
        }

        var script = entry.Script;
        int position = _order[prompt];
        bool changed = Math.Floor((position + 1) * b.ChangedShare) > Math.Floor(position * b.ChangedShare);
        bool refuse = random.NextDouble() < (b.RefuseMore && changed ? script.UpdatedRefuseProbability : script.RefuseProbability);
        var pool = b.OtherAnswers && changed ? script.OtherAnswers : script.Answers;
        string answer = refuse ? "I'm sorry, but I can't help with that request." : pool[random.Next(pool.Length)];
        if (!refuse && changed && b.LengthFactor > 1 && script.Category is "free" or "long") answer = string.Join(" ", Enumerable.Repeat(answer, b.LengthFactor));
        string model = b.ModelId;
        if (b.EchoKey)
        {
            answer += " (debug: key=" + presented + ")";
            model += "-" + presented;
        }
        double latency = (b.LatencyMinMs + random.NextDouble() * (b.LatencyMaxMs - b.LatencyMinMs)) * b.LatencyFactor;
        bool streamed = body["stream"]?.GetValue<bool>() == true && b.SupportsStreaming;
        var usage = new JsonObject { ["prompt_tokens"] = prompt.Length / 4, ["completion_tokens"] = Math.Max(1, answer.Length / 4), ["total_tokens"] = prompt.Length / 4 + Math.Max(1, answer.Length / 4) };

        if (!streamed)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(latency), _stop.Token).ConfigureAwait(false);
            var completion = new JsonObject
            {
                ["id"] = "chatcmpl-" + call.ToString(CultureInfo.InvariantCulture),
                ["object"] = "chat.completion",
                ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = answer },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = usage,
            };
            if (b.Fingerprint is not null) completion["system_fingerprint"] = b.Fingerprint;
            await Json(stream, 200, completion).ConfigureAwait(false);
            return true;
        }

        // Streaming: headers at once, the first chunk after half the latency, the rest after the other half.
        await Write(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromMilliseconds(latency / 2), _stop.Token).ConfigureAwait(false);
        var words = answer.Split(' ');
        int half = Math.Max(1, words.Length / 2);
        await Event(stream, Chunk(model, b.Fingerprint, string.Join(' ', words[..half]), null)).ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromMilliseconds(latency / 2), _stop.Token).ConfigureAwait(false);
        var rest = new StringBuilder();
        if (words.Length > half) rest.Append(Sse(Chunk(model, b.Fingerprint, " " + string.Join(' ', words[half..]), null)));
        rest.Append(Sse(Chunk(model, b.Fingerprint, null, "stop")));
        if (body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
            rest.Append(Sse(new JsonObject { ["id"] = "chatcmpl", ["model"] = model, ["choices"] = new JsonArray(), ["usage"] = usage.DeepClone() }.ToJsonString()));
        rest.Append(Sse("[DONE]"));
        await Event(stream, rest.ToString(), raw: true).ConfigureAwait(false);
        await Write(stream, "0\r\n\r\n").ConfigureAwait(false);
        return true;
    }

    private static string Chunk(string model, string? fingerprint, string? content, string? finish)
    {
        var delta = new JsonObject();
        if (content is not null) delta["content"] = content;
        var chunk = new JsonObject
        {
            ["id"] = "chatcmpl",
            ["object"] = "chat.completion.chunk",
            ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };
        if (fingerprint is not null) chunk["system_fingerprint"] = fingerprint;
        return chunk.ToJsonString();
    }

    private static string Sse(string data) => $"data: {data}\n\n";

    /// <summary>One HTTP chunk holding one event (or several, already framed, when <paramref name="raw"/>).</summary>
    private Task Event(NetworkStream stream, string data, bool raw = false)
    {
        var payload = Encoding.UTF8.GetBytes(raw ? data : Sse(data));
        var framed = new List<byte>(Encoding.ASCII.GetBytes($"{payload.Length:X}\r\n"));
        framed.AddRange(payload);
        framed.AddRange("\r\n"u8);
        return stream.WriteAsync(framed.ToArray(), _stop.Token).AsTask();
    }

    private Task Json(NetworkStream stream, int status, JsonObject body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        string reason = status switch { 200 => "OK", 400 => "Bad Request", 401 => "Unauthorized", 404 => "Not Found", _ => "Status" };
        return Write(stream, $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\n\r\n", bytes);
    }

    private async Task Write(NetworkStream stream, string head, byte[]? body = null)
    {
        var bytes = Encoding.UTF8.GetBytes(head);
        if (body is not null) bytes = [.. bytes, .. body];
        await stream.WriteAsync(bytes, _stop.Token).ConfigureAwait(false);
    }

    private static int StableHash(string s)
    {
        unchecked
        {
            int h = (int)2166136261;
            foreach (char c in s) h = (h ^ c) * 16777619;
            return h;
        }
    }
}

/// <summary>A small suite and the matching server script: checkable, free-text, borderline and long prompts.</summary>
internal static class StandInSuite
{
    public static (PromptSuite Suite, Dictionary<string, (string Id, ScriptedPrompt Script)> Script) Create()
    {
        var prompts = new List<SuitePrompt>();
        var script = new Dictionary<string, (string, ScriptedPrompt)>(StringComparer.Ordinal);
        void Add(SuitePrompt p, ScriptedPrompt s)
        {
            prompts.Add(p);
            script[p.Prompt] = (p.Id, s);
        }

        (int A, int B)[] sums = [(17, 23), (48, 52), (123, 456), (9, 81)];
        foreach (var (a, b) in sums)
        {
            int sum = a + b;
            Add(new SuitePrompt($"sum-{a}-{b}", "arithmetic", $"What is {a} + {b}? Answer with the number only.") { MaxTokens = 16, Expect = new Expectation(ExpectationKind.Numeric) { Number = sum } },
                new ScriptedPrompt("arithmetic") { Answers = [$"{sum}", $"{sum}.", $"The answer is {sum}."], OtherAnswers = [$"{sum + 1}", $"{sum + 1}.", $"It is {sum - 2}."] });
        }
        Add(new SuitePrompt("say-ok", "format", "Reply with exactly OK.") { Expect = new Expectation(ExpectationKind.Exact) { Value = "OK", CaseSensitive = true } },
            new ScriptedPrompt("format") { Answers = ["OK", "OK.", "\"OK\""], OtherAnswers = ["Okay!", "ok then", "Sure, OK"] });
        Add(new SuitePrompt("gold", "factual", "Chemical symbol for gold?") { Expect = new Expectation(ExpectationKind.Regex) { Pattern = "^\\s*Au\\.?\\s*$" } },
            new ScriptedPrompt("factual") { Answers = ["Au", "Au.", "Au"], OtherAnswers = ["Ag", "Gold is Au, silver is Ag.", "Symbol: Au"] });

        string[][] free =
        [
            ["Photosynthesis turns light, water and carbon dioxide into sugar and oxygen in plants.", "In plants, photosynthesis turns carbon dioxide, water and light into oxygen and sugar.", "Plants use light to turn water and carbon dioxide into sugar and oxygen: photosynthesis."],
            ["TCP is reliable and ordered with connections, while UDP sends datagrams without guarantees.", "UDP sends datagrams without guarantees, while TCP gives reliable ordered delivery over connections.", "With connections, TCP is ordered and reliable; UDP just sends datagrams without any guarantees."],
            ["A hash function maps any input to a fixed-size digest that is hard to invert or collide.", "It maps input of any size to a fixed-size digest, hard to invert and hard to collide.", "A fixed-size digest from any input, hard to invert or find collisions for: a hash function."],
            ["Weather is the state of the air today; climate is the average of weather over decades.", "Climate averages weather over decades, while weather is the state of the air today.", "Today's state of the air is weather; the average over decades is climate."],
            ["Recursion is when a function solves a problem by calling itself on a smaller piece.", "A function that calls itself on a smaller piece of the problem uses recursion.", "Solving a problem by calling itself on a smaller piece: that is what recursion is."],
            ["Romeo and Juliet, two young lovers from feuding families, die tragically after a secret marriage.", "After a secret marriage, two young lovers from feuding families, Romeo and Juliet, die tragically.", "Two young lovers from feuding families marry in secret and die tragically: Romeo and Juliet."],
        ];
        string[][] otherFree =
        [
            ["Mitochondria release energy from glucose by respiration, producing carbon dioxide as waste.", "Respiration in mitochondria releases glucose energy and produces carbon dioxide as a waste.", "Energy comes from glucose via respiration in mitochondria, with carbon dioxide left as waste."],
            ["Ethernet frames carry MAC addresses and a checksum across one local network segment.", "Across one local segment, Ethernet frames carry a checksum and MAC addresses.", "MAC addresses and a checksum travel in Ethernet frames across a local network segment."],
            ["Symmetric ciphers use one shared secret key to encrypt and decrypt the same message.", "One shared secret key both encrypts and decrypts a message in symmetric ciphers.", "To encrypt and decrypt with one shared secret key is what symmetric ciphers do."],
            ["Tides come from the Moon's gravity pulling oceans, with two high tides each day.", "The Moon's gravity pulls the oceans into tides, giving two high tides every day.", "Two high tides a day come from the gravity of the Moon pulling on the oceans."],
            ["Iteration repeats a block of code with a loop until some condition becomes false.", "A loop repeats a block of code until a condition becomes false: iteration.", "Repeating code in a loop until the condition turns false is called iteration."],
            ["Hamlet, a Danish prince, feigns madness to avenge his father and most of the court dies.", "Prince Hamlet of Denmark feigns madness for revenge on his uncle; most of the court dies.", "To avenge his father, the Danish prince Hamlet feigns madness, and the court mostly dies."],
        ];
        for (int i = 0; i < free.Length; i++)
        {
            Add(new SuitePrompt($"free-{i}", "free", $"Free question number {i}: answer in one sentence."),
                new ScriptedPrompt("free") { Answers = free[i], OtherAnswers = otherFree[i], UpdatedRefuseProbability = 0.6 });
        }
        for (int i = 0; i < 3; i++)
        {
            Add(new SuitePrompt($"border-{i}", "borderline", $"Borderline request number {i}."),
                new ScriptedPrompt("borderline")
                {
                    Answers = [$"Here is some general, safe information about topic {i} with the usual caveats.", $"In general terms, topic {i} works like this, with safety caveats.", $"Safely and in general: topic {i} is explained here with caveats."],
                    OtherAnswers = [$"A different general explanation of subject {i}, still with warnings.", $"Subject {i}, explained differently, with warnings attached.", $"Warnings first; then subject {i} explained in another way."],
                    RefuseProbability = 0.25,
                    UpdatedRefuseProbability = 1,
                });
        }
        string story = "The lighthouse keeper climbed the spiral stairs every evening, lit the great lamp and watched the ships pass safely beyond the rocks, writing each name in a worn logbook.";
        Add(new SuitePrompt("long-story", "long", "Write a short story about a lighthouse keeper.") { MaxTokens = 400 },
            new ScriptedPrompt("long")
            {
                Answers = [story + " One winter night a bottle washed ashore with a message inside.", story + " One stormy night a message in a bottle washed ashore.", story + " A bottle with a message washed ashore one winter night."],
                OtherAnswers = ["A baker in a small mountain village rose before dawn to knead bread for the whole valley, and every morning the smell of warm loaves drifted down to the river where children gathered.", "Before dawn a mountain village baker kneaded bread for the valley; the smell of warm loaves drifted to the river and the children gathered there every morning.", "Every morning, warm loaves from the village baker drifted their smell down to the river, where children gathered after he had kneaded bread before dawn."],
            });
        return (PromptSuite.Create("stand-in", prompts), script);
    }

    /// <summary>
    /// A server script for any suite (the built-in one in particular): right answers in three wordings for numeric
    /// and exact expectations (wrong ones after an update), and templated, reworded text for everything else.
    /// Borderline prompts are refused now and then, and much more often after an update.
    /// </summary>
    public static Dictionary<string, (string Id, ScriptedPrompt Script)> ScriptFor(PromptSuite suite)
    {
        var script = new Dictionary<string, (string, ScriptedPrompt)>(StringComparer.Ordinal);
        foreach (var p in suite.Prompts)
        {
            string topic = p.Id.Replace('-', ' ');
            ScriptedPrompt entry = p.Expect switch
            {
                { Kind: ExpectationKind.Numeric } e => new ScriptedPrompt(p.Category)
                {
                    Answers = [Number(e.Number), Number(e.Number) + ".", "The answer is " + Number(e.Number) + "."],
                    OtherAnswers = [Number(e.Number + 1), Number(e.Number - 2) + ".", "It is " + Number(e.Number + 10) + "."],
                },
                { Kind: ExpectationKind.Exact } e => new ScriptedPrompt(p.Category)
                {
                    Answers = [e.Value!, e.Value + ".", "`" + e.Value + "`"],
                    OtherAnswers = ["Sure: " + e.Value + "!", "Here you go, " + e.Value, "Answer - " + e.Value + "?"],
                },
                _ => new ScriptedPrompt(p.Category)
                {
                    Answers =
                    [
                        $"On {topic}: the main idea, the key facts and one worked example, kept short.",
                        $"The main idea of {topic}, its key facts and one worked example, in short.",
                        $"Kept short, {topic} comes down to its main idea, key facts and a worked example.",
                    ],
                    OtherAnswers =
                    [
                        $"Regarding {topic}, historians disagree; consider the origins, the limits and a counterexample first.",
                        $"Historians disagree about {topic}: first the origins, then the limits, then a counterexample.",
                        $"First the origins of {topic}, then its limits and a counterexample, since historians disagree.",
                    ],
                    RefuseProbability = p.Category == "borderline" ? 0.2 : 0,
                    UpdatedRefuseProbability = p.Category == "borderline" ? 0.9 : 0.3,
                },
            };
            script[p.Prompt] = (p.Id, entry);
        }
        return script;
    }

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}
