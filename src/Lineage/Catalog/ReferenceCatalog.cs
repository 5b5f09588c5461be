using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lineage.Provenance;

namespace Lineage.Catalog;

/// <summary>Where catalog facts came from, under which license.</summary>
public sealed record CatalogSource(string Id, string Name, string License, string Origin, string Note);

public sealed record CatalogFamily(string Id, string Name, string? Publisher);

/// <summary>Architecture facts of one real base model (from its published config or GGUF metadata).</summary>
public sealed record CatalogModel
{
    public required string Id { get; init; }

    public required string Family { get; init; }

    public required string Source { get; init; }

    public string? ModelType { get; init; }

    public string? Architecture { get; init; }

    public int Hidden { get; init; }

    public int Layers { get; init; }

    public int? Heads { get; init; }

    public int? KeyValueHeads { get; init; }

    public int? Intermediate { get; init; }

    public int Vocab { get; init; }

    public int? Experts { get; init; }

    /// <summary>"rms", "layernorm" or null.</summary>
    public string? Norm { get; init; }

    public double? RopeTheta { get; init; }

    /// <summary>"rope", "absolute", "alibi" or null.</summary>
    public string? PositionEncoding { get; init; }

    public bool? TieEmbeddings { get; init; }

    /// <summary>Tokens in the tokenizer (may differ from the embedding rows).</summary>
    public int? TokenizerVocab { get; init; }

    /// <summary>Corrections applied to the upstream record.</summary>
    public IReadOnlyList<string> Fixes { get; init; } = [];
}

/// <summary>A tokenizer's fingerprint: vocabulary hash, size and a bottom-k sketch of token-text keys.</summary>
public sealed record CatalogTokenizer
{
    public required string Id { get; init; }

    public required string Family { get; init; }

    public required string Name { get; init; }

    public required string Source { get; init; }

    public string? Kind { get; init; }

    public int VocabSize { get; init; }

    /// <summary>Order-sensitive hash of all token-text keys (the fingerprint's vocabulary hash), hex.</summary>
    public required string VocabularyHash { get; init; }

    /// <summary>The smallest distinct token-text keys, ascending.</summary>
    public required ulong[] Sketch { get; init; }
}

/// <summary>Which family introduced a model type (architecture), and who else uses it.</summary>
public sealed record CatalogArchitecture(string ModelType, string Family, string Note);

/// <summary>A labelled pair of real models (from a benchmark), with corrections noted.</summary>
public sealed record CatalogRelation(string A, string B, bool Related, string Provenance, string Note);

/// <summary>
/// The built-in reference catalog: architecture and tokenizer facts of real base models (compiled from the
/// sources listed in <see cref="Sources"/>, with attribution), used by identify to name a model's family and
/// tokenizer lineage when no stored fingerprint shares its weights. Everything here is metadata-level
/// evidence: equal configurations and tokenizers are what independent models built to one recipe share too.
/// </summary>
public sealed class ReferenceCatalog
{
    public const string FormatName = "lineage-reference-catalog";
    public const int CurrentVersion = 1;
    private const string ResourceName = "Lineage.Catalog.reference-catalog.json";

    private static readonly Lazy<ReferenceCatalog> BuiltInCatalog = new(LoadBuiltIn);

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new SketchConverter() },
    };

    public string Format { get; init; } = FormatName;

    public int Version { get; init; } = CurrentVersion;

    public string Note { get; init; } = "";

    public IReadOnlyList<CatalogSource> Sources { get; init; } = [];

    public IReadOnlyList<CatalogFamily> Families { get; init; } = [];

    public IReadOnlyList<CatalogArchitecture> Architectures { get; init; } = [];

    public IReadOnlyList<CatalogModel> Models { get; init; } = [];

    public IReadOnlyList<CatalogTokenizer> Tokenizers { get; init; } = [];

    public IReadOnlyList<CatalogRelation> Relations { get; init; } = [];

    /// <summary>The catalog shipped inside the library.</summary>
    public static ReferenceCatalog BuiltIn => BuiltInCatalog.Value;

    private static ReferenceCatalog LoadBuiltIn()
    {
        using var stream = typeof(ReferenceCatalog).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new LineageException("the built-in reference catalog is missing from this build", ResourceName);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return Parse(memory.ToArray(), ResourceName);
    }

    public static ReferenceCatalog Parse(ReadOnlySpan<byte> bytes, string name)
    {
        try
        {
            var catalog = JsonSerializer.Deserialize<ReferenceCatalog>(bytes, Json) ?? throw new LineageException("empty catalog", name, 0);
            if (catalog.Format != FormatName || catalog.Version != CurrentVersion)
                throw new LineageException($"not a version-{CurrentVersion} Lineage reference catalog", name, 0);
            return catalog;
        }
        catch (JsonException e)
        {
            throw new LineageException($"malformed reference catalog: {e.Message}", name, e.BytePositionInLine ?? 0);
        }
    }

    /// <summary>Deterministic bytes (UTF-8 JSON, '\n' line ends): regenerating from the same inputs gives the same file.</summary>
    public byte[] Serialize() =>
        System.Text.Encoding.UTF8.GetBytes(JsonSerializer.Serialize(this, Json).ReplaceLineEndings("\n") + "\n");

    public string FamilyName(string familyId) => Families.FirstOrDefault(f => f.Id == familyId)?.Name ?? familyId;

    /// <summary>Tokenizer relations of a vocabulary (given by its hash and sketch) to every catalog tokenizer it overlaps.</summary>
    public IReadOnlyList<TokenizerMatch> MatchTokenizer(ulong vocabularyHash, IReadOnlyList<ulong> sketch, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(sketch);
        var matches = new List<TokenizerMatch>();
        foreach (var t in Tokenizers)
        {
            var m = TokenizerSimilarity.Relate(vocabularyHash, sketch, vocabSize, t);
            if (m is not null) matches.Add(m);
        }
        return [.. matches.OrderBy(m => m.Rank).ThenByDescending(m => m.Jaccard).ThenBy(m => m.Tokenizer.Id, StringComparer.Ordinal)];
    }

    /// <summary>Catalog models whose configuration equals (or has the same shape as) the given facts.</summary>
    public IReadOnlyList<ArchitectureMatch> MatchArchitecture(ModelFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var result = new List<ArchitectureMatch>();
        if (facts.Hidden <= 0 || facts.Layers <= 0) return result;
        foreach (var m in Models)
        {
            if (m.Hidden != facts.Hidden || m.Layers != facts.Layers) continue;
            bool intermediate = m.Intermediate is null || facts.Intermediate is null || m.Intermediate == facts.Intermediate;
            if (!intermediate) continue;
            bool heads = (m.Heads is null || facts.Heads is null || m.Heads == facts.Heads)
                && (m.KeyValueHeads is null || facts.KeyValueHeads is null || m.KeyValueHeads == facts.KeyValueHeads);
            bool vocab = m.Vocab == facts.Vocab || (m.TokenizerVocab is { } tv && tv == facts.Vocab);
            bool experts = (m.Experts ?? 0) == (facts.Experts ?? 0);
            bool identical = heads && vocab && experts;
            result.Add(new ArchitectureMatch(m, identical ? "identical configuration" : "same shape (hidden size, depth, MLP width)", identical));
        }
        return [.. result.OrderByDescending(r => r.Identical).ThenBy(r => r.Model.Family, StringComparer.Ordinal).ThenBy(r => r.Model.Id, StringComparer.Ordinal)];
    }

    /// <summary>The family that introduced a model type (config "model_type" or GGUF "general.architecture").</summary>
    public CatalogArchitecture? ArchitectureOf(string? modelType)
    {
        if (string.IsNullOrWhiteSpace(modelType)) return null;
        string key = CatalogNames.NormalizeModelType(modelType);
        return Architectures.FirstOrDefault(a => a.ModelType == key);
    }

    /// <summary>Metadata-level evidence for a fingerprint: tokenizer lineage, equal configurations, architecture family.</summary>
    public CatalogEvidence Explain(Fingerprint fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        var facts = fingerprint.Facts;
        var tokenizers = fingerprint.HasTokenizer
            ? MatchTokenizer(fingerprint.VocabularyHash, fingerprint.VocabularySketch, facts.TokenizerVocab > 0 ? facts.TokenizerVocab : facts.Vocab).Take(5).ToList()
            : [];
        var architectures = MatchArchitecture(facts).Take(8).ToList();
        var architecture = ArchitectureOf(facts.ModelType) ?? ArchitectureOf(facts.Architecture);
        var families = new List<string>();
        foreach (var t in tokenizers.Where(t => t.Rank <= 2)) AddOnce(families, FamilyName(t.Tokenizer.Family));
        foreach (var a in architectures.Where(a => a.Identical)) AddOnce(families, FamilyName(a.Model.Family));
        foreach (var t in tokenizers.Where(t => t.Rank > 2)) AddOnce(families, FamilyName(t.Tokenizer.Family));
        if (architecture is not null) AddOnce(families, FamilyName(architecture.Family));

        var lines = new List<string>();
        foreach (var t in tokenizers)
            lines.Add($"tokenizer {t.Relation} {t.Tokenizer.Name} ({FamilyName(t.Tokenizer.Family)}; {t.Detail})");
        foreach (var a in architectures)
            lines.Add($"{a.Relation} to {a.Model.Id} ({FamilyName(a.Model.Family)}; {Describe(a.Model)}; source: {a.Model.Source})");
        if (architecture is not null)
            lines.Add($"model type '{architecture.ModelType}': architecture introduced by {FamilyName(architecture.Family)}{(architecture.Note.Length > 0 ? "; " + architecture.Note : "")}");
        return new CatalogEvidence
        {
            Families = families,
            Tokenizers = tokenizers,
            Architectures = architectures,
            Architecture = architecture,
            Lines = lines,
        };

        static void AddOnce(List<string> list, string value)
        {
            if (!list.Contains(value, StringComparer.Ordinal)) list.Add(value);
        }
    }

    private static string Describe(CatalogModel m) => string.Create(CultureInfo.InvariantCulture,
        $"{m.ModelType ?? "?"} d={m.Hidden} L={m.Layers} heads={m.Heads?.ToString(CultureInfo.InvariantCulture) ?? "?"}/{m.KeyValueHeads?.ToString(CultureInfo.InvariantCulture) ?? "?"} ff={m.Intermediate?.ToString(CultureInfo.InvariantCulture) ?? "?"} V={m.Vocab}");

    /// <summary>Sketches are stored as base64 of little-endian u64 (compact and exact).</summary>
    private sealed class SketchConverter : JsonConverter<ulong[]>
    {
        public override ulong[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var bytes = Convert.FromBase64String(reader.GetString() ?? "");
            if (bytes.Length % 8 != 0) throw new JsonException("sketch is not a whole number of 64-bit keys");
            var keys = new ulong[bytes.Length / 8];
            for (int i = 0; i < keys.Length; i++) keys[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * 8));
            return keys;
        }

        public override void Write(Utf8JsonWriter writer, ulong[] value, JsonSerializerOptions options)
        {
            var bytes = new byte[value.Length * 8];
            for (int i = 0; i < value.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), value[i]);
            writer.WriteStringValue(Convert.ToBase64String(bytes));
        }
    }
}

/// <summary>How a vocabulary relates to a catalog tokenizer. Rank: 0 identical, 1 same tokens, 2 extends/prefix, 3 overlaps.</summary>
public sealed record TokenizerMatch(CatalogTokenizer Tokenizer, string Relation, int Rank, double Jaccard, double Containment, string Detail);

public sealed record ArchitectureMatch(CatalogModel Model, string Relation, bool Identical);

/// <summary>What the catalog says about a model. Level is always "metadata": context, never a lineage verdict.</summary>
public sealed record CatalogEvidence
{
    public string Level { get; init; } = "metadata";

    public string Note { get; init; } = "metadata-level evidence from the built-in reference catalog: equal tokenizers and configurations name a family, but independent models built to one recipe share them too; this is never a weight-lineage match";

    /// <summary>Family names, strongest evidence first.</summary>
    public IReadOnlyList<string> Families { get; init; } = [];

    public IReadOnlyList<TokenizerMatch> Tokenizers { get; init; } = [];

    public IReadOnlyList<ArchitectureMatch> Architectures { get; init; } = [];

    public CatalogArchitecture? Architecture { get; init; }

    public IReadOnlyList<string> Lines { get; init; } = [];
}
