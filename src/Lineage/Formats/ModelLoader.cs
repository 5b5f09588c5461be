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
/// decided by content. Sources are local files read with positioned reads (<see cref="RandomAccessFile"/>) and owned by the returned <see cref="Model"/>.
/// </summary>
public static class ModelLoader
{
    /// <summary>Weight formats in the order a folder prefers them when it holds several.</summary>
    internal static readonly ContainerFormat[] WeightPreference =
        [ContainerFormat.Safetensors, ContainerFormat.Gguf, ContainerFormat.Zip, ContainerFormat.Pickle, ContainerFormat.Onnx, ContainerFormat.Npy, ContainerFormat.Llama2c];

    internal static readonly string[] IndexNames = ["model.safetensors.index.json", "pytorch_model.bin.index.json"];

    /// <summary>
    /// Opens a local folder, weights file or sharded index, or a remote model: <c>hf://ORG/NAME[@REVISION][/FILE]</c>
    /// or an http(s) URL of a weights file or index (read with range requests, see <see cref="Remote.RemoteModelLoader"/>).
    /// </summary>
    public static Model Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Remote.RemoteModelLoader.IsRemote(path)) return Remote.RemoteModelLoader.Open(path);
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
            using (var probe = RandomAccessFile.Open(file)) format = FormatDetector.Detect(probe);
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

    internal static bool IsSidecar(string file)
    {
        string name = Path.GetFileName(file);
        return name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".model", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase) || name.StartsWith('.')
            || name.EndsWith(".py", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".sig", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".onnx.data", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".onnx_data", StringComparison.OrdinalIgnoreCase);
    }

    private static Model OpenFiles(string modelPath, List<string> weightFiles, string dir, bool withSidecars, string? indexPath = null) =>
        Assemble(new ModelInputs
        {
            ModelPath = modelPath,
            Weights = [.. weightFiles.Select(f => new WeightInput(f, () => RandomAccessFile.Open(f)))],
            Dir = dir,
            SidecarDir = withSidecars ? dir : null,
            LeadingFiles = indexPath is null ? [] : [new ModelFile(indexPath, new FileInfo(indexPath).Length, "index")],
        });

    /// <summary>
    /// Builds a model from opened weights and a folder of sidecar files: the one code path behind local folders,
    /// files and indexes and remote models (whose sidecars are fetched into a staging folder).
    /// </summary>
    internal static Model Assemble(ModelInputs inputs)
    {
        var owned = new List<IDisposable>(inputs.Owned);
        try
        {
            var tensors = new List<Tensor>();
            var files = new List<ModelFile>(inputs.LeadingFiles);
            var metadata = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            var diagnostics = new List<Diagnostic>(inputs.Diagnostics);
            ModelConfig? config = null;
            Tokenizer? tokenizer = null;
            string? format = null;
            var names = new HashSet<string>(StringComparer.Ordinal);

            foreach (var weights in inputs.Weights)
            {
                var source = weights.Open();
                owned.Add(source);
                var part = ReadPart(source, inputs.Dir, owned);
                owned.AddRange(part.Owned);
                format ??= part.Format;
                files.Add(new ModelFile(weights.Name, source.Length, "weights", part.Format));
                foreach (var data in part.Owned.OfType<IByteSource>()) files.Add(new ModelFile(data.Name, data.Length, "weights-data", part.Format));
                foreach (var t in part.Tensors)
                {
                    if (!names.Add(t.Name))
                        throw new LineageException($"tensor '{t.Name}' appears in more than one shard", weights.Name);
                    tensors.Add(t);
                }
                foreach (var (k, v) in part.Metadata) metadata.TryAdd(k, v);
                config ??= part.Config;
                tokenizer ??= part.Tokenizer;
                diagnostics.AddRange(part.Diagnostics);
            }

            if (inputs.SidecarDir is { } dir)
            {
                string configPath = Path.Combine(dir, "config.json");
                if (File.Exists(configPath))
                {
                    config = HfConfigReader.FromJson(HfConfigReader.ReadJsonObject(configPath), inputs.DisplayName(configPath));
                    files.Add(new ModelFile(configPath, new FileInfo(configPath).Length, "config"));
                }
                var folderTokenizer = TokenizerFiles.LoadFromFolder(dir, files, diagnostics);
                if (folderTokenizer is not null && inputs.DisplayName(folderTokenizer.Source) is var shown && shown != folderTokenizer.Source)
                {
                    var renamed = TokenizerDraft.From(folderTokenizer);
                    renamed.Source = shown;
                    folderTokenizer = renamed.Build();
                }
                tokenizer = folderTokenizer ?? tokenizer;
                foreach (var extra in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                    if (!files.Any(f => f.Path == extra))
                        files.Add(new ModelFile(extra, new FileInfo(extra).Length, "other"));
                for (int i = 0; i < files.Count; i++) files[i] = files[i] with { Path = inputs.DisplayName(files[i].Path) };
                for (int i = 0; i < diagnostics.Count; i++)
                    if (diagnostics[i].File is { } file) diagnostics[i] = diagnostics[i] with { File = inputs.DisplayName(file) };
            }
            files.AddRange(inputs.TrailingFiles);

            if (inputs.Weights.Count == 0 && tokenizer is null)
                throw new LineageException("no model weights or tokenizer found", inputs.ModelPath);
            return new Model(inputs.ModelPath, format ?? "tokenizer-only", tensors, files, metadata, config, tokenizer, diagnostics, owned);
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
            ContainerFormat.Json => throw new LineageException("a JSON file holds no weights; pass the model's folder (or its weights file)", source.Name, 0),
            _ => throw new LineageException($"{format} content holds no model weights Lineage can read (scan it with 'lineage scan')", source.Name, 0),
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

/// <summary>A weights file of a model: the name it is reported under (path or URL) and how to open its bytes.</summary>
internal sealed record WeightInput(string Name, Func<IByteSource> Open);

/// <summary>What <see cref="ModelLoader.Assemble"/> builds a model from; local and remote loaders fill it differently.</summary>
internal sealed class ModelInputs
{
    /// <summary>Folder, file, index or URL the model was opened from.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Weights files in load order.</summary>
    public required IReadOnlyList<WeightInput> Weights { get; init; }

    /// <summary>Folder that readers resolve relative references against (ONNX external data).</summary>
    public required string Dir { get; init; }

    /// <summary>Folder holding config.json and tokenizer files; null for a lone weights file.</summary>
    public string? SidecarDir { get; init; }

    public IReadOnlyList<ModelFile> LeadingFiles { get; init; } = [];

    /// <summary>Files listed after the sidecars (remote files that were not fetched).</summary>
    public IReadOnlyList<ModelFile> TrailingFiles { get; init; } = [];

    /// <summary>The name a sidecar path is reported under (remote: staging path to URL).</summary>
    public Func<string, string> DisplayName { get; init; } = static p => p;

    /// <summary>Objects the model owns besides its weight sources (remote transfer counters).</summary>
    public IReadOnlyList<IDisposable> Owned { get; init; } = [];

    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = [];
}
