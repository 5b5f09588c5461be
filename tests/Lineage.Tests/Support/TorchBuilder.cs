using System.Buffers.Binary;
using System.Numerics;
using Lineage.Formats.Pickle;

namespace Lineage.Tests.Support;

/// <summary>
/// Emits the pickle fragments torch.save writes (tensor rebuild calls with storage persistent ids, OrderedDicts)
/// and wraps them into zip or legacy checkpoints, so reader tests need no Python.
/// </summary>
internal static class TorchBuilder
{
    public static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture);

    private static Action<PickleBuilder> IntTuple(long[] values) => b =>
    {
        b.Mark();
        foreach (long v in values) b.Int(v);
        b.Op(PickleOpcode.Tuple);
    };

    /// <summary>The persistent id tuple ('storage', torch.&lt;type&gt;, key, 'cpu', numel[, None]) followed by BINPERSID.</summary>
    public static PickleBuilder StoragePid(this PickleBuilder b, string storageType, string key, long numel, bool legacyView = false, Action<PickleBuilder>? view = null)
    {
        b.Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel);
        if (legacyView) (view ?? (x => x.None()))(b);
        return b.Op(PickleOpcode.Tuple).Op(PickleOpcode.BinPersId);
    }

    /// <summary><c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())</c>.</summary>
    public static PickleBuilder TensorV2(this PickleBuilder b, Action<PickleBuilder> storage, long offset, long[] size, long[] stride)
    {
        b.Global("torch._utils", "_rebuild_tensor_v2").Mark();
        storage(b);
        b.Int(offset);
        IntTuple(size)(b);
        IntTuple(stride)(b);
        b.Bool(false).Global("collections", "OrderedDict").Tuple().Op(PickleOpcode.Reduce);
        return b.Op(PickleOpcode.Tuple).Op(PickleOpcode.Reduce);
    }

    public static PickleBuilder TensorV2(this PickleBuilder b, string storageType, string key, long numel, long offset, long[] size, long[] stride) =>
        b.TensorV2(x => x.StoragePid(storageType, key, numel), offset, size, stride);

    public static long[] RowMajor(params long[] size)
    {
        var stride = new long[size.Length];
        long s = 1;
        for (int d = size.Length - 1; d >= 0; d--)
        {
            stride[d] = s;
            s *= size[d];
        }
        return stride;
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>A torch zip checkpoint: <c>prefix/data.pkl</c>, <c>prefix/data/&lt;key&gt;</c> members, version and byteorder.</summary>
    public static byte[] Zip(byte[] dataPickle, IEnumerable<(string Key, byte[] Data)> storages, string prefix = "archive/", string byteOrder = "little", bool deflateStorages = false)
    {
        var zip = new ZipBuilder { Alignment = 64 }.Add(prefix + "data.pkl", dataPickle).Add(prefix + "byteorder", System.Text.Encoding.ASCII.GetBytes(byteOrder));
        foreach (var (key, data) in storages) zip.Add(prefix + "data/" + key, data, deflateStorages);
        zip.Add(prefix + "version", "3\n"u8.ToArray());
        zip.Add(prefix + ".data/serialization_id", "1234567890"u8.ToArray());
        return zip.Build();
    }

    /// <summary>A legacy (non-zip) checkpoint: magic, protocol 1001, sys_info, the object pickle, the keys list, then raw storages.</summary>
    public static byte[] Legacy(byte[] mainPickle, IEnumerable<(string Key, long Count, byte[] Data)> storages, bool littleEndian = true)
    {
        var list = storages.ToList();
        var b = new PickleBuilder().Proto(2).Long1(LegacyMagic).Stop()
            .Proto(2).Int(1001).Stop()
            .Proto(2).Op(PickleOpcode.EmptyDict).Mark().Str("protocol_version").Int(1001).Str("little_endian").Bool(littleEndian)
            .Str("type_sizes").Op(PickleOpcode.EmptyDict).Mark().Str("short").Int(2).Str("int").Int(4).Str("long").Int(4).Op(PickleOpcode.SetItems)
            .Op(PickleOpcode.SetItems).Stop()
            .Raw(mainPickle)
            .Proto(2).Op(PickleOpcode.EmptyList).Mark();
        foreach (var (key, _, _) in list) b.Str(key);
        b.Op(PickleOpcode.Appends).Stop();
        foreach (var (_, count, data) in list)
        {
            var n = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(n, count);
            b.Raw(n).Raw(data);
        }
        return b.ToArray();
    }
}
