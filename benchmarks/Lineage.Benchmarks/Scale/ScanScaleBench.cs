using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lineage.IO;
using Lineage.Security;

namespace Lineage.Benchmarks.Scale;

/// <summary>
/// The scan scale protocol (docs/benchmarks.md): write PyTorch zip checkpoints (stored members, tensor data left as
/// file holes) whose pickles and tensor bytes vary independently, then time <c>lineage scan</c> on each and count
/// the bytes it read. Scan cost must follow the pickle, not the tensor bytes.
/// </summary>
public static class ScanScaleBench
{
    private sealed record Case(string Name, Layout Layout, bool TinyTensors, int Copies);

    public static int Run(string[] args)
    {
        string dir = Arg(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "lineage-scan-scale");
        bool keep = args.Contains("--keep");
        int repeats = int.TryParse(Arg(args, "--repeats"), out int r) ? r : 5;
        Directory.CreateDirectory(dir);
        foreach (int n in (int[])[0, 1, 7, 4096, 100_000])
            if (ZeroCrc.Of(n) != Lineage.IO.Zip.Crc32.Append(0, new byte[n])) throw new InvalidOperationException($"zero CRC wrong for {n} bytes");
        var cases = new[]
        {
            new Case("llama-8b, bf16", Layout.Parse("llama-8b"), false, 1),
            new Case("llama-1b, bf16", Layout.Parse("llama-1b"), false, 1),
            new Case("llama-8b names, 1-element tensors", Layout.Parse("llama-8b"), true, 1),
            new Case("llama-8b x4 tensors, 1-element", Layout.Parse("llama-8b"), true, 4),
            new Case("llama-8b x16 tensors, 1-element", Layout.Parse("llama-8b"), true, 16),
        };
        Console.WriteLine($"{"case",-36} {"file",10} {"pickle",10} {"tensors",8} {"wall min",9} {"wall med",9} {"cpu med",9} {"read",11} {"cpu us/KB pkl",13}");
        foreach (var c in cases)
        {
            string path = Path.Combine(dir, c.Name.Replace(' ', '_').Replace(',', '_') + ".pt");
            var sw = Stopwatch.StartNew();
            var (pickleBytes, tensors) = TorchZipWriter.Write(path, c.Layout, c.TinyTensors, c.Copies);
            double generated = sw.Elapsed.TotalSeconds;
            long size = new FileInfo(path).Length;
            var times = new List<double>();
            var cpu = new List<double>();
            long read = 0;
            FileReport? last = null;
            for (int i = 0; i < repeats + 2; i++)
            {
                using var source = RandomAccessFile.Open(path);
                double cpu0 = ThreadCpu.Milliseconds();
                var t = Stopwatch.StartNew();
                last = new Scanner().ScanSource(source, path);
                double ms = t.Elapsed.TotalMilliseconds;
                double cpuMs = ThreadCpu.Milliseconds() - cpu0;
                if (i >= 2)
                {
                    // The first runs warm the JIT.
                    times.Add(ms);
                    cpu.Add(cpuMs);
                }
                read = source.BytesRead;
            }
            times.Sort();
            cpu.Sort();
            double median = cpu[cpu.Count / 2];
            string verdict = last!.Findings.Any(f => f.Severity >= Severity.Low) || last.Status != FileStatus.Scanned ? $"  NOT CLEAN: {last.Status} {string.Join("; ", last.Findings.Select(f => f.Rule))}" : "";
            Console.WriteLine($"{c.Name,-36} {Gb(size),10} {Kb(pickleBytes),10} {tensors,8} {times[0],9:F1} {times[times.Count / 2],9:F1} {median,9:F1} {Kb(read),11} {median * 1000 / (pickleBytes / 1024.0),13:F1}{verdict}  (generated in {generated:F1} s)");
            if (!keep) File.Delete(path);
        }
        if (!keep) Directory.Delete(dir, recursive: true);
        return 0;
    }

    private static string Gb(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";

    private static string Kb(long bytes) => $"{bytes / 1024.0:F1} KiB";

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>CPU time of the calling thread (Linux clock_gettime), so a busy shared machine does not distort the measure.</summary>
internal static partial class ThreadCpu
{
    private const int ClockThreadCpuTime = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    public static double Milliseconds()
    {
        if (!OperatingSystem.IsLinux()) return Stopwatch.GetTimestamp() * 1000.0 / Stopwatch.Frequency;
        return ClockGetTime(ClockThreadCpuTime, out var t) == 0 ? t.Seconds * 1000.0 + t.Nanoseconds / 1e6 : double.NaN;
    }
}

/// <summary>
/// Writes a torch.save-style zip: <c>archive/data.pkl</c> (an OrderedDict of _rebuild_tensor_v2 calls over
/// BFloat16Storage persistent ids), one stored, 64-byte-aligned <c>archive/data/N</c> member per tensor left as a
/// file hole, <c>byteorder</c> and <c>version</c>, with ZIP64 records once offsets pass 4 GiB. CRCs of the zero
/// members are computed with GF(2) matrix powers, so a 16 GB file is written in seconds.
/// </summary>
internal static class TorchZipWriter
{
    private sealed record Member(string Name, long Offset, long Size, uint Crc);

    public static (long PickleBytes, int Tensors) Write(string path, Layout layout, bool tinyTensors, int copies)
    {
        var tensors = new List<(string Name, long[] Shape)>();
        for (int k = 0; k < copies; k++)
            foreach (var (name, shape) in layout.Tensors())
                tensors.Add((copies == 1 ? name : $"copy{k}.{name}", tinyTensors ? [1] : shape));
        byte[] pickle = Pickle(tensors);
        var members = new List<Member>();
        using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        void Add(string name, byte[]? data, long size)
        {
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            long offset = file.Position;
            long dataStart = offset + 30 + nameBytes.Length + 4;
            int pad = (int)((64 - dataStart % 64) % 64);
            uint crc = data is null ? ZeroCrc.Of(size) : Crc(data);
            var header = new byte[30];
            BinaryPrimitives.WriteUInt32LittleEndian(header, 0x04034B50);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 20);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(14), crc);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(18), (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(22), (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(26), (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(28), (ushort)(4 + pad));
            file.Write(header);
            file.Write(nameBytes);
            var extra = new byte[4 + pad];
            BinaryPrimitives.WriteUInt16LittleEndian(extra, 0x4246); // "FB": PyTorch's alignment padding field
            BinaryPrimitives.WriteUInt16LittleEndian(extra.AsSpan(2), (ushort)pad);
            file.Write(extra);
            if (data is not null) file.Write(data);
            else file.Seek(size, SeekOrigin.Current); // a hole: no disk, reads as zeros
            members.Add(new Member(name, offset, size, crc));
        }
        Add("archive/data.pkl", pickle, pickle.Length);
        Add("archive/byteorder", "little"u8.ToArray(), 6);
        for (int i = 0; i < tensors.Count; i++)
            Add($"archive/data/{i}", null, tensors[i].Shape.Aggregate(2L, (a, b) => a * b));
        Add("archive/version", "3\n"u8.ToArray(), 2);
        WriteDirectory(file, members);
        return (pickle.Length, tensors.Count);
    }

    private static void WriteDirectory(FileStream file, List<Member> members)
    {
        long cdStart = file.Position;
        foreach (var m in members)
        {
            byte[] name = Encoding.UTF8.GetBytes(m.Name);
            bool zip64 = m.Offset >= 0xFFFFFFFFL;
            var h = new byte[46];
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014B50);
            BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), 45);
            BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), 20);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(16), m.Crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(20), (uint)m.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(24), (uint)m.Size);
            BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(28), (ushort)name.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(30), (ushort)(zip64 ? 12 : 0));
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(42), zip64 ? 0xFFFFFFFF : (uint)m.Offset);
            file.Write(h);
            file.Write(name);
            if (zip64)
            {
                var extra = new byte[12];
                BinaryPrimitives.WriteUInt16LittleEndian(extra, 1);
                BinaryPrimitives.WriteUInt16LittleEndian(extra.AsSpan(2), 8);
                BinaryPrimitives.WriteUInt64LittleEndian(extra.AsSpan(4), (ulong)m.Offset);
                file.Write(extra);
            }
        }
        long cdEnd = file.Position;
        long cdSize = cdEnd - cdStart;
        bool needs64 = cdStart >= 0xFFFFFFFFL;
        if (needs64)
        {
            var e64 = new byte[56];
            BinaryPrimitives.WriteUInt32LittleEndian(e64, 0x06064B50);
            BinaryPrimitives.WriteUInt64LittleEndian(e64.AsSpan(4), 44);
            BinaryPrimitives.WriteUInt16LittleEndian(e64.AsSpan(12), 45);
            BinaryPrimitives.WriteUInt16LittleEndian(e64.AsSpan(14), 45);
            BinaryPrimitives.WriteUInt64LittleEndian(e64.AsSpan(24), (ulong)members.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(e64.AsSpan(32), (ulong)members.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(e64.AsSpan(40), (ulong)cdSize);
            BinaryPrimitives.WriteUInt64LittleEndian(e64.AsSpan(48), (ulong)cdStart);
            file.Write(e64);
            var locator = new byte[20];
            BinaryPrimitives.WriteUInt32LittleEndian(locator, 0x07064B50);
            BinaryPrimitives.WriteUInt64LittleEndian(locator.AsSpan(8), (ulong)cdEnd);
            BinaryPrimitives.WriteUInt32LittleEndian(locator.AsSpan(16), 1);
            file.Write(locator);
        }
        var end = new byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054B50);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(8), (ushort)Math.Min(members.Count, 0xFFFF));
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(10), (ushort)Math.Min(members.Count, 0xFFFF));
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(12), (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(16), needs64 ? 0xFFFFFFFF : (uint)cdStart);
        file.Write(end);
    }

    /// <summary>What torch.save writes for a state dict: PROTO 2, OrderedDict(), then per tensor name → _rebuild_tensor_v2(…).</summary>
    private static byte[] Pickle(List<(string Name, long[] Shape)> tensors)
    {
        var p = new PickleWriter();
        p.Proto(2).Global("collections", "OrderedDict").Op(')').Op('R');
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, shape) = tensors[i];
            long numel = shape.Aggregate(1L, (a, b) => a * b);
            p.Str(name).Global("torch._utils", "_rebuild_tensor_v2").Op('(');
            p.Op('(').Str("storage").Global("torch", "BFloat16Storage").Str(i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Str("cpu").Int(numel).Op('t').Op('Q');
            p.Int(0).Op('(');
            foreach (long d in shape) p.Int(d);
            p.Op('t').Op('(');
            long stride = 1;
            var strides = new long[shape.Length];
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                strides[d] = stride;
                stride *= shape[d];
            }
            foreach (long s in strides) p.Int(s);
            p.Op('t').Op((char)0x89).Global("collections", "OrderedDict").Op(')').Op('R').Op('t').Op('R').Op('s');
        }
        return p.Op('.').ToArray();
    }

    private sealed class PickleWriter
    {
        private readonly MemoryStream _s = new();

        public PickleWriter Op(char op)
        {
            _s.WriteByte((byte)op);
            return this;
        }

        public PickleWriter Proto(int v)
        {
            _s.WriteByte(0x80);
            _s.WriteByte((byte)v);
            return this;
        }

        public PickleWriter Global(string module, string name)
        {
            _s.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
            return this;
        }

        public PickleWriter Str(string s)
        {
            byte[] b = Encoding.UTF8.GetBytes(s);
            _s.WriteByte((byte)'X');
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
            _s.Write(n);
            _s.Write(b);
            return this;
        }

        public PickleWriter Int(long v)
        {
            _s.WriteByte((byte)'J');
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, checked((int)v));
            _s.Write(n);
            return this;
        }

        public byte[] ToArray() => _s.ToArray();
    }

    private static uint Crc(byte[] data) => Lineage.IO.Zip.Crc32.Append(0, data);
}

/// <summary>CRC-32 of n zero bytes in O(log n): the register update for a zero byte is linear over GF(2).</summary>
internal static class ZeroCrc
{
    private const uint Polynomial = 0xEDB88320;

    public static uint Of(long n)
    {
        // One zero bit: r' = (r >> 1) ^ (r & 1 ? poly : 0). Three squarings make one zero byte.
        var op = new uint[32];
        op[0] = Polynomial;
        for (int i = 1; i < 32; i++) op[i] = 1u << (i - 1);
        for (int k = 0; k < 3; k++) op = Square(op);
        uint register = 0xFFFFFFFF;
        while (n > 0)
        {
            if ((n & 1) != 0) register = Times(op, register);
            op = Square(op);
            n >>= 1;
        }
        return ~register;
    }

    private static uint Times(uint[] matrix, uint vector)
    {
        uint sum = 0;
        for (int i = 0; vector != 0; i++, vector >>= 1)
            if ((vector & 1) != 0) sum ^= matrix[i];
        return sum;
    }

    private static uint[] Square(uint[] matrix)
    {
        var result = new uint[32];
        for (int i = 0; i < 32; i++) result[i] = Times(matrix, matrix[i]);
        return result;
    }
}
