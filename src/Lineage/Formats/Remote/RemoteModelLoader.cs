using System.Text.Json.Nodes;
using Lineage.Formats.HuggingFace;
using Lineage.IO;
using Lineage.IO.Http;
using Lineage.Models;

namespace Lineage.Formats.Remote;

/// <summary>
/// Opens models that live on a server, without downloading them: <c>hf://ORG/NAME[@REVISION][/FILE]</c> (a Hugging
/// Face repository, pinned to the commit its revision points at when opened) and plain http(s) URLs of a weights
/// file or a sharded index. Weights are <see cref="HttpRangeSource"/>s, read with range requests as readers ask;
/// config and tokenizer files are small and fetched whole into a staging folder, so the very same code as for a
/// local folder (<see cref="ModelLoader.Assemble"/>) builds the <see cref="Model"/>.
/// </summary>
public static class RemoteModelLoader
{
    /// <summary>Tokenizer and config files a plain-URL index may have beside it (there is no listing to ask).</summary>
    private static readonly string[] GuessedSidecars =
    [
        "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "tokenizer.model", "vocab.txt", "vocab.json", "merges.txt", "chat_template.jinja",
    ];

    public static bool IsRemote(string path) =>
        path is not null && (path.StartsWith(HfReference.Scheme, StringComparison.OrdinalIgnoreCase)
            || path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    public static Model Open(string path, RemoteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var session = new Session(options ?? RemoteOptions.FromEnvironment());
        try
        {
            if (path.StartsWith(HfReference.Scheme, StringComparison.OrdinalIgnoreCase)) return session.OpenHf(HfReference.Parse(path));
            if (!Uri.TryCreate(path, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw new LineageException("not an http(s) URL", path);
            return session.OpenUrl(uri);
        }
        catch
        {
            session.Abandon();
            throw;
        }
    }

    /// <summary>Files that are fetched whole and staged: configuration and tokenizer files.</summary>
    internal static bool IsStaged(string fileName) =>
        fileName.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)
        || fileName.EndsWith(".model", StringComparison.OrdinalIgnoreCase) || fileName.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase)
        || fileName.EndsWith(".jinja", StringComparison.OrdinalIgnoreCase) || fileName.Contains(".model.v", StringComparison.OrdinalIgnoreCase);

    /// <summary>A file to fetch into the staging folder; optional ones may be missing (404).</summary>
    private sealed record Sidecar(string FileName, Uri Url, long? Size, bool Optional);

    /// <summary>Everything opened for one model, so that a failure halfway releases it all.</summary>
    private sealed class Session(RemoteOptions options)
    {
        private readonly TransferCounters _counters = new();
        private readonly HttpRangeOptions _http = options.HttpWithToken();
        private readonly List<HttpRangeSource> _opened = [];

        public Model OpenHf(HfReference reference)
        {
            var hub = new HfHub(options, _http, _counters);
            var revision = hub.Resolve(reference);
            string modelPath = $"hf://{revision.Repo}@{revision.Sha}" + (reference.File is null ? "" : "/" + reference.File);
            Uri UrlOf(string path) => hub.FileUrl(revision, path);

            if (reference.File is { } file)
            {
                var entry = revision.Files.FirstOrDefault(f => f.Path == file)
                    ?? throw new LineageException($"{revision.Repo} at {revision.Sha} has no file '{file}'", modelPath);
                string folder = FolderOf(file);
                var siblings = revision.Files.Where(f => FolderOf(f.Path) == folder).ToList();
                if (file.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
                    return OpenIndex(modelPath, UrlOf(entry.Path), shard => ListedShard(revision, folder + shard, modelPath, UrlOf), ListedSidecars(siblings, entry.Path, UrlOf), Others(siblings, UrlOf));
                return Build(modelPath, [Open(UrlOf(file))], sidecars: null, leading: [], trailing: []);
            }

            var top = revision.Files.Where(f => !f.Path.Contains('/', StringComparison.Ordinal)).ToList();
            foreach (var indexName in ModelLoader.IndexNames)
            {
                if (top.FirstOrDefault(f => f.Path == indexName) is { } index)
                    return OpenIndex(modelPath, UrlOf(index.Path), shard => ListedShard(revision, shard, modelPath, UrlOf), ListedSidecars(top, index.Path, UrlOf), Others(top, UrlOf));
            }
            return OpenFolder(modelPath, top, UrlOf);
        }

        public Model OpenUrl(Uri uri)
        {
            string path = uri.AbsolutePath;
            if (!path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
                return Build(uri.ToString(), [Open(uri)], sidecars: null, leading: [], trailing: []);
            var sidecars = GuessedSidecars.Select(name => new Sidecar(name, Sibling(uri, name), null, Optional: true)).ToList();
            return OpenIndex(uri.ToString(), uri, shard => Sibling(uri, shard), sidecars, []);
        }

        /// <summary>Releases everything opened so far (the model was not built).</summary>
        public void Abandon()
        {
            foreach (var source in _opened) source.Dispose();
            _counters.Dispose();
        }

        /// <summary>A folder: the preferred weight format among the files that are not sidecars, detected from content.</summary>
        private Model OpenFolder(string modelPath, List<HfFile> files, Func<string, Uri> urlOf)
        {
            var candidates = files.Where(f => !ModelLoader.IsSidecar(f.Path)).OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
            if (candidates.Count > options.MaxWeightFiles)
                throw new LineageException($"repository holds {candidates.Count} candidate weights files (limit {options.MaxWeightFiles})", modelPath);
            var sources = OpenAll([.. candidates.Select(f => urlOf(f.Path))]);
            var formats = sources.Select(FormatDetector.Detect).ToList();
            var chosen = ModelLoader.WeightPreference
                .Select(format => sources.Where((_, i) => formats[i] == format).ToList())
                .FirstOrDefault(list => list.Count > 0) ?? [];
            if (chosen.Count > 1 && chosen.Select(FormatDetector.Detect).First() == ContainerFormat.Gguf)
            {
                foreach (var source in sources) source.Dispose();
                throw new LineageException($"the repository holds {chosen.Count} GGUF files ({string.Join(", ", chosen.Take(5).Select(c => FileNameOf(new Uri(c.Name).AbsolutePath)))}{(chosen.Count > 5 ? ", …" : "")}); name one: {modelPath}/FILE", modelPath);
            }
            foreach (var unused in sources.Except(chosen))
            {
                _counters.Add(unused);
                unused.Dispose();
                _opened.Remove(unused);
            }
            var chosenNames = chosen.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
            var sidecars = ListedSidecars(files, null, urlOf);
            var staged = sidecars.Select(s => s.FileName).ToHashSet(StringComparer.Ordinal);
            var others = files.Where(f => !staged.Contains(f.Path) && !chosenNames.Contains(urlOf(f.Path).ToString()))
                .Select(f => new ModelFile(urlOf(f.Path).ToString(), f.Size ?? 0, "other")).ToList();
            return Build(modelPath, chosen, sidecars, leading: [], trailing: others);
        }

        private Model OpenIndex(string modelPath, Uri indexUrl, Func<string, Uri> shardUrl, List<Sidecar> sidecars, List<(string FileName, ModelFile File)> others)
        {
            string name = indexUrl.ToString();
            var bytes = Fetch(indexUrl, options.MaxIndexBytes, optional: false)!;
            var root = HfConfigReader.ParseJsonObject(bytes, name);
            if (root["weight_map"] is not JsonObject map)
                throw new LineageException("sharded index has no weight_map object", name);
            var shards = new List<Uri>();
            foreach (var (_, value) in map)
            {
                string shard = value is JsonValue v && v.TryGetValue(out string? s) ? s : throw new LineageException("weight_map value is not a file name", name);
                if (!HfReference.IsSafeRelativePath(shard))
                    throw new LineageException($"shard '{shard}' escapes the model folder", name);
                var url = shardUrl(shard);
                if (!shards.Contains(url)) shards.Add(url);
            }
            if (shards.Count > options.MaxWeightFiles)
                throw new LineageException($"index names {shards.Count} shards (limit {options.MaxWeightFiles})", name);
            var sources = OpenAll(shards);
            var shardNames = shards.Select(u => u.ToString()).ToHashSet(StringComparer.Ordinal);
            var trailing = others.Where(o => !shardNames.Contains(o.File.Path) && o.File.Path != name).Select(o => o.File).ToList();
            return Build(modelPath, sources, sidecars, [new ModelFile(name, bytes.Length, "index")], trailing);
        }

        private Model Build(string modelPath, List<HttpRangeSource> weights, List<Sidecar>? sidecars, List<ModelFile> leading, List<ModelFile> trailing)
        {
            string staging = Path.Combine(Path.GetTempPath(), "lineage-remote-" + Guid.NewGuid().ToString("N")[..16]);
            Directory.CreateDirectory(staging);
            try
            {
                var diagnostics = new List<Diagnostic>();
                var shown = new Dictionary<string, string>(StringComparer.Ordinal);
                if (sidecars is not null) Stage(sidecars, staging, shown, diagnostics, trailing);
                var model = ModelLoader.Assemble(new ModelInputs
                {
                    ModelPath = modelPath,
                    Weights = [.. weights.Select(w => new WeightInput(w.Name, () => w))],
                    Dir = staging,
                    SidecarDir = sidecars is null ? null : staging,
                    LeadingFiles = leading,
                    TrailingFiles = trailing,
                    DisplayName = p => shown.GetValueOrDefault(p, p),
                    Owned = [_counters],
                    Diagnostics = diagnostics,
                });
                _opened.Clear();
                return model;
            }
            finally
            {
                try
                {
                    Directory.Delete(staging, recursive: true);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        /// <summary>Fetches config and tokenizer files in parallel into the staging folder (bounded in count and size).</summary>
        private void Stage(List<Sidecar> sidecars, string staging, Dictionary<string, string> shown, List<Diagnostic> diagnostics, List<ModelFile> trailing)
        {
            var accepted = new List<Sidecar>();
            foreach (var s in sidecars)
            {
                if (s.Size > options.MaxSidecarBytes || accepted.Count >= options.MaxSidecarFiles)
                {
                    diagnostics.Add(new Diagnostic(DiagnosticLevel.Warning, "remote.sidecar-skipped",
                        $"{s.FileName} was not fetched ({(s.Size > options.MaxSidecarBytes ? $"{s.Size} bytes, limit {options.MaxSidecarBytes}" : $"more than {options.MaxSidecarFiles} sidecar files")})", s.Url.ToString()));
                    trailing.Add(new ModelFile(s.Url.ToString(), s.Size ?? 0, "other"));
                    continue;
                }
                accepted.Add(s);
            }
            var contents = new byte[]?[accepted.Count];
            RunParallel(accepted.Count, i => contents[i] = Fetch(accepted[i].Url, options.MaxSidecarBytes, accepted[i].Optional));
            for (int i = 0; i < accepted.Count; i++)
            {
                if (contents[i] is not { } bytes) continue;
                string local = Path.Combine(staging, accepted[i].FileName);
                File.WriteAllBytes(local, bytes);
                shown[local] = accepted[i].Url.ToString();
            }
        }

        private List<Sidecar> ListedSidecars(List<HfFile> files, string? except, Func<string, Uri> urlOf) =>
            [.. files.Where(f => f.Path != except && IsStaged(FileNameOf(f.Path)) && IsPlainFileName(FileNameOf(f.Path)))
                .Select(f => new Sidecar(FileNameOf(f.Path), urlOf(f.Path), f.Size, Optional: false))];

        private static List<(string FileName, ModelFile File)> Others(List<HfFile> files, Func<string, Uri> urlOf) =>
            [.. files.Where(f => !IsStaged(FileNameOf(f.Path))).Select(f => (FileNameOf(f.Path), new ModelFile(urlOf(f.Path).ToString(), f.Size ?? 0, "other")))];

        private static Uri ListedShard(HfRevision revision, string path, string modelPath, Func<string, Uri> urlOf)
        {
            if (!revision.Files.Any(f => f.Path == path))
                throw new LineageException($"the index names shard '{path}', which {revision.Repo} at {revision.Sha} does not have", modelPath);
            return urlOf(path);
        }

        private HttpRangeSource Open(Uri url)
        {
            var source = HttpRangeSource.Open(url, _http);
            _opened.Add(source);
            return source;
        }

        /// <summary>Opens sources in parallel (each open is a round trip); the cache budget is shared between them.</summary>
        private List<HttpRangeSource> OpenAll(List<Uri> urls)
        {
            var http = _http.With(cacheBytes: Math.Max(16L << 20, _http.CacheBytes / Math.Max(1, urls.Count)));
            var result = new HttpRangeSource?[urls.Count];
            try
            {
                RunParallel(urls.Count, i => result[i] = HttpRangeSource.Open(urls[i], http));
            }
            finally
            {
                _opened.AddRange(result.OfType<HttpRangeSource>());
            }
            return [.. result.OfType<HttpRangeSource>()];
        }

        private byte[]? Fetch(Uri url, long maxBytes, bool optional)
        {
            try
            {
                return HttpTransport.GetWholeAsync(url, maxBytes, _http, _http.TokenHost ?? url.Authority, _counters, optional, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (LineageException)
            {
                throw;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
            {
                throw new LineageException($"HTTP fetch failed: {HttpTransport.Describe(e)}", url.ToString(), inner: e);
            }
        }

        private void RunParallel(int count, Action<int> body)
        {
            try
            {
                ParallelWork.For(count, body, _http.MaxParallelRequests);
            }
            catch (Exception e) when (e is not LineageException)
            {
                throw new LineageException($"remote read failed: {e.Message}", inner: e);
            }
        }
    }

    /// <summary>A file beside <paramref name="baseUrl"/> (each path segment escaped, so a name cannot change scheme or host).</summary>
    private static Uri Sibling(Uri baseUrl, string relativePath)
    {
        var url = new Uri(baseUrl, string.Join('/', relativePath.Split('/').Select(Uri.EscapeDataString)));
        if (url.Scheme != baseUrl.Scheme || url.Authority != baseUrl.Authority)
            throw new LineageException($"'{relativePath}' does not stay on the index's server", baseUrl.ToString());
        return url;
    }

    private static string FolderOf(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..(slash + 1)];
    }

    private static string FileNameOf(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>Safe as a file name in the staging folder.</summary>
    private static bool IsPlainFileName(string name) =>
        name.Length is > 0 and <= 200 && !name.StartsWith('.') && name.IndexOfAny(['/', '\\', ':', '\0']) < 0;
}
