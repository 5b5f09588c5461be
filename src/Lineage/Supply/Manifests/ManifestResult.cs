namespace Lineage.Supply.Manifests;

/// <summary>What one parser read: dependencies, findings only it can see (unhashed), notes, and the files it read.</summary>
internal sealed class ManifestResult
{
    public List<Dependency> Dependencies { get; } = [];

    public List<DependencyFinding> Findings { get; } = [];

    /// <summary>Things not followed or not understood that do not make the input invalid (a remote -r URL).</summary>
    public List<string> Notes { get; } = [];

    public HashSet<string> Files { get; } = new(StringComparer.Ordinal);

    public void Add(ManifestResult other)
    {
        Dependencies.AddRange(other.Dependencies);
        Findings.AddRange(other.Findings);
        Notes.AddRange(other.Notes);
        Files.UnionWith(other.Files);
    }
}
