using System.CommandLine;
using Lineage.Cli.Catalog;

namespace Lineage.Cli.Commands;

/// <summary>Regenerates the built-in reference catalog from the shared corpus (see tools/build-catalog.sh).</summary>
internal static class DevCatalogCommand
{
    public static Command Create(CliContext context)
    {
        var corpus = new Option<string>("--corpus") { Description = "The shared corpus folder", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Catalog file to write", Required = true };
        var command = new Command("dev-build-catalog", "Compiles src/Lineage/Catalog/reference-catalog.json from the corpus.") { Hidden = true };
        command.Options.Add(corpus);
        command.Options.Add(output);
        command.SetAction(parse => context.Run(() =>
        {
            var catalog = ReferenceCatalogImport.Build(parse.GetValue(corpus)!);
            var bytes = catalog.Serialize();
            File.WriteAllBytes(parse.GetValue(output)!, bytes);
            context.Stdout.WriteLine($"catalog: {catalog.Models.Count} models, {catalog.Tokenizers.Count} tokenizers, {catalog.Families.Count} families, {catalog.Relations.Count} relations, {bytes.Length:N0} bytes → {parse.GetValue(output)}");
            return ExitCodes.Success;
        }));
        return command;
    }
}
