using Lineage.Security;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

/// <summary>Real and ladder models must scan clean, every format included.</summary>
public class CorpusScanTests
{
    public static TheoryData<string> ModelFolders()
    {
        var data = new TheoryData<string>();
        foreach (var root in (string[])["ladder", "real/weights"])
        {
            string? full = Corpus.Root is null ? null : Path.Combine(Corpus.Root, root);
            if (full is null || !Directory.Exists(full))
            {
                data.Add(root);
                continue;
            }
            foreach (var dir in Directory.EnumerateDirectories(full).Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(Corpus.Root!, dir));
        }
        return data;
    }

    /// <summary>Every weight file of the real and ladder corpora scans clean: no finding at or above low, nothing unanalysed, no error.</summary>
    [Theory]
    [MemberData(nameof(ModelFolders))]
    public void Model_folders_scan_clean(string folder)
    {
        var report = Scanner.Scan([Corpus.Path(folder)]);
        foreach (var f in report.Files)
        {
            Assert.True(f.Status is FileStatus.Scanned or FileStatus.Skipped, $"{f.Path}: {f.Status} {f.Error ?? f.Note}");
            var unexpected = f.Findings.Where(x => x.Severity >= Severity.Low).ToList();
            Assert.True(unexpected.Count == 0, $"{f.Path}: {string.Join("; ", unexpected.Select(x => $"{x.Rule} {x.Message}"))}");
        }
        Assert.Equal(ScanOutcome.Clean, report.Outcome(Severity.Low));
    }

    [Fact]
    public void Every_safetensors_file_in_the_corpus_is_scanned_clean()
    {
        var files = new[] { "ladder", "real" }
            .SelectMany(r => Directory.EnumerateFiles(Corpus.Path(r), "*.safetensors", SearchOption.AllDirectories))
            .ToList();
        Assert.True(files.Count >= 40, $"found {files.Count}");
        var report = Scanner.Scan(files);
        Assert.All(report.Files, f =>
        {
            Assert.Equal("safetensors", f.Format);
            Assert.Equal(FileStatus.Scanned, f.Status);
            Assert.Empty(f.Findings);
        });
        Assert.Equal(ScanOutcome.Clean, report.Outcome(Severity.Info));
    }
}
