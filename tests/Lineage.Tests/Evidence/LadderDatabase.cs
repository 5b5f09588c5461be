using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Evidence;

/// <summary>A fingerprint database holding ladder bases A and C, built once per test class that uses it.</summary>
public sealed class LadderDatabase : IDisposable
{
    private readonly TempDir _dir = new();

    public LadderDatabase()
    {
        if (Corpus.Root is null) return;
        Path = _dir.File("ladder.db");
        foreach (var m in new[] { "A", "C" })
        {
            var add = CliRunner.Run("db", "add", System.IO.Path.Combine(Corpus.Root, "ladder", m), "--id", "ladder/" + m, "--family", "ladder", "--db", Path);
            if (add.ExitCode != 0) throw new InvalidOperationException(add.Stderr);
        }
    }

    /// <summary>The database file, or null when the corpus is absent (tests skip through Corpus.Path first).</summary>
    public string? Path { get; }

    public void Dispose() => _dir.Dispose();
}
