using Lineage.Formats;
using Lineage.IO;
using Lineage.Security.Keras;
using PureHDF;

namespace Lineage.Security.Analyzers;

/// <summary>
/// Keras H5 models (HDF5, read with PureHDF): the model_config and training_config root attributes are checked
/// by <see cref="KerasConfigAnalyzer"/>. An HDF5 file without them holds weights or data only, which carries no
/// code. Any failure of the HDF5 parser fails the file closed.
/// </summary>
internal sealed class KerasH5Analyzer : IFormatAnalyzer
{
    private static readonly string[] ConfigAttributes = ["model_config", "training_config"];

    public string Name => "keras-h5";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
        [ScanRules.KerasLambda, ScanRules.KerasModuleReference, ScanRules.KerasCustomObject, ScanRules.KerasRiskyOp];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Hdf5;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var configs = new List<(string Name, string Json)>();
        try
        {
            using var stream = new ByteSourceStream(target.Source);
            using var file = H5File.Open(stream, leaveOpen: true);
            foreach (var name in ConfigAttributes)
            {
                if (!file.AttributeExists(name)) continue;
                var attribute = file.Attribute(name);
                configs.Add((name, ReadText(attribute) ?? throw new LineageException($"{name} attribute holds no text", target.Path, null, target.Entry)));
            }
        }
        catch (Exception e) when (e is not LineageException and not OutOfMemoryException)
        {
            throw new LineageException($"HDF5 structure could not be read: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", target.Path, null, target.Entry);
        }
        foreach (var (name, json) in configs)
        {
            if (json.Length > context.Options.MaxTextBytes)
            {
                context.ReportError(ScanRules.LimitExceeded, $"{name} attribute of {json.Length} characters exceeds the analysis limit");
                continue;
            }
            foreach (var f in KerasConfigAnalyzer.Analyze(json, name, context.Policy)) context.Report(f);
        }
    }

    /// <summary>Keras writes these attributes as (variable- or fixed-length) strings; older files as bytes.</summary>
    private static string? ReadText(IH5Attribute attribute)
    {
        try
        {
            return attribute.Read<string>();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var bytes = attribute.Read<byte[]>();
            return bytes is null ? null : System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\0');
        }
    }
}
