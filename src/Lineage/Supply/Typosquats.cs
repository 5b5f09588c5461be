using System.Reflection;
using System.Text;

namespace Lineage.Supply;

/// <summary>A near miss: the popular name a package name imitates, and how.</summary>
public sealed record TyposquatMatch(string Popular, string How);

/// <summary>
/// The <c>typosquat</c> rule: a name that is not itself a popular ML/LLM package (nor a known legitimate
/// neighbour of one) but lies within a small edit distance of one: the same name once separators, digit/letter
/// look-alikes (0/o, 1/l, 5/s, rn/m, vv/w) and case are folded, or a Damerau–Levenshtein distance of 1 for names
/// of 5–9 characters and 2 from 10 characters (one deletion, insertion, substitution or swapped pair of
/// letters). Names shorter than 5 characters are only matched by the folded form: one edit of "jax" or "trl"
/// is another real word more often than an attack. The reference list is shipped in Supply/Data.
/// </summary>
public static class Typosquats
{
    private static readonly Lazy<(Dictionary<string, List<string>> Popular, HashSet<string> Legit, Dictionary<string, string[]> Folded)> Lists = new(Load);

    /// <summary>The popular names for an ecosystem (PyPI names PEP 503-normalized).</summary>
    public static IReadOnlyList<string> Popular(string ecosystem) =>
        Lists.Value.Popular.TryGetValue(Key(ecosystem), out var list) ? list : [];

    public static TyposquatMatch? Check(string ecosystem, string name)
    {
        ArgumentNullException.ThrowIfNull(ecosystem);
        ArgumentNullException.ThrowIfNull(name);
        string eco = Key(ecosystem);
        if (!Lists.Value.Popular.TryGetValue(eco, out var popular)) return null;
        string n = Normalize(eco, name);
        if (popular.Contains(n, StringComparer.Ordinal) || Lists.Value.Legit.Contains(eco + " " + n)) return null;
        string folded = Fold(n);
        TyposquatMatch? best = null;
        int bestDistance = int.MaxValue;
        var folds = Lists.Value.Folded[eco];
        for (int i = 0; i < popular.Count; i++)
        {
            string p = popular[i];
            if (folds[i] == folded)
                return new TyposquatMatch(p, "same name once separators and look-alike characters are folded");
            int limit = p.Length >= 10 ? 2 : p.Length >= 5 ? 1 : 0;
            if (limit == 0 || Math.Abs(p.Length - n.Length) > limit) continue;
            int d = Distance(n, p, limit);
            if (d <= limit && d < bestDistance)
            {
                bestDistance = d;
                best = new TyposquatMatch(p, d == 1 ? "one edit away" : $"{d} edits away");
            }
        }
        return best;
    }

    private static string Key(string ecosystem) => Ecosystems.Base(ecosystem) switch
    {
        Ecosystems.PyPI => "pypi",
        Ecosystems.Npm => "npm",
        var other => other.ToLowerInvariant(),
    };

    private static string Normalize(string eco, string name) => eco == "pypi" ? Ecosystems.Pep503(name) : name.Trim().ToLowerInvariant();

    /// <summary>Separators dropped, look-alikes mapped to one letter.</summary>
    internal static string Fold(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (char c in name.ToLowerInvariant())
        {
            switch (c)
            {
                case '-' or '_' or '.' or '@' or '/':
                    continue;
                case '0':
                    sb.Append('o');
                    break;
                case '1':
                    sb.Append('l');
                    break;
                case '5':
                    sb.Append('s');
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        return sb.Replace("rn", "m").Replace("vv", "w").ToString();
    }

    /// <summary>Optimal-string-alignment distance (Damerau–Levenshtein with adjacent swaps), cut off above <paramref name="limit"/>.</summary>
    internal static int Distance(string a, string b, int limit)
    {
        int n = a.Length, m = b.Length;
        if (Math.Abs(n - m) > limit) return limit + 1;
        var prev2 = new int[m + 1];
        var prev = new int[m + 1];
        var cur = new int[m + 1];
        for (int j = 0; j <= m; j++) prev[j] = j;
        for (int i = 1; i <= n; i++)
        {
            cur[0] = i;
            int rowMin = cur[0];
            for (int j = 1; j <= m; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                int v = Math.Min(Math.Min(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = Math.Min(v, prev2[j - 2] + 1);
                cur[j] = v;
                rowMin = Math.Min(rowMin, v);
            }
            if (rowMin > limit) return limit + 1;
            (prev2, prev, cur) = (prev, cur, prev2);
        }
        return prev[m];
    }

    private static (Dictionary<string, List<string>>, HashSet<string>, Dictionary<string, string[]>) Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Lineage.Supply.popular-packages.txt")
            ?? throw new InvalidOperationException("the popular-packages resource is missing from the build");
        using var reader = new StreamReader(stream);
        var popular = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var legit = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            int comment = line.IndexOf('#', StringComparison.Ordinal);
            line = (comment >= 0 ? line[..comment] : line).Trim();
            if (line.Length == 0) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3 && parts[0] == "legit")
            {
                legit.Add(parts[1] + " " + Normalize(parts[1], parts[2]));
            }
            else if (parts.Length == 2)
            {
                if (!popular.TryGetValue(parts[0], out var list)) popular[parts[0]] = list = [];
                list.Add(Normalize(parts[0], parts[1]));
            }
        }
        return (popular, legit, popular.ToDictionary(p => p.Key, p => p.Value.Select(Fold).ToArray(), StringComparer.Ordinal));
    }
}
