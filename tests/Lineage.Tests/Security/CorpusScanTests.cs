using Lineage.Security;
using Lineage.Tests.Support;

namespace Lineage.Tests.Security;

/// <summary>Real and ladder models must scan clean; formats without an analyzer yet are visibly "unanalyzed", never clean and never errors.</summary>
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

    [Theory]
    [MemberData(nameof(ModelFolders))]
    public void Model_folders_scan_clean_or_unanalyzed(string folder)
    {
        var report = Scanner.Scan([Corpus.Path(folder)]);
        Assert.DoesNotContain(report.Files, f => f.Status == FileStatus.Error);
        foreach (var f in report.Files)
        {
            var unexpected = f.Findings.Where(x => x.Rule != ScanRules.NoAnalyzer.Id).ToList();
            Assert.True(unexpected.Count == 0, $"{f.Path}: {string.Join("; ", unexpected.Select(x => $"{x.Rule} {x.Message}"))}");
            if (f.Status == FileStatus.Unanalyzed)
                Assert.Contains(f.Format, (string[])["pickle", "zip", "gguf", "onnx", "npy", "tar"]);
        }
        // Everything analysable was analysed; the folder is clean unless a format still lacks its analyzer.
        var expected = report.Files.Any(f => f.Status == FileStatus.Unanalyzed) ? ScanOutcome.Error : ScanOutcome.Clean;
        Assert.Equal(expected, report.Outcome(Severity.Info));
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
