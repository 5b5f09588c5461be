namespace Lineage.Numerics;

/// <summary>
/// Element types of stored tensors. Block-quantized GGML types store <see cref="DTypeInfo.BlockSize"/>
/// elements in <see cref="DTypeInfo.BlockBytes"/> bytes; plain types have a block size of one.
/// </summary>
public enum DType
{
    Unknown = 0,
    F64,
    F32,
    F16,
    BF16,
    F8E4M3,
    F8E5M2,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
    Bool,
    Complex64,

    // GGML block quantizations (exact layouts in Numerics/GgmlQuants.cs).
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    IQ1_M,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

public readonly record struct DTypeInfo(string Name, int BlockSize, int BlockBytes, bool IsFloat, bool CanDecode)
{
    public bool IsQuantized => BlockSize > 1;
}

public static class DTypes
{
    private static readonly Dictionary<DType, DTypeInfo> Table = new()
    {
        [DType.F64] = new("F64", 1, 8, true, true),
        [DType.F32] = new("F32", 1, 4, true, true),
        [DType.F16] = new("F16", 1, 2, true, true),
        [DType.BF16] = new("BF16", 1, 2, true, true),
        [DType.F8E4M3] = new("F8_E4M3", 1, 1, true, true),
        [DType.F8E5M2] = new("F8_E5M2", 1, 1, true, true),
        [DType.I64] = new("I64", 1, 8, false, true),
        [DType.I32] = new("I32", 1, 4, false, true),
        [DType.I16] = new("I16", 1, 2, false, true),
        [DType.I8] = new("I8", 1, 1, false, true),
        [DType.U64] = new("U64", 1, 8, false, true),
        [DType.U32] = new("U32", 1, 4, false, true),
        [DType.U16] = new("U16", 1, 2, false, true),
        [DType.U8] = new("U8", 1, 1, false, true),
        [DType.Bool] = new("BOOL", 1, 1, false, true),
        [DType.Complex64] = new("C64", 1, 8, true, false),
        [DType.Q4_0] = new("Q4_0", 32, 18, true, true),
        [DType.Q4_1] = new("Q4_1", 32, 20, true, true),
        [DType.Q5_0] = new("Q5_0", 32, 22, true, true),
        [DType.Q5_1] = new("Q5_1", 32, 24, true, true),
        [DType.Q8_0] = new("Q8_0", 32, 34, true, true),
        [DType.Q8_1] = new("Q8_1", 32, 36, true, true),
        [DType.Q2_K] = new("Q2_K", 256, 84, true, true),
        [DType.Q3_K] = new("Q3_K", 256, 110, true, true),
        [DType.Q4_K] = new("Q4_K", 256, 144, true, true),
        [DType.Q5_K] = new("Q5_K", 256, 176, true, true),
        [DType.Q6_K] = new("Q6_K", 256, 210, true, true),
        [DType.Q8_K] = new("Q8_K", 256, 292, true, true),
        [DType.IQ2_XXS] = new("IQ2_XXS", 256, 66, true, false),
        [DType.IQ2_XS] = new("IQ2_XS", 256, 74, true, false),
        [DType.IQ3_XXS] = new("IQ3_XXS", 256, 98, true, false),
        [DType.IQ1_S] = new("IQ1_S", 256, 50, true, false),
        [DType.IQ4_NL] = new("IQ4_NL", 32, 18, true, true),
        [DType.IQ3_S] = new("IQ3_S", 256, 110, true, false),
        [DType.IQ2_S] = new("IQ2_S", 256, 82, true, false),
        [DType.IQ4_XS] = new("IQ4_XS", 256, 136, true, true),
        [DType.IQ1_M] = new("IQ1_M", 256, 56, true, false),
        [DType.TQ1_0] = new("TQ1_0", 256, 54, true, true),
        [DType.TQ2_0] = new("TQ2_0", 256, 66, true, true),
        [DType.MXFP4] = new("MXFP4", 32, 17, true, true),
    };

    public static DTypeInfo Info(this DType type) =>
        Table.TryGetValue(type, out var info) ? info : new DTypeInfo("UNKNOWN", 1, 0, false, false);

    public static string DisplayName(this DType type) => type.Info().Name;

    /// <summary>Bytes needed for <paramref name="elements"/> elements, or -1 when not a whole number of blocks or on overflow.</summary>
    public static long ByteCount(this DType type, long elements)
    {
        var info = type.Info();
        if (info.BlockBytes == 0 || elements < 0 || elements % info.BlockSize != 0)
            return -1;
        long blocks = elements / info.BlockSize;
        if (blocks > long.MaxValue / info.BlockBytes)
            return -1;
        return blocks * info.BlockBytes;
    }

    /// <summary>Parses the safetensors dtype names.</summary>
    public static DType FromSafetensorsName(string name) => name switch
    {
        "F64" => DType.F64,
        "F32" => DType.F32,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "F8_E4M3" => DType.F8E4M3,
        "F8_E5M2" => DType.F8E5M2,
        "I64" => DType.I64,
        "I32" => DType.I32,
        "I16" => DType.I16,
        "I8" => DType.I8,
        "U64" => DType.U64,
        "U32" => DType.U32,
        "U16" => DType.U16,
        "U8" => DType.U8,
        "BOOL" => DType.Bool,
        "C64" => DType.Complex64,
        _ => DType.Unknown,
    };
}
