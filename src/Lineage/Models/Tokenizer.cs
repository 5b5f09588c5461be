namespace Lineage.Models;

public enum TokenizerKind
{
    Unknown,
    SentencePieceBpe,
    SentencePieceUnigram,
    ByteLevelBpe,
    WordPiece,
    Tiktoken,
    CharLevel,
}

/// <summary>SentencePiece / GGUF token types.</summary>
public enum TokenType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// A vocabulary as stored: token strings by id (in the tokenizer's own spelling: "▁" for SentencePiece
/// spaces, GPT-2's byte-to-unicode map for byte-level BPE, raw bytes for tiktoken), scores, merges, types and
/// special tokens. <see cref="TokenText"/> maps any spelling onto the bytes the token stands for, which is
/// what vocabulary alignment across formats compares.
/// </summary>
public sealed class Tokenizer
{
    public required TokenizerKind Kind { get; init; }

    /// <summary>Token strings by id. For tiktoken, bytes are mapped with the GPT-2 byte alphabet.</summary>
    public required IReadOnlyList<string> Tokens { get; init; }

    public IReadOnlyList<float>? Scores { get; init; }

    public IReadOnlyList<TokenType>? TokenTypes { get; init; }

    public IReadOnlyList<string>? Merges { get; init; }

    /// <summary>Special tokens by role ("bos", "eos", "unk", "pad", …) → id.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; init; } = new Dictionary<string, int>();

    /// <summary>Tokens declared as added/special (e.g. tokenizer.json added_tokens).</summary>
    public IReadOnlyList<string> AddedTokens { get; init; } = [];

    public string? ChatTemplate { get; init; }

    /// <summary>Every chat template by name when the config holds several ("default", "tool_use", …); ChatTemplate is the default one.</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary>SentencePiece / BPE byte fallback: unknown characters are spelled as &lt;0xAB&gt; byte tokens.</summary>
    public bool? ByteFallback { get; init; }

    /// <summary>Normalizer as the file names it (SentencePiece "nmt_nfkc", "identity"; tokenizer.json normalizer type).</summary>
    public string? Normalizer { get; init; }

    /// <summary>The file (or "gguf metadata") the vocabulary came from.</summary>
    public required string Source { get; init; }

    /// <summary>Pre-tokenizer / model family hint when the file states one (GGUF tokenizer.ggml.pre, tokenizer.json type).</summary>
    public string? Family { get; init; }

    public int VocabSize => Tokens.Count;
}
