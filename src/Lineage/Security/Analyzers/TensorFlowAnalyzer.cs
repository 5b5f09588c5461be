using Lineage.Formats;
using Lineage.Formats.Protobuf;
using Lineage.Security.Keras;

namespace Lineage.Security.Analyzers;

/// <summary>
/// TensorFlow protobufs (<c>*.pb</c>, read with <see cref="ProtoReader"/>; never executed): SavedModel
/// <c>saved_model.pb</c> (SavedModel → MetaGraphDef → GraphDef nodes and function-library nodes), frozen GraphDefs,
/// and Keras <c>keras_metadata.pb</c> (each object's JSON config goes through the Keras analyzer). Op types are
/// checked against a documented list: Python callbacks are critical, file/system/network ops high, other op names
/// that mention files, shells, processes, sockets or URLs medium. Checkpoint save/restore ops, which every
/// SavedModel carries, are not reported. Any other well-formed protobuf is scanned as data; a malformed one fails
/// closed.
/// </summary>
internal sealed class TensorFlowAnalyzer : IFormatAnalyzer
{
    private const int MaxNodes = 5_000_000;

    /// <summary>Ops that call back into Python.</summary>
    public static readonly HashSet<string> PythonOps = new(StringComparer.Ordinal) { "PyFunc", "PyFuncStateless", "EagerPyFunc" };

    /// <summary>Ops that read or write host files, mmap them, or talk to other systems.</summary>
    public static readonly HashSet<string> FileOps = new(StringComparer.Ordinal)
    {
        "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
        "DebugNumericSummary", "DebugNumericSummaryV2", "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
        "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2", "LMDBReader", "TextLineDataset",
        "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2",
        "ExperimentalCSVDataset", "LMDBDataset", "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset", "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord", "SaveDataset", "SaveDatasetV2", "LoadDataset", "SnapshotDataset", "SnapshotDatasetV2",
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
        "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "ImportEvent", "Rpc", "TryRpc", "FileSystemSetConfiguration",
    };

    /// <summary>Checkpoint plumbing present in every SavedModel (variables are restored from the model's own folder).</summary>
    public static readonly HashSet<string> CheckpointOps = new(StringComparer.Ordinal)
    {
        "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec",
    };

    private static readonly HashSet<string> SuspiciousWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "file", "files", "shell", "exec", "system", "socket", "http", "https", "url", "download", "process", "command", "popen", "subprocess", "os", "eval",
    };

    /// <summary>Splits an op type into its CamelCase words ("ReadFileV2" → Read, File, V2; "HTTPGet" → HTTP, Get).</summary>
    internal static IEnumerable<string> Words(string op)
    {
        int start = 0;
        for (int i = 1; i <= op.Length; i++)
        {
            bool boundary = i == op.Length || op[i] == '_'
                || char.IsUpper(op[i]) && (char.IsLower(op[i - 1]) || i + 1 < op.Length && char.IsLower(op[i + 1]) && char.IsUpper(op[i - 1]));
            if (!boundary) continue;
            if (i > start) yield return op[start..i].Trim('_');
            start = i;
        }
    }

    public string Name => "tensorflow";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
        [ScanRules.TfPythonOp, ScanRules.TfFileOp, ScanRules.TfSuspiciousOp, ScanRules.KerasLambda, ScanRules.KerasModuleReference, ScanRules.KerasCustomObject, ScanRules.KerasRiskyOp];

    public bool CanAnalyze(ScanTarget target)
    {
        string name = target.FileName;
        if (!name.EndsWith(".pb", StringComparison.OrdinalIgnoreCase)) return false;
        if (name.Equals("saved_model.pb", StringComparison.OrdinalIgnoreCase))
            return target.Container is ContainerFormat.Unknown or ContainerFormat.Onnx or ContainerFormat.Protobuf;
        return target.Container is ContainerFormat.Unknown or ContainerFormat.Protobuf && target.Text == TextKind.None;
    }

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var root = new ProtoReader(target.Source);
        string name = target.FileName;
        if (name.Equals("keras_metadata.pb", StringComparison.OrdinalIgnoreCase))
        {
            context.SetFormat("keras-metadata");
            KerasMetadata(root, context);
            return;
        }
        var fields = root.ReadFields().ToList();
        bool savedModel = name.Equals("saved_model.pb", StringComparison.OrdinalIgnoreCase)
            || fields.Count > 0 && fields.All(f => f.Number == 1 && f.WireType == WireType.Varint || f.Number == 2 && f.WireType == WireType.LengthDelimited);
        bool graphDef = !savedModel && fields.Count > 0 && fields.Any(f => f.Number == 1) && fields.All(f => f.Number is >= 1 and <= 4)
            && fields.Where(f => f.Number is 1 or 2 or 3).All(f => f.WireType == WireType.LengthDelimited);
        var run = new Run(root, context);
        if (savedModel)
        {
            context.SetFormat("tf-savedmodel");
            foreach (var f in fields.Where(f => f.Number == 2 && f.WireType == WireType.LengthDelimited))
            {
                var meta = root.ReadMessage(f);
                foreach (var mf in meta.ReadFields())
                    if (mf.Number == 2 && mf.WireType == WireType.LengthDelimited) run.Graph(meta.ReadMessage(mf));
            }
        }
        else if (graphDef)
        {
            context.SetFormat("tf-graphdef");
            run.Graph(root);
        }
        else
        {
            // A protobuf of unknown schema: its top-level framing was validated above; nothing in it is known to run.
            context.SetFormat("protobuf");
        }
        run.Report();
    }

    private static void KerasMetadata(ProtoReader root, ScanContext context)
    {
        foreach (var f in root.ReadFields())
        {
            if (f.Number != 1 || f.WireType != WireType.LengthDelimited) continue;
            var node = root.ReadMessage(f);
            string? path = null;
            foreach (var nf in node.ReadFields())
            {
                if (nf.WireType != WireType.LengthDelimited) continue;
                if (nf.Number == 3) path = node.ReadString(nf);
                if (nf.Number != 5) continue;
                string json = node.ReadString(nf, (int)Math.Min(int.MaxValue, context.Options.MaxTextBytes));
                if (!json.TrimStart().StartsWith('{')) continue;
                try
                {
                    foreach (var finding in KerasConfigAnalyzer.Analyze(json, $"keras_metadata {path ?? "object"}", context.Policy, nf.Offset)) context.Report(finding);
                }
                catch (LineageException)
                {
                    // Metadata that is not JSON is not a Keras config; Keras would ignore it too.
                }
            }
        }
    }

    private sealed class Run(ProtoReader root, ScanContext context)
    {
        private readonly Dictionary<string, (long Offset, string Node, int Count)> _ops = new(StringComparer.Ordinal);
        private int _nodes;

        /// <summary>GraphDef: nodes (field 1) and the function library (field 2: FunctionDef.node_def, field 3).</summary>
        public void Graph(ProtoReader graph)
        {
            foreach (var f in graph.ReadFields())
            {
                if (f.WireType != WireType.LengthDelimited) continue;
                if (f.Number == 1) Node(graph.ReadMessage(f));
                else if (f.Number == 2)
                {
                    var library = graph.ReadMessage(f);
                    foreach (var lf in library.ReadFields())
                    {
                        if (lf.Number != 1 || lf.WireType != WireType.LengthDelimited) continue;
                        var function = library.ReadMessage(lf);
                        foreach (var ff in function.ReadFields())
                            if (ff.Number == 3 && ff.WireType == WireType.LengthDelimited) Node(function.ReadMessage(ff));
                    }
                }
            }
        }

        private void Node(ProtoReader node)
        {
            if (++_nodes > MaxNodes) throw new LimitExceededException($"more than {MaxNodes} graph nodes", root.Source.Name, node.Start);
            string? name = null, op = null;
            long opOffset = node.Start;
            foreach (var f in node.ReadFields())
            {
                if (f.WireType != WireType.LengthDelimited) continue;
                if (f.Number == 1) name = node.ReadString(f, 1 << 20);
                else if (f.Number == 2)
                {
                    op = node.ReadString(f, 1 << 20);
                    opOffset = f.Offset;
                }
            }
            if (op is null) return;
            _ops[op] = _ops.TryGetValue(op, out var known) ? known with { Count = known.Count + 1 } : (opOffset, name ?? "", 1);
        }

        public void Report()
        {
            foreach (var (op, (offset, node, count)) in _ops.OrderBy(kv => kv.Value.Offset))
            {
                string where = $"op {op} (node '{node}'{(count > 1 ? $" and {count - 1} more" : "")})";
                if (PythonOps.Contains(op))
                    context.Report(ScanRules.TfPythonOp, $"{where} calls a Python function when the graph runs", offset);
                else if (FileOps.Contains(op))
                    context.Report(ScanRules.TfFileOp, $"{where} acts on files or other systems when the graph runs", offset);
                else if (!CheckpointOps.Contains(op) && Words(op).Any(SuspiciousWords.Contains))
                    context.Report(ScanRules.TfSuspiciousOp, $"{where}: the op name suggests file, process or network access", offset);
            }
        }
    }
}
