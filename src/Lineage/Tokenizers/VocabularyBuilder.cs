using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>
/// Collects (id, token) pairs from a vocabulary file in any order and lays them out by id. Ids come from the
/// file, so the table is sized only after every id was seen and checked: ids must stay below
/// <see cref="MaxVocabulary"/> and leave few holes, so a hostile "id": 2000000000 cannot force a huge allocation.
/// </summary>
internal sealed class VocabularyBuilder(string file)
{
    public const int MaxVocabulary = 16 << 20;

    private readonly Dictionary<int, string> _byId = [];
    private readonly Dictionary<string, int> _byToken = new(StringComparer.Ordinal);
    private int _conflicts;
    private string? _firstConflict;

    public int Count => _byId.Count;

    public int MaxId { get; private set; } = -1;

    /// <summary>Adds a token; returns false (and remembers a conflict) when the id already holds another token.</summary>
    public bool Add(int id, string token, long? offset = null)
    {
        if (id < 0 || id >= MaxVocabulary)
            throw new LineageException($"token id {id} is outside 0..{MaxVocabulary - 1}", file, offset);
        if (_byId.TryGetValue(id, out var existing))
        {
            if (existing != token)
            {
                _conflicts++;
                _firstConflict ??= $"id {id} is both '{existing}' and '{token}'";
            }
            return false;
        }
        _byId[id] = token;
        _byToken.TryAdd(token, id);
        MaxId = Math.Max(MaxId, id);
        return true;
    }

    public bool TryGetId(string token, out int id) => _byToken.TryGetValue(token, out id);

    /// <summary>Tokens by id; holes (allowed up to a bound) hold empty strings and are reported.</summary>
    public string[] Build(List<Diagnostic> diagnostics)
    {
        int size = MaxId + 1;
        long holes = (long)size - _byId.Count;
        if (holes > Math.Max(65536, _byId.Count))
            throw new LineageException($"token ids reach {MaxId} but only {_byId.Count} tokens are defined", file);
        var tokens = new string[size];
        Array.Fill(tokens, "");
        foreach (var (id, token) in _byId) tokens[id] = token;
        if (holes > 0)
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.id-gaps", $"{holes} token ids below {size} are not defined", file));
        if (_conflicts > 0)
            diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "tokenizer.id-conflict", $"{_conflicts} ids are assigned twice ({_firstConflict}); the first is kept", file));
        return tokens;
    }
}
