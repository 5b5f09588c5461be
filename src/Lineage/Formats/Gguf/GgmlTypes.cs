using Lineage.Numerics;

namespace Lineage.Formats.Gguf;

/// <summary>
/// The ggml_type ids stored in GGUF tensor infos (ggml.h; the enum only grows at the end, with gaps where
/// types were removed: 4, 5, 31–33 and 36–38). Ids Lineage does not know map to <see cref="DType.Unknown"/>.
/// </summary>
internal static class GgmlTypes
{
    private static readonly (uint Id, DType Type)[] Table =
    [
        (0, DType.F32),
        (1, DType.F16),
        (2, DType.Q4_0),
        (3, DType.Q4_1),
        (6, DType.Q5_0),
        (7, DType.Q5_1),
        (8, DType.Q8_0),
        (9, DType.Q8_1),
        (10, DType.Q2_K),
        (11, DType.Q3_K),
        (12, DType.Q4_K),
        (13, DType.Q5_K),
        (14, DType.Q6_K),
        (15, DType.Q8_K),
        (16, DType.IQ2_XXS),
        (17, DType.IQ2_XS),
        (18, DType.IQ3_XXS),
        (19, DType.IQ1_S),
        (20, DType.IQ4_NL),
        (21, DType.IQ3_S),
        (22, DType.IQ2_S),
        (23, DType.IQ4_XS),
        (24, DType.I8),
        (25, DType.I16),
        (26, DType.I32),
        (27, DType.I64),
        (28, DType.F64),
        (29, DType.IQ1_M),
        (30, DType.BF16),
        (34, DType.TQ1_0),
        (35, DType.TQ2_0),
        (39, DType.MXFP4),
    ];

    private static readonly Dictionary<uint, DType> ById = Table.ToDictionary(e => e.Id, e => e.Type);

    private static readonly Dictionary<DType, uint> ByType = Table.ToDictionary(e => e.Type, e => e.Id);

    public static DType ToDType(uint ggmlType) => ById.GetValueOrDefault(ggmlType, DType.Unknown);

    /// <summary>The ggml id of <paramref name="type"/>, or null when ggml has no such type (U8, Bool, …).</summary>
    public static uint? ToGgmlType(DType type) => ByType.TryGetValue(type, out uint id) ? id : null;
}
