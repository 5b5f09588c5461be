using System.Globalization;
using System.Net;
using Lineage.Audit;
using Lineage.Provenance;
using Lineage.Security;

namespace Lineage.Reports;

/// <summary>
/// One self-contained HTML page per report, for a reviewer to look at rather than read: the verdict, per-signal bars,
/// the layer-correspondence heatmap (inline SVG), findings and hashes. No scripts, no external assets: a
/// Content-Security-Policy of <c>default-src 'none'</c> forbids the page from fetching anything, so it renders the same
/// offline, from an e-mail attachment or a CI artifact store. Stable ids and data-* attributes (verdict, signal,
/// heatmap cells) let tests and tools read the rendered page.
/// </summary>
public static class HtmlReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private const string Style = """
        :root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; }
        * { box-sizing: border-box; }
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 24px; color: #1f2328; }
        h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
        .sub { color: var(--muted); margin: 0 0 16px; word-break: break-all; }
        .verdict { display: inline-block; padding: 10px 18px; border-radius: 8px; font-size: 22px; font-weight: 700; letter-spacing: .04em; color: #fff; }
        .v-identical, .v-derived, .v-pass { background: var(--ok); } .v-unrelated { background: #0969da; }
        .v-inconclusive, .v-error, .v-nothing_scannable { background: var(--warn); } .v-fail { background: var(--bad); }
        .facts { color: var(--muted); margin-top: 8px; }
        table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
        .sev { font-weight: 700; font-size: 12px; padding: 1px 6px; border-radius: 4px; color: #fff; white-space: nowrap; }
        .sev-critical { background: #8b0000; } .sev-high { background: var(--bad); } .sev-medium { background: var(--warn); } .sev-low { background: #0969da; } .sev-info { background: var(--muted); }
        ul { margin: 4px 0; padding-left: 20px; } .muted { color: var(--muted); }
        .heatmap text { font: 10px ui-monospace, monospace; fill: #1f2328; } td.name { white-space: nowrap; }
        """;

    public static void WriteCompare(TextWriter w, ComparisonResult r)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        Open(w, $"lineage compare: {r.Verdict}");
        w.WriteLine("<h1>Weight lineage comparison</h1>");
        w.WriteLine($"<p class=\"sub\">A: <code>{E(r.A)}</code><br>B: <code>{E(r.B)}</code></p>");
        WriteComparison(w, r);
        Close(w);
    }

    public static void WriteAudit(TextWriter w, AuditReport report, Severity failOn)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(report);
        string verdict = AuditReportWriter.VerdictName(report.Outcome(failOn));
        Open(w, $"lineage audit: {verdict}");
        w.WriteLine("<h1>Supply-chain audit</h1>");
        w.WriteLine($"<p class=\"sub\"><code>{E(report.Path)}</code> · lineage {E(report.ToolVersion)} · fail on {E(ScanReportWriter.SeverityName(failOn))}</p>");
        w.WriteLine($"<section id=\"verdict\" class=\"verdict v-{verdict}\" data-verdict=\"{verdict}\">{E(verdict.Replace('_', ' ').ToUpperInvariant())}</section>");
        var all = report.AllFindings.OrderByDescending(f => f.Finding.Severity).ToList();
        var counts = Enum.GetValues<Severity>().Reverse().Select(s => $"{all.Count(f => f.Finding.Severity == s)} {ScanReportWriter.SeverityName(s)}");
        w.WriteLine($"<p class=\"facts\">{all.Count} findings ({string.Join(", ", counts)}) · {report.Files.Count} files, {report.Files.Sum(f => f.Size).ToString("N0", Inv)} bytes</p>");

        if (report.Model is { } m)
        {
            w.WriteLine("<h2>Model</h2><table id=\"model\">");
            Row(w, "format", m.Format);
            Row(w, "architecture", m.Config?.Architecture ?? m.Config?.ModelType ?? "unknown");
            Row(w, "parameters", m.Parameters.ToString("N0", Inv) + $" in {m.TensorCount} tensors ({string.Join(", ", m.Dtypes.Keys)})");
            if (m.Tokenizer is { } t) Row(w, "tokenizer", $"{t.Kind}, {t.VocabSize.ToString("N0", Inv)} tokens{(t.Family is null ? "" : ", " + t.Family)}");
            Row(w, "weights", string.Join(", ", m.WeightFiles));
            w.WriteLine("</table>");
        }

        w.WriteLine("<h2>Findings</h2>");
        if (all.Count == 0) w.WriteLine("<p id=\"findings\" class=\"muted\">No findings.</p>");
        else
        {
            w.WriteLine("<table id=\"findings\"><tr><th>severity</th><th>rule</th><th>file</th><th>message</th></tr>");
            foreach (var (path, f) in all)
            {
                string sev = ScanReportWriter.SeverityName(f.Severity);
                string where = (f.Entry is null ? "" : $" [{f.Entry}]") + (f.Offset is { } o ? $" @ byte {o.ToString(Inv)}" : "");
                w.WriteLine($"<tr class=\"finding\" data-rule=\"{E(f.Rule)}\" data-severity=\"{sev}\"><td><span class=\"sev sev-{sev}\">{sev.ToUpperInvariant()}</span></td><td class=\"mono\">{E(f.Rule)}</td><td class=\"mono\">{E(path + where)}</td><td>{E(f.Message)}</td></tr>");
            }
            w.WriteLine("</table>");
        }

        var l = report.Lineage;
        w.WriteLine("<h2>Lineage</h2><table id=\"lineage\">");
        if (l.Claims.Count == 0) Row(w, "claimed", "nothing (no config _name_or_path, model-card base_model or adapter base)");
        foreach (var c in l.Claims) Row(w, "claimed", $"{c.Claim.Value} ({c.Claim.File} {c.Claim.Field}): {c.Status}, {c.Detail}");
        if (l.Detected.Count == 0) Row(w, "detected", l.Error ?? (l.Database is null ? "no fingerprint database searched" : $"no related model among {l.DatabaseEntries} entries"));
        foreach (var d in l.Detected) Row(w, "detected", string.Create(Inv, $"{d.ModelId}: {d.Verdict}, score {d.Score:F3}, log10 p {d.Log10PValue:F1}"));
        if (l.CatalogFamilies.Count > 0) Row(w, "catalog (metadata)", string.Join(", ", l.CatalogFamilies));
        if (l.Expected is { } e) Row(w, "expected base", $"{e.Id}: {e.Outcome} ({e.Detail})");
        w.WriteLine("</table>");
        if (l.Comparison is { } comparison)
        {
            w.WriteLine($"<p class=\"muted\">Comparison shown: <code>{E(comparison.A)}</code> vs <code>{E(comparison.B)}</code></p>");
            WriteComparison(w, comparison);
        }

        if (report.Manifest is { } man)
        {
            w.WriteLine("<h2>Manifest</h2>");
            w.WriteLine($"<p id=\"manifest\"><code>{E(man.Source)}</code> ({E(man.Kind)}, {man.Entries} entries): {man.Verified} verified, {man.Mismatched.Count} mismatched, {man.Missing.Count} missing, {man.Unexpected.Count} unexpected</p>");
        }

        w.WriteLine("<h2>Files and hashes</h2><table id=\"files\"><tr><th>file</th><th>format</th><th>bytes</th><th>SHA-256</th></tr>");
        foreach (var f in report.Files)
            w.WriteLine($"<tr class=\"file\"><td class=\"mono\">{E(f.Path)}</td><td>{E(f.Format)}</td><td class=\"num\">{f.Size.ToString("N0", Inv)}</td><td class=\"mono sha\">{E(f.Sha256 ?? f.Error ?? "")}</td></tr>");
        w.WriteLine("</table>");
        Close(w);
    }

    private static void WriteComparison(TextWriter w, ComparisonResult r)
    {
        string related = r.Related is null ? "inconclusive" : r.Related.Value ? "related" : "not related";
        w.WriteLine($"<section id=\"comparison-verdict\" class=\"verdict v-{E(r.Verdict)}\" data-verdict=\"{E(r.Verdict)}\">{E(r.Verdict.ToUpperInvariant())}</section>");
        w.WriteLine(string.Create(Inv, $"<p class=\"facts\">{related} · score {r.Score:F3} · p ≈ 1e{r.Log10PValue:F1} · decision threshold p &lt; {r.FalsePositiveRate:0.#e0}</p>"));
        if (r.Transformations.Count > 0) w.WriteLine($"<p>Looks like: <strong>{E(string.Join(", ", r.Transformations))}</strong></p>");

        w.WriteLine("<h2>Signals</h2><table id=\"signals\"><tr><th>signal</th><th>value</th><th></th><th>p-value</th><th>detail</th></tr>");
        foreach (var s in r.Signals)
        {
            double v = double.IsFinite(s.Value) ? Math.Clamp(s.Value, 0, 1) : 0;
            string p = s.PValue is double pv ? pv.ToString("0.##e0", Inv) : "—";
            w.WriteLine(string.Create(Inv, $"<tr class=\"signal\" data-signal=\"{E(s.Name)}\" data-value=\"{s.Value:R}\"><td class=\"mono name\">{E(s.Name)}</td><td class=\"num\">{s.Value:F4}</td>")
                + string.Create(Inv, $"<td><svg class=\"bar\" width=\"200\" height=\"12\" viewBox=\"0 0 200 12\" role=\"img\" aria-label=\"{E(s.Name)} {s.Value:F3}\"><rect width=\"200\" height=\"12\" fill=\"#eaeef2\"/><rect width=\"{v * 200:F1}\" height=\"12\" fill=\"{(s.PValue is < 1e-6 ? "#1a7f37" : "#0969da")}\"/></svg></td>")
                + $"<td class=\"num\">{p}</td><td>{E(s.Detail)}</td></tr>");
        }
        w.WriteLine("</table>");

        if (r.LayerMap is { } map && map.LayersA.Count > 0 && map.LayersB.Count > 0)
        {
            w.WriteLine("<h2>Layer correspondence</h2>");
            w.WriteLine("<p class=\"muted\">Fraction of each A layer's rows whose best match lies in each B layer (darker = more shared rows). A diagonal means the layers line up; an off-diagonal band means layers were dropped, duplicated or reordered.</p>");
            WriteHeatmap(w, map);
        }

        w.WriteLine("<h2>Evidence</h2><ul id=\"evidence\">");
        foreach (var e in r.Evidence) w.WriteLine($"<li>{E(e)}</li>");
        w.WriteLine("</ul>");
        var c = r.Context;
        w.WriteLine($"<p class=\"muted\" id=\"context\">Context (never a verdict): {E(c.ArchitectureRelation)}; tokenizer {E(c.TokenizerRelation)}; {c.SharedAnchors} shared anchors by {E(c.AnchorAlignment)}{(c.ConfigDifferences.Count > 0 ? "; config differences: " + E(string.Join("; ", c.ConfigDifferences)) : "")}</p>");
    }

    private static void WriteHeatmap(TextWriter w, LayerCorrespondence map)
    {
        int rows = map.LayersA.Count, cols = map.LayersB.Count;
        int cell = Math.Max(6, Math.Min(28, 640 / Math.Max(rows, cols)));
        const int labelA = 110, labelB = 70;
        int width = Math.Max(labelA + cols * cell + 4, labelA + 160), height = labelB + rows * cell + 34;
        w.WriteLine($"<svg id=\"heatmap\" class=\"heatmap\" data-rows=\"{rows}\" data-cols=\"{cols}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"layer correspondence heatmap, {rows} by {cols}\">");
        w.WriteLine(string.Create(Inv, $"<text x=\"{labelA}\" y=\"12\">B layers →</text><text x=\"2\" y=\"{labelB - 4}\">A layers ↓</text>"));
        for (int j = 0; j < cols; j++)
        {
            double x = labelA + j * cell + cell / 2.0;
            w.WriteLine(string.Create(Inv, $"<text x=\"{x:F1}\" y=\"{labelB - 6}\" transform=\"rotate(-60 {x:F1} {labelB - 6})\">{E(Short(map.LayersB[j]))}</text>"));
        }
        for (int i = 0; i < rows; i++)
        {
            w.WriteLine(string.Create(Inv, $"<text x=\"2\" y=\"{labelB + i * cell + cell * 0.7:F1}\">{E(Short(map.LayersA[i]))}</text>"));
            for (int j = 0; j < cols; j++)
            {
                double v = i < map.Similarity.Length && j < map.Similarity[i].Length ? map.Similarity[i][j] : double.NaN;
                string fill = double.IsFinite(v) ? Color(v) : "#f6f8fa";
                string value = double.IsFinite(v) ? v.ToString("F3", Inv) : "n/a";
                w.WriteLine(string.Create(Inv, $"<rect class=\"cell\" data-a=\"{E(map.LayersA[i])}\" data-b=\"{E(map.LayersB[j])}\" data-value=\"{value}\" x=\"{labelA + j * cell}\" y=\"{labelB + i * cell}\" width=\"{cell - 1}\" height=\"{cell - 1}\" fill=\"{fill}\" stroke=\"#d0d7de\" stroke-width=\"0.5\"><title>{E(map.LayersA[i])} → {E(map.LayersB[j])}: {value}</title></rect>"));
            }
        }
        // Legend: the colour scale from 0 (no shared rows) to 1 (all rows matched).
        int legendY = labelB + rows * cell + 12;
        for (int k = 0; k <= 10; k++)
            w.WriteLine(string.Create(Inv, $"<rect class=\"legend\" x=\"{labelA + 20 + k * 10}\" y=\"{legendY}\" width=\"10\" height=\"10\" fill=\"{Color(k / 10.0)}\"/>"));
        w.WriteLine(string.Create(Inv, $"<text x=\"{labelA + 4}\" y=\"{legendY + 9}\">0</text><text x=\"{labelA + 134}\" y=\"{legendY + 9}\">1</text>"));
        w.WriteLine("</svg>");
        if (map.Best.Count > 0)
            w.WriteLine($"<p class=\"muted mono\">best: {E(string.Join("  ", map.Best.Select(p => string.Create(Inv, $"{p.A}→{p.B} {p.Similarity:F2}"))))}</p>");
    }

    /// <summary>White (0) to dark blue (1).</summary>
    private static string Color(double v)
    {
        v = Math.Clamp(v, 0, 1);
        int r = (int)Math.Round(255 - v * (255 - 8)), g = (int)Math.Round(255 - v * (255 - 48)), b = (int)Math.Round(255 - v * (255 - 107));
        return $"rgb({r},{g},{b})";
    }

    private static string Short(string layer) => layer.Length <= 16 ? layer : "…" + layer[^15..];

    private static void Row(TextWriter w, string name, string value) => w.WriteLine($"<tr><th>{E(name)}</th><td>{E(value)}</td></tr>");

    private static void Open(TextWriter w, string title)
    {
        w.WriteLine("<!DOCTYPE html>");
        w.WriteLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        w.WriteLine("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
        w.WriteLine("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        w.WriteLine($"<meta name=\"generator\" content=\"lineage {Auditor.ToolVersion}\">");
        w.WriteLine($"<title>{E(title)}</title>");
        w.WriteLine($"<style>{Style}</style></head><body>");
    }

    private static void Close(TextWriter w) => w.WriteLine("</body></html>");

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
