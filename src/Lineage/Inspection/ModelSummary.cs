using System.Security.Cryptography;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Inspection;

public sealed record TensorSummary(string Name, string Dtype, long[] Shape, long Elements, long Offset, long Bytes, string File);

public sealed record FileSummary(string Path, long Size, string Role, string? Format, string? Sha256);

public sealed record TokenizerSummary(string Kind, int VocabSize, string Source, string? Family, IReadOnlyDictionary<string, int> SpecialTokens, int Merges, bool HasChatTemplate);

/// <summary>What <c>lineage inspect</c> reports: format, parameters, dtypes, tensors, architecture, tokenizer, hashes.</summary>
public sealed record ModelSummary(
    string Path,
    string Format,
    long Parameters,
    IReadOnlyDictionary<string, long> Dtypes,
    int TensorCount,
    ModelConfig? Config,
    TokenizerSummary? Tokenizer,
    IReadOnlyList<FileSummary> Files,
    IReadOnlyList<TensorSummary> Tensors,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<Diagnostic> Diagnostics)
{
    public static ModelSummary Create(Model model, bool hashFiles)
    {
        ArgumentNullException.ThrowIfNull(model);
        var dtypes = model.Tensors.GroupBy(t => t.DType.DisplayName()).OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(t => t.ElementCount));
        var tensors = model.Tensors.Select(t => new TensorSummary(t.Name, t.DType.DisplayName(), t.Shape, t.ElementCount,
            t.Location.Offset, t.Location.ByteLength, t.Location.Source.Name)).ToList();
        var files = model.Files.Select(f => new FileSummary(f.Path, f.Size, f.Role, f.Format, hashFiles && !Formats.Remote.RemoteModelLoader.IsRemote(f.Path) ? Sha256Hex(f.Path) : null)).ToList();
        TokenizerSummary? tok = model.Tokenizer is { } tk
            ? new TokenizerSummary(tk.Kind.ToString(), tk.VocabSize, tk.Source, tk.Family, tk.SpecialTokens, tk.Merges?.Count ?? 0, tk.ChatTemplate is not null)
            : null;
        var metadata = model.Metadata.ToDictionary(kv => kv.Key, kv => Truncate(kv.Value?.ToJsonString() ?? "null"), StringComparer.Ordinal);
        return new ModelSummary(model.Path, model.Format, model.ParameterCount, dtypes, model.Tensors.Count, model.Config is null ? null : model.Config with { Raw = null },
            tok, files, tensors, metadata, model.Diagnostics);
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "…";

    /// <summary>Streams a file through SHA-256.</summary>
    public static string Sha256Hex(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (IOException e)
        {
            throw new LineageException($"cannot hash: {e.Message}", path, inner: e);
        }
    }
}
