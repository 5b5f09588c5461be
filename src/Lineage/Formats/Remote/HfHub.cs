using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lineage.Formats.HuggingFace;
using Lineage.IO.Http;

namespace Lineage.Formats.Remote;

/// <summary>A file of a repository at a pinned commit.</summary>
internal sealed record HfFile(string Path, long? Size);

/// <summary>A repository revision resolved to its commit: every file is then read at that commit, never at a moving branch.</summary>
internal sealed record HfRevision(string Repo, string Sha, IReadOnlyList<HfFile> Files);

/// <summary>
/// The two Hugging Face Hub endpoints Lineage needs: <c>/api/models/REPO/revision/REV</c> (commit sha and file
/// list) and <c>/REPO/resolve/SHA/FILE</c> (file bytes, usually a redirect to a CDN that honours Range).
/// </summary>
internal sealed partial class HfHub(RemoteOptions options, HttpRangeOptions http, TransferCounters counters)
{
    public Uri Endpoint { get; } = options.HfEndpoint;

    public HfRevision Resolve(HfReference reference, CancellationToken ct = default)
    {
        string revision = reference.Revision ?? "main";
        var url = new Uri($"{Endpoint.ToString().TrimEnd('/')}/api/models/{reference.Repo}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        byte[] body;
        try
        {
            body = HttpTransport.GetWholeAsync(url, options.MaxIndexBytes, http, http.TokenHost ?? Endpoint.Authority, counters, allowMissing: false, ct).GetAwaiter().GetResult()!;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
        {
            throw new LineageException($"cannot reach the Hugging Face API: {HttpTransport.Describe(e)}", url.ToString(), inner: e);
        }
        var root = HfConfigReader.ParseJsonObject(body, url.ToString());
        string? sha = root["sha"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        if (sha is null || !ShaPattern().IsMatch(sha))
            throw new LineageException($"the API did not return a commit sha for {reference.Repo}@{revision}", url.ToString());
        var files = new List<HfFile>();
        if (root["siblings"] is JsonArray siblings)
        {
            foreach (var item in siblings)
            {
                if (item is not JsonObject o || o["rfilename"] is not JsonValue nameValue || !nameValue.TryGetValue(out string? name)) continue;
                if (!HfReference.IsSafeRelativePath(name)) continue;
                long? size = o["size"] is JsonValue sv && sv.TryGetValue(out long n) && n >= 0 ? n : null;
                files.Add(new HfFile(name, size));
            }
        }
        return new HfRevision(reference.Repo, sha, files);
    }

    /// <summary>The resolve URL of a file at a pinned commit (path segments escaped one by one).</summary>
    public Uri FileUrl(HfRevision revision, string path) =>
        new($"{Endpoint.ToString().TrimEnd('/')}/{revision.Repo}/resolve/{revision.Sha}/{string.Join('/', path.Split('/').Select(Uri.EscapeDataString))}");

    [GeneratedRegex("^[0-9a-f]{40}([0-9a-f]{24})?$")]
    private static partial Regex ShaPattern();
}
