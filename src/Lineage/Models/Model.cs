using System.Text.Json.Nodes;

namespace Lineage.Models;

/// <summary>One file that makes up a model, with its role (weights, config, tokenizer, …).</summary>
public sealed record ModelFile(string Path, long Size, string Role, string? Format = null);

/// <summary>
/// The one model abstraction every format reader produces: named tensors, configuration, tokenizer and
/// format metadata. Tensor bytes stay in the (local or remote) sources until a signal reads them;
/// disposing the model releases those sources.
/// </summary>
public sealed class Model : IDisposable
{
    private readonly List<IDisposable> _owned;
    private Dictionary<string, Tensor>? _byName;

    internal Model(string path, string format, IReadOnlyList<Tensor> tensors, IReadOnlyList<ModelFile> files,
        IReadOnlyDictionary<string, JsonNode?> metadata, ModelConfig? config, Tokenizer? tokenizer,
        IReadOnlyList<Diagnostic> diagnostics, List<IDisposable> owned)
    {
        Path = path;
        Format = format;
        Tensors = tensors;
        Files = files;
        Metadata = metadata;
        Config = config;
        Tokenizer = tokenizer;
        Diagnostics = diagnostics;
        _owned = owned;
    }

    /// <summary>The path the model was opened from (folder, file or index).</summary>
    public string Path { get; }

    /// <summary>Container format of the weights: safetensors, gguf, pytorch-zip, pytorch-legacy, onnx, npz, npy, llama2c.</summary>
    public string Format { get; }

    public IReadOnlyList<Tensor> Tensors { get; }

    public IReadOnlyList<ModelFile> Files { get; }

    /// <summary>Format metadata (GGUF key/values without the vocabulary arrays, safetensors __metadata__, ONNX metadata_props).</summary>
    public IReadOnlyDictionary<string, JsonNode?> Metadata { get; }

    public ModelConfig? Config { get; }

    public Tokenizer? Tokenizer { get; }

    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    public long ParameterCount => Tensors.Sum(t => t.ElementCount);

    public Tensor? FindTensor(string name)
    {
        _byName ??= Tensors.GroupBy(t => t.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        return _byName.GetValueOrDefault(name);
    }

    /// <summary>
    /// Bytes that crossed the network for a remote model so far: range reads of the weights (read-ahead and
    /// retries included), API answers and fetched config/tokenizer files. Zero for local models.
    /// </summary>
    public long BytesTransferred => _owned.OfType<IO.ITransferMeter>().Sum(m => m.BytesTransferred);

    /// <summary>HTTP requests made for a remote model so far (zero for local models).</summary>
    public long Requests => _owned.OfType<IO.ITransferMeter>().Sum(m => m.Requests);

    /// <summary>Total bytes read from the model's sources so far.</summary>
    public long BytesRead => Tensors.Select(t => t.Location.Source).Distinct().Sum(s => s.BytesRead);

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
        _owned.Clear();
    }
}
