using System.Text.Encodings.Web;
using System.Text.Json;
using Lineage.Supply.Manifests;

namespace Lineage.Supply;

/// <summary>A component as compared: identity key (purl without version, or type/group/name), name, version, hashes.</summary>
public sealed record BomEntry(string Key, string Type, string Name, string? Version, string? Purl, IReadOnlyList<string> Hashes);

/// <summary>A component present in both BOMs whose version or hashes differ.</summary>
public sealed record BomChange(string Key, string Name, string? OldVersion, string? NewVersion, bool HashesChanged, string? OldPurl, string? NewPurl);

public sealed record BomDiffResult(IReadOnlyList<BomEntry> Added, IReadOnlyList<BomEntry> Removed, IReadOnlyList<BomChange> Changed, int OldCount, int NewCount)
{
    public bool Identical => Added.Count == 0 && Removed.Count == 0 && Changed.Count == 0;
}

/// <summary>
/// Components added, removed and changed between two CycloneDX JSON BOMs (metadata.component and every
/// component, nested ones included). A component's identity is its purl without the version (qualifiers such
/// as arch kept), else type + group + name; a change is a different version or a different set of hashes.
/// </summary>
public static class BomDiff
{
    private const int MaxComponents = 2_000_000;
    private const int MaxNesting = 64;

    public static BomDiffResult Compare(string oldBom, string newBom)
    {
        ArgumentNullException.ThrowIfNull(oldBom);
        ArgumentNullException.ThrowIfNull(newBom);
        return Compare(Read(oldBom), Read(newBom));
    }

    public static BomDiffResult Compare(IReadOnlyList<BomEntry> before, IReadOnlyList<BomEntry> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var oldByKey = before.GroupBy(e => e.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var newByKey = after.GroupBy(e => e.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var added = new List<BomEntry>();
        var removed = new List<BomEntry>();
        var changed = new List<BomChange>();
        foreach (var key in oldByKey.Keys.Union(newByKey.Keys).Order(StringComparer.Ordinal))
        {
            var o = oldByKey.GetValueOrDefault(key) ?? [];
            var n = newByKey.GetValueOrDefault(key) ?? [];
            // Same versions on both sides pair up; what is left over pairs as a change when one old and one new remain.
            var oRest = new List<BomEntry>(o);
            var nRest = new List<BomEntry>();
            foreach (var e in n)
            {
                int match = oRest.FindIndex(x => x.Version == e.Version);
                if (match < 0)
                {
                    nRest.Add(e);
                    continue;
                }
                var old = oRest[match];
                oRest.RemoveAt(match);
                if (!SameHashes(old, e)) changed.Add(new BomChange(key, e.Name, old.Version, e.Version, true, old.Purl, e.Purl));
            }
            if (oRest.Count == 1 && nRest.Count == 1)
            {
                changed.Add(new BomChange(key, nRest[0].Name, oRest[0].Version, nRest[0].Version, !SameHashes(oRest[0], nRest[0]), oRest[0].Purl, nRest[0].Purl));
                continue;
            }
            removed.AddRange(oRest);
            added.AddRange(nRest);
        }
        return new BomDiffResult(added, removed, changed, before.Count, after.Count);
    }

    private static bool SameHashes(BomEntry a, BomEntry b) =>
        a.Hashes.Count == 0 || b.Hashes.Count == 0 || a.Hashes.Order(StringComparer.Ordinal).SequenceEqual(b.Hashes.Order(StringComparer.Ordinal), StringComparer.Ordinal);

    /// <summary>Every component of a CycloneDX JSON file.</summary>
    public static IReadOnlyList<BomEntry> Read(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string text = TextLines.ReadAll(file);
        using var doc = JsonFiles.Parse(text, file);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || JsonFiles.String(root, "bomFormat") != "CycloneDX")
            throw new LineageException("not a CycloneDX JSON BOM (bomFormat is not \"CycloneDX\")", file);
        var entries = new List<BomEntry>();
        var stack = new Stack<(JsonElement Component, int Depth)>();
        if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("component", out var mc) && mc.ValueKind == JsonValueKind.Object)
            stack.Push((mc, 0));
        if (root.TryGetProperty("components", out var comps))
        {
            if (comps.ValueKind != JsonValueKind.Array) throw new LineageException("'components' is not an array", file);
            foreach (var c in comps.EnumerateArray().Reverse()) stack.Push((c, 0));
        }
        while (stack.Count > 0)
        {
            var (c, depth) = stack.Pop();
            if (c.ValueKind != JsonValueKind.Object) throw new LineageException("a component is not an object", file);
            if (depth > MaxNesting) throw new LineageException($"components nested deeper than {MaxNesting}", file);
            if (entries.Count >= MaxComponents) throw new LineageException($"more than {MaxComponents} components", file);
            string type = JsonFiles.String(c, "type") ?? "library";
            string name = JsonFiles.String(c, "name") ?? throw new LineageException("a component has no name", file);
            string? group = JsonFiles.String(c, "group");
            string? version = JsonFiles.String(c, "version");
            string? purl = JsonFiles.String(c, "purl");
            var hashes = new List<string>();
            if (c.TryGetProperty("hashes", out var hs) && hs.ValueKind == JsonValueKind.Array)
                foreach (var h in hs.EnumerateArray())
                    if (JsonFiles.String(h, "alg") is { } alg && JsonFiles.String(h, "content") is { } content) hashes.Add($"{alg}:{content.ToLowerInvariant()}");
            string key = purl is not null ? PurlKey(purl) : $"{type}:{(group is null ? "" : group + "/")}{name}";
            entries.Add(new BomEntry(key, type, group is null ? name : $"{group}/{name}", version ?? PurlVersion(purl), purl, hashes));
            if (c.TryGetProperty("components", out var nested) && nested.ValueKind == JsonValueKind.Array)
                foreach (var n in nested.EnumerateArray().Reverse()) stack.Push((n, depth + 1));
        }
        return entries;
    }

    /// <summary>pkg:type/namespace/name@version?qualifiers#subpath → pkg:type/namespace/name?qualifiers#subpath (lower-cased type).</summary>
    internal static string PurlKey(string purl)
    {
        string rest = purl;
        string suffix = "";
        int q = rest.IndexOfAny(['?', '#']);
        if (q >= 0)
        {
            suffix = rest[q..];
            rest = rest[..q];
        }
        int at = rest.LastIndexOf('@');
        int slash = rest.LastIndexOf('/');
        if (at > slash) rest = rest[..at];
        return rest + suffix;
    }

    private static string? PurlVersion(string? purl)
    {
        if (purl is null) return null;
        int q = purl.IndexOfAny(['?', '#']);
        string rest = q >= 0 ? purl[..q] : purl;
        int at = rest.LastIndexOf('@');
        return at > rest.LastIndexOf('/') ? Uri.UnescapeDataString(rest[(at + 1)..]) : null;
    }

    public static void WriteText(TextWriter w, BomDiffResult diff)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(diff);
        w.WriteLine($"components: {diff.OldCount} before, {diff.NewCount} after; {diff.Added.Count} added, {diff.Removed.Count} removed, {diff.Changed.Count} changed");
        foreach (var c in diff.Changed)
        {
            string what = c.OldVersion != c.NewVersion ? $"{c.OldVersion ?? "(no version)"} -> {c.NewVersion ?? "(no version)"}" : "same version";
            w.WriteLine($"  ~ {c.Name} {what}{(c.HashesChanged ? " (hashes changed)" : "")}");
        }
        foreach (var a in diff.Added) w.WriteLine($"  + {a.Name}{(a.Version is null ? "" : " " + a.Version)}");
        foreach (var r in diff.Removed) w.WriteLine($"  - {r.Name}{(r.Version is null ? "" : " " + r.Version)}");
    }

    public static void WriteJson(Stream output, BomDiffResult diff)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(diff);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        WriteEntries(w, "added", diff.Added);
        WriteEntries(w, "removed", diff.Removed);
        w.WriteStartArray("changed");
        foreach (var c in diff.Changed)
        {
            w.WriteStartObject();
            w.WriteString("key", c.Key);
            w.WriteString("name", c.Name);
            WriteNullable(w, "old_version", c.OldVersion);
            WriteNullable(w, "new_version", c.NewVersion);
            w.WriteBoolean("hashes_changed", c.HashesChanged);
            if (c.OldPurl is not null) w.WriteString("old_purl", c.OldPurl);
            if (c.NewPurl is not null) w.WriteString("new_purl", c.NewPurl);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("summary");
        w.WriteNumber("old_components", diff.OldCount);
        w.WriteNumber("new_components", diff.NewCount);
        w.WriteNumber("added", diff.Added.Count);
        w.WriteNumber("removed", diff.Removed.Count);
        w.WriteNumber("changed", diff.Changed.Count);
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
    }

    private static void WriteEntries(Utf8JsonWriter w, string name, IReadOnlyList<BomEntry> entries)
    {
        w.WriteStartArray(name);
        foreach (var e in entries)
        {
            w.WriteStartObject();
            w.WriteString("key", e.Key);
            w.WriteString("type", e.Type);
            w.WriteString("name", e.Name);
            WriteNullable(w, "version", e.Version);
            if (e.Purl is not null) w.WriteString("purl", e.Purl);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
