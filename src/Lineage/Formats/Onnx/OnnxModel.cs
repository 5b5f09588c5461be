using Lineage.Numerics;

namespace Lineage.Formats.Onnx;

/// <summary>An operator set a model imports (an empty domain is the default "ai.onnx" domain).</summary>
public sealed record OnnxOpset(string Domain, long Version);

/// <summary>
/// One node of a graph. <paramref name="Graph"/> names where it sits: "main" for the top-level graph,
/// "main/BeamSearch_0.decoder" for a graph held in attribute "decoder" of node "BeamSearch_0", and so on.
/// </summary>
public sealed record OnnxNode(string Name, string OpType, string Domain, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyList<string> Attributes, string Graph, long Offset);

/// <summary>An external_data reference exactly as stored: location, offset and length are the raw strings.</summary>
public sealed record OnnxExternalData(string TensorName, string? Location, string? OffsetText, string? LengthText, IReadOnlyDictionary<string, string> Entries, long Offset);

/// <summary>How a tensor's elements are stored in the model file.</summary>
public enum OnnxStorage
{
    /// <summary>raw_data: little-endian bytes inside the model file.</summary>
    Raw,

    /// <summary>float_data / int32_data / int64_data / double_data / uint64_data.</summary>
    Typed,

    /// <summary>data_location = EXTERNAL: bytes in another file.</summary>
    External,

    /// <summary>string_data, or no data at all.</summary>
    None,
}

/// <summary>
/// An initializer or a Constant node's tensor. <see cref="DataOffset"/> and <see cref="DataLength"/> locate the raw
/// bytes in the model file for <see cref="OnnxStorage.Raw"/>, the typed field's payload for
/// <see cref="OnnxStorage.Typed"/> (first occurrence), and are the parsed external offset/length for
/// <see cref="OnnxStorage.External"/>.
/// </summary>
public sealed record OnnxTensorInfo(string Name, int DataType, DType DType, long[] Dims, OnnxStorage Storage, string Kind, string Graph,
    long Offset, long DataOffset, long DataLength, OnnxExternalData? External)
{
    /// <summary>ONNX TensorProto.DataType name (FLOAT, FLOAT16, BFLOAT16, …).</summary>
    public string DataTypeName => OnnxDataTypes.Name(DataType);

    /// <summary>The float_data / int32_data / … occurrences of a <see cref="OnnxStorage.Typed"/> tensor, decoded on load.</summary>
    internal IReadOnlyList<Protobuf.ProtoField>? TypedFields { get; init; }
}

/// <summary>
/// What an ONNX ModelProto declares, without interpretation: opsets, producer, metadata, every node (also in
/// subgraphs and functions), every tensor with its storage, and every external data reference as written. The
/// security scanner reads custom domains and external paths from here; the model loader turns the tensors into
/// <see cref="Models.Tensor"/>s. <see cref="GraphDepth"/> is the deepest nesting of graphs in node attributes
/// (0 when the main graph holds no subgraph).
/// </summary>
public sealed record OnnxModel(
    string File,
    long IrVersion,
    IReadOnlyList<OnnxOpset> Opsets,
    string? ProducerName,
    string? ProducerVersion,
    string? Domain,
    long ModelVersion,
    IReadOnlyDictionary<string, string> Metadata,
    string? GraphName,
    IReadOnlyList<OnnxNode> Nodes,
    IReadOnlyList<OnnxTensorInfo> Tensors,
    IReadOnlyList<OnnxExternalData> ExternalData,
    IReadOnlyList<string> Functions,
    int SparseInitializers,
    int GraphDepth)
{
    /// <summary>Domains used by nodes or imported as opsets, other than the standard ai.onnx / ai.onnx.ml ones.</summary>
    public IReadOnlyList<string> CustomDomains =>
        Nodes.Select(n => n.Domain).Concat(Opsets.Select(o => o.Domain))
            .Where(d => !OnnxDataTypes.IsStandardDomain(d)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}

/// <summary>ONNX TensorProto.DataType codes.</summary>
public static class OnnxDataTypes
{
    public const int Float = 1;
    public const int UInt8 = 2;
    public const int Int8 = 3;
    public const int UInt16 = 4;
    public const int Int16 = 5;
    public const int Int32 = 6;
    public const int Int64 = 7;
    public const int String = 8;
    public const int Bool = 9;
    public const int Float16 = 10;
    public const int Double = 11;
    public const int UInt32 = 12;
    public const int UInt64 = 13;
    public const int Complex64 = 14;
    public const int Complex128 = 15;
    public const int BFloat16 = 16;
    public const int Float8E4M3FN = 17;
    public const int Float8E4M3FNUZ = 18;
    public const int Float8E5M2 = 19;
    public const int Float8E5M2FNUZ = 20;

    private static readonly string[] Names =
    [
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE",
        "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2",
    ];

    public static string Name(int dataType) => dataType >= 0 && dataType < Names.Length ? Names[dataType] : $"TYPE_{dataType}";

    /// <summary>The element type Lineage decodes, or <see cref="DType.Unknown"/> for strings, 4-bit and FNUZ types.</summary>
    public static DType ToDType(int dataType) => dataType switch
    {
        Float => DType.F32,
        UInt8 => DType.U8,
        Int8 => DType.I8,
        UInt16 => DType.U16,
        Int16 => DType.I16,
        Int32 => DType.I32,
        Int64 => DType.I64,
        Bool => DType.Bool,
        Float16 => DType.F16,
        Double => DType.F64,
        UInt32 => DType.U32,
        UInt64 => DType.U64,
        Complex64 => DType.Complex64,
        BFloat16 => DType.BF16,
        Float8E4M3FN => DType.F8E4M3,
        Float8E5M2 => DType.F8E5M2,
        _ => DType.Unknown,
    };

    internal static bool IsStandardDomain(string domain) => domain is "" or "ai.onnx" or "ai.onnx.ml" or "ai.onnx.preview.training";
}
