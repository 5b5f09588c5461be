using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Lineage.Audit;

/// <summary>A base model some file of the model claims: where the claim is (file and field) and what it names.</summary>
public sealed record BaseClaim(string File, string Field, string Value)
{
    /// <summary>README front matter's <c>base_model_relation</c> (finetune, adapter, quantized, merge), when stated.</summary>
    public string? Relation { get; init; }

    /// <summary>True when the value looks like a hub repository id (<c>org/name</c>) rather than a local path.</summary>
    public bool IsHubId => ModelClaims.LooksLikeHubId(Value);
}

/// <summary>
/// Reads what a model folder says about its own origin: <c>config.json</c> <c>_name_or_path</c>, the model card's
/// (<c>README.md</c>) YAML front matter <c>base_model:</c> (a scalar or a list), and <c>adapter_config.json</c>
/// <c>base_model_name_or_path</c>. These are claims to check against the weights, never evidence.
/// </summary>
public static partial class ModelClaims
{
    private const long MaxFileBytes = 16L << 20;

    public static IReadOnlyList<BaseClaim> Read(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var claims = new List<BaseClaim>();
        if (ReadJson(Path.Combine(root, "config.json")) is { } config && Text(config["_name_or_path"]) is { Length: > 0 } name)
            claims.Add(new BaseClaim("config.json", "_name_or_path", name));
        if (ReadJson(Path.Combine(root, "adapter_config.json")) is { } adapter && Text(adapter["base_model_name_or_path"]) is { Length: > 0 } adapterBase)
            claims.Add(new BaseClaim("adapter_config.json", "base_model_name_or_path", adapterBase) { Relation = "adapter" });
        string readme = Path.Combine(root, "README.md");
        if (File.Exists(readme) && new FileInfo(readme).Length <= MaxFileBytes)
            claims.AddRange(FromModelCard(File.ReadAllText(readme)));
        return claims;
    }

    /// <summary>The <c>base_model</c> values of a model card's front matter (between the leading '---' lines).</summary>
    public static IReadOnlyList<BaseClaim> FromModelCard(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || lines[0].Trim() != "---") return [];
        int end = Array.FindIndex(lines, 1, l => l.Trim() is "---" or "...");
        if (end < 0) return [];
        var values = new List<string>();
        string? relation = null;
        for (int i = 1; i < end; i++)
        {
            var m = TopLevelKey().Match(lines[i]);
            if (!m.Success) continue;
            string key = m.Groups[1].Value, rest = m.Groups[2].Value.Trim();
            if (key == "base_model_relation")
            {
                relation = Unquote(rest);
                continue;
            }
            if (key != "base_model") continue;
            if (rest.StartsWith('['))
            {
                values.AddRange(rest.Trim('[', ']').Split(',').Select(v => Unquote(v.Trim())).Where(v => v.Length > 0));
            }
            else if (rest.Length > 0)
            {
                values.Add(Unquote(rest));
            }
            else
            {
                for (int j = i + 1; j < end && (lines[j].StartsWith(' ') || lines[j].StartsWith('-') || lines[j].Trim().Length == 0); j++)
                {
                    string item = lines[j].Trim();
                    if (item.StartsWith('-')) values.Add(Unquote(item[1..].Trim()));
                }
            }
        }
        return [.. values.Where(v => v.Length > 0).Distinct(StringComparer.Ordinal).Select(v => new BaseClaim("README.md", "base_model", v) { Relation = relation })];
    }

    /// <summary>True for <c>org/name</c> (optionally more segments) that is not a filesystem path.</summary>
    public static bool LooksLikeHubId(string value) =>
        !string.IsNullOrEmpty(value) && HubId().IsMatch(value) && !value.StartsWith('.') && !Path.IsPathRooted(value);

    /// <summary>
    /// Whether a claimed name and a database model id denote the same model: equal ignoring case and a trailing
    /// slash, or equal in their last path segment (<c>meta-llama/Llama-2-7b-hf</c> and <c>llama-2-7b-hf</c>).
    /// </summary>
    public static bool SameModel(string claim, string id)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentNullException.ThrowIfNull(id);
        string a = claim.Trim().TrimEnd('/'), b = id.Trim().TrimEnd('/');
        if (a.Equals(b, StringComparison.OrdinalIgnoreCase)) return true;
        string la = a[(a.LastIndexOf('/') + 1)..], lb = b[(b.LastIndexOf('/') + 1)..];
        return la.Length > 0 && la.Equals(lb, StringComparison.OrdinalIgnoreCase);
    }

    private static string Unquote(string s)
    {
        int hash = s.IndexOf(" #", StringComparison.Ordinal);
        if (hash >= 0) s = s[..hash];
        s = s.Trim();
        if (s.Length >= 2 && (s[0] == '"' && s[^1] == '"' || s[0] == '\'' && s[^1] == '\'')) s = s[1..^1];
        return s.Trim();
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    internal static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path) || new FileInfo(path).Length > MaxFileBytes) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllBytes(path), documentOptions: new JsonDocumentOptions { MaxDepth = 64, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) as JsonObject;
        }
        catch (JsonException)
        {
            return null; // the scanner reports malformed configs
        }
    }

    [GeneratedRegex(@"^([A-Za-z_][A-Za-z0-9_]*)\s*:(.*)$")]
    private static partial Regex TopLevelKey();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.\-]+)+$")]
    private static partial Regex HubId();
}
