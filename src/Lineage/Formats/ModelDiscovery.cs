using Lineage.IO;

namespace Lineage.Formats;

/// <summary>A model found in a folder tree: a Hugging Face style folder or a single weights file.</summary>
public sealed record DiscoveredModel(string Path, string RelativePath, bool IsFolder);

/// <summary>
/// Finds the models in a folder tree, deciding by content like <see cref="ModelLoader"/>: a folder with a
/// config.json, a sharded index or weights files is one model (not descended into further); elsewhere each
/// weights file is a model of its own. Symbolic links are followed, each real folder once; depth is capped.
/// </summary>
public static class ModelDiscovery
{
    private const int MaxDepth = 32;

    private static readonly HashSet<ContainerFormat> WeightFormats =
        [ContainerFormat.Safetensors, ContainerFormat.Gguf, ContainerFormat.Zip, ContainerFormat.Pickle, ContainerFormat.Onnx, ContainerFormat.Npy, ContainerFormat.Llama2c];

    private static readonly string[] SidecarSuffixes =
        [".json", ".txt", ".md", ".model", ".tiktoken", ".py", ".sig", ".onnx.data", ".onnx_data", ".lfp", ".db", ".db-wal", ".db-shm", ".zip"];

    public static IReadOnlyList<DiscoveredModel> Find(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        string full = System.IO.Path.GetFullPath(root);
        if (!Directory.Exists(full)) throw new LineageException("no such folder", root);
        var found = new List<DiscoveredModel>();
        Walk(full, full, 0, found, new HashSet<string>(StringComparer.Ordinal));
        return [.. found.OrderBy(m => m.RelativePath, StringComparer.Ordinal)];
    }

    private static void Walk(string root, string dir, int depth, List<DiscoveredModel> found, HashSet<string> visited)
    {
        if (depth > MaxDepth) return;
        // Symbolic links are followed (a tree of links to model folders is a common layout), each real folder once.
        string real = new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dir;
        if (!visited.Add(real)) return;
        var files = Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).ToList();
        var weights = files.Where(IsWeights).ToList();
        bool modelFolder = dir != root && (files.Any(f => System.IO.Path.GetFileName(f) is "config.json" or "model.safetensors.index.json" or "pytorch_model.bin.index.json")
            || weights.Count > 0 && files.Any(f => System.IO.Path.GetFileName(f).StartsWith("tokenizer", StringComparison.Ordinal)));
        if (modelFolder)
        {
            found.Add(new DiscoveredModel(dir, Relative(root, dir), true));
            return;
        }
        foreach (var w in weights) found.Add(new DiscoveredModel(w, Relative(root, w), false));
        foreach (var sub in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
        {
            if (System.IO.Path.GetFileName(sub).StartsWith('.')) continue;
            Walk(root, sub, depth + 1, found, visited);
        }
    }

    private static bool IsWeights(string file)
    {
        string name = System.IO.Path.GetFileName(file);
        if (name.StartsWith('.') || SidecarSuffixes.Any(s => name.EndsWith(s, StringComparison.OrdinalIgnoreCase))) return false;
        try
        {
            using var source = RandomAccessFile.Open(file);
            return WeightFormats.Contains(FormatDetector.Detect(source));
        }
        catch (LineageException)
        {
            return false;
        }
    }

    private static string Relative(string root, string path) => System.IO.Path.GetRelativePath(root, path).Replace('\\', '/');
}
