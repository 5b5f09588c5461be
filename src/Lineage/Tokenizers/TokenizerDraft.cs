using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>A tokenizer being assembled from a vocabulary file and then amended by tokenizer_config.json and friends.</summary>
internal sealed class TokenizerDraft
{
    private readonly HashSet<string> _added = new(StringComparer.Ordinal);
    private Dictionary<string, int>? _index;

    public required TokenizerKind Kind { get; set; }

    public required List<string> Tokens { get; init; }

    public required string Source { get; set; }

    public List<float>? Scores { get; set; }

    public List<TokenType>? TokenTypes { get; set; }

    public List<string>? Merges { get; set; }

    public Dictionary<string, int> SpecialTokens { get; } = new(StringComparer.Ordinal);

    public List<string> AddedTokens { get; } = [];

    public string? ChatTemplate { get; set; }

    public Dictionary<string, string> ChatTemplates { get; } = new(StringComparer.Ordinal);

    public string? Family { get; set; }

    public bool? ByteFallback { get; set; }

    public string? Normalizer { get; set; }

    public static TokenizerDraft From(Tokenizer t)
    {
        var draft = new TokenizerDraft
        {
            Kind = t.Kind,
            Tokens = [.. t.Tokens],
            Source = t.Source,
            Scores = t.Scores is null ? null : [.. t.Scores],
            TokenTypes = t.TokenTypes is null ? null : [.. t.TokenTypes],
            Merges = t.Merges is null ? null : [.. t.Merges],
            ChatTemplate = t.ChatTemplate,
            Family = t.Family,
            ByteFallback = t.ByteFallback,
            Normalizer = t.Normalizer,
        };
        foreach (var (k, v) in t.SpecialTokens) draft.SpecialTokens[k] = v;
        foreach (var a in t.AddedTokens) draft.AddAdded(a);
        foreach (var (k, v) in t.ChatTemplates) draft.ChatTemplates[k] = v;
        return draft;
    }

    public int? IdOf(string token)
    {
        if (_index is null)
        {
            _index = new Dictionary<string, int>(Tokens.Count, StringComparer.Ordinal);
            for (int i = 0; i < Tokens.Count; i++) _index.TryAdd(Tokens[i], i);
        }
        return _index.TryGetValue(token, out int id) ? id : null;
    }

    /// <summary>Places a token at an id from a config file, growing the table by a bounded amount.</summary>
    public void SetToken(int id, string token, string file, List<Diagnostic> diagnostics)
    {
        if (id < 0 || id >= VocabularyBuilder.MaxVocabulary)
            throw new LineageException($"added token id {id} is out of range (vocabulary has {Tokens.Count} tokens)", file);
        if (id < Tokens.Count)
        {
            if (Tokens[id].Length == 0) Tokens[id] = token;
            else if (Tokens[id] != token)
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "tokenizer.added-token-differs",
                    $"id {id} is '{Tokens[id]}' in the vocabulary but '{token}' in {Path.GetFileName(file)}; the vocabulary's is kept", file));
        }
        else
        {
            int holes = id - Tokens.Count;
            while (Tokens.Count < id) Tokens.Add("");
            Tokens.Add(token);
            if (holes > 0)
                diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.id-gaps", $"{holes} token ids before added token {id} are not defined", file));
        }
        _index = null;
        AddAdded(token);
    }

    public void AddAdded(string token)
    {
        if (_added.Add(token)) AddedTokens.Add(token);
    }

    public Tokenizer Build()
    {
        if (Scores is not null)
            while (Scores.Count < Tokens.Count) Scores.Add(0);
        if (TokenTypes is not null)
            while (TokenTypes.Count < Tokens.Count) TokenTypes.Add(TokenType.UserDefined);
        return new Tokenizer
        {
            Kind = Kind,
            Tokens = Tokens,
            Scores = Scores,
            TokenTypes = TokenTypes,
            Merges = Merges,
            SpecialTokens = SpecialTokens,
            AddedTokens = AddedTokens,
            ChatTemplate = ChatTemplate,
            ChatTemplates = ChatTemplates,
            Source = Source,
            Family = Family,
            ByteFallback = ByteFallback,
            Normalizer = Normalizer,
        };
    }
}
