using Lineage.Formats.Protobuf;
using Lineage.IO;
using Lineage.Models;

namespace Lineage.Tokenizers;

/// <summary>SentencePiece TrainerSpec.ModelType.</summary>
public enum SentencePieceModelType
{
    Unigram = 1,
    Bpe = 2,
    Word = 3,
    Char = 4,
}

/// <summary>One vocabulary entry of a SentencePiece model.</summary>
public sealed record SentencePiece(string Piece, float Score, TokenType Type);

/// <summary>
/// The parts of a SentencePiece ModelProto that identify a vocabulary: pieces with scores and types, the
/// trainer's model type, byte fallback and special ids, and the normalizer's name. Ids of -1 mean "none".
/// </summary>
public sealed record SentencePieceModel(
    IReadOnlyList<SentencePiece> Pieces,
    SentencePieceModelType ModelType,
    int? TrainerVocabSize,
    bool ByteFallback,
    int UnkId,
    int BosId,
    int EosId,
    int PadId,
    string? NormalizerName,
    bool? AddDummyPrefix);

/// <summary>
/// Reads SentencePiece ModelProto files (tokenizer.model, spiece.model, Mistral's *.model.v3 …) with the shared
/// protobuf wire reader. Field numbers follow sentencepiece_model.proto.
/// </summary>
public static class SentencePieceReader
{
    /// <summary>More pieces than this are refused (the largest real vocabularies hold about 260k).</summary>
    public const int MaxPieces = 4 << 20;

    private const int MaxPieceBytes = 1 << 16;

    /// <summary>
    /// Cheap content test: a ModelProto starts with field 1 (a piece message) whose own first field is field 1
    /// (the piece string) and fits inside it. Weight formats never start this way (ONNX starts with 0x08).
    /// </summary>
    public static bool LooksLike(ReadOnlySpan<byte> head)
    {
        var r = new SpanReader(head);
        try
        {
            if (r.ReadByte() != 0x0A) return false;
            ulong outer = r.ReadVarint();
            if (outer < 2) return false;
            int start = r.Position;
            if (r.ReadByte() != 0x0A) return false;
            ulong piece = r.ReadVarint();
            return piece <= outer - (ulong)(r.Position - start) && piece <= MaxPieceBytes;
        }
        catch (LineageException)
        {
            return false;
        }
    }

    public static SentencePieceModel Read(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var reader = new ProtoReader(source);
        var pieces = new List<SentencePiece>();
        var modelType = SentencePieceModelType.Unigram;
        int? vocabSize = null;
        bool byteFallback = false;
        int unk = 0, bos = 1, eos = 2, pad = -1;
        string? normalizer = null;
        bool? addDummyPrefix = null;
        while (reader.TryReadField(out var f))
        {
            switch (f.Number)
            {
                case 1:
                    if (pieces.Count >= MaxPieces)
                        throw reader.Error($"more than {MaxPieces} pieces", f.TagOffset);
                    pieces.Add(ReadPiece(reader.ReadMessage(f)));
                    break;
                case 2:
                    var trainer = reader.ReadMessage(f);
                    while (trainer.TryReadField(out var t))
                    {
                        switch (t.Number)
                        {
                            case 3: modelType = ParseModelType(trainer, t); break;
                            case 4: vocabSize = Varint(trainer, t).Int32; break;
                            case 35: byteFallback = Varint(trainer, t).Bool; break;
                            case 40: unk = Varint(trainer, t).Int32; break;
                            case 41: bos = Varint(trainer, t).Int32; break;
                            case 42: eos = Varint(trainer, t).Int32; break;
                            case 43: pad = Varint(trainer, t).Int32; break;
                        }
                    }
                    break;
                case 3:
                    var norm = reader.ReadMessage(f);
                    while (norm.TryReadField(out var n))
                    {
                        if (n.Number == 1) normalizer = norm.ReadString(n, MaxPieceBytes);
                        else if (n.Number == 3) addDummyPrefix = Varint(norm, n).Bool;
                    }
                    break;
            }
        }
        if (pieces.Count == 0)
            throw new LineageException("SentencePiece model has no pieces", source.Name, 0);
        return new SentencePieceModel(pieces, modelType, vocabSize, byteFallback, unk, bos, eos, pad, normalizer, addDummyPrefix);
    }

    private static SentencePiece ReadPiece(ProtoReader r)
    {
        string? piece = null;
        float score = 0;
        var type = TokenType.Normal;
        while (r.TryReadField(out var f))
        {
            switch (f.Number)
            {
                case 1: piece = r.ReadString(f, MaxPieceBytes); break;
                case 2:
                    if (f.WireType != WireType.Fixed32)
                        throw r.Error($"piece score: expected a float, found wire type {f.WireType}", f.TagOffset);
                    score = f.Single;
                    break;
                case 3:
                    // Unknown enum values read as the default, as proto2 does.
                    int t = Varint(r, f).Int32;
                    type = t is >= 1 and <= 6 ? (TokenType)t : TokenType.Normal;
                    break;
            }
        }
        return new SentencePiece(piece ?? throw r.Error("piece without a string", r.Start), score, type);
    }

    private static SentencePieceModelType ParseModelType(ProtoReader r, in ProtoField f)
    {
        int v = Varint(r, f).Int32;
        return v is >= 1 and <= 4 ? (SentencePieceModelType)v : throw r.Error($"unknown SentencePiece model type {v}", f.TagOffset);
    }

    private static ProtoField Varint(ProtoReader r, in ProtoField f) =>
        f.WireType == WireType.Varint ? f : throw r.Error($"field {f.Number}: expected a varint, found wire type {f.WireType}", f.TagOffset);

    /// <summary>The model as a <see cref="Tokenizer"/> (tokens keep SentencePiece's '▁' spelling).</summary>
    public static Tokenizer ToTokenizer(SentencePieceModel model, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(model);
        var pieces = model.Pieces;
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        void Role(string role, int id, params TokenType[] types)
        {
            if (id >= 0 && id < pieces.Count && types.Contains(pieces[id].Type)) special.TryAdd(role, id);
        }
        Role("unk", model.UnkId, TokenType.Unknown);
        Role("bos", model.BosId, TokenType.Control, TokenType.UserDefined);
        Role("eos", model.EosId, TokenType.Control, TokenType.UserDefined);
        Role("pad", model.PadId, TokenType.Control, TokenType.UserDefined);
        for (int i = 0; i < pieces.Count && !special.ContainsKey("unk"); i++)
            if (pieces[i].Type == TokenType.Unknown) special["unk"] = i;
        return new Tokenizer
        {
            Kind = model.ModelType switch
            {
                SentencePieceModelType.Bpe => TokenizerKind.SentencePieceBpe,
                SentencePieceModelType.Char => TokenizerKind.CharLevel,
                _ => TokenizerKind.SentencePieceUnigram,
            },
            Tokens = pieces.Select(p => p.Piece).ToArray(),
            Scores = pieces.Select(p => p.Score).ToArray(),
            TokenTypes = pieces.Select(p => p.Type).ToArray(),
            SpecialTokens = special,
            AddedTokens = pieces.Where(p => p.Type is TokenType.Control or TokenType.UserDefined).Select(p => p.Piece).ToArray(),
            Source = sourceName,
            Family = model.ModelType == SentencePieceModelType.Word ? "sentencepiece-word" : null,
            ByteFallback = model.ByteFallback,
            Normalizer = model.NormalizerName,
        };
    }
}
