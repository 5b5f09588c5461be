using System.Text;
using System.Text.Json;
using Lineage.Security.Metadata;
using Lineage.Security.Policy;

namespace Lineage.Security.Keras;

/// <summary>
/// Checks a Keras model configuration (the JSON in an H5 file's model_config / training_config attribute, or
/// config.json inside a .keras zip): Lambda layers and their serialized code, module/registered_name/function
/// references outside the Keras modules, custom objects, and TFOpLambda layers calling risky TensorFlow ops.
/// It is a function of the JSON text so every container that carries a Keras config can reuse it.
/// Lambda code is base64-decoded to report its size and readable strings; it is never unmarshalled.
/// </summary>
public static class KerasConfigAnalyzer
{
    private const int MaxDepth = 256;

    /// <summary>Module prefixes whose objects Keras itself (or its first-party libraries) provides.</summary>
    private static readonly string[] KerasModulePrefixes =
        ["keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "keras_hub", "keras_nlp", "keras_cv", "keras_rs"];

    private static readonly string[] RiskyTfOps = ["io.", "raw_ops.", "py_function", "numpy_function", "compat.v1.py_func", "py_func", "debugging.", "summary.", "data.experimental.", "saved_model.", "keras.models.load_model", "load_op_library", "load_library"];

    /// <summary>
    /// Analyzes <paramref name="json"/>. <paramref name="label"/> names where it came from (e.g. "model_config");
    /// <paramref name="offset"/> and <paramref name="entry"/> locate every finding.
    /// </summary>
    /// <exception cref="LineageException">The text is not valid JSON (Keras would refuse it too).</exception>
    public static IReadOnlyList<Finding> Analyze(string json, string label, CallablePolicy? policy = null, long? offset = null, string? entry = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(label);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw new LineageException($"{label} is not valid JSON: {e.Message}", null, offset, entry);
        }
        using (doc)
        {
            var run = new Run(label, policy ?? CallablePolicy.Default, offset, entry);
            run.Walk(doc.RootElement, "", 0);
            return run.Findings;
        }
    }

    /// <summary>True when a JSON document looks like a Keras model or layer config (class_name + config).</summary>
    public static bool LooksLikeKerasConfig(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("class_name", out var cn) && cn.ValueKind == JsonValueKind.String
        && root.TryGetProperty("config", out _);

    private sealed class Run(string label, CallablePolicy policy, long? offset, string? entry)
    {
        public List<Finding> Findings { get; } = [];

        public void Walk(JsonElement e, string path, int depth)
        {
            if (depth > MaxDepth) return;
            if (e.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (var item in e.EnumerateArray()) Walk(item, $"{path}[{i++}]", depth + 1);
                return;
            }
            if (e.ValueKind != JsonValueKind.Object) return;
            CheckObject(e, path);
            foreach (var p in e.EnumerateObject()) Walk(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}", depth + 1);
        }

        private void CheckObject(JsonElement obj, string path)
        {
            string? className = Str(obj, "class_name");
            string? module = Str(obj, "module");
            string? registered = Str(obj, "registered_name");
            JsonElement config = obj.TryGetProperty("config", out var c) ? c : default;
            string where = LayerName(config) is { } n ? $"layer '{n}'" : path.Length == 0 ? "root" : path;

            if (className == "Lambda")
            {
                ReportLambda(config, where, module);
                return;
            }
            if (className == "TFOpLambda" && config.ValueKind == JsonValueKind.Object && Str(config, "function") is { } op)
            {
                if (RiskyTfOps.Any(r => op.StartsWith(r, StringComparison.Ordinal) || op.Contains("." + r, StringComparison.Ordinal)))
                    Add(ScanRules.KerasRiskyOp, null, $"{label}: {where}: TFOpLambda calls tf.{op}", op);
            }

            // A "module" key only names an import in a serialized object (one with a class_name); inside a
            // Lambda's config it is the function's home module, reported with the Lambda.
            if (className is null) return;
            if (module is not null)
            {
                string name = className == "function" && config.ValueKind == JsonValueKind.String ? config.GetString()! : className ?? "";
                if (!IsKerasModule(module))
                {
                    var decision = policy.Evaluate(module, name.Length == 0 ? "<missing>" : name);
                    var severity = decision.Verdict == CallableVerdict.Dangerous || decision.LookalikeOf is not null ? Severity.Critical
                        : decision.Verdict == CallableVerdict.Allowed ? Severity.Medium : Severity.High;
                    string why = decision.Verdict switch
                    {
                        CallableVerdict.Dangerous => $"dangerous ({decision.Category})",
                        CallableVerdict.NonCanonical => "non-canonical name",
                        CallableVerdict.Allowed => "outside Keras",
                        _ => "outside Keras and not allow-listed",
                    };
                    Add(ScanRules.KerasModuleReference, severity, $"{label}: {where}: references {module}.{name} ({why})", $"module={module} class_name={className} registered_name={registered}");
                    return;
                }
            }
            if (module is not null)
            {
                // A Keras module: only a registered name from another package is custom code.
                if (registered is not null && registered.Split('>')[0] is var package && registered.Contains('>', StringComparison.Ordinal)
                    && !IsKerasModule(package))
                    Add(ScanRules.KerasCustomObject, null, $"{label}: {where}: custom object '{registered}'", $"registered_name={registered}");
                return;
            }
            if (registered is not null && registered != className && className is not null)
            {
                Add(ScanRules.KerasCustomObject, null, $"{label}: {where}: custom object '{registered}' (class {className})", $"registered_name={registered}");
                return;
            }
            if (registered is not null && registered.Contains('>', StringComparison.Ordinal))
            {
                Add(ScanRules.KerasCustomObject, null, $"{label}: {where}: custom object '{registered}'", $"registered_name={registered}");
                return;
            }
            if (module is null && className is not null && config.ValueKind is JsonValueKind.Object or JsonValueKind.Undefined
                && !KerasNames.IsKnownClass(className))
                Add(ScanRules.KerasCustomObject, null, $"{label}: {where}: class '{className}' is not a built-in Keras object (needs custom_objects to load)", $"class_name={className}");

            if (config.ValueKind == JsonValueKind.Object)
                foreach (var key in (string[])["activation", "recurrent_activation"])
                    if (Str(config, key) is { } act && !KerasNames.IsKnownActivation(act))
                        Add(ScanRules.KerasCustomObject, null, $"{label}: {where}: {key} '{act}' is not a built-in Keras activation", $"{key}={act}");
        }

        private void ReportLambda(JsonElement config, string where, string? module)
        {
            string? code = null;
            string? source = null;
            if (config.ValueKind == JsonValueKind.Object && config.TryGetProperty("function", out var fn))
            {
                switch (fn.ValueKind)
                {
                    case JsonValueKind.String:
                        code = fn.GetString();
                        break;
                    case JsonValueKind.Array when fn.GetArrayLength() > 0 && fn[0].ValueKind == JsonValueKind.String:
                        code = fn[0].GetString();
                        break;
                    case JsonValueKind.Object when fn.TryGetProperty("config", out var fc):
                        code = fc.ValueKind == JsonValueKind.Object ? Str(fc, "code") : fc.ValueKind == JsonValueKind.String ? fc.GetString() : null;
                        break;
                }
            }
            string detail;
            string? evidence = null;
            if (code is null)
            {
                detail = "function not stored inline";
            }
            else if (TryBase64(code, out var bytes))
            {
                detail = $"marshalled Python code object, {bytes.Length} bytes (base64, not unmarshalled)";
                var strings = ReadableStrings(bytes);
                evidence = strings.Count > 0 ? "strings in the code object: " + string.Join(", ", strings) : null;
            }
            else
            {
                source = code;
                detail = "Python source";
                evidence = PayloadDetector.Printable(source.Length > 240 ? source[..240] + "…" : source);
            }
            string moduleNote = module is null ? "" : $" (module {module})";
            Add(ScanRules.KerasLambda, null, $"{label}: {where}: Lambda layer with {detail}{moduleNote}", evidence);
        }

        private static bool TryBase64(string s, out byte[] bytes)
        {
            bytes = [];
            string t = s.Trim().Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal);
            if (t.Length < 8 || t.Length % 4 != 0 || !t.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '+' or '/' or '=')) return false;
            try
            {
                bytes = Convert.FromBase64String(t);
                return bytes.Length > 0;
            }
            catch (FormatException)
            {
                return false;
            }
        }

        /// <summary>Identifier-like ASCII runs in marshal data: names and constants the code uses (os, system, …).</summary>
        private static List<string> ReadableStrings(byte[] bytes)
        {
            var found = new List<string>();
            var sb = new StringBuilder();
            foreach (byte b in bytes.Append((byte)0))
            {
                if (b is >= 0x20 and < 0x7F) { sb.Append((char)b); continue; }
                if (sb.Length >= 2 && found.Count < 24 && !found.Contains(sb.ToString())) found.Add(sb.ToString());
                sb.Clear();
            }
            return found;
        }

        private static bool IsKerasModule(string module) =>
            KerasModulePrefixes.Any(p => module == p || module.StartsWith(p + ".", StringComparison.Ordinal));

        private static string? Str(JsonElement obj, string name) =>
            obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        private static string? LayerName(JsonElement config) => config.ValueKind == JsonValueKind.Object ? Str(config, "name") : null;

        private void Add(RuleDescriptor rule, Severity? severity, string message, string? evidence) =>
            Findings.Add(new Finding(severity ?? rule.DefaultSeverity, rule.Id, message) { Offset = offset, Entry = entry, Evidence = evidence });
    }
}
