using System.Security.Cryptography;
using Lineage.Formats;
using Lineage.Formats.Numpy;
using Lineage.Formats.Pickle;
using Lineage.IO;
using Lineage.IO.Zip;
using Lineage.Models;
using Lineage.Numerics;
using Lineage.Security;
using Lineage.Security.Policy;

namespace Lineage.Conversion;

public sealed record ConvertOptions
{
    /// <summary>Allow-list policy the checkpoint's pickles are checked against (all safe profiles by default).</summary>
    public CallablePolicy Policy { get; init; } = CallablePolicy.Default;

    /// <summary>A scanner or policy finding at this severity or worse refuses the conversion.</summary>
    public Severity RefuseAt { get; init; } = Severity.Medium;

    /// <summary>Replace an existing output file.</summary>
    public bool Overwrite { get; init; }
}

/// <summary>One tensor of the converted file, with the SHA-256 of its row-major bytes (equal on both sides when verified).</summary>
public sealed record ConvertedTensor(string Name, string Dtype, long[] Shape, long Bytes, bool Strided, bool SharedStorage, string? Sha256, bool Identical);

/// <summary>What re-opening the output proved.</summary>
public sealed record ConversionVerification(int Tensors, int Identical, long BytesCompared, long ValuesCompared, IReadOnlyList<string> Mismatches)
{
    public bool BitIdentical => Mismatches.Count == 0 && Identical == Tensors;
}

public enum ConversionStatus
{
    /// <summary>Written and verified bit-identical.</summary>
    Converted,

    /// <summary>Refused: the checkpoint names callables outside the allow-list, or the scanner found risks (exit 1).</summary>
    Refused,

    /// <summary>Not converted: unreadable, not a tensor checkpoint, unsupported element types, or verification failed (exit 2).</summary>
    Failed,
}

public sealed record ConversionResult
{
    public required string Source { get; init; }

    public required string Output { get; init; }

    public required ConversionStatus Status { get; init; }

    /// <summary>Why the conversion was refused or failed; null when converted.</summary>
    public string? Reason { get; init; }

    /// <summary>pytorch-zip, pytorch-legacy, pytorch-pickle, npz or npy.</summary>
    public string? SourceFormat { get; init; }

    public string? SourceSha256 { get; init; }

    public string? OutputSha256 { get; init; }

    public long OutputBytes { get; init; }

    /// <summary>Policy and scanner findings that decided a refusal (and lower ones, for the record).</summary>
    public IReadOnlyList<Finding> Findings { get; init; } = [];

    public IReadOnlyList<ConvertedTensor> Tensors { get; init; } = [];

    /// <summary>Entries of the checkpoint that are not tensors (numbers, strings) and were not carried over.</summary>
    public IReadOnlyList<string> NotConverted { get; init; } = [];

    public ConversionVerification? Verification { get; init; }

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Rewrites PyTorch (zip, legacy and plain-pickle) and NumPy (.npy, .npz) checkpoints as safetensors without
/// executing anything. Three gates run first: the scanner (whatever analyzers are registered), the allow-list
/// <see cref="CallablePolicy"/> over every global of every pickle in the file, and the PyTorch reader's strict
/// tensor vocabulary (anything but tensor-rebuild calls, storages, dtypes and OrderedDict is refused). Tensors are
/// copied byte for byte in row-major order (strided views are materialised; tensors sharing a storage become
/// separate tensors). The output is then re-opened with the safetensors reader and every tensor's bytes are
/// compared with a second, element-by-element gather of the source, and its values with the decoded source values.
/// </summary>
public static class SafetensorsConverter
{
    public const string ConvertedBy = "lineage";

    private static readonly string[] ConvertibleFormats = ["pytorch-zip", "pytorch-legacy", "pytorch-pickle", "npz", "npy"];

    public static ConversionResult Convert(string input, string output, ConvertOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new ConvertOptions();
        string file = ResolveInput(input);
        ContainerFormat container;
        using (var probe = RandomAccessFile.Open(file)) container = FormatDetector.Detect(probe);
        string detected = FormatNames.Of(container, TextKind.None);
        ConversionResult Fail(ConversionStatus status, string reason, IReadOnlyList<Finding>? findings = null, string? format = null, string? sha = null) =>
            new() { Source = file, Output = output, Status = status, Reason = reason, Findings = findings ?? [], SourceFormat = format ?? detected, SourceSha256 = sha };
        if (container is not (ContainerFormat.Zip or ContainerFormat.Pickle or ContainerFormat.Npy))
            return Fail(ConversionStatus.Failed, $"{detected} is not a PyTorch or NumPy checkpoint; convert takes .pt/.pth/.bin (zip or legacy) and .npy/.npz");

        if (File.Exists(output) && !options.Overwrite)
            throw new LineageException("output file exists (pass --force to replace it)", output);
        if (Path.GetFullPath(output) == Path.GetFullPath(file))
            throw new LineageException("output would overwrite the input", output);

        // Gate 1 and 2: the scanner and the allow-list policy over every pickle in the file.
        var findings = new List<Finding>();
        var scan = Scanner.Scan([file], new ScanOptions { Policy = options.Policy });
        var scanned = scan.Files.SelectMany(f => f.Findings).ToList();
        findings.AddRange(scanned.Where(f => !ScanRules.IsIntegrityRule(f.Rule) && f.Rule != ScanRules.NoAnalyzer.Id));
        using (var probe = RandomAccessFile.Open(file))
            findings.AddRange(PolicyFindings(probe, options.Policy));
        findings = [.. findings.DistinctBy(f => (f.Rule, f.Offset, f.Entry, f.Message)).OrderByDescending(f => f.Severity)];
        string sourceSha = Sha256File(file);
        var blocking = findings.Where(f => f.Severity >= options.RefuseAt).ToList();
        if (blocking.Count > 0)
            return Fail(ConversionStatus.Refused, $"{blocking.Count} finding(s) at or above {options.RefuseAt.ToString().ToLowerInvariant()}: the file is not a plain tensor checkpoint", findings, sha: sourceSha);
        var unparseable = scan.Files.FirstOrDefault(f => f.Status == FileStatus.Error);
        if (unparseable is not null)
            return Fail(ConversionStatus.Failed, $"the scanner could not parse the file: {unparseable.Error}", findings, sha: sourceSha);

        // Gate 3: the reader's strict tensor vocabulary (a LineageException names the offending global and byte).
        Model model;
        try
        {
            model = ModelLoader.Open(file);
        }
        catch (LineageException e)
        {
            return Fail(ConversionStatus.Failed, $"not a plain tensor checkpoint: {e.Describe()}", findings, sha: sourceSha);
        }
        using (model)
        {
            if (!ConvertibleFormats.Contains(model.Format))
                return Fail(ConversionStatus.Failed, $"{model.Format} is not a PyTorch or NumPy checkpoint; convert takes .pt/.pth/.bin (zip or legacy) and .npy/.npz", findings, model.Format, sourceSha);
            var skipped = model.Diagnostics.Where(d => d.Code is "npy.object-array" or "npy.unsupported-dtype" or "npy.big-endian").ToList();
            if (skipped.Count > 0)
            {
                var objectArrays = skipped.Where(d => d.Code == "npy.object-array").ToList();
                var status = objectArrays.Count > 0 ? ConversionStatus.Refused : ConversionStatus.Failed;
                return Fail(status, "arrays that cannot be converted: " + string.Join("; ", skipped.Select(d => d.Message)), findings, model.Format, sourceSha);
            }
            if (model.Tensors.Count == 0)
                return Fail(ConversionStatus.Failed, "the checkpoint holds no tensors", findings, model.Format, sourceSha);
            foreach (var t in model.Tensors)
                if (SafetensorsStreamWriter.DTypeName(t.DType) is null)
                    return Fail(ConversionStatus.Failed, $"tensor '{t.Name}' has element type {t.DType.DisplayName()}, which safetensors cannot hold", findings, model.Format, sourceSha);

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["format"] = "pt",
                ["converted_by"] = ConvertedBy,
                ["source_sha256"] = sourceSha,
                ["source_format"] = model.Format,
            };
            WriteAtomically(output, stream => SafetensorsStreamWriter.Write(stream, model.Tensors, metadata));

            var shared = SharedStorage(model.Tensors);
            var (verification, hashes) = Verify(model, output);
            var tensors = model.Tensors.Select(t => new ConvertedTensor(t.Name, SafetensorsStreamWriter.DTypeName(t.DType)!, t.Shape, TensorBytes.Length(t),
                !t.IsContiguous, shared.Contains(t.Name), hashes.GetValueOrDefault(t.Name).Sha, hashes.GetValueOrDefault(t.Name).Identical)).ToList();
            var notConverted = model.Metadata.Keys.Where(k => !k.StartsWith("pytorch.", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            var result = new ConversionResult
            {
                Source = file,
                Output = output,
                Status = verification.BitIdentical ? ConversionStatus.Converted : ConversionStatus.Failed,
                Reason = verification.BitIdentical ? null : "verification failed: " + string.Join("; ", verification.Mismatches.Take(5)),
                SourceFormat = model.Format,
                SourceSha256 = sourceSha,
                OutputSha256 = Sha256File(output),
                OutputBytes = new FileInfo(output).Length,
                Findings = findings,
                Tensors = tensors,
                NotConverted = notConverted,
                Verification = verification,
                Metadata = metadata,
            };
            if (!verification.BitIdentical) File.Delete(output);
            return result;
        }
    }

    /// <summary>A folder is accepted when it holds exactly one PyTorch or NumPy weights file.</summary>
    private static string ResolveInput(string input)
    {
        if (File.Exists(input)) return input;
        if (!Directory.Exists(input)) throw new LineageException("no such file or folder", input);
        var candidates = new List<string>();
        foreach (var f in Directory.EnumerateFiles(input).Order(StringComparer.Ordinal))
        {
            if (ModelLoader.IsSidecar(f)) continue;
            using var probe = RandomAccessFile.Open(f);
            if (probe.Length > 0 && FormatDetector.Detect(probe) is ContainerFormat.Zip or ContainerFormat.Pickle or ContainerFormat.Npy) candidates.Add(f);
        }
        return candidates.Count switch
        {
            1 => candidates[0],
            0 => throw new LineageException("the folder holds no PyTorch or NumPy weights file", input),
            _ => throw new LineageException($"the folder holds {candidates.Count} PyTorch/NumPy files ({string.Join(", ", candidates.Select(Path.GetFileName))}); name one", input),
        };
    }

    /// <summary>Names of tensors whose stored bytes overlap another tensor's (views of one storage); each is written as its own copy.</summary>
    private static HashSet<string> SharedStorage(IReadOnlyList<Tensor> tensors)
    {
        var shared = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in tensors.Where(t => t.Location.ByteLength > 0).GroupBy(t => (t.Location.Source, t.Location.Entry)))
        {
            Tensor? reach = null;
            foreach (var t in group.OrderBy(t => t.Location.Offset))
            {
                if (reach is not null && t.Location.Offset < reach.Location.Offset + reach.Location.ByteLength)
                {
                    shared.Add(t.Name);
                    shared.Add(reach.Name);
                }
                if (reach is null || t.Location.Offset + t.Location.ByteLength > reach.Location.Offset + reach.Location.ByteLength) reach = t;
            }
        }
        return shared;
    }

    /// <summary>Every global of every pickle in the file (zip members named *.pkl, stacked legacy pickles, object arrays) against the policy.</summary>
    internal static List<Finding> PolicyFindings(IByteSource source, CallablePolicy policy)
    {
        var findings = new List<Finding>();
        var format = FormatDetector.Detect(source);
        switch (format)
        {
            case ContainerFormat.Zip:
                {
                    ZipReader zip;
                    try
                    {
                        zip = ZipReader.Open(source);
                    }
                    catch (LineageException)
                    {
                        return findings; // the reader reports the structural problem
                    }
                    foreach (var entry in zip.Entries)
                    {
                        if (entry.IsDirectory || !entry.IsReadable) continue;
                        if (entry.Name.EndsWith(".pkl", StringComparison.OrdinalIgnoreCase))
                            CheckPickles(zip.OpenEntry(entry), 0, entry.Name, 1, policy, findings);
                        else if (entry.Name.EndsWith(".npy", StringComparison.Ordinal))
                            CheckObjectArray(zip.OpenEntry(entry), entry.Name, policy, findings);
                    }
                    break;
                }
            case ContainerFormat.Pickle:
                // Legacy torch files stack five pickles (magic, protocol, sys_info, object, storage keys) before raw data.
                CheckPickles(source, 0, null, 5, policy, findings);
                break;
            case ContainerFormat.Npy:
                CheckObjectArray(source, null, policy, findings);
                break;
        }
        return findings;
    }

    private static void CheckObjectArray(IByteSource source, string? entry, CallablePolicy policy, List<Finding> findings)
    {
        NpyHeader header;
        try
        {
            header = NpyReader.ReadHeader(source, entry);
        }
        catch (LineageException)
        {
            return;
        }
        if (header.IsObjectArray && header.DataOffset < source.Length)
            CheckPickles(source, header.DataOffset, entry, 1, policy, findings);
    }

    private static void CheckPickles(IByteSource source, long offset, string? entry, int maxPickles, CallablePolicy policy, List<Finding> findings)
    {
        foreach (var pickle in PickleMachine.RunAll(source, offset, null, entry, maxPickles))
        {
            string? evidence = null;
            foreach (var g in pickle.Globals)
            {
                Finding? finding;
                if (g.IsComputed)
                {
                    finding = new Finding(Severity.High, ScanRules.UnknownCallable.Id, $"global name computed at load time ({g.Computed}): cannot be checked against the allow-list")
                    { Offset = g.Offset, Entry = entry };
                }
                else
                {
                    evidence ??= pickle.Decompile(2000);
                    finding = policy.Evaluate(g.ResolvedModule, g.ResolvedName).ToFinding(g.Offset, entry, evidence);
                }
                if (finding is not null) findings.Add(finding);
            }
        }
    }

    private static void WriteAtomically(string output, Action<Stream> write)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, "." + Path.GetFileName(output) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                write(stream);
            File.Move(temp, output, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Re-opens the written file with the safetensors reader and compares, tensor by tensor: names, dtypes and shapes;
    /// the bytes (source gathered element by element through its strides, output read contiguously); and the decoded
    /// values bit for bit where the type decodes (a second path through the library's own strided reader).
    /// </summary>
    private static (ConversionVerification, Dictionary<string, (string? Sha, bool Identical)>) Verify(Model source, string output)
    {
        var hashes = new Dictionary<string, (string? Sha, bool Identical)>(StringComparer.Ordinal);
        var mismatches = new List<string>();
        long bytesCompared = 0, valuesCompared = 0;
        int identical = 0;
        using var converted = ModelLoader.Open(output);
        var written = converted.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        if (written.Count != source.Tensors.Count)
            mismatches.Add($"output holds {written.Count} tensors, source {source.Tensors.Count}");
        foreach (var t in source.Tensors)
        {
            if (!written.TryGetValue(t.Name, out var o))
            {
                mismatches.Add($"'{t.Name}' is missing from the output");
                continue;
            }
            if (o.DType != t.DType || !o.Shape.SequenceEqual(t.Shape))
            {
                mismatches.Add($"'{t.Name}': {o.DType.DisplayName()} {o.ShapeText} in the output, {t.DType.DisplayName()} {t.ShapeText} in the source");
                continue;
            }
            using var sourceHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var outputHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long firstDifference = -1, position = 0;
            // The source gather drives; the output is read in step, chunk for chunk.
            var outputStream = new ChunkCursor(o);
            TensorBytes.CopyElementwise(t, chunk =>
            {
                sourceHash.AppendData(chunk);
                var other = outputStream.Next(chunk.Length);
                outputHash.AppendData(other);
                if (firstDifference < 0)
                {
                    int diff = chunk.CommonPrefixLength(other);
                    if (diff < chunk.Length) firstDifference = position + diff;
                }
                position += chunk.Length;
            });
            outputStream.Finish();
            bytesCompared += position;
            string sha = System.Convert.ToHexStringLower(sourceHash.GetHashAndReset());
            string shaOut = System.Convert.ToHexStringLower(outputHash.GetHashAndReset());
            bool same = firstDifference < 0 && sha == shaOut && position == TensorBytes.Length(t);
            if (!same) mismatches.Add($"'{t.Name}': bytes differ{(firstDifference >= 0 ? $" from byte {firstDifference} of the tensor" : "")}");
            else if (t.DType.Info().CanDecode && t.ElementCount <= 1L << 28)
            {
                long differing = CompareValues(t, o);
                valuesCompared += t.ElementCount;
                if (differing >= 0)
                {
                    same = false;
                    mismatches.Add($"'{t.Name}': decoded values differ at element {differing}");
                }
            }
            if (same) identical++;
            hashes[t.Name] = (sha, same);
        }
        return (new ConversionVerification(source.Tensors.Count, identical, bytesCompared, valuesCompared, mismatches), hashes);
    }

    /// <summary>Index of the first element whose decoded value differs bit for bit, or -1.</summary>
    private static long CompareValues(Tensor a, Tensor b)
    {
        const int chunk = 1 << 20;
        var x = new float[(int)Math.Min(chunk, a.ElementCount)];
        var y = new float[x.Length];
        for (long start = 0; start < a.ElementCount; start += chunk)
        {
            int n = (int)Math.Min(chunk, a.ElementCount - start);
            a.ReadElements(start, x.AsSpan(0, n));
            b.ReadElements(start, y.AsSpan(0, n));
            for (int i = 0; i < n; i++)
                if (BitConverter.SingleToInt32Bits(x[i]) != BitConverter.SingleToInt32Bits(y[i])) return start + i;
        }
        return -1;
    }

    internal static string Sha256File(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return System.Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Reads a contiguous tensor's bytes in caller-sized pieces.</summary>
    private sealed class ChunkCursor(Tensor tensor)
    {
        private readonly long _total = TensorBytes.Length(tensor);
        private long _position;
        private byte[] _buffer = [];

        public ReadOnlySpan<byte> Next(int length)
        {
            if (_buffer.Length < length) _buffer = new byte[length];
            int n = (int)Math.Min(length, _total - _position);
            if (n > 0) tensor.Location.Source.ReadExactly(tensor.Location.Offset + _position, _buffer.AsSpan(0, n));
            _position += Math.Max(n, 0);
            return _buffer.AsSpan(0, Math.Max(n, 0));
        }

        public void Finish()
        {
            if (_position != _total)
                throw new LineageException($"tensor '{tensor.Name}': {_total - _position} bytes of the output were not compared", tensor.Location.Source.Name, tensor.Location.Offset + _position);
        }
    }
}
