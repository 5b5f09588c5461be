using System.Globalization;
using Lineage.Catalog;
using Lineage.Formats;
using Lineage.Identify;
using Lineage.Inspection;
using Lineage.Models;
using Lineage.Provenance;
using Lineage.Security;
using Lineage.Store;

namespace Lineage.Audit;

public sealed record AuditOptions
{
    /// <summary>A published manifest to verify the files against (file or folder, see <see cref="PublishedManifest"/>).</summary>
    public string? ManifestPath { get; init; }

    /// <summary>The base the weights must descend from: a model path, a fingerprint file, or a database model id.</summary>
    public string? ExpectBase { get; init; }

    /// <summary>Fingerprint database for identify and for resolving claimed / expected bases (may be null).</summary>
    public IFingerprintStore? Store { get; init; }

    /// <summary>Reference catalog for metadata-level family evidence (null to leave it out).</summary>
    public ReferenceCatalog? Catalog { get; init; } = ReferenceCatalog.BuiltIn;

    public ScanOptions? Scan { get; init; }

    /// <summary>Skip fingerprinting and lineage (files, manifest, scan and format risks only).</summary>
    public bool SkipLineage { get; init; }

    /// <summary>Loads a model or fingerprint file for <see cref="ExpectBase"/> when it is a path (the CLI passes its loader).</summary>
    public Func<string, Fingerprint>? LoadFingerprint { get; init; }
}

/// <summary>
/// The one-shot supply-chain check behind <c>lineage audit</c>: file inventory with SHA-256, verification against a
/// published manifest, the serialization scan, the model's facts, claimed versus detected lineage (and an expected
/// base), and packaging risks. Each part fails on its own without hiding the others: an unreadable manifest or model
/// becomes an integrity finding and the rest of the audit still runs.
/// </summary>
public static class Auditor
{
    public const string ToolVersion = "0.1.0";

    public static AuditReport Run(string path, AuditOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new AuditOptions();
        if (!File.Exists(path) && !Directory.Exists(path)) throw new LineageException("no such file or folder", path);
        string root = FileInventory.RootOf(path);
        bool isFolder = Directory.Exists(path);
        var findings = new List<AuditFinding>();

        // A manifest kept inside the folder is not one of the model's files.
        var exclude = options.ManifestPath is { } m && File.Exists(m) ? new[] { m } : [];
        var files = FileInventory.Build(path, exclude);

        ManifestCheck? manifest = null;
        if (options.ManifestPath is { } manifestPath)
        {
            try
            {
                manifest = ManifestVerifier.Verify(PublishedManifest.Read(manifestPath), files, findings);
            }
            catch (LineageException e)
            {
                findings.Add(new AuditFinding(".", Finding.Of(AuditRules.ManifestUnreadable, $"manifest {manifestPath}: {e.Describe()}", e.Offset)));
            }
        }

        var scan = Scanner.Scan([path], options.Scan);

        AuditModel? facts = null;
        Fingerprint? fingerprint = null;
        string? lineageError = null;
        try
        {
            using var model = ModelLoader.Open(path);
            facts = Facts(model, root);
            if (!options.SkipLineage)
            {
                try
                {
                    fingerprint = FingerprintExtractor.Extract(model);
                }
                catch (LineageException e)
                {
                    lineageError = $"no fingerprint: {e.Describe()}";
                }
            }
        }
        catch (LineageException e)
        {
            lineageError = $"model unreadable: {e.Describe()}";
            if (files.Any(f => f.Pointer is null && IsWeightFormat(f.Format)))
                findings.Add(new AuditFinding(".", Finding.Of(AuditRules.ModelUnreadable, $"the model could not be loaded: {e.Describe()}", e.Offset, e.Entry)));
        }

        var claims = isFolder ? ModelClaims.Read(root) : [];
        var lineage = options.SkipLineage
            ? new LineageCheck { Claims = [.. claims.Select(c => new ClaimCheck(c, "not-checked", null, null, "lineage was skipped"))], Error = "lineage was skipped" }
            : CheckLineage(fingerprint, claims, options, findings, lineageError);

        FormatRisks.Check(root, files, findings);

        return new AuditReport
        {
            Path = path,
            ToolVersion = ToolVersion,
            Files = files,
            Manifest = manifest,
            Scan = scan,
            Model = facts,
            Lineage = lineage,
            Findings = findings,
        };
    }

    private static bool IsWeightFormat(string format) => format is "safetensors" or "gguf" or "zip" or "pickle" or "onnx" or "npy" or "llama2c";

    private static AuditModel Facts(Model model, string root)
    {
        var summary = ModelSummary.Create(model, hashFiles: false);
        var weights = model.Files.Where(f => f.Role is "weights" or "weights-data" or "index")
            .Select(f => Path.GetRelativePath(root, Path.GetFullPath(f.Path)).Replace(Path.DirectorySeparatorChar, '/')).ToList();
        return new AuditModel(summary.Format, summary.Parameters, summary.TensorCount, summary.Dtypes, summary.Config, summary.Tokenizer, weights)
        {
            Name = MetadataText(model, "general.name"),
            Version = MetadataText(model, "general.version"),
        };
    }

    private static string? MetadataText(Model model, string key) =>
        model.Metadata.TryGetValue(key, out var node) && node is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out string? s) && !string.IsNullOrWhiteSpace(s) ? s : null;

    private static LineageCheck CheckLineage(Fingerprint? fingerprint, IReadOnlyList<BaseClaim> claims, AuditOptions options, List<AuditFinding> findings, string? error)
    {
        var store = options.Store;
        IdentifyResult? identified = fingerprint is null ? null : Identifier.Identify(fingerprint, store, options.Catalog);
        var detected = identified?.Matches.Select(mt => new DetectedBase(mt.ModelId, mt.Family, mt.Verdict, mt.Related, mt.Score, mt.Log10PValue, mt.Transformations)).ToList() ?? [];
        ComparisonResult? shown = null;
        var comparisons = new Dictionary<string, ComparisonResult>(StringComparer.Ordinal);
        ComparisonResult? CompareWithEntry(StoreEntry entry)
        {
            if (fingerprint is null) return null;
            if (!comparisons.TryGetValue(entry.ModelId, out var result))
            {
                result = ProvenanceComparer.Compare(fingerprint, store!.LoadFingerprint(entry));
                comparisons[entry.ModelId] = result;
            }
            return result;
        }

        // Expected base: a path (model or fingerprint file) is compared directly; otherwise a database entry.
        ExpectedBaseCheck? expected = null;
        if (options.ExpectBase is { } want)
        {
            ComparisonResult? result = null;
            string resolved;
            if ((File.Exists(want) || Directory.Exists(want)) && options.LoadFingerprint is { } load && fingerprint is not null)
            {
                resolved = "path";
                result = ProvenanceComparer.Compare(fingerprint, load(want));
            }
            else if (FindEntry(store, want) is { } entry && fingerprint is not null)
            {
                resolved = $"database entry {entry.ModelId}";
                result = CompareWithEntry(entry);
            }
            else
            {
                resolved = "unresolved";
            }
            expected = ExpectedOutcome(want, resolved, result, fingerprint is null ? error : null, store, findings);
            shown = result;
        }

        // Claims: checked against the database entry they name, if there is one.
        var checks = new List<ClaimCheck>();
        foreach (var claim in claims)
        {
            var entry = claim.IsHubId || store?.Find(claim.Value) is not null ? FindEntry(store, claim.Value) : null;
            string where = $"{claim.File} {claim.Field}";
            if (entry is null || fingerprint is null)
            {
                string why = fingerprint is null ? "the model has no fingerprint" : claim.IsHubId ? "not in the fingerprint database" : "names a local path, not a published model";
                var otherBase = detected.FirstOrDefault(d => !ModelClaims.SameModel(claim.Value, d.ModelId));
                if (otherBase is not null && claim.IsHubId)
                    findings.Add(new AuditFinding(claim.File, Finding.Of(AuditRules.ClaimDiffers,
                        string.Create(CultureInfo.InvariantCulture, $"{where} claims {claim.Value} ({why}); the weights descend from {otherBase.ModelId} ({otherBase.Verdict}, score {otherBase.Score:F3})"))));
                else if (claim.IsHubId)
                    findings.Add(new AuditFinding(claim.File, Finding.Of(AuditRules.ClaimUnverified, $"{where} claims {claim.Value}: {why}")));
                checks.Add(new ClaimCheck(claim, "unverified", null, null, why));
                continue;
            }
            var result = CompareWithEntry(entry)!;
            shown ??= result.Related == true ? result : null;
            string status = result.Related switch { true => "confirmed", false => "contradicted", _ => "inconclusive" };
            string detail = string.Create(CultureInfo.InvariantCulture, $"{result.Verdict} (score {result.Score:F3}, log10 p {result.Log10PValue:F1}) against database entry {entry.ModelId}");
            if (result.Related == false)
                findings.Add(new AuditFinding(claim.File, Finding.Of(AuditRules.ClaimContradicted, $"{where} claims {claim.Value}, but the weights are {detail}")));
            checks.Add(new ClaimCheck(claim, status, entry.ModelId, result.Score, detail));
        }
        var declared = claims.Where(c => c.Field != "_name_or_path" && c.IsHubId).ToList();
        if (declared.Count > 1 && declared.Skip(1).Any(c => !ModelClaims.SameModel(c.Value, declared[0].Value)))
            findings.Add(new AuditFinding(".", Finding.Of(AuditRules.ClaimsDisagree,
                "the model's files claim different bases: " + string.Join("; ", declared.Select(c => $"{c.File} {c.Field} = {c.Value}")))));

        if (shown is null && identified?.Matches.FirstOrDefault() is { } best)
        {
            shown = new ComparisonResult
            {
                Related = best.Related,
                Verdict = best.Verdict,
                Score = best.Score,
                Log10PValue = best.Log10PValue,
                Signals = best.Signals,
                Evidence = best.Evidence,
                Transformations = best.Transformations,
                LayerMap = best.LayerMap,
                Context = best.Context ?? new ComparisonContext("unknown", [], "unknown", "none", 0),
                A = fingerprint?.Source ?? "",
                B = best.ModelId,
            };
        }
        return new LineageCheck
        {
            Claims = checks,
            Detected = detected,
            CatalogFamilies = identified?.Catalog?.Families ?? [],
            CatalogLines = identified?.Catalog?.Lines ?? [],
            Expected = expected,
            Database = store?.Location,
            DatabaseEntries = store?.Count ?? 0,
            Error = error,
            Comparison = shown,
        };
    }

    private static ExpectedBaseCheck ExpectedOutcome(string want, string resolved, ComparisonResult? result, string? error, IFingerprintStore? store, List<AuditFinding> findings)
    {
        if (result is null)
        {
            string why = error ?? (store is null
                ? $"'{want}' is not a readable model path and no fingerprint database is open"
                : $"'{want}' is neither a readable model path nor an entry of {store.Location} ({store.Count} entries)");
            findings.Add(new AuditFinding(".", Finding.Of(AuditRules.ExpectedBaseUnverified, $"expected base {want} could not be checked: {why}")));
            return new ExpectedBaseCheck(want, resolved, "unverified", null, null, null, why);
        }
        string detail = string.Create(CultureInfo.InvariantCulture, $"{result.Verdict} (score {result.Score:F3}, log10 p {result.Log10PValue:F1})");
        switch (result.Related)
        {
            case true:
                return new ExpectedBaseCheck(want, resolved, "confirmed", result.Verdict, true, result.Score, detail);
            case false:
                findings.Add(new AuditFinding(".", Finding.Of(AuditRules.ExpectedBaseDiffers, $"the weights do not descend from the expected base {want}: {detail}")));
                return new ExpectedBaseCheck(want, resolved, "differs", result.Verdict, false, result.Score, detail);
            default:
                findings.Add(new AuditFinding(".", Finding.Of(AuditRules.ExpectedBaseUnverified, $"the comparison with the expected base {want} is inconclusive: {detail}")));
                return new ExpectedBaseCheck(want, resolved, "unverified", result.Verdict, null, result.Score, detail);
        }
    }

    /// <summary>An exact model id, else the one entry whose id names the same model (<see cref="ModelClaims.SameModel"/>).</summary>
    private static StoreEntry? FindEntry(IFingerprintStore? store, string id)
    {
        if (store is null) return null;
        if (store.Find(id) is { } exact) return exact;
        var similar = store.List().Where(e => ModelClaims.SameModel(id, e.ModelId)).ToList();
        return similar.Count == 1 ? similar[0] : null;
    }
}
