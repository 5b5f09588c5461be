using System.Globalization;

namespace Lineage.Cli;

/// <summary>
/// $SOURCE_DATE_EPOCH (reproducible-builds.org): when set, BOMs carry that time instead of now, so two runs over
/// the same inputs give byte-identical output.
/// </summary>
internal static class SourceDateEpoch
{
    public static DateTimeOffset? Timestamp()
    {
        string? value = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
    }
}
