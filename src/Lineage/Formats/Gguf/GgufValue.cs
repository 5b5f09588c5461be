using System.Globalization;
using System.Text.Json.Nodes;

namespace Lineage.Formats.Gguf;

/// <summary>Metadata value types of the GGUF specification (the numbers are the on-disk tags).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// One GGUF metadata value: a scalar, a string, or an array. Arrays are held as typed CLR arrays
/// (<c>byte[]</c>, <c>float[]</c>, <c>string[]</c>, …; nested arrays as <c>GgufValue[]</c>) so a vocabulary
/// of 256k tokens costs one array, not 256k boxed objects.
/// </summary>
public sealed class GgufValue
{
    private readonly object _value;

    internal GgufValue(GgufValueType type, object value, long offset, GgufValueType elementType = default)
    {
        Type = type;
        _value = value;
        Offset = offset;
        if (type == GgufValueType.Array) ElementType = elementType;
    }

    public GgufValueType Type { get; }

    /// <summary>Element type of an array; null for scalars and strings.</summary>
    public GgufValueType? ElementType { get; }

    /// <summary>Absolute byte offset of the value in the file (for arrays: of the element-type tag).</summary>
    public long Offset { get; }

    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>Number of array elements (0 for non-arrays).</summary>
    public int Count => _value is Array a && IsArray ? a.Length : 0;

    /// <summary>The string value, or null when this is not a string.</summary>
    public string? AsString() => _value as string;

    /// <summary>The elements of a string array, or null when this is not one.</summary>
    public IReadOnlyList<string>? AsStrings() => IsArray ? _value as string[] : null;

    /// <summary>The elements of a float32 array, or null when this is not one.</summary>
    public IReadOnlyList<float>? AsFloats() => IsArray ? _value as float[] : null;

    /// <summary>The elements of an array of arrays, or null when this is not one.</summary>
    public IReadOnlyList<GgufValue>? AsArrays() => IsArray ? _value as GgufValue[] : null;

    /// <summary>Integer scalars of any width (bools are not integers here: they return false).</summary>
    public bool TryGetInt64(out long value)
    {
        switch (_value)
        {
            case byte v: value = v; return true;
            case sbyte v: value = v; return true;
            case ushort v: value = v; return true;
            case short v: value = v; return true;
            case uint v: value = v; return true;
            case int v: value = v; return true;
            case long v: value = v; return true;
            case ulong v when v <= long.MaxValue: value = (long)v; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>
    /// Integer or floating-point scalars as double. Float32 goes through its shortest decimal spelling, so
    /// an epsilon written as 1e-5f reads as 1e-05 rather than 9.99999974737875e-06.
    /// </summary>
    public bool TryGetDouble(out double value)
    {
        switch (_value)
        {
            case float f: value = float.IsFinite(f) ? double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : f; return true;
            case double d: value = d; return true;
            case ulong u: value = u; return true;
            default:
                bool ok = TryGetInt64(out long l);
                value = l;
                return ok;
        }
    }

    public bool TryGetBool(out bool value)
    {
        if (_value is bool b) { value = b; return true; }
        value = false;
        return false;
    }

    /// <summary>Elements of an integer array of any width, widened to long; false for other arrays or out-of-range u64.</summary>
    public bool TryGetInt64Array(out long[] values)
    {
        values = [];
        if (!IsArray) return false;
        switch (_value)
        {
            case byte[] a: values = Array.ConvertAll(a, v => (long)v); return true;
            case sbyte[] a: values = Array.ConvertAll(a, v => (long)v); return true;
            case ushort[] a: values = Array.ConvertAll(a, v => (long)v); return true;
            case short[] a: values = Array.ConvertAll(a, v => (long)v); return true;
            case uint[] a: values = Array.ConvertAll(a, v => (long)v); return true;
            case int[] a: values = Array.ConvertAll(a, v => (long)v); return true;
            case long[] a: values = (long[])a.Clone(); return true;
            case ulong[] a:
                if (a.Any(v => v > long.MaxValue)) return false;
                values = Array.ConvertAll(a, v => (long)v);
                return true;
            default: return false;
        }
    }

    /// <summary>
    /// JSON form for model metadata. Arrays longer than <paramref name="maxArrayElements"/> become
    /// <c>{"array": "&lt;element type&gt;", "length": N}</c>; non-finite floats become strings ("NaN", "Infinity").
    /// </summary>
    public JsonNode? ToJson(int maxArrayElements = 64)
    {
        if (IsArray)
        {
            var items = (Array)_value;
            if (items.Length > maxArrayElements)
                return new JsonObject { ["array"] = TypeName(ElementType!.Value), ["length"] = items.Length };
            var result = new JsonArray();
            foreach (var item in items)
                result.Add(item is GgufValue nested ? nested.ToJson(maxArrayElements) : ScalarJson(item));
            return result;
        }
        return ScalarJson(_value);
    }

    private static JsonNode? ScalarJson(object? value) => value switch
    {
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        float f => float.IsFinite(f) ? JsonValue.Create(f) : JsonValue.Create(f.ToString(CultureInfo.InvariantCulture)),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
        byte v => JsonValue.Create(v),
        sbyte v => JsonValue.Create(v),
        ushort v => JsonValue.Create(v),
        short v => JsonValue.Create(v),
        uint v => JsonValue.Create(v),
        int v => JsonValue.Create(v),
        ulong v => JsonValue.Create(v),
        long v => JsonValue.Create(v),
        _ => null,
    };

    /// <summary>Lower-case spelling of a value type as in the GGUF specification ("uint32", "string", …).</summary>
    public static string TypeName(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => "uint8",
        GgufValueType.Int8 => "int8",
        GgufValueType.UInt16 => "uint16",
        GgufValueType.Int16 => "int16",
        GgufValueType.UInt32 => "uint32",
        GgufValueType.Int32 => "int32",
        GgufValueType.Float32 => "float32",
        GgufValueType.Bool => "bool",
        GgufValueType.String => "string",
        GgufValueType.Array => "array",
        GgufValueType.UInt64 => "uint64",
        GgufValueType.Int64 => "int64",
        GgufValueType.Float64 => "float64",
        _ => $"type {(uint)type}",
    };

    public override string ToString() =>
        IsArray ? $"array<{TypeName(ElementType!.Value)}>[{Count}]" : Convert.ToString(_value, CultureInfo.InvariantCulture) ?? "";
}
