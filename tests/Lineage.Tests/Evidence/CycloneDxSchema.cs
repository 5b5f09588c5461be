using NJsonSchema;

namespace Lineage.Tests.Evidence;

/// <summary>
/// The CycloneDX 1.6 JSON schema (with its spdx and jsf sub-schemas) loaded from the test output folder, and an
/// independent validator (NJsonSchema) to check BOMs against it offline.
/// </summary>
internal static class CycloneDxSchema
{
    private static readonly Lazy<JsonSchema> Schema = new(Load);

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Schemas", "cyclonedx");

    /// <summary>Every validation error, as "path: kind" lines (empty when the document is valid).</summary>
    public static IReadOnlyList<string> Validate(string json) =>
        [.. Schema.Value.Validate(json).SelectMany(Flatten)];

    private static IEnumerable<string> Flatten(NJsonSchema.Validation.ValidationError e)
    {
        yield return $"{e.Path}: {e.Kind} ({e.Property})";
        if (e is NJsonSchema.Validation.ChildSchemaValidationError child)
            foreach (var inner in child.Errors.SelectMany(kv => kv.Value).SelectMany(Flatten).Take(20))
                yield return "  " + inner;
    }

    private static JsonSchema Load()
    {
        string path = Path.Combine(Folder, "bom-1.6.schema.json");
        return JsonSchema.FromFileAsync(path).GetAwaiter().GetResult();
    }
}
