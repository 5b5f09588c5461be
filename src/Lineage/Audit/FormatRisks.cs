using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Formats.PyTorch;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Security;

namespace Lineage.Audit;

/// <summary>
/// Risks of how a model is packaged rather than of what one file holds: pickle-based weights beside (or instead
/// of) safetensors, Git LFS pointers in place of content, and remote references (code or base models in other
/// repositories) that are not pinned to a commit. Remote-code and trust_remote_code settings themselves are the
/// scanner's findings (LIN-CFG-001/002) and are not repeated here.
/// </summary>
internal static class FormatRisks
{
    private static readonly string[] RevisionKeys = ["revision", "code_revision", "base_model_revision"];

    public static void Check(string root, IReadOnlyList<InventoryFile> files, List<AuditFinding> findings)
    {
        foreach (var f in files.Where(f => f.Pointer is not null))
            findings.Add(new AuditFinding(f.Path, Finding.Of(AuditRules.LfsPointer,
                $"{f.Path} is a Git LFS pointer ({f.Size} bytes) to an object of {f.Pointer!.Size} bytes (sha256 {f.Pointer.Sha256}): the content was never downloaded")));

        var pickles = files.Where(f => IsPickleWeights(root, f)).ToList();
        var safetensors = files.Where(f => f.Format == "safetensors").Select(f => f.Path).ToList();
        foreach (var p in pickles)
        {
            if (safetensors.Count > 0)
                findings.Add(new AuditFinding(p.Path, Finding.Of(AuditRules.PickleBesideSafetensors,
                    $"{p.Path} is a pickle-based checkpoint ({p.Format}) beside safetensors weights ({string.Join(", ", safetensors.Take(3))}{(safetensors.Count > 3 ? ", …" : "")})")));
            else
                findings.Add(new AuditFinding(p.Path, Finding.Of(AuditRules.PickleOnly,
                    $"{p.Path} is a pickle-based checkpoint ({p.Format}) and no safetensors copy exists: 'lineage convert {p.Path} --to safetensors -o model.safetensors'")));
        }

        foreach (var f in files.Where(f => f.Format == "json" && f.Size <= 16L << 20 && f.Pointer is null))
        {
            var json = ModelClaims.ReadJson(Path.Combine(root, f.Path));
            if (json is not null) CheckRevisions(f.Path, json, findings);
        }
    }

    /// <summary>PyTorch pickles: a raw pickle, or a zip holding a *.pkl member (torch.save's data.pkl).</summary>
    private static bool IsPickleWeights(string root, InventoryFile f)
    {
        if (f.Format == "pickle") return true;
        if (f.Format != "zip") return false;
        try
        {
            using var source = RandomAccessFile.Open(Path.Combine(root, f.Path));
            var zip = ZipReader.Open(source);
            return PyTorchReader.FindDataPickle(zip) is not null || zip.Entries.Any(e => e.Name.EndsWith(".pkl", StringComparison.OrdinalIgnoreCase));
        }
        catch (LineageException)
        {
            return false; // unreadable archives are the scanner's findings
        }
    }

    private static void CheckRevisions(string file, JsonObject json, List<AuditFinding> findings)
    {
        bool pinned = RevisionKeys.Any(k => Str(json[k]) is { } r && Hex.IsSha1(r));
        foreach (var key in RevisionKeys)
        {
            if (Str(json[key]) is { } r && !Hex.IsSha1(r))
                findings.Add(new AuditFinding(file, Finding.Of(AuditRules.UnpinnedRevision, $"{file}: {key} \"{r}\" is a branch or tag, not a commit sha")));
        }
        if (json["auto_map"] is JsonObject autoMap && !pinned)
        {
            var repos = autoMap.Select(kv => kv.Value).SelectMany(v => v is JsonArray a ? a.Select(Str) : [Str(v)])
                .OfType<string>().Where(v => v.Contains("--", StringComparison.Ordinal)).Select(v => v[..v.IndexOf("--", StringComparison.Ordinal)])
                .Distinct(StringComparer.Ordinal).ToList();
            foreach (var repo in repos)
                findings.Add(new AuditFinding(file, Finding.Of(AuditRules.UnpinnedRevision,
                    $"{file}: auto_map loads code from {repo} at whatever its default branch holds (no code_revision commit pin)")));
        }
        if (Path.GetFileName(file) == "adapter_config.json" && Str(json["base_model_name_or_path"]) is { } adapterBase
            && ModelClaims.LooksLikeHubId(adapterBase) && !pinned && Str(json["revision"]) is null)
            findings.Add(new AuditFinding(file, Finding.Of(AuditRules.UnpinnedRevision,
                $"{file}: the adapter's base {adapterBase} is not pinned to a revision: the adapter may be applied to different weights than it was trained on")));
    }

    private static string? Str(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}
