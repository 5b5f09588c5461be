namespace Lineage.Providers;

/// <summary>
/// How alike two answers are, in [0, 1]: the mean of the Jaccard similarity of their word sets (blind to word
/// order, so a reworded sentence with the same words stays close) and of their character 3-gram sets (which
/// tolerates inflections and small edits). Text is lower-cased with whitespace collapsed; only the first
/// <see cref="MaxChars"/> characters count, so long answers cost bounded time.
/// </summary>
internal static class TextSimilarity
{
    internal const int MaxChars = 8192;

    internal sealed record TextFeatures(HashSet<string> Words, HashSet<long> Trigrams);

    public static TextFeatures Features(string text)
    {
        string s = Normalize(text);
        var words = new HashSet<string>(StringComparer.Ordinal);
        int start = -1;
        for (int i = 0; i <= s.Length; i++)
        {
            bool letter = i < s.Length && char.IsLetterOrDigit(s[i]);
            if (letter && start < 0) start = i;
            else if (!letter && start >= 0)
            {
                words.Add(s[start..i]);
                start = -1;
            }
        }
        var trigrams = new HashSet<long>();
        for (int i = 0; i + 3 <= s.Length; i++) trigrams.Add(((long)s[i] << 32) | ((long)s[i + 1] << 16) | s[i + 2]);
        return new TextFeatures(words, trigrams);
    }

    public static double Similarity(TextFeatures a, TextFeatures b) => 0.5 * (Jaccard(a.Words, b.Words) + Jaccard(a.Trigrams, b.Trigrams));

    public static double Similarity(string a, string b) => Similarity(Features(a), Features(b));

    private static double Jaccard<T>(HashSet<T> a, HashSet<T> b)
    {
        if (a.Count == 0 && b.Count == 0) return 1;
        var (small, large) = a.Count <= b.Count ? (a, b) : (b, a);
        int common = 0;
        foreach (var x in small)
        {
            if (large.Contains(x)) common++;
        }
        return common / (double)(a.Count + b.Count - common);
    }

    private static string Normalize(string text)
    {
        var span = text.AsSpan(0, Math.Min(text.Length, MaxChars));
        var builder = new System.Text.StringBuilder(span.Length);
        bool space = false;
        foreach (char c in span)
        {
            if (char.IsWhiteSpace(c))
            {
                space = builder.Length > 0;
                continue;
            }
            if (space) builder.Append(' ');
            space = false;
            builder.Append(char.ToLowerInvariant(c));
        }
        return builder.ToString();
    }
}
