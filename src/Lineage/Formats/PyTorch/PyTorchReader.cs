using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Numerics;

namespace Lineage.Formats.PyTorch;

/// <summary>
/// PyTorch checkpoints without executing them: the zip format (<c>prefix/data.pkl</c> plus one member per
/// storage), the legacy stacked-pickle format (magic, protocol, sys_info, the object, storage keys, then raw
/// storages), and plain pickles whose storages are nested <c>torch.storage._load_from_bytes</c> blobs. The
/// object pickle runs on the symbolic <see cref="PickleMachine"/> and may only use the tensor-rebuild
/// vocabulary; tensors point into the file (stored zip members are zero-copy slices).
/// </summary>
public static class PyTorchReader
{
    private const string DataPickle = "data.pkl";

    /// <summary>Limits for the small bookkeeping pickles of the legacy format.</summary>
    private static readonly PickleLimits SmallPickle = new() { MaxOpcodes = 1_000_000, MaxStringBytes = 16 << 20 };

    /// <summary>
    /// The object pickle of a torch zip checkpoint: <c>&lt;first folder&gt;/data.pkl</c> as torch reads it, else
    /// the first member named <c>data.pkl</c> under any prefix (including none).
    /// </summary>
    public static ZipEntry? FindDataPickle(ZipReader zip)
    {
        ArgumentNullException.ThrowIfNull(zip);
        if (zip.Entries.Count > 0)
        {
            string first = zip.Entries[0].Name;
            int slash = first.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && zip.Find(first[..(slash + 1)] + DataPickle) is { } torchChoice)
                return torchChoice;
        }
        return zip.Entries.FirstOrDefault(e => e.Name == DataPickle || e.Name.EndsWith("/" + DataPickle, StringComparison.Ordinal));
    }

    /// <summary>True when the source starts with the legacy format's magic-number pickle.</summary>
    public static bool HasLegacyMagic(IByteSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        int n = (int)Math.Min(64, source.Length);
        if (n < 4) return false;
        using var head = new MemoryByteSource(source.Name, source.ReadBytes(0, n));
        var r = PickleMachine.Run(head, 0, new PickleLimits { MaxOpcodes = 8 });
        return r.Completed && r.Root is PickleInt i && i.Value == TorchStateDict.LegacyMagic && r.Globals.Count == 0;
    }

    // ---- zip format ----

    internal static ModelPart ReadZip(ZipReader zip)
    {
        var checkpoint = OpenZip(zip, nested: false);
        var part = new ModelPart("pytorch-zip");
        foreach (var (k, v) in checkpoint.Metadata) part.Metadata[k] = v;
        foreach (var o in zip.Oddities.Where(o => o.Code != "zip.data-descriptor"))
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, o.Code, o.Entry is null ? o.Message : $"{o.Entry}: {o.Message}", zip.Source.Name, o.Offset));
        TorchStateDict.Flatten(checkpoint.Pickle, checkpoint.Resolve, null, part);
        return part;
    }

    private sealed record Checkpoint(PickleResult Pickle, Func<PicklePersistentRef, TorchStorage> Resolve, Dictionary<string, JsonNode?> Metadata);

    private static Checkpoint OpenZip(ZipReader zip, bool nested)
    {
        string file = zip.Source.Name;
        var dataPickle = FindDataPickle(zip) ?? throw new LineageException("zip archive has no data.pkl member", file, 0);
        string prefix = dataPickle.Name[..^DataPickle.Length];
        var metadata = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);

        string? byteOrder = ReadSmallText(zip, prefix + "byteorder");
        if (byteOrder is not null && byteOrder != "little")
            throw new LineageException($"checkpoint byte order is '{byteOrder}'; only little-endian checkpoints are supported", file, zip.Find(prefix + "byteorder")!.DataOffset, prefix + "byteorder");
        if (!nested)
        {
            string? version = ReadSmallText(zip, prefix + ".data/version") ?? ReadSmallText(zip, prefix + "version");
            if (version is not null) metadata["pytorch.format_version"] = version;
            string? id = ReadSmallText(zip, prefix + ".data/serialization_id");
            if (id is not null) metadata["pytorch.serialization_id"] = id;
        }

        var pickle = PickleMachine.Run(zip.OpenEntry(dataPickle), 0, null, dataPickle.Name);
        TorchStateDict.CheckVocabulary(pickle, allowLoadFromBytes: false);

        var storages = new Dictionary<string, TorchStorage>(StringComparer.Ordinal);
        TorchStorage Resolve(PicklePersistentRef reference)
        {
            var (dtype, typeName, key, _, count, view) = TorchStateDict.ParseStorageId(reference, pickle);
            if (view is not null)
                throw new LineageException($"storage '{key}' has legacy view metadata inside a zip checkpoint", file, reference.Offset, dataPickle.Name);
            if (storages.TryGetValue(key, out var known))
            {
                if (known.DType != dtype || known.ElementCount != count)
                    throw new LineageException($"storage '{key}' is referenced as {typeName} of {count} elements and as {known.DType.DisplayName()} of {known.ElementCount}", file, reference.Offset, dataPickle.Name);
                return known;
            }
            string memberName = prefix + "data/" + key;
            var member = zip.Find(memberName)
                ?? throw new LineageException($"storage '{key}' has no member '{memberName}'", file, reference.Offset, dataPickle.Name);
            var data = zip.OpenEntry(member);
            long bytes = dtype.ByteCount(count);
            if (bytes < 0 || bytes > data.Length)
                throw new LineageException($"storage '{key}' needs {count} x {dtype.DisplayName()} = {bytes} bytes but its member holds {data.Length}", file, member.DataOffset, member.Name);
            var storage = new TorchStorage(data, 0, count, dtype, key, member.Name);
            storages[key] = storage;
            return storage;
        }
        return new Checkpoint(pickle, Resolve, metadata);
    }

    private static string? ReadSmallText(ZipReader zip, string name)
    {
        var entry = zip.Find(name);
        if (entry is null || !entry.IsReadable || entry.UncompressedSize > 4096) return null;
        var data = zip.OpenEntry(entry);
        if (data.Length > 4096) return null;
        return Encoding.UTF8.GetString(data.ReadBytes(0, data.Length)).Trim();
    }

    // ---- legacy format ----

    /// <summary>A non-zip pickle: the legacy stacked format when it starts with the magic number, else a plain pickled state dict.</summary>
    internal static ModelPart ReadPickle(IByteSource source) => HasLegacyMagic(source) ? ReadLegacy(source) : ReadRawPickle(source);

    internal static ModelPart ReadLegacy(IByteSource source)
    {
        var checkpoint = OpenLegacy(source, nested: false, out long end);
        var part = new ModelPart("pytorch-legacy");
        foreach (var (k, v) in checkpoint.Metadata) part.Metadata[k] = v;
        if (end < source.Length)
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "pytorch.trailing-bytes", $"{source.Length - end} bytes follow the last storage", source.Name, end));
        TorchStateDict.Flatten(checkpoint.Pickle, checkpoint.Resolve, null, part);
        return part;
    }

    private static PickleResult RunSmall(IByteSource source, long offset, string what)
    {
        var r = PickleMachine.Run(source, offset, SmallPickle);
        if (r.Error is not null)
            throw new LineageException($"legacy checkpoint {what} pickle: {r.Error.Message}", source.Name, r.Error.Offset);
        if (r.Globals.Count > 0 || r.Events.Count > 0)
            throw new LineageException($"legacy checkpoint {what} pickle names globals or calls ({r.Globals.FirstOrDefault()?.FullName ?? r.Events[0].Kind.ToString()})", source.Name, r.Globals.FirstOrDefault()?.Offset ?? r.Events[0].Offset);
        return r;
    }

    private static Checkpoint OpenLegacy(IByteSource source, bool nested, out long end)
    {
        string file = source.Name;
        var magic = RunSmall(source, 0, "magic-number");
        if (magic.Root is not PickleInt m || m.Value != TorchStateDict.LegacyMagic)
            throw new LineageException("not a legacy torch checkpoint (magic number missing)", file, 0);
        var protocol = RunSmall(source, magic.EndOffset, "protocol-version");
        if (protocol.Root is not PickleInt p || p.Value != 1001)
            throw new LineageException($"unsupported legacy protocol version {protocol.Root}", file, magic.EndOffset);
        var sysInfo = RunSmall(source, protocol.EndOffset, "sys_info");
        var metadata = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (sysInfo.Root is PickleDict info)
        {
            if (info.Get("little_endian") is PickleBool { Value: false })
                throw new LineageException("legacy checkpoint was written on a big-endian machine; not supported", file, protocol.EndOffset);
            if (!nested && info.Get("protocol_version") is PickleInt pv && pv.TryGetInt64(out long pvl))
                metadata["pytorch.legacy_protocol_version"] = pvl;
        }
        else
        {
            throw new LineageException("legacy checkpoint sys_info is not a dict", file, protocol.EndOffset);
        }

        var main = PickleMachine.Run(source, sysInfo.EndOffset);
        TorchStateDict.CheckVocabulary(main, allowLoadFromBytes: false);
        var keysPickle = RunSmall(source, main.EndOffset, "storage-keys");
        var keys = keysPickle.Root switch
        {
            PickleList l => l.Items,
            PickleTuple t => t.Items,
            _ => throw new LineageException("legacy checkpoint storage-keys pickle is not a list", file, main.EndOffset),
        };

        // Root storages as the persistent ids describe them (type and element count).
        var declared = new Dictionary<string, (DType DType, long Count, long Offset)>(StringComparer.Ordinal);
        foreach (var e in main.Events)
        {
            if (e.Result is not PicklePersistentRef reference) continue;
            var (dtype, typeName, key, _, count, view) = TorchStateDict.ParseStorageId(reference, main);
            if (view is not null) continue;
            if (declared.TryGetValue(key, out var known) && (known.DType != dtype || known.Count != count))
                throw new LineageException($"storage '{key}' is declared as {typeName} of {count} elements and as {known.DType.DisplayName()} of {known.Count}", file, reference.Offset);
            declared[key] = (dtype, count, reference.Offset);
        }

        // Raw storages follow the keys pickle in key order: u64 element count, then the elements.
        var storages = new Dictionary<string, TorchStorage>(StringComparer.Ordinal);
        long pos = keysPickle.EndOffset;
        Span<byte> countBytes = stackalloc byte[8];
        foreach (var keyValue in keys)
        {
            if (keyValue is not PickleString { Value: var key })
                throw new LineageException($"storage key {keyValue} is not a string", file, keyValue.Offset);
            if (!declared.TryGetValue(key, out var d))
                throw new LineageException($"storage key '{key}' is listed but no tensor uses it", file, keyValue.Offset);
            if (storages.ContainsKey(key))
                throw new LineageException($"storage key '{key}' is listed twice", file, keyValue.Offset);
            if (source.Length - pos < 8)
                throw new LineageException($"storage '{key}': file ends before its element count", file, pos);
            source.ReadExactly(pos, countBytes);
            ulong count = BinaryPrimitives.ReadUInt64LittleEndian(countBytes);
            if (count != (ulong)d.Count)
                throw new LineageException($"storage '{key}' holds {count} elements but its persistent id says {d.Count}", file, pos);
            long bytes = d.DType.ByteCount(d.Count);
            if (bytes < 0 || bytes > source.Length - pos - 8)
                throw new LineageException($"storage '{key}': {d.Count} x {d.DType.DisplayName()} runs past the end of the file", file, pos);
            storages[key] = new TorchStorage(source, pos + 8, d.Count, d.DType, key, null);
            pos += 8 + bytes;
        }
        foreach (var (key, d) in declared)
            if (!storages.ContainsKey(key))
                throw new LineageException($"storage '{key}' is used but missing from the storage-keys list", file, d.Offset);
        end = pos;

        TorchStorage Resolve(PicklePersistentRef reference)
        {
            var (_, _, key, _, _, view) = TorchStateDict.ParseStorageId(reference, main);
            if (view is null) return storages[key];
            // Old torch saved storage views as (view_key, element offset, element count) into the root storage.
            if (view is not PickleTuple { Items: [PickleString, PickleInt vo, PickleInt vs] }
                || !vo.TryGetInt64(out long viewOffset) || !vs.TryGetInt64(out long viewCount) || viewOffset < 0 || viewCount < 0)
                throw new LineageException($"storage '{key}' has malformed view metadata {view}", file, reference.Offset);
            var root = storages[key];
            if (viewOffset > root.ElementCount || viewCount > root.ElementCount - viewOffset)
                throw new LineageException($"storage view [{viewOffset}, +{viewCount}) lies outside storage '{key}' of {root.ElementCount} elements", file, reference.Offset);
            return root with { ByteOffset = root.ByteOffset + root.DType.ByteCount(viewOffset), ElementCount = viewCount };
        }
        return new Checkpoint(main, Resolve, metadata);
    }

    // ---- plain pickle ----

    internal static ModelPart ReadRawPickle(IByteSource source)
    {
        string file = source.Name;
        var pickle = PickleMachine.Run(source, 0);
        TorchStateDict.CheckVocabulary(pickle, allowLoadFromBytes: true);
        var part = new ModelPart("pytorch-pickle");
        if (pickle.EndOffset < source.Length)
            part.Diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "pickle.trailing-bytes", $"{source.Length - pickle.EndOffset} bytes follow the pickle", file, pickle.EndOffset));

        var cache = new Dictionary<PickleBytes, TorchStorage>(ReferenceEqualityComparer.Instance);
        TorchStorage ResolvePersistent(PicklePersistentRef reference) =>
            throw new LineageException("a plain pickle cannot resolve persistent ids (only torch.save files have storages)", file, reference.Offset);
        TorchStorage ResolveLoadFromBytes(PickleCall call)
        {
            if (call.ArgumentItems is not [PickleBytes blob])
                throw new LineageException("torch.storage._load_from_bytes without a bytes argument", file, call.Offset);
            if (cache.TryGetValue(blob, out var known)) return known;
            var storage = ReadNestedStorage(new SliceByteSource(source, blob.DataOffset, blob.Value.Length, file), call.Offset);
            cache[blob] = storage;
            return storage;
        }
        TorchStateDict.Flatten(pickle, ResolvePersistent, ResolveLoadFromBytes, part);
        if (part.Tensors.Count == 0)
            throw new LineageException("pickle holds no tensors", file, 0);
        return part;
    }

    /// <summary>A storage pickled on its own (<c>torch.save(storage)</c> bytes inside a plain pickle): zip or legacy format.</summary>
    private static TorchStorage ReadNestedStorage(IByteSource blob, long callOffset)
    {
        Checkpoint checkpoint;
        try
        {
            if (blob.Length >= 4 && blob.ReadBytes(0, 4).AsSpan().SequenceEqual("PK\x03\x04"u8))
                checkpoint = OpenZip(ZipReader.Open(blob), nested: true);
            else
                checkpoint = OpenLegacy(blob, nested: true, out _);
        }
        catch (LineageException e)
        {
            throw new LineageException($"nested storage at byte {callOffset}: {e.Message}", blob.Name, e.Offset, e.Entry, e);
        }
        if (checkpoint.Pickle.Root is not PicklePersistentRef root)
            throw new LineageException("nested torch.save bytes do not hold a storage", blob.Name, callOffset);
        return checkpoint.Resolve(root);
    }
}
