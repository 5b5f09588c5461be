using System.Text;
using System.Text.Json;
using Lineage.Formats;
using Lineage.IO;
using Lineage.Security.Keras;
using Lineage.Security.Metadata;
using Lineage.Security.Templates;

namespace Lineage.Security.Analyzers;

/// <summary>
/// JSON files of a model folder: tokenizer configs (chat templates), Hugging Face configs (auto_map,
/// trust_remote_code, custom pipelines), diffusers model_index.json components, sentence-transformers module
/// lists, Hydra-style _target_ references, Keras model configs, and payloads in the free-form strings of
/// manifests. Vocabulary-like subtrees (vocab, merges, added tokens, label maps) are data and are not inspected
/// for payloads, which keeps real tokenizer files free of false positives.
/// </summary>
internal sealed class JsonFileAnalyzer : IFormatAnalyzer
{
    private const int MaxDepth = 512;
    private const int MaxStringsInspected = 20_000;

    /// <summary>Subtrees that hold tokens or labels (data), not configuration.</summary>
    private static readonly HashSet<string> DataKeys = new(StringComparer.Ordinal)
    {
        "added_tokens_decoder", "added_tokens", "vocab", "merges", "model", "normalizer", "pre_tokenizer", "post_processor",
        "decoder", "weight_map", "id2label", "label2id", "additional_special_tokens", "special_tokens_map", "tokens",
        "bad_words_ids", "suppress_tokens", "begin_suppress_tokens", "forced_decoder_ids", "alignment_heads", "scores",
    };

    /// <summary>File names whose content is token data through and through.</summary>
    private static readonly HashSet<string> DataFiles = new(StringComparer.OrdinalIgnoreCase) { "tokenizer.json", "vocab.json" };

    private static readonly HashSet<string> DiffusersLibraries = new(StringComparer.Ordinal)
    {
        "diffusers", "transformers", "stable_diffusion", "onnxruntime", "peft", "sentence_transformers", "open_clip",
    };

    public string Name => "json";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
    [
        ScanRules.RemoteCode, ScanRules.TrustRemoteCode, ScanRules.CustomPipeline, ScanRules.MetaCode, ScanRules.MetaShell,
        ScanRules.MetaScript, ScanRules.MetaEncoded, ScanRules.MetaUrl, ScanRules.MetaSecret,
    ];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Json;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var source = target.Source;
        if (source.Length > context.Options.MaxTextBytes)
        {
            context.ReportError(ScanRules.LimitExceeded, $"JSON file of {source.Length} bytes exceeds the {context.Options.MaxTextBytes}-byte analysis limit");
            return;
        }
        byte[] bytes = source.ReadBytes(0, source.Length);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new LineageException($"invalid JSON: {e.Message}", target.Path, OffsetOfLine(bytes, e.LineNumber, e.BytePositionInLine), target.Entry);
        }
        using (doc)
        {
            var offsets = TopLevelOffsets(bytes);
            try
            {
                new Run(target, context, offsets).Analyze(doc.RootElement);
            }
            catch (InvalidOperationException e)
            {
                // System.Text.Json validates string contents lazily: invalid UTF-8 surfaces here. Python's json
                // refuses such files too.
                throw new LineageException($"invalid JSON text: {e.Message}", target.Path, null, target.Entry);
            }
        }
    }

    private sealed class Run(ScanTarget target, ScanContext context, Dictionary<string, long> offsets)
    {
        private int _inspected;
        private int _payloadFindings;
        private readonly bool _dataFile = DataFiles.Contains(target.FileName);

        public void Analyze(JsonElement root)
        {
            if (KerasConfigAnalyzer.LooksLikeKerasConfig(root))
            {
                foreach (var f in KerasConfigAnalyzer.Analyze(root.GetRawText(), target.FileName, context.Policy)) context.Report(f);
            }
            if (root.ValueKind == JsonValueKind.Object)
            {
                CheckAutoMap(root);
                if (root.TryGetProperty("_diffusers_version", out _)) CheckDiffusersComponents(root);
                if (root.TryGetProperty("custom_pipelines", out var cp) && cp.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
                    context.Report(ScanRules.CustomPipeline, "custom_pipelines: the config registers custom pipeline code", Offset("custom_pipelines"), evidence: Excerpt(cp));
            }
            if (root.ValueKind == JsonValueKind.Array) CheckSentenceTransformersModules(root);
            Walk(root, "", null, 0, topKey: null, inData: false);
        }

        /// <summary>Walks everything; inside token/label data (<paramref name="inData"/>) strings are not inspected for payloads.</summary>
        private void Walk(JsonElement e, string path, string? key, int depth, string? topKey, bool inData)
        {
            if (depth > MaxDepth) return;
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject())
                    {
                        string childPath = path.Length == 0 ? p.Name : $"{path}.{p.Name}";
                        string childTop = topKey ?? p.Name;
                        if (IsTemplateKey(p.Name))
                        {
                            CheckTemplates(p.Value, childPath, childTop, explicitTemplate: true);
                            continue;
                        }
                        if (p.Name == "trust_remote_code" && p.Value.ValueKind == JsonValueKind.True)
                            context.Report(ScanRules.TrustRemoteCode, $"{childPath} is true", Offset(childTop));
                        if (p.Name == "_target_" && p.Value.ValueKind == JsonValueKind.String)
                            CheckTarget(p.Value.GetString()!, childPath, childTop);
                        if (p.Name == "auto_map") continue;
                        Walk(p.Value, childPath, p.Name, depth + 1, childTop, inData || DataKeys.Contains(p.Name));
                    }
                    break;
                case JsonValueKind.Array:
                    int i = 0;
                    foreach (var item in e.EnumerateArray()) Walk(item, $"{path}[{i++}]", key, depth + 1, topKey, inData);
                    break;
                case JsonValueKind.String:
                    string value = e.GetString()!;
                    if (!inData && LooksLikeTemplate(value))
                    {
                        CheckTemplate(value, path, topKey, explicitTemplate: false);
                        break;
                    }
                    if (inData || _dataFile || ++_inspected > MaxStringsInspected || _payloadFindings >= 50) break;
                    foreach (var hit in PayloadDetector.Inspect(value, key))
                    {
                        _payloadFindings++;
                        context.Report(hit.Rule, $"{(path.Length == 0 ? "value" : path)}: {hit.Message}", Offset(topKey), evidence: hit.Excerpt, severity: hit.Severity);
                    }
                    break;
            }
        }

        private static bool IsTemplateKey(string name) => name.Contains("template", StringComparison.OrdinalIgnoreCase);

        private static bool LooksLikeTemplate(string value) =>
            value.Contains("{{", StringComparison.Ordinal) || value.Contains("{%", StringComparison.Ordinal);

        /// <summary>chat_template is a string, or a list of {name, template} (multiple named templates).</summary>
        private void CheckTemplates(JsonElement value, string path, string topKey, bool explicitTemplate)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    CheckTemplate(value.GetString()!, path, topKey, explicitTemplate);
                    break;
                case JsonValueKind.Array:
                    int i = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                        {
                            string name = item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                            CheckTemplate(t.GetString()!, $"{path}[{name}]", topKey, explicitTemplate);
                        }
                        else CheckTemplates(item, $"{path}[{i}]", topKey, explicitTemplate);
                        i++;
                    }
                    break;
                case JsonValueKind.Object:
                    foreach (var p in value.EnumerateObject()) CheckTemplates(p.Value, $"{path}.{p.Name}", topKey, explicitTemplate);
                    break;
            }
        }

        private void CheckTemplate(string template, string path, string? topKey, bool explicitTemplate)
        {
            if (template.Length == 0) return;
            var origin = TemplateOrigin.At(path, Offset(topKey));
            foreach (var f in ChatTemplateAnalyzer.Analyze(template, origin, context.Options.MaxTemplateChars))
            {
                // A string that merely contains "{{" is not necessarily a template: do not call its syntax broken.
                if (!explicitTemplate && f.Rule is "LIN-JINJA-009" or "LIN-JINJA-010") continue;
                context.Report(f);
            }
        }

        private void CheckAutoMap(JsonElement root)
        {
            if (!root.TryGetProperty("auto_map", out var map) || map.ValueKind != JsonValueKind.Object) return;
            var refs = new List<string>();
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.String) refs.Add($"{p.Name}={p.Value.GetString()}");
                else if (p.Value.ValueKind == JsonValueKind.Array)
                    foreach (var v in p.Value.EnumerateArray())
                        if (v.ValueKind == JsonValueKind.String) refs.Add($"{p.Name}={v.GetString()}");
            }
            if (refs.Count == 0) return;
            var external = refs.Where(r => r.Contains("--", StringComparison.Ordinal)).ToList();
            if (external.Count > 0)
                context.Report(ScanRules.RemoteCode, $"auto_map loads code from another repository: {string.Join(", ", external.Select(r => r.Split('=', 2)[1]))}",
                    Offset("auto_map"), evidence: string.Join("; ", refs), severity: Severity.High);
            else
                context.Report(ScanRules.RemoteCode, $"auto_map requires trust_remote_code: {string.Join(", ", refs.Select(r => r.Split('=', 2)[1]).Distinct())}",
                    Offset("auto_map"), evidence: string.Join("; ", refs));
        }

        private void CheckDiffusersComponents(JsonElement root)
        {
            foreach (var p in root.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Array || p.Value.GetArrayLength() != 2) continue;
                var lib = p.Value[0];
                if (lib.ValueKind != JsonValueKind.String) continue;
                string library = lib.GetString()!;
                if (!DiffusersLibraries.Contains(library))
                    context.Report(ScanRules.CustomPipeline, $"component '{p.Name}' is loaded from library '{library}' (custom code)", Offset(p.Name), evidence: Excerpt(p.Value));
            }
            if (root.TryGetProperty("_class_name", out var cls) && cls.ValueKind == JsonValueKind.Array)
                context.Report(ScanRules.CustomPipeline, "_class_name names a custom pipeline module", Offset("_class_name"), evidence: Excerpt(cls));
        }

        private void CheckSentenceTransformersModules(JsonElement root)
        {
            foreach (var item in root.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String
                    || !item.TryGetProperty("path", out _))
                    continue;
                string type = t.GetString()!;
                if (!type.StartsWith("sentence_transformers.", StringComparison.Ordinal))
                    context.Report(ScanRules.CustomPipeline, $"module type '{type}' is not a sentence_transformers class (custom code)", null, evidence: Excerpt(item));
            }
        }

        private void CheckTarget(string target, string path, string topKey)
        {
            var decision = context.Policy.Evaluate(target);
            switch (decision.Verdict)
            {
                case Policy.CallableVerdict.Allowed:
                    return;
                case Policy.CallableVerdict.Dangerous:
                    context.Report(ScanRules.CustomPipeline, $"{path} instantiates dangerous callable {target} ({decision.Category})", Offset(topKey), severity: Severity.Critical);
                    return;
                default:
                    context.Report(ScanRules.CustomPipeline, $"{path} instantiates {target} ({decision.Reason})", Offset(topKey),
                        severity: decision.LookalikeOf is not null ? Severity.Critical : null);
                    return;
            }
        }

        private long? Offset(string? topKey) => topKey is not null && offsets.TryGetValue(topKey, out long o) ? o : null;

        private static string Excerpt(JsonElement e)
        {
            string raw = e.GetRawText();
            return PayloadDetector.Printable(raw.Length > 200 ? raw[..200] + "…" : raw);
        }
    }

    /// <summary>Byte offsets of the top-level property names.</summary>
    private static Dictionary<string, long> TopLevelOffsets(byte[] bytes)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = MaxDepth, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        try
        {
            while (reader.Read())
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
                    result.TryAdd(reader.GetString()!, reader.TokenStartIndex);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Offsets are a convenience; the document itself is validated elsewhere.
        }
        return result;
    }

    private static long? OffsetOfLine(byte[] bytes, long? line, long? column)
    {
        if (line is null) return null;
        long current = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (current == line) return i + (column ?? 0);
            if (bytes[i] == '\n') current++;
        }
        return bytes.Length;
    }
}
