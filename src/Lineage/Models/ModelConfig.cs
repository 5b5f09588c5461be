using System.Text.Json.Nodes;

namespace Lineage.Models;

/// <summary>
/// Architecture facts, normalized from config.json, GGUF metadata, a llama2.c header or tensor shapes.
/// Null means "not stated". <see cref="Raw"/> keeps the original object for evidence and hashing.
/// </summary>
public sealed record ModelConfig
{
    public string? ModelType { get; init; }

    public string? Architecture { get; init; }

    public int? HiddenSize { get; init; }

    public int? NumLayers { get; init; }

    public int? NumHeads { get; init; }

    public int? NumKeyValueHeads { get; init; }

    public int? HeadDim { get; init; }

    public int? IntermediateSize { get; init; }

    public int? VocabSize { get; init; }

    public int? MaxPositions { get; init; }

    public double? RopeTheta { get; init; }

    public double? NormEpsilon { get; init; }

    public bool? TieWordEmbeddings { get; init; }

    public int? NumExperts { get; init; }

    public int? NumExpertsPerToken { get; init; }

    public string? TorchDType { get; init; }

    /// <summary>Where these facts came from: "config.json", "gguf", "llama2c-header", "tensor-shapes".</summary>
    public string Source { get; init; } = "config.json";

    public JsonObject? Raw { get; init; }
}
