namespace Lineage.Providers;

/// <summary>
/// Removes a secret from text before it is recorded: providers echo keys back in error messages
/// ("Incorrect API key provided: sk-…"), sometimes in part, so the whole key and its long fragments are replaced.
/// </summary>
internal sealed class Redactor(string? secret)
{
    public const string Mask = "[redacted]";

    /// <summary>Fragments at least this long (of a key at least twice as long) are masked too.</summary>
    private const int MinFragment = 8;

    public string? Apply(string? text)
    {
        if (string.IsNullOrEmpty(text) || string.IsNullOrEmpty(secret)) return text;
        string result = text.Replace(secret, Mask, StringComparison.Ordinal);
        if (secret.Length < 2 * MinFragment) return result;
        // A partial echo keeps a prefix and a suffix of the key ("sk-abc...wxyz"): mask any run of MinFragment or
        // more characters that occurs in the key.
        var span = result.AsSpan();
        var builder = new System.Text.StringBuilder(result.Length);
        int i = 0;
        while (i < span.Length)
        {
            int longest = 0;
            if (span.Length - i >= MinFragment && secret.Contains(span.Slice(i, MinFragment), StringComparison.Ordinal))
            {
                longest = MinFragment;
                while (i + longest < span.Length && secret.Contains(span.Slice(i, longest + 1), StringComparison.Ordinal)) longest++;
            }
            if (longest > 0)
            {
                builder.Append(Mask);
                i += longest;
            }
            else
            {
                builder.Append(span[i]);
                i++;
            }
        }
        return builder.ToString();
    }
}
