using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lineage.Audit;
using Lineage.Security;

namespace Lineage.Reports;

public sealed record BomOptions
{
    /// <summary>BOM serial number (a random UUID when null).</summary>
    public Guid? SerialNumber { get; init; }

    /// <summary>Generation time (now when null; $SOURCE_DATE_EPOCH is honoured by the CLI for reproducible BOMs).</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Scan findings listed one per property, at most this many (the counts are always given).</summary>
    public int MaxFindingProperties { get; init; } = 200;
}

/// <summary>
/// CycloneDX 1.6 ML-BOM (JSON) of an audited model. <c>metadata.component</c> is the model: a
/// <c>machine-learning-model</c> component with its name, version when the weights state one, SHA-256 (of the
/// weights file when there is one), every file as a nested <c>file</c> component with its SHA-256, the scan results
/// as <c>lineage:scan:*</c> properties, and a <c>modelCard</c> (architecture family and model architecture, the task
/// when the architecture implies one, datasets unknown, considerations, and properties for parameters, tokenizer,
/// detected base and evidence score). Each base the weights were found to descend from is a top-level component
/// with a bom-ref, and <c>dependencies</c> links the model to it. Property names use the <c>lineage:</c> namespace.
/// </summary>
public static class CycloneDxWriter
{
    public const string SpecVersion = "1.6";

    public const string SchemaUri = "http://cyclonedx.org/schema/bom-1.6.schema.json";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(Stream output, AuditReport report, BomOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(report);
        options ??= new BomOptions();
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var model = report.Model;
        string name = model?.Name ?? ModelName(report.Path);
        string modelRef = "model:" + name;
        var bases = Bases(report);

        w.WriteStartObject();
        w.WriteString("$schema", SchemaUri);
        w.WriteString("bomFormat", "CycloneDX");
        w.WriteString("specVersion", SpecVersion);
        w.WriteString("serialNumber", "urn:uuid:" + (options.SerialNumber ?? Guid.NewGuid()).ToString("D"));
        w.WriteNumber("version", 1);

        w.WriteStartObject("metadata");
        w.WriteString("timestamp", (options.Timestamp ?? DateTimeOffset.UtcNow).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", Inv));
        w.WriteStartObject("tools");
        w.WriteStartArray("components");
        w.WriteStartObject();
        w.WriteString("type", "application");
        w.WriteString("name", "lineage");
        w.WriteString("version", report.ToolVersion);
        w.WriteString("description", "AI model supply-chain security: provenance of weights, safety of model files");
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WritePropertyName("component");
        WriteModelComponent(w, report, name, modelRef, bases, options);
        w.WriteStartArray("properties");
        Property(w, "lineage:audited-path", report.Path);
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartArray("components");
        foreach (var b in bases)
        {
            w.WriteStartObject();
            w.WriteString("type", "machine-learning-model");
            w.WriteString("bom-ref", b.Ref);
            int slash = b.Id.LastIndexOf('/');
            if (ModelClaims.LooksLikeHubId(b.Id) && slash > 0)
            {
                w.WriteString("group", b.Id[..slash]);
                w.WriteString("name", b.Id[(slash + 1)..]);
            }
            else
            {
                w.WriteString("name", b.Id);
            }
            w.WriteString("description", "Base model the audited weights descend from (weight evidence)");
            w.WriteStartArray("properties");
            Property(w, "lineage:relationship", b.Verdict);
            Property(w, "lineage:evidence-score", b.Score.ToString("F6", Inv));
            if (b.Log10PValue is { } lp) Property(w, "lineage:evidence-log10-p-value", lp.ToString("F3", Inv));
            Property(w, "lineage:evidence-source", b.Source);
            foreach (var t in b.Transformations) Property(w, "lineage:transformation", t);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("dependencies");
        w.WriteStartObject();
        w.WriteString("ref", modelRef);
        w.WriteStartArray("dependsOn");
        foreach (var b in bases) w.WriteStringValue(b.Ref);
        w.WriteEndArray();
        w.WriteEndObject();
        foreach (var b in bases)
        {
            w.WriteStartObject();
            w.WriteString("ref", b.Ref);
            w.WriteStartArray("dependsOn");
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
    }

    private sealed record BaseModel(string Id, string Ref, string Verdict, double Score, double? Log10PValue, string Source, IReadOnlyList<string> Transformations);

    /// <summary>Detected database matches, plus an expected base confirmed by direct comparison (a path).</summary>
    private static List<BaseModel> Bases(AuditReport report)
    {
        var bases = new List<BaseModel>();
        foreach (var d in report.Lineage.Detected.Where(d => d.Related == true))
            bases.Add(new BaseModel(d.ModelId, "base:" + d.ModelId, d.Verdict, d.Score, d.Log10PValue, "fingerprint database", d.Transformations));
        if (report.Lineage.Expected is { Outcome: "confirmed" } e && !bases.Any(b => ModelClaims.SameModel(e.Id, b.Id)))
        {
            string id = e.ResolvedAs == "path" ? ModelName(e.Id) : e.Id;
            bases.Add(new BaseModel(id, "base:" + id, e.Verdict ?? "derived", e.Score ?? 0, null, e.ResolvedAs == "path" ? $"direct comparison with {e.Id}" : e.ResolvedAs, []));
        }
        return [.. bases.DistinctBy(b => b.Ref)];
    }

    private static void WriteModelComponent(Utf8JsonWriter w, AuditReport report, string name, string modelRef, List<BaseModel> bases, BomOptions options)
    {
        var model = report.Model;
        w.WriteStartObject();
        w.WriteString("type", "machine-learning-model");
        w.WriteString("bom-ref", modelRef);
        w.WriteString("name", name);
        if (model?.Version is { } version) w.WriteString("version", version);
        var weights = model?.WeightFiles.Select(p => report.Files.FirstOrDefault(f => f.Path == p)).OfType<InventoryFile>().Where(f => f.Sha256 is not null).ToList() ?? [];
        if (weights.Count == 1)
        {
            w.WriteStartArray("hashes");
            Hash(w, weights[0].Sha256!);
            w.WriteEndArray();
        }
        if (bases.Count > 0)
        {
            w.WriteStartObject("pedigree");
            w.WriteString("notes", "Derived from " + string.Join("; ", bases.Select(b => string.Create(Inv, $"{b.Id} ({b.Verdict}, evidence score {b.Score:F3}, {b.Source})"))) + ", established from the weights by lineage.");
            w.WriteEndObject();
        }

        w.WriteStartArray("components");
        foreach (var f in report.Files)
        {
            w.WriteStartObject();
            w.WriteString("type", "file");
            w.WriteString("bom-ref", "file:" + f.Path);
            w.WriteString("name", f.Path);
            if (f.Sha256 is not null)
            {
                w.WriteStartArray("hashes");
                Hash(w, f.Sha256);
                w.WriteEndArray();
            }
            w.WriteStartArray("properties");
            Property(w, "lineage:size", f.Size.ToString(Inv));
            Property(w, "lineage:format", f.Format);
            if (f.GitBlobSha1 is not null) Property(w, "lineage:git-blob-sha1", f.GitBlobSha1);
            if (model?.WeightFiles.Contains(f.Path) == true) Property(w, "lineage:role", "weights");
            if (f.Pointer is not null) Property(w, "lineage:lfs-pointer-sha256", f.Pointer.Sha256);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        WriteModelCard(w, report, bases);

        w.WriteStartArray("properties");
        Property(w, "lineage:content-sha256", ContentDigest(report.Files));
        WriteScanProperties(w, report, options);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteModelCard(Utf8JsonWriter w, AuditReport report, List<BaseModel> bases)
    {
        var model = report.Model;
        var config = model?.Config;
        w.WriteStartObject("modelCard");
        w.WriteString("bom-ref", "model-card");
        w.WriteStartObject("modelParameters");
        string? task = TaskOf(config?.Architecture);
        if (task is not null) w.WriteString("task", task);
        string? family = config?.ModelType ?? report.Lineage.CatalogFamilies.FirstOrDefault();
        if (family is not null) w.WriteString("architectureFamily", family);
        if (config?.Architecture is { } arch) w.WriteString("modelArchitecture", arch);
        if (task is not null)
        {
            w.WriteStartArray("inputs");
            w.WriteStartObject();
            w.WriteString("format", "text");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteStartArray("outputs");
            w.WriteStartObject();
            w.WriteString("format", task is "text-generation" or "text2text-generation" ? "text" : "tensor");
            w.WriteEndObject();
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteStartObject("quantitativeAnalysis");
        w.WriteEndObject();

        w.WriteStartObject("considerations");
        w.WriteStartArray("technicalLimitations");
        w.WriteStringValue("Training data, intended use and evaluation results are not recorded in the model files; this card states only what the files show.");
        w.WriteStringValue(report.Lineage.Database is null
            ? "No fingerprint database was searched: a base model can only be detected when its fingerprint is in the database."
            : $"Lineage was searched among {report.Lineage.DatabaseEntries} fingerprints ({report.Lineage.Database}); a base outside the database cannot be detected.");
        var all = report.AllFindings.ToList();
        var outcome = report.Scan.Outcome(Severity.Medium);
        w.WriteStringValue(all.Count == 0 && outcome == ScanOutcome.Clean
            ? "The serialization scan and the audit found nothing."
            : $"The serialization scan and the audit report {all.Count} finding(s), highest {(all.Count == 0 ? "none" : ScanReportWriter.SeverityName(all.Max(f => f.Finding.Severity)))}; scan outcome {ScanReportWriter.OutcomeName(outcome)} (see lineage:scan properties).");
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartArray("properties");
        Property(w, "lineage:datasets", "unknown (not recorded in the model files)");
        if (model is not null)
        {
            Property(w, "lineage:format", model.Format);
            Property(w, "lineage:parameters", model.Parameters.ToString(Inv));
            Property(w, "lineage:tensors", model.TensorCount.ToString(Inv));
            Property(w, "lineage:dtypes", string.Join(",", model.Dtypes.Keys));
            if (config?.HiddenSize is { } h) Property(w, "lineage:hidden-size", h.ToString(Inv));
            if (config?.NumLayers is { } l) Property(w, "lineage:layers", l.ToString(Inv));
            if (config?.VocabSize is { } v) Property(w, "lineage:vocab-size", v.ToString(Inv));
            if (model.Tokenizer is { } t)
            {
                Property(w, "lineage:tokenizer", t.Kind);
                Property(w, "lineage:tokenizer-vocab-size", t.VocabSize.ToString(Inv));
                if (t.Family is not null) Property(w, "lineage:tokenizer-family", t.Family);
            }
        }
        var best = bases.FirstOrDefault();
        Property(w, "lineage:detected-base", best?.Id ?? "none");
        if (best is not null)
        {
            Property(w, "lineage:detected-base-verdict", best.Verdict);
            Property(w, "lineage:evidence-score", best.Score.ToString("F6", Inv));
            if (best.Log10PValue is { } lp) Property(w, "lineage:evidence-log10-p-value", lp.ToString("F3", Inv));
        }
        if (report.Lineage.Expected is { } e) Property(w, "lineage:expected-base", $"{e.Id}: {e.Outcome}");
        foreach (var c in report.Lineage.Claims) Property(w, "lineage:claimed-base", $"{c.Claim.Value} ({c.Claim.File} {c.Claim.Field}; {c.Status})");
        foreach (var f in report.Lineage.CatalogFamilies) Property(w, "lineage:catalog-family", f);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteScanProperties(Utf8JsonWriter w, AuditReport report, BomOptions options)
    {
        var summary = report.Scan.Summary;
        var all = report.AllFindings.OrderByDescending(f => f.Finding.Severity).ToList();
        Property(w, "lineage:scan:outcome", ScanReportWriter.OutcomeName(report.Scan.Outcome(Severity.Medium)));
        Property(w, "lineage:scan:files", summary.Files.ToString(Inv));
        Property(w, "lineage:scan:scanned", summary.Scanned.ToString(Inv));
        Property(w, "lineage:scan:unanalyzed", summary.Unanalyzed.ToString(Inv));
        Property(w, "lineage:scan:errors", summary.Errors.ToString(Inv));
        Property(w, "lineage:scan:findings", all.Count.ToString(Inv));
        foreach (var s in Enum.GetValues<Severity>().Reverse())
            Property(w, "lineage:scan:findings:" + ScanReportWriter.SeverityName(s), all.Count(f => f.Finding.Severity == s).ToString(Inv));
        Property(w, "lineage:scan:highest-severity", all.Count == 0 ? "none" : ScanReportWriter.SeverityName(all[0].Finding.Severity));
        foreach (var (path, f) in all.Take(options.MaxFindingProperties))
            Property(w, "lineage:scan:finding", $"{ScanReportWriter.SeverityName(f.Severity)} {f.Rule} {path}: {f.Message}");
    }

    /// <summary>SHA-256 of the sorted "sha256  path" lines (sha256sum format): one digest for the whole file set.</summary>
    public static string ContentDigest(IReadOnlyList<InventoryFile> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var text = new StringBuilder();
        foreach (var f in files.Where(f => f.Sha256 is not null).OrderBy(f => f.Path, StringComparer.Ordinal))
            text.Append(f.Sha256).Append("  ").Append(f.Path).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The task a transformers architecture class implies, or null.</summary>
    public static string? TaskOf(string? architecture)
    {
        if (string.IsNullOrEmpty(architecture)) return null;
        if (architecture.EndsWith("ForCausalLM", StringComparison.Ordinal) || architecture.EndsWith("LMHeadModel", StringComparison.Ordinal)) return "text-generation";
        if (architecture.EndsWith("ForConditionalGeneration", StringComparison.Ordinal)) return "text2text-generation";
        if (architecture.EndsWith("ForMaskedLM", StringComparison.Ordinal)) return "fill-mask";
        if (architecture.EndsWith("ForSequenceClassification", StringComparison.Ordinal)) return "text-classification";
        if (architecture.EndsWith("ForTokenClassification", StringComparison.Ordinal)) return "token-classification";
        if (architecture.EndsWith("ForQuestionAnswering", StringComparison.Ordinal)) return "question-answering";
        return null;
    }

    private static string ModelName(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string name = Directory.Exists(full) ? Path.GetFileName(full) : Path.GetFileNameWithoutExtension(full);
        return string.IsNullOrEmpty(name) ? "model" : name;
    }

    private static void Hash(Utf8JsonWriter w, string sha256)
    {
        w.WriteStartObject();
        w.WriteString("alg", "SHA-256");
        w.WriteString("content", sha256);
        w.WriteEndObject();
    }

    private static void Property(Utf8JsonWriter w, string name, string value)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("value", value);
        w.WriteEndObject();
    }
}
