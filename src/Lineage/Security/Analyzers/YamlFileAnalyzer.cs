using Lineage.Security.Metadata;
using Lineage.Security.Templates;

namespace Lineage.Security.Analyzers;

/// <summary>
/// YAML configs (.yaml/.yml): chat templates and other Jinja-bearing values, Hydra _target_ references (which
/// instantiate a callable), trust_remote_code, and payloads in free-form strings.
/// </summary>
internal sealed class YamlFileAnalyzer : IFormatAnalyzer
{
    public string Name => "yaml";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
        [ScanRules.CustomPipeline, ScanRules.TrustRemoteCode, ScanRules.MetaCode, ScanRules.MetaShell, ScanRules.MetaScript, ScanRules.MetaEncoded, ScanRules.MetaUrl, ScanRules.MetaSecret];

    public bool CanAnalyze(ScanTarget target) => target.Text == TextKind.Yaml;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var file = TextFile.Read(target, context);
        if (file is null) return;
        int payloadFindings = 0;
        foreach (var scalar in YamlScalars.Extract(file.Text))
        {
            long offset = file.ByteOffset(scalar.Position);
            bool templateKey = scalar.Key.Contains("template", StringComparison.OrdinalIgnoreCase);
            bool jinja = scalar.Value.Contains("{{", StringComparison.Ordinal) || scalar.Value.Contains("{%", StringComparison.Ordinal);
            if (templateKey || jinja)
            {
                foreach (var f in ChatTemplateAnalyzer.Analyze(scalar.Value, TemplateOrigin.At(scalar.Path, offset), context.Options.MaxTemplateChars))
                {
                    if (!templateKey && f.Rule is "LIN-JINJA-009" or "LIN-JINJA-010") continue;
                    context.Report(f);
                }
                if (templateKey) continue;
            }
            if (scalar.Key == "trust_remote_code" && scalar.Value is "true" or "True" or "TRUE" or "yes" or "on")
                context.Report(ScanRules.TrustRemoteCode, $"{scalar.Path} is true", offset);
            if (scalar.Key == "_target_")
            {
                var decision = context.Policy.Evaluate(scalar.Value.Trim());
                if (decision.Verdict != Policy.CallableVerdict.Allowed)
                    context.Report(ScanRules.CustomPipeline, $"{scalar.Path} instantiates {scalar.Value.Trim()} ({(decision.Verdict == Policy.CallableVerdict.Dangerous ? decision.Category : decision.Reason)})",
                        offset, severity: decision.Verdict == Policy.CallableVerdict.Dangerous || decision.LookalikeOf is not null ? Severity.Critical : null);
                continue;
            }
            if (payloadFindings >= 50) continue;
            foreach (var hit in PayloadDetector.Inspect(scalar.Value, scalar.Key))
            {
                payloadFindings++;
                context.Report(hit.Rule, $"{scalar.Path}: {hit.Message}", offset, evidence: hit.Excerpt, severity: hit.Severity);
            }
        }
    }
}
