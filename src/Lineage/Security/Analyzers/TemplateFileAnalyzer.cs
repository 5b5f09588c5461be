using Lineage.Security.Templates;

namespace Lineage.Security.Analyzers;

/// <summary>Standalone Jinja templates (.jinja, .j2, .template files, or text that starts with a Jinja tag).</summary>
internal sealed class TemplateFileAnalyzer : IFormatAnalyzer
{
    public string Name => "jinja";

    public IReadOnlyList<RuleDescriptor> Rules { get; } =
    [
        ScanRules.JinjaDunder, ScanRules.JinjaPrivateAttribute, ScanRules.JinjaDangerousName, ScanRules.JinjaRiskyGlobal,
        ScanRules.JinjaObfuscatedName, ScanRules.JinjaDynamicAttribute, ScanRules.JinjaEscapedLiteral, ScanRules.JinjaCodePayload,
        ScanRules.JinjaSyntax, ScanRules.JinjaLarge, ScanRules.JinjaLoadsTemplates,
    ];

    public bool CanAnalyze(ScanTarget target) => target.Text == TextKind.Jinja;

    public void Analyze(ScanTarget target, ScanContext context)
    {
        var file = TextFile.Read(target, context);
        if (file is null) return;
        var origin = new TemplateOrigin(target.FileName, i => file.ByteOffset(i));
        foreach (var f in ChatTemplateAnalyzer.Analyze(file.Text, origin, context.Options.MaxTemplateChars))
        {
            context.Report(f);
        }
    }
}

/// <summary>
/// Python source and bytecode shipped in a model folder: code that runs when a loader trusts remote code.
/// Reported (low) so a reviewer knows it is there; config files say whether it is wired in (auto_map).
/// </summary>
internal sealed class PythonSourceAnalyzer : IFormatAnalyzer
{
    public string Name => "python";

    public IReadOnlyList<RuleDescriptor> Rules { get; } = [ScanRules.PythonSource];

    public bool CanAnalyze(ScanTarget target) =>
        target.Text == TextKind.Python
        || target.Container == Formats.ContainerFormat.Unknown && target.Text == TextKind.None
           && (target.FileName.EndsWith(".pyc", StringComparison.OrdinalIgnoreCase) || target.FileName.EndsWith(".pyo", StringComparison.OrdinalIgnoreCase));

    public void Analyze(ScanTarget target, ScanContext context)
    {
        string kind = target.Text == TextKind.Python ? "Python source" : "Python bytecode";
        context.Report(ScanRules.PythonSource, $"{kind} '{target.FileName}' ({target.Source.Length} bytes) runs if the model is loaded with trust_remote_code", 0);
    }
}
