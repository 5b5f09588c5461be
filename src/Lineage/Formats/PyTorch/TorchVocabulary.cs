using Lineage.Formats.Pickle;
using Lineage.Numerics;

namespace Lineage.Formats.PyTorch;

/// <summary>
/// The only globals a weights pickle may name for this reader: the tensor-rebuild functions, OrderedDict,
/// storage types and dtypes. Anything else makes the reader refuse the file (deciding whether it is
/// dangerous is the scanner's job; the reader only accepts what a state dict needs).
/// </summary>
internal static class TorchVocabulary
{
    public const string RebuildTensor = "torch._utils._rebuild_tensor";
    public const string RebuildTensorV2 = "torch._utils._rebuild_tensor_v2";
    public const string RebuildTensorV3 = "torch._utils._rebuild_tensor_v3";
    public const string RebuildParameter = "torch._utils._rebuild_parameter";
    public const string RebuildParameterWithState = "torch._utils._rebuild_parameter_with_state";
    public const string Parameter = "torch.nn.parameter.Parameter";
    public const string OrderedDict = "collections.OrderedDict";
    public const string Size = "torch.Size";
    public const string LoadFromBytes = "torch.storage._load_from_bytes";
    public const string UntypedStorage = "torch.UntypedStorage";

    /// <summary>Globals that may be called (REDUCE/NEWOBJ).</summary>
    private static readonly HashSet<string> Callables = new(StringComparer.Ordinal)
    {
        RebuildTensor, RebuildTensorV2, RebuildTensorV3, RebuildParameter, RebuildParameterWithState, Parameter, OrderedDict, Size,
    };

    /// <summary>Storage classes named in persistent ids, with their element type (Unknown: recognised but unsupported).</summary>
    private static readonly Dictionary<string, DType> Storages = new(StringComparer.Ordinal)
    {
        ["torch.FloatStorage"] = DType.F32,
        ["torch.DoubleStorage"] = DType.F64,
        ["torch.HalfStorage"] = DType.F16,
        ["torch.BFloat16Storage"] = DType.BF16,
        ["torch.LongStorage"] = DType.I64,
        ["torch.IntStorage"] = DType.I32,
        ["torch.ShortStorage"] = DType.I16,
        ["torch.CharStorage"] = DType.I8,
        ["torch.ByteStorage"] = DType.U8,
        ["torch.BoolStorage"] = DType.Bool,
        ["torch.ComplexFloatStorage"] = DType.Complex64,
        ["torch.Float8_e4m3fnStorage"] = DType.F8E4M3,
        ["torch.Float8_e5m2Storage"] = DType.F8E5M2,
        ["torch.UInt16Storage"] = DType.U16,
        ["torch.UInt32Storage"] = DType.U32,
        ["torch.UInt64Storage"] = DType.U64,
        ["torch.ComplexDoubleStorage"] = DType.Unknown,
        ["torch.QInt8Storage"] = DType.Unknown,
        ["torch.QUInt8Storage"] = DType.Unknown,
        ["torch.QInt32Storage"] = DType.Unknown,
        ["torch.QUInt4x2Storage"] = DType.Unknown,
        ["torch.QUInt2x4Storage"] = DType.Unknown,
        [UntypedStorage] = DType.U8,
    };

    /// <summary>torch dtype objects (the _rebuild_tensor_v3 dtype argument, or metadata values).</summary>
    private static readonly Dictionary<string, DType> DTypes = new(StringComparer.Ordinal)
    {
        ["torch.float32"] = DType.F32,
        ["torch.float"] = DType.F32,
        ["torch.float64"] = DType.F64,
        ["torch.double"] = DType.F64,
        ["torch.float16"] = DType.F16,
        ["torch.half"] = DType.F16,
        ["torch.bfloat16"] = DType.BF16,
        ["torch.int64"] = DType.I64,
        ["torch.long"] = DType.I64,
        ["torch.int32"] = DType.I32,
        ["torch.int"] = DType.I32,
        ["torch.int16"] = DType.I16,
        ["torch.short"] = DType.I16,
        ["torch.int8"] = DType.I8,
        ["torch.uint8"] = DType.U8,
        ["torch.uint16"] = DType.U16,
        ["torch.uint32"] = DType.U32,
        ["torch.uint64"] = DType.U64,
        ["torch.bool"] = DType.Bool,
        ["torch.complex64"] = DType.Complex64,
        ["torch.cfloat"] = DType.Complex64,
        ["torch.float8_e4m3fn"] = DType.F8E4M3,
        ["torch.float8_e5m2"] = DType.F8E5M2,
    };

    public static bool TryStorageType(PickleValue value, out DType dtype, out string name)
    {
        name = value is PickleGlobal g ? g.ResolvedFullName : value.ToString();
        dtype = DType.Unknown;
        return value is PickleGlobal { IsComputed: false } && Storages.TryGetValue(name, out dtype);
    }

    public static bool TryDType(PickleValue value, out DType dtype)
    {
        dtype = DType.Unknown;
        return value is PickleGlobal { IsComputed: false } g && DTypes.TryGetValue(g.ResolvedFullName, out dtype);
    }

    public static bool IsCallable(PickleValue callable, bool allowLoadFromBytes) =>
        callable is PickleGlobal { IsComputed: false } g && (Callables.Contains(g.ResolvedFullName) || (allowLoadFromBytes && g.ResolvedFullName == LoadFromBytes));

    public static bool IsKnownGlobal(PickleGlobal g, bool allowLoadFromBytes) =>
        !g.IsComputed && g.Source is PickleGlobalSource.Global or PickleGlobalSource.StackGlobal
        && (Callables.Contains(g.ResolvedFullName) || Storages.ContainsKey(g.ResolvedFullName) || DTypes.ContainsKey(g.ResolvedFullName) || (allowLoadFromBytes && g.ResolvedFullName == LoadFromBytes));

    public static bool Is(PickleValue value, string fullName) => value is PickleGlobal { IsComputed: false } g && g.ResolvedFullName == fullName;
}
