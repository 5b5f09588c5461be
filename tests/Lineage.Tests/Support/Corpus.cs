namespace Lineage.Tests.Support;

/// <summary>
/// Locates ../shared/corpus beside the repository. Tests read it in place; when it is absent (a user's fresh
/// clone without the shared data) they skip with a message saying so. CI always has it.
/// </summary>
internal static class Corpus
{
    private static readonly Lazy<string?> RootPath = new(FindRoot);

    public static string? Root => RootPath.Value;

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Full path of a corpus file or folder; skips the calling test when the corpus is missing.</summary>
    public static string Path(string relative)
    {
        if (Root is null)
            Assert.Skip("../shared/corpus is not present beside the repository; corpus tests need it");
        return System.IO.Path.Combine(Root!, relative);
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Lineage.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Lineage.slnx) not found above " + AppContext.BaseDirectory);
    }

    private static string? FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("LINEAGE_CORPUS");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepoRoot, "..", "shared", "corpus"));
        return Directory.Exists(candidate) ? candidate : null;
    }
}
