using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lineage.Cli;

/// <summary>Machine output goes to stdout only; people-facing logs and progress go to stderr.</summary>
internal static class Output
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static bool UseColor => Environment.GetEnvironmentVariable("NO_COLOR") is null or "" && !Console.IsErrorRedirected;

    public static void WriteJson<T>(TextWriter stdout, T value)
    {
        stdout.WriteLine(JsonSerializer.Serialize(value, Json));
    }

    public static void Error(TextWriter stderr, string message)
    {
        stderr.WriteLine($"lineage: error: {message}");
    }
}
