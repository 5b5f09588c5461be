using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json.Nodes;
using Lineage.Formats.Protobuf;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.Onnx;

/// <summary>
/// Reads an ONNX ModelProto: opsets, producer, metadata, the graph's nodes and initializers, tensors held by
/// Constant nodes, and graphs nested in node attributes (If/Loop/Scan bodies, ORT BeamSearch decoders) down to
/// <see cref="MaxGraphDepth"/>. raw_data tensors stay in the file (zero-copy); typed fields (float_data,
/// int32_data …) are decoded into a small in-memory source; external data is resolved inside the model's folder
/// only. Tensor names are kept as stored.
/// </summary>
public static class OnnxReader
{
    /// <summary>Graphs nested in node attributes deeper than this are refused.</summary>
    public const int MaxGraphDepth = 16;

    /// <summary>Tensors of higher rank are refused (ONNX sets no limit; real models stay far below).</summary>
    public const int MaxRank = 64;

    private const int MaxNameBytes = 1 << 20;
    private const int DataLocationExternal = 1;

    /// <summary>Parses the model structure without touching any other file (external data is listed, not opened).</summary>
    public static OnnxModel Parse(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new Parser(source).Run();
    }

    /// <summary>Reads the model's tensors for the loader; external data files are looked up in <paramref name="modelDirectory"/>.</summary>
    internal static ModelPart Read(IByteSource source, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(modelDirectory);
        var model = Parse(source);
        var part = new ModelPart("onnx");
        var opened = new Dictionary<string, RandomAccessFile>(StringComparer.Ordinal);
        try
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            var reader = new ProtoReader(source);
            var resolved = new Dictionary<string, (string Path, string RealPath)>(StringComparer.Ordinal);
            var matMulWeights = MatMulWeights(model);
            foreach (var info in model.Tensors)
            {
                // Every external reference is confined to the folder, also for tensors that are not exposed (fail closed).
                if (info.Storage == OnnxStorage.External && info.External?.Location is { } externalLocation && !resolved.ContainsKey(externalLocation))
                    resolved[externalLocation] = ExternalDataPath.Resolve(modelDirectory, externalLocation, source.Name, info.External.Offset);
                if (info.DType == DType.Unknown)
                {
                    part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "onnx.unsupported-dtype",
                        $"tensor '{info.Name}' of type {info.DataTypeName} is not exposed", source.Name, info.Offset));
                    continue;
                }
                if (!names.Add(info.Name))
                {
                    part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "onnx.duplicate-tensor",
                        $"tensor name '{info.Name}' appears more than once ({info.Kind} in {info.Graph}); the first is kept", source.Name, info.Offset));
                    continue;
                }
                var location = info.Storage switch
                {
                    OnnxStorage.Raw => new TensorLocation(source, info.DataOffset, info.DataLength),
                    OnnxStorage.Typed => DecodeTyped(reader, info),
                    OnnxStorage.External => LocateExternal(source.Name, resolved, info, opened),
                    _ => ElementCount(info) == 0
                        ? new TensorLocation(source, info.Offset, 0)
                        : throw new LineageException($"tensor '{info.Name}' has {ElementCount(info)} elements but no data", source.Name, info.Offset),
                };
                matMulWeights.TryGetValue(info.Name, out var module);
                part.Tensors.Add(new Tensor(info.Name, info.DType, info.Dims, location)
                {
                    InputMajor = module.IsMatMul && info.Dims.Length == 2,
                    ModuleName = module.Name,
                });
            }
            foreach (var (key, value) in model.Metadata) part.Metadata[key] = JsonValue.Create(value);
            part.Metadata.TryAdd("onnx.ir_version", JsonValue.Create(model.IrVersion));
            if (model.ProducerName is not null)
                part.Metadata.TryAdd("onnx.producer", JsonValue.Create(model.ProducerVersion is null ? model.ProducerName : $"{model.ProducerName} {model.ProducerVersion}"));
            part.Metadata.TryAdd("onnx.opsets", JsonValue.Create(string.Join(", ", model.Opsets.Select(o => $"{(o.Domain.Length == 0 ? "ai.onnx" : o.Domain)}:{o.Version}"))));
            if (model.SparseInitializers > 0)
                part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "onnx.sparse-initializers",
                    $"{model.SparseInitializers} sparse initializers are not exposed as tensors", source.Name));
            part.Owned.AddRange(opened.Values);
            return part;
        }
        catch
        {
            foreach (var file in opened.Values) file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Second operands of MatMul nodes are weights stored [in, out]. Exporters often give them anonymous
    /// names ("onnx::MatMul_123") and flat node names, so the module is recovered from the graph instead:
    /// the norm gains keep their names, and in traced execution order each block is "norm gain × x", then
    /// the matrices reading that product (q, k, v or gate, up), then the one writing back (o or down). The
    /// recovered name follows the Hugging Face module path of the norm's block.
    /// </summary>
    private static Dictionary<string, (bool IsMatMul, string? Name)> MatMulWeights(OnnxModel model)
    {
        var result = new Dictionary<string, (bool, string?)>(StringComparer.Ordinal);
        var initializers = model.Tensors.Where(t => t.Dims.Length == 1).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        string? normOutput = null, prefix = null, section = null;
        int readers = 0;
        foreach (var node in model.Nodes)
        {
            if (node.OpType == "Mul" && node.Inputs.FirstOrDefault(i => initializers.Contains(i) && i.Contains("norm", StringComparison.OrdinalIgnoreCase)) is { } gain)
            {
                string dotted = gain.Contains('.', StringComparison.Ordinal) ? gain : gain.Replace("__", ".", StringComparison.Ordinal);
                int cut = dotted.LastIndexOf('.', dotted.Length - ".weight".Length - 1);
                prefix = cut < 0 ? "" : dotted[..(cut + 1)];
                string module = dotted[(cut + 1)..];
                section = module.Contains("post_attention", StringComparison.Ordinal) || module.Contains("ffn", StringComparison.Ordinal)
                    || module.StartsWith("ln_2", StringComparison.Ordinal) || module.Contains("feedforward", StringComparison.Ordinal) ? "mlp"
                    : prefix.Contains("layers.", StringComparison.Ordinal) || prefix.Contains("h.", StringComparison.Ordinal) ? "attn" : "final";
                normOutput = node.Outputs.FirstOrDefault();
                readers = 0;
                continue;
            }
            if (node.OpType != "MatMul" || node.Inputs.Count < 2 || node.Domain.Length > 0) continue;
            string weight = node.Inputs[1];
            string? name = null;
            if (weight.StartsWith("onnx::", StringComparison.Ordinal) && section is not null)
            {
                bool reads = node.Inputs[0] == normOutput;
                string? role = (section, reads) switch
                {
                    ("attn", true) => readers switch { 0 => "self_attn.q_proj", 1 => "self_attn.k_proj", 2 => "self_attn.v_proj", _ => null },
                    ("attn", false) => "self_attn.o_proj",
                    ("mlp", true) => readers switch { 0 => "mlp.gate_proj", 1 => "mlp.up_proj", _ => null },
                    ("mlp", false) => "mlp.down_proj",
                    ("final", true) => "lm_head",
                    _ => null,
                };
                if (reads) readers++;
                if (role is not null) name = (section == "final" ? "" : prefix) + role + ".weight";
            }
            result.TryAdd(weight, (true, name));
        }
        return result;
    }

    private static long ElementCount(OnnxTensorInfo info)
    {
        long count = 1;
        foreach (long d in info.Dims) count *= d;
        return count;
    }

    private static TensorLocation LocateExternal(string file, Dictionary<string, (string Path, string RealPath)> resolved, OnnxTensorInfo info, Dictionary<string, RandomAccessFile> opened)
    {
        var ext = info.External!;
        long needed = info.DType.ByteCount(ElementCount(info));
        if (ext.Location is null)
            throw new LineageException($"tensor '{info.Name}': external data has no 'location'", file, ext.Offset);
        if (info.DataOffset < 0)
            throw new LineageException($"tensor '{info.Name}': external data offset '{ext.OffsetText}' is not a non-negative integer", file, ext.Offset);
        if (info.DataLength < 0 && ext.LengthText is not null)
            throw new LineageException($"tensor '{info.Name}': external data length '{ext.LengthText}' is not a non-negative integer", file, ext.Offset);
        if (ext.LengthText is not null && info.DataLength != needed)
            throw new LineageException($"tensor '{info.Name}': external data length {info.DataLength} does not match {info.DataTypeName} x [{string.Join(", ", info.Dims)}] = {needed} bytes", file, ext.Offset);
        var (path, realPath) = resolved[ext.Location];
        if (!opened.TryGetValue(realPath, out var data))
        {
            data = RandomAccessFile.Open(path);
            opened[realPath] = data;
        }
        if (info.DataOffset > data.Length || needed > data.Length - info.DataOffset)
            throw new LineageException($"tensor '{info.Name}': external bytes [{info.DataOffset}, +{needed}) run past the end of '{ext.Location}' ({data.Length} bytes)", file, ext.Offset);
        return new TensorLocation(data, info.DataOffset, needed);
    }

    /// <summary>Decodes float_data / int32_data / int64_data / double_data / uint64_data into little-endian element bytes.</summary>
    private static TensorLocation DecodeTyped(ProtoReader reader, OnnxTensorInfo info)
    {
        long count = ElementCount(info);
        int elementBytes = info.DType.Info().BlockBytes;
        int valuesPerElement = info.DataType == OnnxDataTypes.Complex64 ? 2 : 1;
        long expected = count * valuesPerElement;
        if (expected > int.MaxValue / 8)
            throw new LineageException($"tensor '{info.Name}': {count} typed elements are too many to decode", reader.Source.Name, info.Offset);
        int fieldNumber = TypedField(info.DataType);
        var fields = info.TypedFields!;
        foreach (var f in fields)
        {
            if (f.Number != fieldNumber)
                throw new LineageException($"tensor '{info.Name}': data type {info.DataTypeName} cannot be stored in field {f.Number}", reader.Source.Name, f.TagOffset);
        }
        byte[] bytes;
        int limit = (int)expected + 1;
        switch (fieldNumber)
        {
            case 4:
            {
                var values = new List<uint>();
                foreach (var f in fields) reader.ReadFixed32s(f, values, limit);
                CheckCount(values.Count, expected, info, reader, fields);
                bytes = new byte[values.Count * 4];
                for (int i = 0; i < values.Count; i++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
                break;
            }
            case 10:
            {
                var values = new List<ulong>();
                foreach (var f in fields) reader.ReadFixed64s(f, values, limit);
                CheckCount(values.Count, expected, info, reader, fields);
                bytes = new byte[values.Count * 8];
                for (int i = 0; i < values.Count; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
                break;
            }
            default:
            {
                // int32_data holds every narrow type (fp16/bf16 bits, int8, bool …) one value per element.
                var values = new List<ulong>();
                foreach (var f in fields) reader.ReadVarints(f, values, limit);
                CheckCount(values.Count, expected, info, reader, fields);
                bytes = new byte[values.Count * elementBytes];
                for (int i = 0; i < values.Count; i++)
                {
                    var span = bytes.AsSpan(i * elementBytes, elementBytes);
                    ulong v = values[i];
                    switch (elementBytes)
                    {
                        case 1: span[0] = unchecked((byte)v); break;
                        case 2: BinaryPrimitives.WriteUInt16LittleEndian(span, unchecked((ushort)v)); break;
                        case 4: BinaryPrimitives.WriteUInt32LittleEndian(span, unchecked((uint)v)); break;
                        default: BinaryPrimitives.WriteUInt64LittleEndian(span, v); break;
                    }
                }
                break;
            }
        }
        var memory = new MemoryByteSource($"{reader.Source.Name}#{info.Name}", bytes);
        return new TensorLocation(memory, 0, bytes.Length);
    }

    private static void CheckCount(int actual, long expected, OnnxTensorInfo info, ProtoReader reader, IReadOnlyList<ProtoField> fields)
    {
        if (actual != expected)
            throw new LineageException($"tensor '{info.Name}': {info.DataTypeName} x [{string.Join(", ", info.Dims)}] needs {expected} typed values but the file holds {actual}",
                reader.Source.Name, fields.Count > 0 ? fields[0].TagOffset : info.Offset);
    }

    /// <summary>Which TensorProto field carries typed values of a data type.</summary>
    private static int TypedField(int dataType) => dataType switch
    {
        OnnxDataTypes.Float or OnnxDataTypes.Complex64 => 4,
        OnnxDataTypes.Int64 => 7,
        OnnxDataTypes.Double or OnnxDataTypes.Complex128 => 10,
        OnnxDataTypes.UInt32 or OnnxDataTypes.UInt64 => 11,
        _ => 5,
    };

    private sealed class Parser(IByteSource source)
    {
        private readonly List<OnnxOpset> _opsets = [];
        private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
        private readonly List<OnnxNode> _nodes = [];
        private readonly List<OnnxTensorInfo> _tensors = [];
        private readonly List<OnnxExternalData> _external = [];
        private readonly List<string> _functions = [];
        private int _sparse;
        private int _maxGraphDepth;

        private string File => source.Name;

        public OnnxModel Run()
        {
            var reader = new ProtoReader(source);
            long irVersion = 0, modelVersion = 0;
            string? producer = null, producerVersion = null, domain = null, graphName = null;
            bool sawGraph = false;
            while (reader.TryReadField(out var f))
            {
                switch (f.Number)
                {
                    case 1: irVersion = Varint(reader, f).Int64; break;
                    case 2: producer = reader.ReadString(f, MaxNameBytes); break;
                    case 3: producerVersion = reader.ReadString(f, MaxNameBytes); break;
                    case 4: domain = reader.ReadString(f, MaxNameBytes); break;
                    case 5: modelVersion = Varint(reader, f).Int64; break;
                    case 7:
                        if (sawGraph) throw reader.Error("model has more than one graph", f.TagOffset);
                        sawGraph = true;
                        graphName = ParseGraph(reader.ReadMessage(f), "main", 0);
                        break;
                    case 8: _opsets.Add(ParseOpset(reader.ReadMessage(f))); break;
                    case 14:
                        var (key, value) = ParseEntry(reader.ReadMessage(f));
                        if (key is not null) _metadata[key] = value ?? "";
                        break;
                    case 25: ParseFunction(reader.ReadMessage(f)); break;
                }
            }
            if (!sawGraph)
                throw new LineageException("ONNX model has no graph", File, reader.End);
            return new OnnxModel(File, irVersion, _opsets, producer, producerVersion, domain, modelVersion, _metadata, graphName,
                _nodes, _tensors, _external, _functions, _sparse, _maxGraphDepth);
        }

        private static ProtoField Varint(ProtoReader reader, in ProtoField f)
        {
            if (f.WireType != WireType.Varint)
                throw reader.Error($"field {f.Number}: expected a varint, found wire type {f.WireType}", f.TagOffset);
            return f;
        }

        private static OnnxOpset ParseOpset(ProtoReader r)
        {
            string domain = "";
            long version = 0;
            while (r.TryReadField(out var f))
            {
                if (f.Number == 1) domain = r.ReadString(f, MaxNameBytes);
                else if (f.Number == 2) version = Varint(r, f).Int64;
            }
            return new OnnxOpset(domain, version);
        }

        private static (string? Key, string? Value) ParseEntry(ProtoReader r)
        {
            string? key = null, value = null;
            while (r.TryReadField(out var f))
            {
                if (f.Number == 1) key = r.ReadString(f, MaxNameBytes);
                else if (f.Number == 2) value = r.ReadString(f);
            }
            return (key, value);
        }

        private string? ParseGraph(ProtoReader r, string path, int depth)
        {
            if (depth > MaxGraphDepth)
                throw r.Error($"graphs nested deeper than {MaxGraphDepth} levels", r.Start);
            _maxGraphDepth = Math.Max(_maxGraphDepth, depth);
            string? name = null;
            while (r.TryReadField(out var f))
            {
                switch (f.Number)
                {
                    case 1: ParseNode(r.ReadMessage(f), path, depth, f.TagOffset); break;
                    case 2: name = r.ReadString(f, MaxNameBytes); break;
                    case 5: ParseTensor(r.ReadMessage(f), null, "initializer", path, f.TagOffset); break;
                    case 15: _sparse++; break;
                }
            }
            return name;
        }

        private void ParseFunction(ProtoReader r)
        {
            string name = "", domain = "";
            var nodeFields = new List<ProtoField>();
            while (r.TryReadField(out var f))
            {
                switch (f.Number)
                {
                    case 1: name = r.ReadString(f, MaxNameBytes); break;
                    case 7: nodeFields.Add(f); break;
                    case 10: domain = r.ReadString(f, MaxNameBytes); break;
                }
            }
            string path = $"function {(domain.Length == 0 ? "" : domain + ".")}{name}";
            _functions.Add(path["function ".Length..]);
            foreach (var f in nodeFields) ParseNode(r.ReadMessage(f), path, 1, f.TagOffset);
        }

        private void ParseNode(ProtoReader r, string path, int depth, long offset)
        {
            var inputs = new List<string>();
            var outputs = new List<string>();
            var attributes = new List<ProtoField>();
            string name = "", opType = "", domain = "";
            while (r.TryReadField(out var f))
            {
                switch (f.Number)
                {
                    case 1: inputs.Add(r.ReadString(f, MaxNameBytes)); break;
                    case 2: outputs.Add(r.ReadString(f, MaxNameBytes)); break;
                    case 3: name = r.ReadString(f, MaxNameBytes); break;
                    case 4: opType = r.ReadString(f, MaxNameBytes); break;
                    case 5: attributes.Add(f); break;
                    case 7: domain = r.ReadString(f, MaxNameBytes); break;
                }
            }
            string label = name.Length > 0 ? name : $"{opType}@{offset}";
            var attributeNames = new List<string>(attributes.Count);
            foreach (var a in attributes)
                attributeNames.Add(ParseAttribute(r.ReadMessage(a), path, depth, label, opType, domain, outputs));
            _nodes.Add(new OnnxNode(name, opType, domain, inputs, outputs, attributeNames, path, offset));
        }

        private string ParseAttribute(ProtoReader r, string path, int depth, string nodeLabel, string opType, string domain, List<string> outputs)
        {
            string name = "";
            var tensors = new List<ProtoField>();
            var graphs = new List<ProtoField>();
            while (r.TryReadField(out var f))
            {
                switch (f.Number)
                {
                    case 1: name = r.ReadString(f, MaxNameBytes); break;
                    case 5: tensors.Add(f); break;
                    case 6:
                    case 11: graphs.Add(f); break;
                }
            }
            bool isConstant = opType == "Constant" && OnnxDataTypes.IsStandardDomain(domain) && name == "value";
            foreach (var t in tensors)
            {
                if (isConstant)
                    ParseTensor(r.ReadMessage(t), outputs.Count > 0 && outputs[0].Length > 0 ? outputs[0] : nodeLabel, "constant", path, t.TagOffset);
            }
            for (int i = 0; i < graphs.Count; i++)
            {
                string sub = $"{path}/{nodeLabel}.{name}{(graphs[i].Number == 11 ? $"[{i}]" : "")}";
                ParseGraph(r.ReadMessage(graphs[i]), sub, depth + 1);
            }
            return name;
        }

        private void ParseTensor(ProtoReader r, string? nameOverride, string kind, string path, long offset)
        {
            var dims = new List<ulong>();
            int dataType = 0;
            string name = "";
            ProtoField? raw = null;
            var typed = new List<ProtoField>();
            var entries = new List<(string? Key, string? Value)>();
            bool segmented = false;
            long location = 0, externalOffset = -1;
            while (r.TryReadField(out var f))
            {
                switch (f.Number)
                {
                    case 1: r.ReadVarints(f, dims, MaxRank); break;
                    case 2: dataType = Varint(r, f).Int32; break;
                    case 3: segmented = true; break;
                    case 4:
                    case 5:
                    case 7:
                    case 10:
                    case 11: typed.Add(f); break;
                    case 8: name = r.ReadString(f, MaxNameBytes); break;
                    case 9:
                        if (f.WireType != WireType.LengthDelimited)
                            throw r.Error($"raw_data: expected bytes, found wire type {f.WireType}", f.TagOffset);
                        raw = f;
                        break;
                    case 13:
                        if (externalOffset < 0) externalOffset = f.TagOffset;
                        entries.Add(ParseEntry(r.ReadMessage(f)));
                        break;
                    case 14: location = Varint(r, f).Int64; break;
                }
            }
            name = nameOverride ?? name;
            var shape = new long[dims.Count];
            long elements = 1;
            for (int i = 0; i < dims.Count; i++)
            {
                if (dims[i] > long.MaxValue)
                    throw r.Error($"tensor '{name}': negative dimension {unchecked((long)dims[i])}", offset);
                shape[i] = (long)dims[i];
                if (shape[i] != 0 && elements > long.MaxValue / shape[i])
                    throw r.Error($"tensor '{name}': element count overflows", offset);
                elements *= shape[i];
            }
            if (segmented)
                throw r.Error($"tensor '{name}': segmented tensors are not supported", offset);
            var dtype = OnnxDataTypes.ToDType(dataType);
            long bytesNeeded = dtype == DType.Unknown ? -1 : dtype.ByteCount(elements);
            if (dtype != DType.Unknown && bytesNeeded < 0)
                throw r.Error($"tensor '{name}': {elements} elements of {OnnxDataTypes.Name(dataType)} overflow", offset);

            OnnxExternalData? external = null;
            if (entries.Count > 0)
            {
                var map = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (k, v) in entries)
                    if (k is not null) map[k] = v ?? "";
                external = new OnnxExternalData(name, map.GetValueOrDefault("location"), map.GetValueOrDefault("offset"), map.GetValueOrDefault("length"), map, externalOffset);
                _external.Add(external);
            }

            OnnxStorage storage;
            long dataOffset = offset, dataLength = 0;
            if (location == DataLocationExternal)
            {
                if (raw is not null || typed.Count > 0)
                    throw r.Error($"tensor '{name}': data_location is EXTERNAL but the tensor also holds data", offset);
                external ??= new OnnxExternalData(name, null, null, null, new Dictionary<string, string>(), offset);
                storage = OnnxStorage.External;
                dataOffset = ParseNonNegative(external.OffsetText) ?? (external.OffsetText is null ? 0 : -1);
                dataLength = external.LengthText is null ? bytesNeeded : ParseNonNegative(external.LengthText) ?? -1;
            }
            else if (location != 0)
            {
                throw r.Error($"tensor '{name}': unknown data_location {location}", offset);
            }
            else if (raw is { } rawField)
            {
                if (typed.Count > 0)
                    throw r.Error($"tensor '{name}': both raw_data and typed data are present", rawField.TagOffset);
                if (bytesNeeded >= 0 && rawField.Length != bytesNeeded)
                    throw r.Error($"tensor '{name}': {OnnxDataTypes.Name(dataType)} x [{string.Join(", ", shape)}] needs {bytesNeeded} bytes but raw_data holds {rawField.Length}", rawField.Offset);
                storage = OnnxStorage.Raw;
                dataOffset = rawField.Offset;
                dataLength = rawField.Length;
            }
            else if (typed.Count > 0)
            {
                storage = OnnxStorage.Typed;
                dataOffset = typed[0].Offset;
                dataLength = typed.Sum(t => t.Length);
            }
            else
            {
                // string_data (or nothing): not numeric weights; the loader skips or refuses it.
                storage = OnnxStorage.None;
            }
            _tensors.Add(new OnnxTensorInfo(name, dataType, dtype, shape, storage, kind, path, offset, dataOffset, dataLength, external) { TypedFields = typed });
        }

        private static long? ParseNonNegative(string? text) =>
            text is not null && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;
    }
}
