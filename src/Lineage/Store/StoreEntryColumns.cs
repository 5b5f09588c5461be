using System.Data.Common;
using Lineage.Models.Canonical;

namespace Lineage.Store;

/// <summary>
/// Columns 0–13 of an entry query, in the order both backends select them (model_id, family, content_id, source,
/// model_key, vocab_hash, vocab_size, hidden, layers, model_type, norm_kind, arch_key, created, fingerprint bytes).
/// What differs per backend is passed in: how the vocabulary keys are stored and how the timestamp is typed.
/// </summary>
internal static class StoreEntryColumns
{
    public static StoreEntry Read(DbDataReader r, ulong[] vocabularyKeys, DateTimeOffset created) => new()
    {
        ModelId = r.GetString(0),
        Family = r.IsDBNull(1) ? null : r.GetString(1),
        ContentId = r.GetString(2),
        Source = r.IsDBNull(3) ? null : r.GetString(3),
        ModelKey = r.IsDBNull(4) ? null : r.GetString(4),
        Keys = new IndexKeys
        {
            VocabularyHash = r.IsDBNull(5) ? null : unchecked((ulong)r.GetInt64(5)),
            VocabularyKeys = vocabularyKeys,
            VocabSize = r.GetInt32(6),
            Hidden = r.GetInt32(7),
            Layers = r.GetInt32(8),
            ModelType = r.IsDBNull(9) ? null : r.GetString(9),
            NormKind = Enum.TryParse<NormKind>(r.GetString(10), out var nk) ? nk : NormKind.Unknown,
            ArchitectureKey = unchecked((ulong)r.GetInt64(11)),
        },
        Created = created,
        FingerprintBytes = r.GetInt64(13),
    };
}
