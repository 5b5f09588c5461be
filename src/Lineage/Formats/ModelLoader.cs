using System.Text.Json.Nodes;
using Lineage.Formats.HuggingFace;
using Lineage.Formats.Llama2c;
using Lineage.Formats.Numpy;
using Lineage.Formats.Onnx;
using Lineage.Formats.PyTorch;
using Lineage.Formats.Safetensors;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Tokenizers;

namespace Lineage.Formats;

/// <summary>
/// Opens a model from a folder (Hugging Face layout), a single weights file, or a sharded index. Formats are
/// decided by content. Sources are memory-mapped and owned by the returned <see cref="Model"/>.
/// </summary>
public static class ModelLoader
{
    /// <summary>Weight formats in the order a folder prefers them when it holds several.</summary>
    private static readonly ContainerFormat[] WeightPreference =
        [ContainerFormat.Safetensors, ContainerFormat.Gguf, ContainerFormat.Zip, ContainerFormat.Pickle, ContainerFormat.Onnx, ContainerFormat.Npy, ContainerFormat.Llama2c];

    private static readonly string[] IndexNames = ["model.safetensors.index.json", "pytorch_model.bin.index.json"];

    public static Model Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return OpenFolder(path);
        if (File.Exists(path))
        {
            if (path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)) return OpenIndex(path);
            if (OpenTokenizerFile(path) is { } tokenizerOnly) return tokenizerOnly;
            return OpenFiles(path, [path], Path.GetDirectoryName(Path.GetFullPath(path))!, withSidecars: false);
        }
        throw new LineageException("no such file or folder", path);
    }

    /// <summary>A single tokenizer file (SentencePiece, tokenizer.json, tiktoken, vocab.txt) as a model without tensors.</summary>
    private static Model? OpenTokenizerFile(string path)
    {
        var diagnostics = new List<Diagnostic>();
        var tokenizer = TokenizerFiles.TryLoadFile(path, diagnostics, out string format);
        if (tokenizer is null) return null;
        return new Model(path, "tokenizer-only", [], [new ModelFile(path, new FileInfo(path).Length, "tokenizer", format)],
            new Dictionary<string, JsonNode?>(StringComparer.Ordinal), null, tokenizer, diagnostics, []);
    }

    private static Model OpenFolder(string dir)
    {
        foreach (var name in IndexNames)
        {
            string index = Path.Combine(dir, name);
            if (File.Exists(index)) return OpenIndex(index);
        }
        var candidates = new List<(string Path, ContainerFormat Format)>();
        foreach (var file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            if (IsSidecar(file)) continue;
            ContainerFormat format;
            using (var probe = MappedFile.Open(file)) format = FormatDetector.Detect(probe);
            if (Array.IndexOf(WeightPreference, format) >= 0) candidates.Add((file, format));
        }
        var chosen = WeightPreference.Select(f => candidates.Where(c => c.Format == f).Select(c => c.Path).ToList()).FirstOrDefault(l => l.Count > 0) ?? [];
        return OpenFiles(dir, chosen, dir, withSidecars: true);
    }

    private static Model OpenIndex(string indexPath)
    {
        var root = HfConfigReader.ReadJsonObject(indexPath);
        if (root["weight_map"] is not JsonObject map)
            throw new LineageException("sharded index has no weight_map object", indexPath);
        string dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var shards = new List<string>();
        foreach (var (_, value) in map)
        {
            string shard = value?.GetValue<string>() ?? throw new LineageException("weight_map value is not a file name", indexPath);
            string full = Path.GetFullPath(Path.Combine(dir, shard));
            if (!full.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new LineageException($"shard '{shard}' escapes the model folder", indexPath);
            if (!shards.Contains(full)) shards.Add(full);
        }
        return OpenFiles(indexPath, shards, dir, withSidecars: true, indexPath);
    }

    private static bool IsSidecar(string file)
    {
        string name = Path.GetFileName(file);
        return name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".model", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase) || name.StartsWith('.')
            || name.EndsWith(".py", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".sig", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".onnx.data", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".onnx_data", StringComparison.OrdinalIgnoreCase);
    }

    private static Model OpenFiles(string modelPath, List<string> weightFiles, string dir, bool withSidecars, string? indexPath = null)
    {
        var owned = new List<IDisposable>();
        try
        {
            var tensors = new List<Tensor>();
            var files = new List<ModelFile>();
            var metadata = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            var diagnostics = new List<Diagnostic>();
            ModelConfig? config = null;
            Tokenizer? tokenizer = null;
            string? format = null;
            var names = new HashSet<string>(StringComparer.Ordinal);

            if (indexPath is not null) files.Add(new ModelFile(indexPath, new FileInfo(indexPath).Length, "index"));
            foreach (var file in weightFiles)
            {
                var source = MappedFile.Open(file);
                owned.Add(source);
                var part = ReadPart(source, dir, owned);
                owned.AddRange(part.Owned);
                format ??= part.Format;
                files.Add(new ModelFile(file, source.Length, "weights", part.Format));
                foreach (var data in part.Owned.OfType<IByteSource>()) files.Add(new ModelFile(data.Name, data.Length, "weights-data", part.Format));
                foreach (var t in part.Tensors)
                {
                    if (!names.Add(t.Name))
                        throw new LineageException($"tensor '{t.Name}' appears in more than one shard", file);
                    tensors.Add(t);
                }
                foreach (var (k, v) in part.Metadata) metadata.TryAdd(k, v);
                config ??= part.Config;
                tokenizer ??= part.Tokenizer;
                diagnostics.AddRange(part.Diagnostics);
            }

            if (withSidecars)
            {
                string configPath = Path.Combine(dir, "config.json");
                if (File.Exists(configPath))
                {
                    config = HfConfigReader.Read(configPath);
                    files.Add(new ModelFile(configPath, new FileInfo(configPath).Length, "config"));
                }
                var folderTokenizer = TokenizerFiles.LoadFromFolder(dir, files, diagnostics);
                tokenizer = folderTokenizer ?? tokenizer;
                foreach (var extra in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                    if (!files.Any(f => f.Path == extra))
                        files.Add(new ModelFile(extra, new FileInfo(extra).Length, "other"));
            }

            if (weightFiles.Count == 0 && tokenizer is null)
                throw new LineageException("no model weights or tokenizer found", modelPath);
            return new Model(modelPath, format ?? "tokenizer-only", tensors, files, metadata, config, tokenizer, diagnostics, owned);
        }
        catch
        {
            foreach (var o in owned) o.Dispose();
            throw;
        }
    }

    private static ModelPart ReadPart(IByteSource source, string dir, List<IDisposable> owned)
    {
        var format = FormatDetector.Detect(source);
        return format switch
        {
            ContainerFormat.Safetensors => SafetensorsReader.Read(source),
            ContainerFormat.Llama2c => Llama2cReader.Read(source),
            ContainerFormat.Gguf => Gguf.GgufReader.Read(source),
            ContainerFormat.Onnx => OnnxReader.Read(source, dir),
            ContainerFormat.Zip => ReadZipPart(source),
            ContainerFormat.Pickle => PyTorchReader.ReadPickle(source),
            ContainerFormat.Npy => NpyReader.Read(source),
            ContainerFormat.Empty => throw new LineageException("empty file", source.Name, 0),
            ContainerFormat.Unknown => throw new LineageException("unrecognised model format", source.Name, 0),
            _ => throw new LineageException($"{format} weights cannot be read yet", source.Name, 0),
        };
    }

    /// <summary>A zip holds a PyTorch checkpoint (a data.pkl member) or NumPy arrays (.npy members).</summary>
    private static ModelPart ReadZipPart(IByteSource source)
    {
        var zip = ZipReader.Open(source);
        if (PyTorchReader.FindDataPickle(zip) is not null) return PyTorchReader.ReadZip(zip);
        if (zip.Entries.Any(e => e.Name.EndsWith(".npy", StringComparison.Ordinal))) return NpyReader.ReadNpz(zip);
        throw new LineageException("zip archive without model weights (no data.pkl and no .npy members)", source.Name, 0);
    }
}
