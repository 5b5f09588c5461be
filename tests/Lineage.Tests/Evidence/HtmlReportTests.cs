using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lineage.Tests.Cli;
using Lineage.Tests.Support;

namespace Lineage.Tests.Evidence;

/// <summary>
/// The HTML reports rendered by a real headless browser (Debian's chromium, installed by CI from .ci/apt-packages):
/// the DOM it builds must carry the verdict, the signal bars and every heatmap cell. The test skips, saying why, only
/// when no chromium can be found at all.
/// </summary>
public partial class HtmlReportTests(LadderDatabase db) : IClassFixture<LadderDatabase>
{
    private static readonly string[] BrowserNames = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

    private static string Browser()
    {
        string? configured = Environment.GetEnvironmentVariable("LINEAGE_CHROMIUM");
        if (!string.IsNullOrEmpty(configured) && File.Exists(configured)) return configured;
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/lib/chromium");
        foreach (var dir in dirs)
            foreach (var name in BrowserNames)
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        Assert.Skip("no chromium found (PATH, /usr/bin, $LINEAGE_CHROMIUM): install Debian's 'chromium' package (CI does, from .ci/apt-packages)");
        return "";
    }

    /// <summary>Runs headless chromium on a local file and returns what it printed (the DOM for --dump-dom).</summary>
    private static string RunBrowser(string page, TempDir dir, params string[] extra)
    {
        string browser = Browser();
        var info = new ProcessStartInfo(browser)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-dev-shm-usage", $"--user-data-dir={dir.File("profile")}" })
            info.ArgumentList.Add(a);
        foreach (var a in extra) info.ArgumentList.Add(a);
        info.ArgumentList.Add(new Uri(Path.GetFullPath(page)).AbsoluteUri);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish within two minutes");
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    private static void AssertSelfContained(string html)
    {
        Assert.Contains("default-src 'none'", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(@"\s(src|href)\s*=", html);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Compare_report_renders_verdict_signal_bars_and_every_heatmap_cell()
    {
        using var dir = new TempDir();
        string page = dir.File("compare.html");
        var json = CliRunner.Run("compare", Corpus.Path("ladder/A"), Corpus.Path("ladder/A-prune-depth"), "--format", "json", "--report", "html", page);
        Assert.Equal(0, json.ExitCode);
        var result = JsonNode.Parse(json.Stdout)!;
        string verdict = result["verdict"]!.GetValue<string>();
        Assert.Equal("derived", verdict);
        string html = File.ReadAllText(page);
        AssertSelfContained(html);

        string dom = RunBrowser(page, dir, "--dump-dom");
        Assert.Contains($"data-verdict=\"{verdict}\"", dom, StringComparison.Ordinal);
        Assert.Contains("DERIVED", dom, StringComparison.Ordinal);
        int signals = result["signals"]!.AsArray().Count;
        Assert.Equal(signals, SignalRow().Matches(dom).Count);

        var similarity = result["layer_map"]!["similarity"]!.AsArray();
        int rows = similarity.Count, cols = similarity[0]!.AsArray().Count;
        Assert.Contains($"data-rows=\"{rows}\" data-cols=\"{cols}\"", dom, StringComparison.Ordinal);
        var cells = HeatmapCell().Matches(dom).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(rows * cols, cells.Count);
        // The cells carry the similarity matrix in row-major order.
        var expected = similarity.SelectMany(r => r!.AsArray().Select(v => v!.GetValue<double>())).ToList();
        for (int i = 0; i < cells.Count; i++) Assert.Equal(expected[i], cells[i], 3);

        string png = dir.File("compare.png");
        RunBrowser(page, dir, $"--screenshot={png}", "--window-size=1200,1600");
        Assert.True(new FileInfo(png).Length > 10_000, "the screenshot is (nearly) empty");
    }

    [Fact]
    public void Audit_report_renders_a_failing_verdict_with_the_tampered_file_and_the_lineage_heatmap()
    {
        using var dir = new TempDir();
        string model = dir.File("model");
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(Corpus.Path("ladder/A-sft1"))) File.WriteAllBytes(Path.Combine(model, Path.GetFileName(f)), File.ReadAllBytes(f));
        string manifest = dir.File("manifest.json");
        Assert.Equal(0, CliRunner.Run("audit", model, "--no-lineage", "--write-manifest", manifest).ExitCode);
        byte[] bytes = File.ReadAllBytes(Path.Combine(model, "model.safetensors"));
        bytes[^1] ^= 0x80;
        File.WriteAllBytes(Path.Combine(model, "model.safetensors"), bytes);

        string page = dir.File("audit.html");
        var run = CliRunner.Run("audit", model, "--manifest", manifest, "--db", db.Path!, "--expect-base", "ladder/A", "--report", "html", page);
        Assert.Equal(1, run.ExitCode);
        string html = File.ReadAllText(page);
        AssertSelfContained(html);

        string dom = RunBrowser(page, dir, "--dump-dom");
        Assert.Contains("id=\"verdict\" class=\"verdict v-fail\" data-verdict=\"fail\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-rule=\"LIN-AUD-001\"", dom, StringComparison.Ordinal);
        Assert.Contains("model.safetensors", dom, StringComparison.Ordinal);
        // The expected base is still confirmed: the one flipped bit does not change the lineage.
        Assert.Contains("data-verdict=\"derived\"", dom, StringComparison.Ordinal);
        Assert.True(HeatmapCell().Matches(dom).Count >= 9);
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        Assert.Contains(sha, dom, StringComparison.Ordinal);
    }

    [GeneratedRegex("<tr class=\"signal\" data-signal=\"[^\"]+\"")]
    private static partial Regex SignalRow();

    [GeneratedRegex("<rect class=\"cell\" data-a=\"[^\"]*\" data-b=\"[^\"]*\" data-value=\"([0-9.]+)\"")]
    private static partial Regex HeatmapCell();
}
