using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lineage.Provenance;

namespace Lineage.Store;

/// <summary>
/// A portable bundle of stored fingerprints: a zip with <c>manifest.json</c> (format
/// "lineage-fingerprint-bundle", version, entries with model id, family, content id, model key, source and
/// creation time) and one <c>fingerprints/&lt;content id&gt;.lfp</c> per distinct fingerprint, byte-exact, so
/// content ids survive the trip and are verified on import. Imports are treated as hostile input: members
/// are read with size caps (a lying zip header cannot inflate memory), unexpected members are ignored, and
/// the whole bundle is imported in one transaction or not at all.
/// </summary>
public static class FingerprintBundle
{
    public const string FormatName = "lineage-fingerprint-bundle";
    public const int CurrentVersion = 1;
    private const long MaxManifestBytes = 256L << 20;
    private const long MaxFingerprintBytes = 512L << 20;
    private const int MaxEntries = 10_000_000;

    /// <summary>Writes every entry of the store to a bundle; returns the number of entries.</summary>
    public static int Export(IFingerprintStore store, string path)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(path);
        var entries = store.List();
        string temp = path + ".partial";
        try
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var zip = new ZipArchive(file, ZipArchiveMode.Create))
            {
                var manifest = new JsonObject
                {
                    ["format"] = FormatName,
                    ["version"] = CurrentVersion,
                    ["entries"] = new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
                    {
                        ["model_id"] = e.ModelId,
                        ["family"] = e.Family,
                        ["content_id"] = e.ContentId,
                        ["model_key"] = e.ModelKey,
                        ["source"] = e.Source,
                        ["created_utc"] = e.Created.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                    })]),
                };
                using (var m = zip.CreateEntry("manifest.json", CompressionLevel.Optimal).Open())
                    m.Write(JsonSerializer.SerializeToUtf8Bytes(manifest, new JsonSerializerOptions { WriteIndented = true }));
                foreach (string contentId in entries.Select(e => e.ContentId).Distinct(StringComparer.Ordinal))
                {
                    var bytes = store.ReadFingerprint(contentId) ?? throw new LineageException($"fingerprint {contentId} is missing", store.Location);
                    using var s = zip.CreateEntry($"fingerprints/{contentId}.lfp", CompressionLevel.Fastest).Open();
                    s.Write(bytes);
                }
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new LineageException($"cannot write bundle: {e.Message}", path, inner: e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        return entries.Count;
    }

    /// <summary>Imports a bundle in one transaction; returns the entries written.</summary>
    public static IReadOnlyList<StoreEntry> Import(IFingerprintStore store, string path, ConflictPolicy conflicts = ConflictPolicy.Fail)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(path);
        FileStream file;
        try
        {
            file = File.OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LineageException($"cannot open: {e.Message}", path, inner: e);
        }
        using (file)
        {
            ZipArchive zip;
            try
            {
                zip = new ZipArchive(file, ZipArchiveMode.Read);
            }
            catch (InvalidDataException e)
            {
                throw new LineageException($"not a fingerprint bundle (zip): {e.Message}", path, 0, inner: e);
            }
            using (zip)
            {
                var manifestEntry = zip.GetEntry("manifest.json") ?? throw new LineageException("bundle has no manifest.json", path);
                var manifest = ParseManifest(ReadCapped(manifestEntry, MaxManifestBytes, path), path);
                var members = zip.Entries.Where(e => e.FullName.StartsWith("fingerprints/", StringComparison.Ordinal))
                    .GroupBy(e => e.FullName, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
                var cache = new Dictionary<string, (Fingerprint Fp, byte[] Bytes)>(StringComparer.Ordinal);
                // Entries sharing a fingerprint reuse one parse; the enumeration runs inside the store's transaction.
                IEnumerable<NewEntry> Entries()
                {
                    foreach (var m in manifest)
                    {
                        if (!cache.TryGetValue(m.ContentId, out var loaded))
                        {
                            string name = $"fingerprints/{m.ContentId}.lfp";
                            if (!members.TryGetValue(name, out var member)) throw new LineageException($"bundle lacks {name} (entry '{m.ModelId}')", path, entry: name);
                            var bytes = ReadCapped(member, MaxFingerprintBytes, path);
                            if (FingerprintSerializer.Id(bytes) != m.ContentId)
                                throw new LineageException($"fingerprint of '{m.ModelId}' does not match its content id (corrupted or altered)", path, entry: name);
                            loaded = (FingerprintSerializer.Deserialize(bytes, $"{path}!{name}"), bytes);
                            if (manifest.Count(x => x.ContentId == m.ContentId) > 1) cache[m.ContentId] = loaded;
                        }
                        yield return new NewEntry
                        {
                            ModelId = m.ModelId, Family = m.Family, Fingerprint = loaded.Fp, Serialized = loaded.Bytes,
                            ModelKey = m.ModelKey, Source = m.Source, Created = m.Created,
                        };
                    }
                }
                return store.Add(Entries(), conflicts);
            }
        }
    }

    private sealed record ManifestEntry(string ModelId, string? Family, string ContentId, string? ModelKey, string? Source, DateTimeOffset? Created);

    private static List<ManifestEntry> ParseManifest(byte[] bytes, string path)
    {
        try
        {
            var root = JsonNode.Parse(bytes) as JsonObject ?? throw new LineageException("manifest is not a JSON object", path, entry: "manifest.json");
            if (root["format"]?.GetValue<string>() != FormatName) throw new LineageException("not a Lineage fingerprint bundle", path, entry: "manifest.json");
            int version = root["version"]?.GetValue<int>() ?? 0;
            if (version != CurrentVersion) throw new LineageException($"bundle version {version} is not supported (this build reads {CurrentVersion})", path, entry: "manifest.json");
            var entries = root["entries"] as JsonArray ?? throw new LineageException("manifest has no entries array", path, entry: "manifest.json");
            if (entries.Count > MaxEntries) throw new LineageException($"manifest lists {entries.Count} entries (limit {MaxEntries})", path, entry: "manifest.json");
            var result = new List<ManifestEntry>(entries.Count);
            foreach (var node in entries)
            {
                var o = node as JsonObject ?? throw new LineageException("manifest entry is not an object", path, entry: "manifest.json");
                string id = o["model_id"]?.GetValue<string>() ?? throw new LineageException("manifest entry has no model_id", path, entry: "manifest.json");
                string content = o["content_id"]?.GetValue<string>() ?? throw new LineageException($"entry '{id}' has no content_id", path, entry: "manifest.json");
                if (content.Length != 64 || !content.All(char.IsAsciiHexDigitLower))
                    throw new LineageException($"entry '{id}' has a malformed content_id", path, entry: "manifest.json");
                DateTimeOffset? created = o["created_utc"]?.GetValue<string>() is { } t
                    && DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var c) ? c : null;
                result.Add(new ManifestEntry(id, o["family"]?.GetValue<string>(), content, o["model_key"]?.GetValue<string>(), o["source"]?.GetValue<string>(), created));
            }
            return result;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new LineageException($"malformed bundle manifest: {e.Message}", path, entry: "manifest.json");
        }
    }

    private static byte[] ReadCapped(ZipArchiveEntry entry, long cap, string path)
    {
        try
        {
            using var stream = entry.Open();
            using var memory = new MemoryStream();
            var buffer = new byte[1 << 16];
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                if (memory.Length + n > cap) throw new LineageException($"bundle member exceeds {cap} bytes", path, entry: entry.FullName);
                memory.Write(buffer, 0, n);
            }
            return memory.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new LineageException($"corrupt bundle member: {e.Message}", path, entry: entry.FullName, inner: e);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }
}
