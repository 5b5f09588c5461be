using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Lineage.Providers;

/// <summary>How a checkable prompt's answer is judged.</summary>
public enum ExpectationKind
{
    /// <summary>The trimmed answer equals the value (case-insensitive unless asked).</summary>
    Exact,

    /// <summary>The answer matches a .NET regular expression.</summary>
    Regex,

    /// <summary>The last number in the answer equals the value within a tolerance.</summary>
    Numeric,
}

/// <summary>The expected answer of a checkable prompt.</summary>
public sealed record Expectation(ExpectationKind Kind)
{
    /// <summary>Exact: the expected text.</summary>
    public string? Value { get; init; }

    /// <summary>Regex: the pattern (checked for validity when the suite is read).</summary>
    public string? Pattern { get; init; }

    /// <summary>Numeric: the expected number.</summary>
    public double Number { get; init; }

    /// <summary>Numeric: the largest accepted absolute difference.</summary>
    public double Tolerance { get; init; }

    /// <summary>Exact: compare case-sensitively.</summary>
    public bool CaseSensitive { get; init; }
}

/// <summary>One prompt of a suite.</summary>
public sealed record SuitePrompt(string Id, string Category, string Prompt)
{
    public string? System { get; init; }

    /// <summary>Completion budget for this prompt (the probe's default when null).</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Null for free-text prompts.</summary>
    public Expectation? Expect { get; init; }
}

/// <summary>
/// A versioned prompt suite (JSONL, docs/providers.md): a header line <c>{"lineage_suite": 1, "name": …}</c>
/// followed by one prompt object per line. Reading is strict (unknown keys, duplicate ids and invalid regular
/// expressions are errors naming the byte offset of the line) so that a suite means the same thing to every
/// version that accepts it. <see cref="Hash"/> is the SHA-256 of a canonical form (key order, whitespace and
/// the description do not change it), recorded by every run so diffs only compare like with like.
/// </summary>
public sealed class PromptSuite
{
    public const int FormatVersion = 1;
    internal const int MaxFileBytes = 4 << 20;
    internal const int MaxPrompts = 10_000;
    internal const int MaxPromptChars = 32_768;
    internal const int MaxTokensLimit = 1 << 20;
    private const string DefaultResource = "Lineage.Providers.default-suite.jsonl";

    private static readonly Lazy<PromptSuite> BuiltIn = new(LoadBuiltIn);

    private PromptSuite(string name, string? description, IReadOnlyList<SuitePrompt> prompts, string source)
    {
        Name = name;
        Description = description;
        Prompts = prompts;
        Source = source;
        Hash = ComputeHash(name, prompts);
    }

    public string Name { get; }

    public string? Description { get; }

    public IReadOnlyList<SuitePrompt> Prompts { get; }

    /// <summary>"sha256:" + hex of the canonical form.</summary>
    public string Hash { get; }

    /// <summary>Where the suite came from: a path, or "built-in".</summary>
    public string Source { get; }

    public int Version => FormatVersion;

    /// <summary>The built-in suite (~50 short prompts) used when no file is given.</summary>
    public static PromptSuite Default => BuiltIn.Value;

    public static PromptSuite Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new LineageException("suite file not found", path);
            if (info.Length > MaxFileBytes) throw new LineageException($"suite file is {info.Length} bytes; the limit is {MaxFileBytes}", path);
            return Parse(File.ReadAllBytes(path), path);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new LineageException(e.Message, path, inner: e);
        }
        catch (IOException e)
        {
            throw new LineageException(e.Message, path, inner: e);
        }
    }

    /// <summary>Parses suite bytes; <paramref name="source"/> names them in errors.</summary>
    public static PromptSuite Parse(ReadOnlySpan<byte> utf8, string source)
    {
        if (utf8.Length > MaxFileBytes) throw new LineageException($"suite is {utf8.Length} bytes; the limit is {MaxFileBytes}", source);
        if (utf8.StartsWith("\uFEFF"u8)) utf8 = utf8[3..];
        string? name = null;
        string? description = null;
        var prompts = new List<SuitePrompt>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        long lineStart = 0;
        int lineNumber = 0;
        while (lineStart < utf8.Length || lineNumber == 0)
        {
            lineNumber++;
            var rest = utf8[(int)lineStart..];
            int newline = rest.IndexOf((byte)'\n');
            var line = newline < 0 ? rest : rest[..newline];
            long offset = lineStart;
            lineStart += newline < 0 ? rest.Length : newline + 1;
            if (IsBlank(line))
            {
                if (newline < 0) break;
                continue;
            }
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            }
            catch (JsonException e)
            {
                throw new LineageException($"line {lineNumber}: not a JSON object ({e.Message.Split(" Path:", 2)[0]})", source, offset);
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new LineageException($"line {lineNumber}: expected a JSON object", source, offset);
                if (name is null)
                {
                    (name, description) = ReadHeader(root, lineNumber, source, offset);
                }
                else
                {
                    if (prompts.Count >= MaxPrompts) throw new LineageException($"more than {MaxPrompts} prompts", source, offset);
                    var prompt = ReadPrompt(root, lineNumber, source, offset);
                    if (!ids.Add(prompt.Id)) throw new LineageException($"line {lineNumber}: duplicate prompt id '{prompt.Id}'", source, offset);
                    prompts.Add(prompt);
                }
            }
            if (newline < 0) break;
        }
        if (name is null) throw new LineageException("empty suite: the first line must be a header {\"lineage_suite\": 1, \"name\": ...}", source, 0);
        if (prompts.Count == 0) throw new LineageException("the suite has no prompts", source, utf8.Length);
        return new PromptSuite(name, description, prompts, source);
    }

    /// <summary>A suite made in code (tests, callers with their own prompt lists).</summary>
    public static PromptSuite Create(string name, IEnumerable<SuitePrompt> prompts)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(prompts);
        var list = prompts.ToList();
        if (list.Count == 0) throw new LineageException("the suite has no prompts", name);
        if (list.Select(p => p.Id).Distinct(StringComparer.Ordinal).Count() != list.Count) throw new LineageException("duplicate prompt ids", name);
        return new PromptSuite(name, null, list, "code");
    }

    /// <summary>A suite holding only the first <paramref name="count"/> prompts of each category, in order.</summary>
    public PromptSuite Take(int count) =>
        new(Name + $"-first{count}", Description, Prompts.GroupBy(p => p.Category).SelectMany(g => g.Take(count)).ToList(), Source);

    private static PromptSuite LoadBuiltIn()
    {
        using var stream = typeof(PromptSuite).Assembly.GetManifestResourceStream(DefaultResource)
            ?? throw new LineageException("the built-in suite is missing from the assembly");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var suite = Parse(buffer.ToArray(), "built-in");
        return new PromptSuite(suite.Name, suite.Description, suite.Prompts, "built-in");
    }

    private static bool IsBlank(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        }
        return true;
    }

    private static (string Name, string? Description) ReadHeader(JsonElement root, int line, string source, long offset)
    {
        if (!root.TryGetProperty("lineage_suite", out var version))
            throw new LineageException($"line {line}: the first line must be a header {{\"lineage_suite\": 1, \"name\": ...}}", source, offset);
        if (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out int v) || v != FormatVersion)
            throw new LineageException($"line {line}: unsupported suite format version {version.GetRawText()} (this build reads version {FormatVersion})", source, offset);
        string? name = null, description = null;
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "lineage_suite":
                    break;
                case "name":
                    name = String(property.Value, "name", line, source, offset, 200);
                    break;
                case "description":
                    description = String(property.Value, "description", line, source, offset, 4000);
                    break;
                default:
                    throw new LineageException($"line {line}: unknown header field '{property.Name}'", source, offset);
            }
        }
        if (string.IsNullOrWhiteSpace(name)) throw new LineageException($"line {line}: the header needs a non-empty \"name\"", source, offset);
        return (name, description);
    }

    private static SuitePrompt ReadPrompt(JsonElement root, int line, string source, long offset)
    {
        string? id = null, category = null, prompt = null, system = null;
        int? maxTokens = null;
        Expectation? expect = null;
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "id":
                    id = String(property.Value, "id", line, source, offset, 128);
                    break;
                case "category":
                    category = String(property.Value, "category", line, source, offset, 64);
                    break;
                case "prompt":
                    prompt = String(property.Value, "prompt", line, source, offset, MaxPromptChars);
                    break;
                case "system":
                    system = String(property.Value, "system", line, source, offset, MaxPromptChars);
                    break;
                case "max_tokens":
                    if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out int mt) || mt < 1 || mt > MaxTokensLimit)
                        throw new LineageException($"line {line}: \"max_tokens\" must be an integer in 1..{MaxTokensLimit}", source, offset);
                    maxTokens = mt;
                    break;
                case "expect":
                    expect = ReadExpectation(property.Value, line, source, offset);
                    break;
                default:
                    throw new LineageException($"line {line}: unknown prompt field '{property.Name}'", source, offset);
            }
        }
        if (string.IsNullOrEmpty(id) || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            throw new LineageException($"line {line}: \"id\" must be a non-empty string of letters, digits, '-', '_', '.', ':'", source, offset);
        if (string.IsNullOrWhiteSpace(prompt)) throw new LineageException($"line {line}: prompt '{id}' has no \"prompt\" text", source, offset);
        return new SuitePrompt(id, string.IsNullOrWhiteSpace(category) ? "general" : category, prompt) { System = system, MaxTokens = maxTokens, Expect = expect };
    }

    private static Expectation ReadExpectation(JsonElement value, int line, string source, long offset)
    {
        if (value.ValueKind != JsonValueKind.Object) throw new LineageException($"line {line}: \"expect\" must be an object", source, offset);
        string? type = null, text = null, pattern = null;
        double? number = null;
        double tolerance = 0;
        bool caseSensitive = false;
        foreach (var property in value.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type":
                    type = String(property.Value, "expect.type", line, source, offset, 16);
                    break;
                case "value":
                    if (property.Value.ValueKind == JsonValueKind.Number) number = property.Value.GetDouble();
                    else text = String(property.Value, "expect.value", line, source, offset, MaxPromptChars);
                    break;
                case "pattern":
                    pattern = String(property.Value, "expect.pattern", line, source, offset, 4096);
                    break;
                case "tolerance":
                    if (property.Value.ValueKind != JsonValueKind.Number || property.Value.GetDouble() is < 0 or double.NaN)
                        throw new LineageException($"line {line}: \"expect.tolerance\" must be a non-negative number", source, offset);
                    tolerance = property.Value.GetDouble();
                    break;
                case "case_sensitive":
                    if (property.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                        throw new LineageException($"line {line}: \"expect.case_sensitive\" must be true or false", source, offset);
                    caseSensitive = property.Value.GetBoolean();
                    break;
                default:
                    throw new LineageException($"line {line}: unknown expect field '{property.Name}'", source, offset);
            }
        }
        switch (type)
        {
            case "exact":
                if (text is null) throw new LineageException($"line {line}: an exact expectation needs a string \"value\"", source, offset);
                return new Expectation(ExpectationKind.Exact) { Value = text, CaseSensitive = caseSensitive };
            case "numeric":
                if (number is null || !double.IsFinite(number.Value)) throw new LineageException($"line {line}: a numeric expectation needs a number \"value\"", source, offset);
                return new Expectation(ExpectationKind.Numeric) { Number = number.Value, Tolerance = tolerance };
            case "regex":
                if (pattern is null) throw new LineageException($"line {line}: a regex expectation needs a \"pattern\"", source, offset);
                try
                {
                    _ = new Regex(pattern, RegexOptions.CultureInvariant, AnswerChecks.RegexTimeout);
                }
                catch (ArgumentException e)
                {
                    throw new LineageException($"line {line}: invalid regular expression: {e.Message}", source, offset);
                }
                return new Expectation(ExpectationKind.Regex) { Pattern = pattern };
            default:
                throw new LineageException($"line {line}: \"expect.type\" must be exact, regex or numeric", source, offset);
        }
    }

    private static string String(JsonElement value, string field, int line, string source, long offset, int maxChars)
    {
        if (value.ValueKind != JsonValueKind.String) throw new LineageException($"line {line}: \"{field}\" must be a string", source, offset);
        string s = value.GetString()!;
        if (s.Length > maxChars) throw new LineageException($"line {line}: \"{field}\" is longer than {maxChars} characters", source, offset);
        return s;
    }

    private static string ComputeHash(string name, IReadOnlyList<SuitePrompt> prompts)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("lineage_suite", FormatVersion);
            writer.WriteString("name", name);
            writer.WriteStartArray("prompts");
            foreach (var p in prompts)
            {
                writer.WriteStartObject();
                writer.WriteString("id", p.Id);
                writer.WriteString("category", p.Category);
                if (p.System is not null) writer.WriteString("system", p.System);
                writer.WriteString("prompt", p.Prompt);
                if (p.MaxTokens is int mt) writer.WriteNumber("max_tokens", mt);
                if (p.Expect is { } e)
                {
                    writer.WriteStartObject("expect");
                    writer.WriteString("type", e.Kind.ToString().ToLowerInvariant());
                    switch (e.Kind)
                    {
                        case ExpectationKind.Exact:
                            writer.WriteString("value", e.Value);
                            writer.WriteBoolean("case_sensitive", e.CaseSensitive);
                            break;
                        case ExpectationKind.Regex:
                            writer.WriteString("pattern", e.Pattern);
                            break;
                        default:
                            writer.WriteString("value", e.Number.ToString("R", CultureInfo.InvariantCulture));
                            writer.WriteString("tolerance", e.Tolerance.ToString("R", CultureInfo.InvariantCulture));
                            break;
                    }
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
    }
}
