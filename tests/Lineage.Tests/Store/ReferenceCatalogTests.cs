using Lineage.Catalog;
using Lineage.Cli.Catalog;
using Lineage.Formats;
using Lineage.Formats.HuggingFace;
using Lineage.Identify;
using Lineage.Provenance;
using Lineage.Tests.Support;

namespace Lineage.Tests.Store;

public class ReferenceCatalogTests
{
    private static ReferenceCatalog Catalog => ReferenceCatalog.BuiltIn;

    [Fact]
    public void Embedded_catalog_is_exactly_what_the_generator_builds_from_the_corpus()
    {
        string corpus = Corpus.Path("");
        var built = ReferenceCatalogImport.Build(corpus).Serialize();
        string committed = Path.Combine(Corpus.RepoRoot, "src", "Lineage", "Catalog", "reference-catalog.json");
        Assert.True(File.ReadAllBytes(committed).AsSpan().SequenceEqual(built),
            "src/Lineage/Catalog/reference-catalog.json is stale: run tools/build-catalog.sh and commit the result");
        using var stream = typeof(ReferenceCatalog).Assembly.GetManifestResourceStream("Lineage.Catalog.reference-catalog.json")!;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        Assert.True(memory.ToArray().AsSpan().SequenceEqual(built), "the embedded resource differs from the committed catalog file");
    }

    [Fact]
    public void Catalog_records_its_sources_with_licenses_and_fixes_the_known_defects()
    {
        Assert.Contains(Catalog.Sources, s => s.Id == "cisco-kit" && s.License == "Apache-2.0");
        Assert.All(Catalog.Sources, s => Assert.False(string.IsNullOrWhiteSpace(s.License)));
        Assert.All(Catalog.Models, m => Assert.Contains(m.Source, Catalog.Sources.Select(s => s.Id)));
        var cisco = Catalog.Models.Where(m => m.Source == "cisco-kit").ToList();
        Assert.Equal(152, cisco.Count);
        // rope_theta was null in most bundles: every bundle whose config carries it (top level or in
        // rope_scaling) now has it, and no RoPE model is labelled with absolute positions.
        Assert.True(cisco.Count(m => m.RopeTheta is not null) >= 130, $"{cisco.Count(m => m.RopeTheta is not null)} bundles with rope_theta");
        var llama2 = cisco.Single(m => m.Id == "Llama-2-7b-hf");
        Assert.Equal(10000.0, llama2.RopeTheta);
        Assert.Equal("rope", llama2.PositionEncoding);
        Assert.NotEmpty(llama2.Fixes);
        Assert.Equal("absolute", cisco.Single(m => m.Id == "gpt2").PositionEncoding);
        Assert.All(cisco, m => Assert.True(m.Layers > 0 || m.Fixes.Count > 0, m.Id));
        // Pythia vs Pythia-deduped: independently trained, not "similar".
        var pythia = Catalog.Relations.Single(r => r.A.Contains("pythia-1.4b", StringComparison.Ordinal) && r.B.Contains("deduped", StringComparison.Ordinal));
        Assert.False(pythia.Related);
        Assert.Contains("fixed", pythia.Note, StringComparison.Ordinal);
        Assert.Contains(Catalog.Relations, r => r.Related && r.A == "NousResearch/Llama-2-7b-hf");
    }

    public static TheoryData<string, string, string> RealTokenizers => new()
    {
        // file, expected family of the identical entry, and another family its lineage must name
        { "ggml-vocab-llama-spm.gguf", "metallama--llama", "microsoft--phi" },
        { "ggml-vocab-phi-3.gguf", "microsoft--phi", "metallama--llama" },
        { "ggml-vocab-gpt-neox.gguf", "eleutherai--gpt", "mosaicml--mpt" },
        { "ggml-vocab-mpt.gguf", "mosaicml--mpt", "eleutherai--gpt" },
        { "ggml-vocab-stablelm.gguf", "stabilityai--stablelm", "eleutherai--gpt" },
        { "ggml-vocab-gpt-2.gguf", "openaicommunity--gpt", "openaicommunity--gpt" },
        { "ggml-vocab-baichuan.gguf", "baichuan--baichuan", "baichuan--baichuan" },
        { "ggml-vocab-bert-bge.gguf", "googlebert--bert", "googlebert--bert" },
        { "ggml-vocab-starcoder.gguf", "bigcode--starcoder", "bigcode--starcoder" },
        { "ggml-vocab-refact.gguf", "smallcloud--refact", "smallcloud--refact" },
        { "ggml-vocab-deepseek-coder.gguf", "deepseekai--deepseek", "deepseekai--deepseek" },
        { "ggml-vocab-falcon.gguf", "tiiuae--falcon", "tiiuae--falcon" },
    };

    [Theory]
    [MemberData(nameof(RealTokenizers))]
    public void Catalog_names_the_family_and_lineage_of_each_real_tokenizer(string file, string family, string relatedFamily)
    {
        using var model = ModelLoader.Open(Corpus.Path("real/tokenizers/llamacpp-vocab/" + file));
        var tokenizer = model.Tokenizer!;
        // Look the tokenizer up the way identify does: the fingerprint-sized sketch (1024 keys) and hash.
        var fp = CatalogBuilder.FromTokenizer(tokenizer, "q", "q", "q", "q", sketchSize: 1024);
        var matches = Catalog.MatchTokenizer(ulong.Parse(fp.VocabularyHash, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture), fp.Sketch, tokenizer.VocabSize);
        Assert.Equal("identical to", matches[0].Relation);
        Assert.Contains(matches.Where(m => m.Rank == 0), m => m.Tokenizer.Family == family);
        Assert.Contains(matches.Where(m => m.Rank <= 2), m => m.Tokenizer.Family == relatedFamily);
    }

    [Fact]
    public void Known_tokenizer_relations_are_recovered()
    {
        var byId = Catalog.Tokenizers.ToDictionary(t => t.Id);
        TokenizerMatch? Relate(string a, string b)
        {
            var t = byId[a];
            return TokenizerSimilarity.Relate(ulong.Parse(t.VocabularyHash, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture), t.Sketch, t.VocabSize, byId[b]);
        }
        Assert.Equal("extends", Relate("phi-3", "llama-spm")!.Relation);
        Assert.Equal("is a subset of", Relate("llama-spm", "phi-3")!.Relation);
        Assert.Equal(0, Relate("mpt", "gpt-neox")!.Rank);
        Assert.Equal("is a subset of", Relate("stablelm", "gpt-neox")!.Relation);
        Assert.Null(Relate("llama-spm", "gpt-2"));
        Assert.Null(Relate("falcon", "bert-bge"));
    }

    [Fact]
    public void Catalog_tokenizer_keys_equal_the_fingerprint_keys_of_a_real_model()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/ollama-llama2-tiny-random/llama-2-tiny-random.gguf"));
        var fp = FingerprintExtractor.Extract(model);
        var entry = CatalogBuilder.FromTokenizer(model.Tokenizer!, "q", "q", "q", "q", sketchSize: 1024);
        Assert.Equal(fp.VocabularyHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), entry.VocabularyHash);
        Assert.Equal(fp.VocabularySketch, entry.Sketch);
    }

    [Fact]
    public void Identify_without_a_weight_match_names_the_family_from_the_catalog_as_metadata()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/ollama-llama2-tiny-random/llama-2-tiny-random.gguf"));
        var fp = FingerprintExtractor.Extract(model);
        var result = Identifier.Identify(fp, store: null, Catalog);
        Assert.Empty(result.Matches);
        var evidence = result.Catalog!;
        Assert.Equal("metadata", evidence.Level);
        Assert.Equal(Catalog.FamilyName("metallama--llama"), evidence.Families[0]);
        Assert.Equal("llama-spm", evidence.Tokenizers[0].Tokenizer.Id);
        Assert.Contains(evidence.Lines, l => l.Contains("identical to", StringComparison.Ordinal));
    }

    public static TheoryData<string, string> RealConfigs => new()
    {
        { "real/weights/lmbuddy/tiny_gpt2_config.json", "openaicommunity--gpt" },
        { "real/weights/lmbuddy/fake_gpt2_config.json", "openaicommunity--gpt" },
        { "real/weights/lmbuddy/bert_tiniest_config.json", "googlebert--bert" },
        { "real/weights/ort-tiny-t5/config.json", "google--t5" },
    };

    [Theory]
    [MemberData(nameof(RealConfigs))]
    public void Catalog_names_the_architecture_family_of_each_real_config(string path, string family)
    {
        var config = HfConfigReader.Read(Corpus.Path(path));
        var architecture = Catalog.ArchitectureOf(config.ModelType);
        Assert.NotNull(architecture);
        Assert.Equal(family, architecture.Family);
        Assert.Contains(Catalog.Families, f => f.Id == family);
    }

    [Fact]
    public void Real_gguf_model_architecture_is_named()
    {
        using var model = ModelLoader.Open(Corpus.Path("real/weights/ollama-llama2-tiny-random/llama-2-tiny-random.gguf"));
        Assert.Equal("metallama--llama", Catalog.ArchitectureOf(model.Config!.ModelType)!.Family);
    }

    [Fact]
    public void Equal_configurations_are_found_and_marked_identical()
    {
        var facts = new ModelFacts { ModelType = "llama", Hidden = 4096, Layers = 32, Heads = 32, KeyValueHeads = 32, Intermediate = 11008, Vocab = 32000 };
        var matches = Catalog.MatchArchitecture(facts);
        Assert.Contains(matches, m => m.Identical && m.Model.Id == "Llama-2-7b-hf");
        Assert.Empty(Catalog.MatchArchitecture(facts with { Hidden = 4095 }));
    }
}
