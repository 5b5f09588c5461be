using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.PyTorch;

/// <summary>A resolved torch storage: where element 0 lives and how many elements of which type follow.</summary>
internal sealed record TorchStorage(IByteSource Source, long ByteOffset, long ElementCount, DType DType, string Key, string? Entry);

/// <summary>
/// Turns the symbolic result of a weights pickle into tensors: checks the pickle against the tensor
/// vocabulary, then walks dicts (plain and OrderedDict), lists and tuples, naming tensors with dotted paths
/// and recording primitive values as metadata. Storages are resolved by the container-specific callback.
/// </summary>
internal sealed class TorchStateDict
{
    private const int MaxDepth = 64;
    private const int MaxVisits = 5_000_000;
    private const int MaxMetadata = 1000;

    private readonly PickleResult _pickle;
    private readonly Func<PicklePersistentRef, TorchStorage> _resolvePersistent;
    private readonly Func<PickleCall, TorchStorage>? _resolveLoadFromBytes;
    private readonly ModelPart _part;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _visits;
    private int _ignored;

    private TorchStateDict(PickleResult pickle, Func<PicklePersistentRef, TorchStorage> resolvePersistent, Func<PickleCall, TorchStorage>? resolveLoadFromBytes, ModelPart part)
    {
        _pickle = pickle;
        _resolvePersistent = resolvePersistent;
        _resolveLoadFromBytes = resolveLoadFromBytes;
        _part = part;
    }

    private LineageException Error(string message, long offset) => new(message, _pickle.File, offset, _pickle.Entry);

    /// <summary>Refuses a pickle that failed to parse or that names anything outside the tensor vocabulary.</summary>
    public static void CheckVocabulary(PickleResult pickle, bool allowLoadFromBytes)
    {
        if (pickle.Error is not null) throw pickle.Error;
        var unknown = pickle.Globals.Where(g => !TorchVocabulary.IsKnownGlobal(g, allowLoadFromBytes)).ToList();
        if (unknown.Count > 0)
        {
            var names = unknown.GroupBy(g => g.IsComputed ? $"{g.FullName} (computed: {g.Computed})"
                    : g.ResolvedFullName == g.FullName ? g.FullName : $"{g.FullName} (loads {g.ResolvedFullName})")
                .Take(10).Select(grp => $"{grp.Key} (byte {grp.First().Offset})");
            throw new LineageException($"weights pickle uses globals outside the tensor vocabulary: {string.Join(", ", names)}",
                pickle.File, unknown[0].Offset, pickle.Entry);
        }
        foreach (var e in pickle.Events)
        {
            switch (e.Kind)
            {
                case PickleEventKind.PersistentLoad:
                    break;
                case PickleEventKind.Reduce or PickleEventKind.NewObj:
                    if (!TorchVocabulary.IsCallable(e.Target!, allowLoadFromBytes))
                        throw new LineageException($"weights pickle calls {Describe(e.Target!)}, which is not a tensor-rebuild function", pickle.File, e.Offset, pickle.Entry);
                    break;
                case PickleEventKind.Build:
                    if (e.Target is not PickleCall { Callable: var built } || !TorchVocabulary.IsCallable(built, false))
                        throw new LineageException($"weights pickle applies state to {Describe(e.Target!)}", pickle.File, e.Offset, pickle.Entry);
                    break;
                case PickleEventKind.SetItem:
                    if (e.Target is not PickleCall { Callable: var dict } || !TorchVocabulary.Is(dict, TorchVocabulary.OrderedDict))
                        throw new LineageException($"weights pickle stores items into {Describe(e.Target!)}", pickle.File, e.Offset, pickle.Entry);
                    break;
                default:
                    throw new LineageException($"weights pickle performs {e.Kind} ({PickleOpcodes.Name((byte)e.Opcode)}), which a state dict never needs", pickle.File, e.Offset, pickle.Entry);
            }
        }
    }

    private static string Describe(PickleValue v) => PickleFormatter.Render(v, 3, 120);

    /// <summary>Adds the tensors and metadata found under <paramref name="root"/> to <paramref name="part"/>.</summary>
    public static void Flatten(PickleResult pickle, Func<PicklePersistentRef, TorchStorage> resolvePersistent, Func<PickleCall, TorchStorage>? resolveLoadFromBytes, ModelPart part)
    {
        var reader = new TorchStateDict(pickle, resolvePersistent, resolveLoadFromBytes, part);
        reader.Visit(pickle.Root!, "", 0);
        if (reader._ignored > 0)
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Info, "pytorch.ignored-entries",
                $"{reader._ignored} non-tensor entries of the checkpoint were not recorded", pickle.File));
    }

    private void Visit(PickleValue value, string path, int depth)
    {
        if (++_visits > MaxVisits)
            throw Error($"checkpoint structure has more than {MaxVisits} nodes", value.Offset);
        if (depth > MaxDepth)
            throw Error($"checkpoint structure is nested deeper than {MaxDepth}", value.Offset);
        if (TryTensor(value, path, out var tensor))
        {
            if (tensor is not null) AddTensor(tensor, value.Offset);
            return;
        }
        switch (value)
        {
            case PickleDict d:
                VisitItems(d.Items, path, depth);
                return;
            case PickleCall c when TorchVocabulary.Is(c.Callable, TorchVocabulary.OrderedDict):
                {
                    var items = new List<KeyValuePair<PickleValue, PickleValue>>();
                    // OrderedDict([(k, v), ...]) as well as OrderedDict() followed by SETITEMS.
                    if (c.ArgumentItems is [PickleList or PickleTuple, ..])
                        foreach (var pair in Items(c.ArgumentItems[0]))
                            if (pair is PickleTuple { Items.Count: 2 } kv) items.Add(new(kv.Items[0], kv.Items[1]));
                    items.AddRange(c.SetItems);
                    VisitItems(items, path, depth);
                    return;
                }
            case PickleList or PickleTuple:
                {
                    var list = Items(value);
                    for (int i = 0; i < list.Count; i++)
                        Visit(list[i], Join(path, i.ToString(CultureInfo.InvariantCulture)), depth + 1);
                    return;
                }
            case PickleInt or PickleFloat or PickleString or PickleBool:
                if (path.Length > 0 && _part.Metadata.Count < MaxMetadata) _part.Metadata.TryAdd(path, Primitive(value));
                else _ignored++;
                return;
            case PickleNone:
                return;
            default:
                _ignored++;
                return;
        }
    }

    private static IReadOnlyList<PickleValue> Items(PickleValue v) => v switch
    {
        PickleList l => l.Items,
        PickleTuple t => t.Items,
        _ => [],
    };

    private void VisitItems(IReadOnlyList<KeyValuePair<PickleValue, PickleValue>> items, string path, int depth)
    {
        // Python keeps the last value stored under a key, at the key's first position.
        var order = new List<string>();
        var values = new Dictionary<string, PickleValue>(StringComparer.Ordinal);
        foreach (var (key, v) in items)
        {
            string? name = key switch
            {
                PickleString s => s.Value,
                PickleInt i => i.Value.ToString(CultureInfo.InvariantCulture),
                _ => null,
            };
            if (name is null)
            {
                _ignored++;
                continue;
            }
            if (!values.ContainsKey(name)) order.Add(name);
            values[name] = v;
        }
        foreach (var name in order) Visit(values[name], Join(path, name), depth + 1);
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private static JsonNode? Primitive(PickleValue v) => v switch
    {
        PickleInt i => i.TryGetInt64(out long l) ? JsonValue.Create(l) : JsonValue.Create(i.Value.ToString(CultureInfo.InvariantCulture)),
        PickleFloat f => double.IsFinite(f.Value) ? JsonValue.Create(f.Value) : JsonValue.Create(PickleFormatter.FormatFloat(f.Value)),
        PickleString s => JsonValue.Create(s.Value.Length > 1000 ? s.Value[..1000] + "…" : s.Value),
        PickleBool b => JsonValue.Create(b.Value),
        _ => null,
    };

    private void AddTensor(Tensor tensor, long offset)
    {
        if (!_names.Add(tensor.Name))
            throw Error($"tensor name '{tensor.Name}' appears twice in the checkpoint", offset);
        _part.Tensors.Add(tensor);
    }

    /// <summary>True when <paramref name="value"/> is a tensor-rebuild call; the tensor is null only for unsupported storage types (reported).</summary>
    private bool TryTensor(PickleValue value, string path, out Tensor? tensor)
    {
        tensor = null;
        if (value is not PickleCall call || call.CallableGlobal is not { IsComputed: false } g) return false;
        var args = call.ArgumentItems;
        string name = path.Length == 0 ? "tensor" : path;
        switch (g.ResolvedFullName)
        {
            case TorchVocabulary.RebuildParameter:
            case TorchVocabulary.RebuildParameterWithState:
            case TorchVocabulary.Parameter:
                if (args.Count == 0)
                    throw Error($"'{name}': {g.Name} without a tensor argument", call.Offset);
                if (!TryTensor(args[0], path, out tensor))
                    throw Error($"'{name}': {g.Name} wraps something that is not a tensor", call.Offset);
                return true;
            case TorchVocabulary.RebuildTensor:
            case TorchVocabulary.RebuildTensorV2:
            case TorchVocabulary.RebuildTensorV3:
                {
                    int needed = g.ResolvedFullName == TorchVocabulary.RebuildTensor ? 4 : g.ResolvedFullName == TorchVocabulary.RebuildTensorV2 ? 6 : 7;
                    if (args.Count < needed)
                        throw Error($"'{name}': {g.Name} has {args.Count} arguments, expected at least {needed}", call.Offset);
                    DType? explicitType = null;
                    if (g.ResolvedFullName == TorchVocabulary.RebuildTensorV3)
                    {
                        if (!TorchVocabulary.TryDType(args[6], out var t))
                            throw Error($"'{name}': unknown dtype {Describe(args[6])}", call.Offset);
                        explicitType = t;
                    }
                    tensor = BuildTensor(name, call, args[0], args[1], args[2], args[3], explicitType);
                    return true;
                }
            default:
                return false;
        }
    }

    private Tensor BuildTensor(string name, PickleCall call, PickleValue storageValue, PickleValue offsetValue, PickleValue sizeValue, PickleValue strideValue, DType? explicitType)
    {
        TorchStorage storage = storageValue switch
        {
            PicklePersistentRef p => _resolvePersistent(p),
            PickleCall c when _resolveLoadFromBytes is not null && TorchVocabulary.Is(c.Callable, TorchVocabulary.LoadFromBytes) => _resolveLoadFromBytes(c),
            _ => throw Error($"'{name}': storage argument {Describe(storageValue)} is not a storage", call.Offset),
        };
        long offset = Integer(offsetValue, name, "storage offset", call.Offset);
        long[] size = IntTuple(sizeValue, name, "size", call.Offset);
        long[] stride = IntTuple(strideValue, name, "stride", call.Offset);
        if (size.Length != stride.Length)
            throw Error($"'{name}': size has {size.Length} dimensions but stride has {stride.Length}", call.Offset);

        DType dtype = storage.DType;
        long storageElements = storage.ElementCount;
        if (explicitType is { } t && t != dtype)
        {
            // Only an untyped (byte) storage may be reinterpreted with _rebuild_tensor_v3's dtype.
            if (dtype != DType.U8)
                throw Error($"'{name}': dtype {t.DisplayName()} does not match its {dtype.DisplayName()} storage", call.Offset);
            int tb = t.Info().BlockBytes;
            if (tb == 0 || storage.ElementCount % tb != 0)
                throw Error($"'{name}': untyped storage of {storage.ElementCount} bytes is not a whole number of {t.DisplayName()} elements", call.Offset);
            dtype = t;
            storageElements = storage.ElementCount / tb;
        }
        int elementBytes = dtype.Info().BlockBytes;
        long count = 1;
        long maxIndex = offset;
        try
        {
            checked
            {
                for (int d = 0; d < size.Length; d++)
                {
                    count *= size[d];
                    if (size[d] > 0) maxIndex += (size[d] - 1) * stride[d];
                }
            }
        }
        catch (OverflowException)
        {
            throw Error($"'{name}': size {Shape(size)} with stride {Shape(stride)} overflows", call.Offset);
        }
        if (count > 0 && maxIndex >= storageElements)
            throw Error($"'{name}': view (offset {offset}, size {Shape(size)}, stride {Shape(stride)}) reaches element {maxIndex} of a storage of {storageElements}", call.Offset);
        if (offset > storageElements)
            throw Error($"'{name}': storage offset {offset} is past the end of a storage of {storageElements}", call.Offset);

        bool contiguous = Tensor.IsRowMajor(size, stride);
        long byteLength = count == 0 ? 0 : contiguous ? count * elementBytes : (maxIndex - offset + 1) * elementBytes;
        var location = new TensorLocation(storage.Source, storage.ByteOffset + offset * elementBytes, byteLength, contiguous ? null : stride, storage.Entry);
        return new Tensor(name, dtype, size, location);
    }

    private static string Shape(long[] v) => "[" + string.Join(", ", v) + "]";

    private long Integer(PickleValue v, string name, string what, long offset)
    {
        if (v is PickleInt i && i.TryGetInt64(out long l) && l >= 0) return l;
        throw Error($"'{name}': {what} {Describe(v)} is not a non-negative integer", offset);
    }

    private long[] IntTuple(PickleValue v, string name, string what, long offset)
    {
        // torch.Size((2, 3)) appears in some checkpoints in place of a plain tuple.
        if (v is PickleCall c && TorchVocabulary.Is(c.Callable, TorchVocabulary.Size) && c.ArgumentItems.Count == 1) v = c.ArgumentItems[0];
        var items = v switch
        {
            PickleTuple t => t.Items,
            PickleList l => l.Items,
            _ => throw Error($"'{name}': {what} {Describe(v)} is not a tuple", offset),
        };
        if (items.Count > 64)
            throw Error($"'{name}': {what} has {items.Count} dimensions", offset);
        var result = new long[items.Count];
        for (int i = 0; i < result.Length; i++) result[i] = Integer(items[i], name, what, offset);
        return result;
    }

    /// <summary>Reads the ('storage', type, key, location, numel[, view]) persistent id shared by both torch formats.</summary>
    public static (DType DType, string TypeName, string Key, string Location, long Count, PickleValue? View) ParseStorageId(PicklePersistentRef reference, PickleResult pickle)
    {
        LineageException Fail(string m) => new($"persistent id {Describe(reference.Id)}: {m}", pickle.File, reference.Offset, pickle.Entry);
        if (reference.Id is not PickleTuple { Items: var items } || items.Count < 5)
            throw Fail("is not a ('storage', type, key, location, size) tuple");
        if (items[0] is not PickleString { Value: var typename })
            throw Fail("has no type name");
        if (typename != "storage")
            throw Fail(typename == "module" ? "embeds module source code, which a weights file never needs" : $"has unknown type name '{typename}'");
        if (!TorchVocabulary.TryStorageType(items[1], out var dtype, out string typeName))
            throw Fail($"names {typeName}, which is not a storage type");
        if (dtype == DType.Unknown)
            throw Fail($"{typeName} is not a supported element type");
        string key = items[2] switch
        {
            PickleString s => s.Value,
            PickleInt i => i.Value.ToString(CultureInfo.InvariantCulture),
            _ => throw Fail("has a storage key that is not a string"),
        };
        string location = items[3] is PickleString loc ? loc.Value : items[3].ToString();
        if (items[4] is not PickleInt n || !n.TryGetInt64(out long count) || count < 0)
            throw Fail("has a storage size that is not a non-negative integer");
        PickleValue? view = items.Count > 5 && items[5] is not PickleNone ? items[5] : null;
        return (dtype, typeName, key, location, count, view);
    }

    public static BigInteger LegacyMagic { get; } = BigInteger.Parse("119547037146038801333356", CultureInfo.InvariantCulture);
}
