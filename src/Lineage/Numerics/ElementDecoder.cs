using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Lineage.Numerics;

/// <summary>
/// Converts stored elements of any <see cref="DType"/> into float. Half precision goes through
/// TensorPrimitives (vectorized); bfloat16 is a 16-bit shift; GGML blocks go to <see cref="GgmlQuants"/>.
/// </summary>
public static class ElementDecoder
{
    /// <summary>Decodes <c>destination.Length</c> elements from <paramref name="source"/> (which must hold exactly that many).</summary>
    public static void Decode(DType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        long expected = type.ByteCount(destination.Length);
        if (expected < 0 || expected != source.Length)
            throw new ArgumentException($"{source.Length} bytes do not hold {destination.Length} {type.DisplayName()} elements");

        switch (type)
        {
            case DType.F32:
                if (BitConverter.IsLittleEndian)
                    MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                else
                    for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(i * 4)..]);
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case DType.BF16:
                DecodeBFloat16(MemoryMarshal.Cast<byte, ushort>(source), destination);
                break;
            case DType.F64:
                var doubles = MemoryMarshal.Cast<byte, double>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)doubles[i];
                break;
            case DType.F8E4M3:
                for (int i = 0; i < destination.Length; i++) destination[i] = Float8.E4M3ToSingle(source[i]);
                break;
            case DType.F8E5M2:
                for (int i = 0; i < destination.Length; i++) destination[i] = Float8.E5M2ToSingle(source[i]);
                break;
            case DType.I8:
                for (int i = 0; i < destination.Length; i++) destination[i] = (sbyte)source[i];
                break;
            case DType.U8:
            case DType.Bool:
                for (int i = 0; i < destination.Length; i++) destination[i] = source[i];
                break;
            case DType.I16:
                var i16 = MemoryMarshal.Cast<byte, short>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = i16[i];
                break;
            case DType.U16:
                var u16 = MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = u16[i];
                break;
            case DType.I32:
                var i32 = MemoryMarshal.Cast<byte, int>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = i32[i];
                break;
            case DType.U32:
                var u32 = MemoryMarshal.Cast<byte, uint>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = u32[i];
                break;
            case DType.I64:
                var i64 = MemoryMarshal.Cast<byte, long>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = i64[i];
                break;
            case DType.U64:
                var u64 = MemoryMarshal.Cast<byte, ulong>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = u64[i];
                break;
            default:
                if (type.Info().IsQuantized)
                {
                    GgmlQuants.Dequantize(type, source, destination);
                    break;
                }
                throw new NotSupportedException($"cannot decode {type.DisplayName()} elements");
        }
    }

    public static bool CanDecode(DType type) => type.Info().CanDecode;

    private static void DecodeBFloat16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        var bits = MemoryMarshal.Cast<float, uint>(destination);
        for (int i = 0; i < source.Length; i++)
            bits[i] = (uint)source[i] << 16;
    }
}

/// <summary>OCP 8-bit floats (E4M3FN: no infinities, one NaN encoding; E5M2: IEEE-like).</summary>
internal static class Float8
{
    public static float E4M3ToSingle(byte b)
    {
        int sign = b >> 7, exp = (b >> 3) & 0xF, man = b & 0x7;
        if (exp == 0xF && man == 0x7) return float.NaN;
        float value = exp == 0 ? man / 8f * MathF.Pow(2, -6) : (1 + man / 8f) * MathF.Pow(2, exp - 7);
        return sign == 1 ? -value : value;
    }

    public static float E5M2ToSingle(byte b) => (float)BitConverter.UInt16BitsToHalf((ushort)(b << 8));
}
