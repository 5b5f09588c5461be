using System.Globalization;
using System.Net;
using System.Text;

namespace Lineage.Providers;

/// <summary>A provider's figures over several runs, oldest first, and their text and HTML renderings.</summary>
public sealed class ProviderTrend
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private ProviderTrend(IReadOnlyList<RunFigures> runs) => Runs = runs;

    public IReadOnlyList<RunFigures> Runs { get; }

    public static ProviderTrend Build(IEnumerable<(ProbeRun Run, string? File)> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return new ProviderTrend(runs.Select(r => RunFigures.Of(r.Run, r.File)).OrderBy(f => f.StartedAt).ToList());
    }

    /// <summary>One row per run: time, model asked → answered, requests, errors, latency, refusals, passes, length.</summary>
    public void WriteText(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        string[] header = ["started (UTC)", "model", "returned", "req", "err", "p50 ms", "p90 ms", "ttfb p50", "refusal", "pass", "chars p50", "suite"];
        var rows = Runs.Select(r => new[]
        {
            r.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv),
            r.Model,
            r.ReturnedModels.Count == 0 ? "-" : string.Join(",", r.ReturnedModels),
            r.Requests.ToString(Inv),
            ProviderDiff.Percent(r.ErrorRate),
            Num(r.LatencyP50Ms),
            Num(r.LatencyP90Ms),
            Num(r.TtfbP50Ms),
            r.RefusalRate is double rr ? ProviderDiff.Percent(rr) : "-",
            r.PassRate is double pr ? ProviderDiff.Percent(pr) : "-",
            Num(r.AnswerCharsP50),
            r.SuiteHash.Replace("sha256:", "", StringComparison.Ordinal)[..Math.Min(8, r.SuiteHash.Length)],
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        writer.WriteLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (var row in rows) writer.WriteLine(string.Join("  ", row.Select((c, i) => i is >= 3 and <= 10 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
        var hashes = Runs.Select(r => r.SuiteHash).Distinct(StringComparer.Ordinal).Count();
        if (hashes > 1) writer.WriteLine($"note: the runs used {hashes} different suites; their figures are not directly comparable");
    }

    /// <summary>A self-contained page (no scripts, no external resources): the table and two inline SVG charts.</summary>
    public void WriteHtml(TextWriter writer, string title = "Provider trend")
    {
        ArgumentNullException.ThrowIfNull(writer);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(title)).Append("</title>\n<style>\n")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}")
            .Append("th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3;text-align:center}td.l{text-align:left}")
            .Append("svg{background:#fff;border:1px solid #ddd;margin:1em 1em 0 0}.axis{stroke:#999;stroke-width:1}.grid{stroke:#eee}")
            .Append("text{font-size:11px;fill:#444}\n</style></head><body>\n")
            .Append("<h1>").Append(E(title)).Append("</h1>\n")
            .Append("<p>").Append(Runs.Count.ToString(Inv)).Append(" runs");
        if (Runs.Count > 0)
            html.Append(", ").Append(E(Runs[0].StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv))).Append(" to ").Append(E(Runs[^1].StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv))).Append(" UTC");
        html.Append(".</p>\n");
        html.Append(Chart("Latency (ms)", [
            ("p50 latency", "#1f77b4", Runs.Select(r => r.LatencyP50Ms).ToList()),
            ("p90 latency", "#ff7f0e", Runs.Select(r => r.LatencyP90Ms).ToList()),
            ("p50 time to first byte", "#2ca02c", Runs.Select(r => r.TtfbP50Ms).ToList()),
        ], percent: false));
        html.Append(Chart("Rates (%)", [
            ("errors", "#d62728", Runs.Select(r => (double?)r.ErrorRate * 100).ToList()),
            ("refusals", "#9467bd", Runs.Select(r => r.RefusalRate * 100).ToList()),
            ("checkable passes", "#17becf", Runs.Select(r => r.PassRate * 100).ToList()),
        ], percent: true));
        html.Append("\n<table>\n<tr><th>#</th><th>started (UTC)</th><th>model</th><th>returned</th><th>fingerprints</th><th>requests</th><th>errors</th>")
            .Append("<th>p50 ms</th><th>p90 ms</th><th>ttfb p50 ms</th><th>refusals</th><th>passes</th><th>chars p50</th><th>file</th></tr>\n");
        for (int i = 0; i < Runs.Count; i++)
        {
            var r = Runs[i];
            html.Append("<tr><td>").Append(i + 1).Append("</td><td class=\"l\">").Append(E(r.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv)))
                .Append("</td><td class=\"l\">").Append(E(r.Model))
                .Append("</td><td class=\"l\">").Append(E(string.Join(", ", r.ReturnedModels)))
                .Append("</td><td class=\"l\">").Append(E(string.Join(", ", r.SystemFingerprints)))
                .Append("</td><td>").Append(r.Requests)
                .Append("</td><td>").Append(E(ProviderDiff.Percent(r.ErrorRate)))
                .Append("</td><td>").Append(E(Num(r.LatencyP50Ms)))
                .Append("</td><td>").Append(E(Num(r.LatencyP90Ms)))
                .Append("</td><td>").Append(E(Num(r.TtfbP50Ms)))
                .Append("</td><td>").Append(E(r.RefusalRate is double rr ? ProviderDiff.Percent(rr) : "-"))
                .Append("</td><td>").Append(E(r.PassRate is double pr ? ProviderDiff.Percent(pr) : "-"))
                .Append("</td><td>").Append(E(Num(r.AnswerCharsP50)))
                .Append("</td><td class=\"l\">").Append(E(r.File is null ? "" : Path.GetFileName(r.File)))
                .Append("</td></tr>\n");
        }
        html.Append("</table>\n<p>Generated by ").Append(E(ProviderProbe.ToolVersion)).Append(".</p>\n</body></html>\n");
        writer.Write(html.ToString());
    }

    private string Chart(string title, (string Name, string Color, List<double?> Values)[] series, bool percent)
    {
        const int width = 640, height = 260, left = 56, right = 44, top = 28, bottom = 56;
        int plotW = width - left - right, plotH = height - top - bottom;
        var all = series.SelectMany(s => s.Values).Where(v => v is double d && double.IsFinite(d)).Select(v => v!.Value).ToList();
        double max = percent ? 100 : all.Count == 0 ? 1 : NiceCeiling(all.Max());
        if (max <= 0) max = 1;
        int n = Runs.Count;
        double X(int i) => left + (n <= 1 ? plotW / 2.0 : i * plotW / (double)(n - 1));
        double Y(double v) => top + plotH - Math.Clamp(v / max, 0, 1) * plotH;

        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(title)}\">\n");
        svg.Append(Inv, $"<text x=\"{left}\" y=\"16\" style=\"font-size:13px;font-weight:600\">{E(title)}</text>\n");
        for (int g = 0; g <= 4; g++)
        {
            double v = max * g / 4;
            double y = Y(v);
            svg.Append(Inv, $"<line class=\"grid\" x1=\"{left}\" y1=\"{y:0.#}\" x2=\"{left + plotW}\" y2=\"{y:0.#}\"/>");
            svg.Append(Inv, $"<text x=\"{left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{E(v.ToString(max >= 10 ? "0" : "0.##", Inv))}</text>\n");
        }
        svg.Append(Inv, $"<line class=\"axis\" x1=\"{left}\" y1=\"{top + plotH}\" x2=\"{left + plotW}\" y2=\"{top + plotH}\"/><line class=\"axis\" x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotH}\"/>\n");
        int labelEvery = Math.Max(1, (int)Math.Ceiling(n / 8.0));
        for (int i = 0; i < n; i += labelEvery)
        {
            string label = Runs[i].StartedAt.UtcDateTime.ToString("MM-dd HH:mm", Inv);
            svg.Append(Inv, $"<text x=\"{X(i):0.#}\" y=\"{top + plotH + 16}\" text-anchor=\"middle\">{E(label)}</text>\n");
        }
        // Where the returned model changed: a dashed line and the new id.
        for (int i = 1; i < n; i++)
        {
            if (Runs[i].ReturnedModels.SequenceEqual(Runs[i - 1].ReturnedModels, StringComparer.Ordinal)) continue;
            string label = string.Join(", ", Runs[i].ReturnedModels);
            svg.Append(Inv, $"<line x1=\"{X(i):0.#}\" y1=\"{top}\" x2=\"{X(i):0.#}\" y2=\"{top + plotH}\" stroke=\"#888\" stroke-dasharray=\"4 3\"><title>returned model: {E(label)}</title></line>");
            svg.Append(Inv, $"<text x=\"{X(i) - 4:0.#}\" y=\"{top + 10}\" text-anchor=\"end\">{E(label.Length > 40 ? label[..40] + "…" : label)}</text>\n");
        }
        int legendX = left;
        foreach (var (name, color, values) in series)
        {
            var points = new List<string>();
            var dots = new StringBuilder();
            for (int i = 0; i < n; i++)
            {
                if (values[i] is not double v || !double.IsFinite(v)) continue;
                points.Add(string.Create(Inv, $"{X(i):0.#},{Y(v):0.#}"));
                dots.Append(Inv, $"<circle cx=\"{X(i):0.#}\" cy=\"{Y(v):0.#}\" r=\"3\" fill=\"{color}\"><title>{E(name)}: {E(v.ToString("0.##", Inv))}</title></circle>");
            }
            if (points.Count > 1) svg.Append(Inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(' ', points)}\"/>");
            svg.Append(dots).Append('\n');
            svg.Append(Inv, $"<rect x=\"{legendX}\" y=\"{height - 18}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{legendX + 14}\" y=\"{height - 9}\">{E(name)}</text>\n");
            legendX += 24 + name.Length * 7;
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static double NiceCeiling(double x)
    {
        if (x <= 0) return 1;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(x)));
        foreach (double step in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (step * magnitude >= x) return step * magnitude;
        }
        return 10 * magnitude;
    }

    private static string Num(double? x) => x is double d ? d.ToString(d >= 100 ? "0" : "0.#", Inv) : "-";

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
