using System.Text;
using Lineage.Formats;
using Lineage.Formats.Gguf;
using Lineage.Security.Metadata;
using Lineage.Security.Templates;

namespace Lineage.Security.Analyzers;

/// <summary>
/// GGUF files: the strict <see cref="GgufReader"/> validates the header (a malformed file fails closed);
/// tokenizer.chat_template and every other *chat_template* key go through the Jinja analyzer with findings placed
/// at the exact byte of the template text; other metadata strings are inspected for payloads. Token vocabularies
/// (tokenizer.ggml.*) are data and are not inspected; URLs are expected under the spec's url/link/repo keys.
/// </summary>
internal sealed class GgufAnalyzer : IFormatAnalyzer
{
    private const int MaxStringsInspected = 10_000;

    public string Name => "gguf";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
    [
        ScanRules.JinjaDunder, ScanRules.JinjaPrivateAttribute, ScanRules.JinjaDangerousName, ScanRules.JinjaRiskyGlobal, ScanRules.JinjaObfuscatedName,
        ScanRules.JinjaDynamicAttribute, ScanRules.JinjaEscapedLiteral, ScanRules.JinjaCodePayload, ScanRules.JinjaSyntax, ScanRules.JinjaLarge,
        ScanRules.JinjaLoadsTemplates, ScanRules.MetaCode, ScanRules.MetaShell, ScanRules.MetaScript, ScanRules.MetaEncoded, ScanRules.MetaUrl, ScanRules.MetaSecret,
    ];

    public bool CanAnalyze(ScanTarget target) => target.Container == ContainerFormat.Gguf;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var file = GgufReader.ReadHeader(target.Source);
        int inspected = 0, payloadFindings = 0;
        foreach (var kv in file.Metadata)
        {
            if (kv.Key.Contains("chat_template", StringComparison.OrdinalIgnoreCase))
            {
                CheckTemplates(kv.Key, kv.Value, context);
                continue;
            }
            if (kv.Key.StartsWith("tokenizer.ggml.", StringComparison.Ordinal)) continue;
            foreach (var (text, offset) in Strings(kv.Value))
            {
                if (++inspected > MaxStringsInspected || payloadFindings >= 50) break;
                foreach (var hit in PayloadDetector.Inspect(text, kv.Key))
                {
                    if (hit.Rule.Id == ScanRules.MetaUrl.Id && ExpectsUrl(kv.Key)) continue;
                    payloadFindings++;
                    context.Report(hit.Rule, $"metadata '{PayloadDetector.Printable(kv.Key)}': {hit.Message}", offset, evidence: hit.Excerpt, severity: hit.Severity);
                }
            }
        }
    }

    /// <summary>Keys the GGUF spec defines to hold links (general.url, general.source.url, general.license.link …).</summary>
    private static bool ExpectsUrl(string key)
    {
        string k = key.ToLowerInvariant();
        return k.Contains("url", StringComparison.Ordinal) || k.Contains("link", StringComparison.Ordinal) || k.Contains("repo", StringComparison.Ordinal)
            || k.Contains("homepage", StringComparison.Ordinal) || k.Contains("source", StringComparison.Ordinal);
    }

    private static void CheckTemplates(string key, GgufValue value, ScanContext context)
    {
        foreach (var (text, offset) in Strings(value))
        {
            if (text.Length == 0) continue;
            // The value's offset is its u64 length prefix; characters map to bytes through their UTF-8 length.
            var origin = new TemplateOrigin(key, i => offset + Encoding.UTF8.GetByteCount(text.AsSpan(0, Math.Clamp(i, 0, text.Length))));
            foreach (var f in ChatTemplateAnalyzer.Analyze(text, origin, context.Options.MaxTemplateChars)) context.Report(f);
        }
    }

    /// <summary>String values with the absolute offset of their first text byte (arrays: of the array's first string).</summary>
    private static IEnumerable<(string Text, long Offset)> Strings(GgufValue value)
    {
        if (value.AsString() is { } s)
        {
            yield return (s, value.Offset + 8);
            yield break;
        }
        if (value.AsStrings() is { } items)
        {
            // Element offsets are not kept; each follows the previous one's length prefix and bytes.
            long at = value.Offset + 4 + 8;
            foreach (var item in items)
            {
                yield return (item, at + 8);
                at += 8 + Encoding.UTF8.GetByteCount(item);
            }
        }
    }
}
