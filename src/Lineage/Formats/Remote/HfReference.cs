using System.Text.RegularExpressions;

namespace Lineage.Formats.Remote;

/// <summary>
/// A parsed <c>hf://ORG/NAME[@REVISION][/PATH]</c> reference. A revision containing '/' (refs/pr/1) is written
/// URL-encoded (refs%2Fpr%2F1), as Hugging Face's own hf:// paths do. Every part is validated so that nothing
/// from the argument can reshape the URLs built from it.
/// </summary>
internal sealed partial record HfReference(string Repo, string? Revision, string? File)
{
    public const string Scheme = "hf://";

    public static HfReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
            throw new LineageException("not an hf:// reference", text);
        var segments = text[Scheme.Length..].Split('/');
        if (segments.Length < 2 || segments[0].Length == 0 || segments[1].Length == 0)
            throw new LineageException("expected hf://ORG/NAME[@REVISION][/FILE]", text);
        string org = segments[0];
        string name = segments[1];
        string? revision = null;
        int at = name.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            revision = Uri.UnescapeDataString(name[(at + 1)..]);
            name = name[..at];
            if (!RevisionPattern().IsMatch(revision) || revision.Contains("..", StringComparison.Ordinal))
                throw new LineageException($"invalid revision '{revision}'", text);
        }
        if (!NamePattern().IsMatch(org) || !NamePattern().IsMatch(name) || org.Contains("..", StringComparison.Ordinal) || name.Contains("..", StringComparison.Ordinal))
            throw new LineageException("invalid repository id (letters, digits, '-', '_', '.' allowed)", text);
        string? file = null;
        if (segments.Length > 2)
        {
            var rest = segments[2..];
            if (rest.Length == 1 && rest[0].Length == 0) rest = [];
            if (rest.Length > 0)
            {
                file = string.Join('/', rest);
                if (!IsSafeRelativePath(file)) throw new LineageException($"invalid file path '{file}'", text);
            }
        }
        return new HfReference($"{org}/{name}", revision, file);
    }

    /// <summary>A relative path inside a repository: no empty, '.' or '..' segments, no backslashes, no control characters.</summary>
    public static bool IsSafeRelativePath(string path)
    {
        if (path.Length == 0 || path.Length > 1024 || path.Contains('\\', StringComparison.Ordinal)) return false;
        foreach (char c in path)
            if (char.IsControl(c)) return false;
        foreach (var segment in path.Split('/'))
            if (segment.Length == 0 || segment == "." || segment == "..") return false;
        return true;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z0-9._/-]{1,255}$")]
    private static partial Regex RevisionPattern();
}
