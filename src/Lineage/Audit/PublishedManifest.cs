using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lineage.Audit;

/// <summary>One file a publisher vouches for: its path relative to the model folder and at least one of the digests.</summary>
public sealed record ManifestEntry(string Path, string? Sha256, long? Size, string? GitBlobSha1 = null);

/// <summary>
/// A list of files and digests published for a model, read from any of: a <c>sha256sum</c> list (GNU or BSD
/// style), a Lineage manifest (<c>lineage audit --write-manifest</c>), a Hugging Face file listing (the hub API's
/// tree JSON: <c>lfs.oid</c> SHA-256 for LFS files, git blob ids for the rest), a single Git LFS pointer file, or a
/// folder of them (a clone made with <c>GIT_LFS_SKIP_SMUDGE=1</c>: pointers give the LFS files' SHA-256, other files
/// are hashed as they are).
/// </summary>
public sealed record PublishedManifest(string Source, string Kind, IReadOnlyList<ManifestEntry> Entries)
{
    public const string LineageKey = "lineage_manifest";

    /// <summary>Manifest files larger than this are refused (a manifest is text about files, not data).</summary>
    public const long MaxBytes = 64L << 20;

    public static PublishedManifest Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return ReadPointerTree(path);
        if (!File.Exists(path)) throw new LineageException("no such manifest file or folder", path);
        long length = new FileInfo(path).Length;
        if (length > MaxBytes) throw new LineageException($"manifest of {length} bytes exceeds the {MaxBytes}-byte cap", path, 0);
        byte[] bytes = File.ReadAllBytes(path);
        if (LfsPointer.TryParse(bytes) is { } pointer)
            return new PublishedManifest(path, "lfs-pointer", [new ManifestEntry(Path.GetFileName(path), pointer.Sha256, pointer.Size)]);
        int start = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        int first = start;
        while (first < bytes.Length && bytes[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') first++;
        if (first < bytes.Length && bytes[first] is (byte)'{' or (byte)'[') return ReadJson(path, bytes.AsMemory(start));
        return ReadChecksumList(path, bytes, start);
    }

    /// <summary>
    /// GNU <c>sha256sum</c> lines (<c>HEX␠␠path</c>, <c>HEX␠*path</c>, a leading backslash for escaped names) and BSD
    /// <c>SHA256 (path) = HEX</c> lines; '#' comments and blank lines are skipped. Paths are relative to the audited folder.
    /// </summary>
    private static PublishedManifest ReadChecksumList(string path, byte[] bytes, int start)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException)
        {
            throw new LineageException("manifest is neither JSON nor UTF-8 text", path, 0);
        }
        var entries = new List<ManifestEntry>();
        long offset = start;
        foreach (var rawLine in text.Split('\n'))
        {
            long lineOffset = offset;
            offset += Encoding.UTF8.GetByteCount(rawLine) + 1;
            string line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            entries.Add(ParseChecksumLine(line, path, lineOffset));
        }
        if (entries.Count == 0) throw new LineageException("manifest lists no files", path, 0);
        return new PublishedManifest(path, "sha256sum", Deduplicate(entries, path));
    }

    private static ManifestEntry ParseChecksumLine(string line, string file, long offset)
    {
        if (line.StartsWith("SHA256 (", StringComparison.Ordinal))
        {
            int close = line.LastIndexOf(") = ", StringComparison.Ordinal);
            if (close > 8 && Hex.IsSha256(line[(close + 4)..].Trim()))
                return new ManifestEntry(NormalizePath(line[8..close], file, offset), line[(close + 4)..].Trim().ToLowerInvariant(), null);
            throw new LineageException($"malformed BSD-style line: {Shorten(line)}", file, offset);
        }
        bool escaped = line.StartsWith('\\');
        string body = escaped ? line[1..] : line;
        if (body.Length < 66 || !Hex.IsSha256(body[..64]) || body[64] != ' ' || body[65] is not (' ' or '*'))
            throw new LineageException($"not a sha256sum line (64 hex digits, two spaces or ' *', a path): {Shorten(line)}", file, offset);
        string name = body[66..];
        if (escaped) name = name.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\r", "\r", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
        return new ManifestEntry(NormalizePath(name, file, offset), body[..64].ToLowerInvariant(), null);
    }

    private static PublishedManifest ReadJson(string path, ReadOnlyMemory<byte> json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json.Span, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new LineageException($"manifest is not valid JSON: {e.Message}", path, AbsoluteOffset(json.Span, e.LineNumber, e.BytePositionInLine));
        }
        if (root is JsonObject obj && obj.ContainsKey(LineageKey)) return ReadLineage(path, obj);
        // Hugging Face tree listing: an array of {type, path, size, oid, lfs?: {oid, size}}; also {"siblings": [...]} of the model API.
        var items = root switch
        {
            JsonArray a => a,
            JsonObject o when o["siblings"] is JsonArray s => s,
            _ => throw new LineageException($"JSON manifest is neither a Lineage manifest (\"{LineageKey}\") nor a Hugging Face file listing", path, 0),
        };
        var entries = new List<ManifestEntry>();
        foreach (var item in items)
        {
            if (item is not JsonObject f) throw new LineageException("file listing item is not an object", path, 0);
            if (f["type"]?.GetValueKind() == JsonValueKind.String && (string?)f["type"] is "directory") continue;
            string name = Str(f, "path", path) ?? Str(f, "rfilename", path) ?? throw new LineageException("file listing item has no path", path, 0);
            long? size = Num(f, "size", path);
            string? sha256 = null, sha1 = null;
            if (f["lfs"] is JsonObject lfs)
            {
                sha256 = Str(lfs, "oid", path) ?? Str(lfs, "sha256", path);
                size = Num(lfs, "size", path) ?? size;
                if (sha256 is null || !Hex.IsSha256(sha256)) throw new LineageException($"'{name}': lfs.oid is not a SHA-256", path, 0);
            }
            else if (Str(f, "oid", path) is { } oid)
            {
                if (!Hex.IsSha1(oid)) throw new LineageException($"'{name}': oid is not a git object id", path, 0);
                sha1 = oid;
            }
            if (sha256 is null && sha1 is null && size is null)
                throw new LineageException($"'{name}' has no digest and no size in the listing", path, 0);
            entries.Add(new ManifestEntry(NormalizePath(name, path, 0), sha256?.ToLowerInvariant(), size, sha1?.ToLowerInvariant()));
        }
        if (entries.Count == 0) throw new LineageException("file listing is empty", path, 0);
        return new PublishedManifest(path, "huggingface-listing", Deduplicate(entries, path));
    }

    private static PublishedManifest ReadLineage(string path, JsonObject obj)
    {
        if (obj[LineageKey] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || v.GetValue<int>() != 1)
            throw new LineageException($"unsupported Lineage manifest version {obj[LineageKey]?.ToJsonString()}", path, 0);
        if (obj["files"] is not JsonArray files) throw new LineageException("Lineage manifest has no files array", path, 0);
        var entries = new List<ManifestEntry>();
        foreach (var item in files)
        {
            if (item is not JsonObject f) throw new LineageException("Lineage manifest file entry is not an object", path, 0);
            string name = Str(f, "path", path) ?? throw new LineageException("Lineage manifest entry without a path", path, 0);
            string sha = Str(f, "sha256", path) ?? throw new LineageException($"'{name}' has no sha256", path, 0);
            if (!Hex.IsSha256(sha)) throw new LineageException($"'{name}': sha256 is not 64 hex digits", path, 0);
            entries.Add(new ManifestEntry(NormalizePath(name, path, 0), sha.ToLowerInvariant(), Num(f, "size", path)));
        }
        return new PublishedManifest(path, "lineage", Deduplicate(entries, path));
    }

    private static PublishedManifest ReadPointerTree(string dir)
    {
        var entries = FileInventory.Build(dir).Select(f => f.Pointer is { } p
            ? new ManifestEntry(f.Path, p.Sha256, p.Size)
            : new ManifestEntry(f.Path, f.Sha256, f.Size)).ToList();
        if (entries.Count == 0) throw new LineageException("manifest folder is empty", dir);
        return new PublishedManifest(dir, "lfs-pointers", entries);
    }

    /// <summary>Writes the Lineage manifest of an inventory (paths, sizes, SHA-256), sorted by path.</summary>
    public static void WriteLineage(Stream output, IReadOnlyList<InventoryFile> files, string toolVersion)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(files);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteNumber(LineageKey, 1);
        w.WriteString("created_by", "lineage " + toolVersion);
        w.WriteString("algorithm", "sha256");
        w.WriteStartArray("files");
        foreach (var f in files.Where(f => f.Sha256 is not null).OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteNumber("size", f.Size);
            w.WriteString("sha256", f.Sha256);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static string? Str(JsonObject o, string key, string file)
    {
        var node = o[key];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        throw new LineageException($"'{key}' is not a string", file, 0);
    }

    private static long? Num(JsonObject o, string key, string file)
    {
        var node = o[key];
        if (node is null) return null;
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long n) && n >= 0) return n;
        throw new LineageException($"'{key}' is not a non-negative integer", file, 0);
    }

    /// <summary>Manifest paths are relative, '/'-separated, without '.' or '..' segments (a manifest may not point outside the folder).</summary>
    private static string NormalizePath(string name, string file, long offset)
    {
        string p = name.Replace('\\', '/');
        while (p.StartsWith("./", StringComparison.Ordinal)) p = p[2..];
        if (p.Length == 0 || p.StartsWith('/') || p.Split('/').Any(s => s is "" or "." or ".."))
            throw new LineageException($"manifest path '{Shorten(name)}' is not a plain relative path", file, offset);
        return p;
    }

    private static IReadOnlyList<ManifestEntry> Deduplicate(List<ManifestEntry> entries, string file)
    {
        var seen = new Dictionary<string, ManifestEntry>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (seen.TryGetValue(e.Path, out var prior) && prior != e)
                throw new LineageException($"manifest lists '{e.Path}' twice with different digests", file, 0);
            seen[e.Path] = e;
        }
        return [.. seen.Values];
    }

    private static long? AbsoluteOffset(ReadOnlySpan<byte> text, long? line, long? column)
    {
        if (line is null || column is null) return null;
        long offset = 0;
        for (long l = 0; l < line && offset < text.Length; l++)
        {
            int next = text[(int)offset..].IndexOf((byte)'\n');
            if (next < 0) break;
            offset += next + 1;
        }
        return offset + column;
    }

    private static string Shorten(string s) => s.Length <= 120 ? s : s[..120] + "…";
}

/// <summary>The result of checking an inventory against a published manifest.</summary>
public sealed record ManifestCheck(string Source, string Kind, int Entries, int Verified, IReadOnlyList<string> Mismatched, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>Compares an inventory with a manifest: mismatched digests or sizes, missing files, unexpected files.</summary>
public static class ManifestVerifier
{
    public static ManifestCheck Verify(PublishedManifest manifest, IReadOnlyList<InventoryFile> files, List<AuditFinding> findings)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(findings);
        var byPath = files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        var mismatched = new List<string>();
        var missing = new List<string>();
        int verified = 0;
        foreach (var e in manifest.Entries.OrderBy(e => e.Path, StringComparer.Ordinal))
        {
            if (!byPath.TryGetValue(e.Path, out var f))
            {
                missing.Add(e.Path);
                findings.Add(new AuditFinding(e.Path, Security.Finding.Of(AuditRules.MissingFile, $"{e.Path} is listed in the manifest but not present")));
                continue;
            }
            var problems = new List<string>();
            if (f.Sha256 is null) problems.Add($"could not be hashed ({f.Error})");
            if (e.Size is { } size && size != f.Size) problems.Add(string.Create(CultureInfo.InvariantCulture, $"size {f.Size} bytes, manifest {size}"));
            if (e.Sha256 is { } sha && f.Sha256 is not null && sha != f.Sha256) problems.Add($"SHA-256 {f.Sha256}, manifest {sha}");
            if (e.GitBlobSha1 is { } blob && f.GitBlobSha1 is not null && blob != f.GitBlobSha1) problems.Add($"git blob {f.GitBlobSha1}, listing {blob}");
            if (problems.Count > 0)
            {
                mismatched.Add(e.Path);
                string hint = f.Pointer is not null ? " (the file is a Git LFS pointer, not the content)" : "";
                findings.Add(new AuditFinding(e.Path, Security.Finding.Of(AuditRules.HashMismatch, $"{e.Path} differs from the manifest: {string.Join("; ", problems)}{hint}")));
            }
            else
            {
                verified++;
            }
        }
        var listed = manifest.Entries.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        var unexpected = files.Where(f => !listed.Contains(f.Path)).Select(f => f.Path).ToList();
        foreach (var path in unexpected)
            findings.Add(new AuditFinding(path, Security.Finding.Of(AuditRules.UnexpectedFile, $"{path} is not in the manifest ({manifest.Kind})")));
        return new ManifestCheck(manifest.Source, manifest.Kind, manifest.Entries.Count, verified, mismatched, missing, unexpected);
    }
}
