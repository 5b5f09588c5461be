using Lineage.Formats;
using Lineage.Formats.Onnx;
using Lineage.Security.Metadata;

namespace Lineage.Security.Analyzers;

/// <summary>
/// ONNX models: <see cref="OnnxReader.Parse"/> validates the structure (malformed fails closed); external-data
/// locations that are absolute, climb with '..' or resolve through a link outside the model folder are high;
/// custom operator domains are listed (ONNX Runtime's own contrib domains as information, others medium);
/// Python operators are high; metadata_props strings are inspected for payloads.
/// </summary>
internal sealed class OnnxAnalyzer : IFormatAnalyzer
{
    /// <summary>Operator domains that ship inside ONNX Runtime (contrib ops, layout ops, ATen fallback): no extra native library.</summary>
    private static readonly HashSet<string> RuntimeDomains = new(StringComparer.Ordinal)
    {
        "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental", "com.microsoft.mlfeaturizers", "com.microsoft.dml",
        "com.ms.internal.nhwc", "org.pytorch.aten", "com.microsoft.extensions",
    };

    private static readonly HashSet<string> PythonOps = new(StringComparer.Ordinal) { "PyOp", "PyFunc", "PythonOp", "PyOpFunc", "PythonFunction" };

    public string Name => "onnx";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
    [
        ScanRules.OnnxExternalEscape, ScanRules.OnnxCustomDomain, ScanRules.OnnxPythonOp,
        ScanRules.MetaCode, ScanRules.MetaShell, ScanRules.MetaScript, ScanRules.MetaEncoded, ScanRules.MetaUrl, ScanRules.MetaSecret,
    ];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Onnx;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var model = OnnxReader.Parse(target.Source);
        CheckExternalData(model, target, context);

        var custom = model.CustomDomains;
        var foreign = custom.Where(d => !RuntimeDomains.Contains(d)).ToList();
        var runtime = custom.Where(RuntimeDomains.Contains).ToList();
        if (foreign.Count > 0)
        {
            var ops = model.Nodes.Where(n => foreign.Contains(n.Domain)).Select(n => $"{n.Domain}:{n.OpType}").Distinct(StringComparer.Ordinal).Take(20);
            context.Report(ScanRules.OnnxCustomDomain, $"custom operator domains need a native custom-op library: {string.Join(", ", foreign)}",
                model.Nodes.FirstOrDefault(n => foreign.Contains(n.Domain))?.Offset, evidence: string.Join(", ", ops));
        }
        if (runtime.Count > 0)
            context.Report(ScanRules.OnnxCustomDomain, $"ONNX Runtime contrib domains (built into the runtime): {string.Join(", ", runtime)}",
                model.Nodes.FirstOrDefault(n => runtime.Contains(n.Domain))?.Offset, severity: Severity.Info);

        foreach (var node in model.Nodes.Where(n => PythonOps.Contains(n.OpType) || n.Domain.Contains("python", StringComparison.OrdinalIgnoreCase)).Take(20))
            context.Report(ScanRules.OnnxPythonOp, $"node '{node.Name}' ({node.Domain}:{node.OpType}) in {node.Graph} calls a Python function", node.Offset);

        int payloads = 0;
        foreach (var (key, value) in model.Metadata)
        {
            foreach (var hit in PayloadDetector.Inspect(value, key))
            {
                if (payloads++ >= 50) return;
                context.Report(hit.Rule, $"metadata_props '{PayloadDetector.Printable(key)}': {hit.Message}", null, evidence: hit.Excerpt, severity: hit.Severity);
            }
        }
    }

    private static void CheckExternalData(OnnxModel model, ScanTarget target, ScanContext context)
    {
        var checkedLocations = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ext in model.ExternalData)
        {
            if (ext.Location is not { } location || !checkedLocations.Add(location)) continue;
            string? escape = Escapes(location);
            if (escape is not null)
            {
                context.Report(ScanRules.OnnxExternalEscape, $"tensor '{ext.TensorName}': external data location '{PayloadDetector.Printable(location)}' {escape}", ext.Offset);
                continue;
            }
            // On disk, follow the location from the model's folder: a link there can still lead outside.
            if (target.Entry is not null) continue;
            string? folder = Path.GetDirectoryName(Path.GetFullPath(target.Path));
            if (folder is null) continue;
            try
            {
                ExternalDataPath.Resolve(folder, location, target.Path, ext.Offset);
            }
            catch (LineageException e) when (e.Message.Contains("symbolic link", StringComparison.Ordinal))
            {
                context.Report(ScanRules.OnnxExternalEscape, $"tensor '{ext.TensorName}': {e.Message}", ext.Offset);
            }
            catch (LineageException e)
            {
                context.Report(ScanRules.OnnxExternalEscape, $"tensor '{ext.TensorName}': {e.Message} (the model will not load)", ext.Offset, severity: Severity.Info);
            }
        }
    }

    private static string? Escapes(string location)
    {
        if (location.Length == 0) return "is empty";
        if (location.Contains('\0', StringComparison.Ordinal)) return "contains a NUL character";
        if (location[0] is '/' or '\\' || (location.Length >= 2 && location[1] == ':' && char.IsAsciiLetter(location[0])) || location.StartsWith("~", StringComparison.Ordinal))
            return "is an absolute path: the runtime reads any file on the host";
        if (location.Split('/', '\\').Any(p => p == ".."))
            return "climbs out of the model folder with '..'";
        if (location.Contains("://", StringComparison.Ordinal)) return "is a URL";
        return null;
    }
}
