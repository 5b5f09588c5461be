using System.Text.Json.Nodes;
using Lineage.Models;

namespace Lineage.Formats;

/// <summary>What one format reader extracts from one file; the loader merges parts into a <see cref="Model"/>.</summary>
internal sealed class ModelPart(string format)
{
    public string Format { get; } = format;

    public List<Tensor> Tensors { get; } = [];

    public Dictionary<string, JsonNode?> Metadata { get; } = new(StringComparer.Ordinal);

    public ModelConfig? Config { get; set; }

    public Tokenizer? Tokenizer { get; set; }

    public List<Diagnostic> Diagnostics { get; } = [];

    /// <summary>Further sources the part's tensors live in (ONNX external data files); the model disposes them.</summary>
    public List<IDisposable> Owned { get; } = [];
}
