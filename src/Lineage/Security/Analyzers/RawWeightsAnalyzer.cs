using Lineage.Formats;
using Lineage.Formats.Llama2c;

namespace Lineage.Security.Analyzers;

/// <summary>
/// Formats that hold nothing but numbers (llama2.c checkpoints: an int32 header and float32 tensors). There is
/// nothing to execute; the header is validated so a file that only pretends to be one fails closed.
/// </summary>
internal sealed class RawWeightsAnalyzer : IFormatAnalyzer
{
    public string Name => "raw-weights";

    public IReadOnlyList<RuleDescriptor> Rules { get; } = [];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Llama2c;

    public void Analyze(ScanTarget target, ScanContext context) => Llama2cReader.ReadHeader(target.Source);
}
