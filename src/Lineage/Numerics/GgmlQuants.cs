using System.Buffers.Binary;

namespace Lineage.Numerics;

/// <summary>
/// Dequantization of GGML block formats, following the block layouts of ggml-common.h / the GGUF spec.
/// Each method decodes whole blocks: callers pass spans that hold a whole number of blocks.
/// </summary>
public static class GgmlQuants
{
    public static void Dequantize(DType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (type)
        {
            case DType.Q8_0:
                DequantizeQ8_0(source, destination);
                break;
            default:
                throw new NotSupportedException($"dequantization of {type.DisplayName()} is not supported");
        }
    }

    private static float Half(ReadOnlySpan<byte> s) => (float)BinaryPrimitives.ReadHalfLittleEndian(s);

    /// <summary>Q8_0: fp16 scale d, then 32 signed bytes; x = d * q.</summary>
    private static void DequantizeQ8_0(ReadOnlySpan<byte> source, Span<float> destination)
    {
        int blocks = destination.Length / 32;
        for (int b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * 34, 34);
            float d = Half(block);
            var q = block[2..];
            var dst = destination.Slice(b * 32, 32);
            for (int i = 0; i < 32; i++) dst[i] = d * (sbyte)q[i];
        }
    }
}
