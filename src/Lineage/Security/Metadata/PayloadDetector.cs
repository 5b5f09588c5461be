using System.Text;
using System.Text.RegularExpressions;

namespace Lineage.Security.Metadata;

/// <summary>One suspicious thing found in a free-form string.</summary>
public sealed record PayloadHit(RuleDescriptor Rule, Severity Severity, string Message, string Excerpt);

/// <summary>
/// Finds payloads in free-form metadata strings (safetensors __metadata__, GGUF string values, manifest and config
/// JSON/YAML): Python code, shell commands, HTML/JavaScript, encoded blobs (escape text, base64/hex that decodes
/// to code or to a pickle), URLs and credentials. The patterns are anchored on syntax (a call's parenthesis, an
/// import statement's shape, a command's flags) so that prose such as "import this model" or a SHA-256 digest
/// does not trip them. Regexes run without backtracking, so hostile strings cannot stall the scan.
/// </summary>
public static class PayloadDetector
{
    /// <summary>Strings longer than this are inspected on their first part only.</summary>
    public const int MaxInspectedChars = 64 * 1024;

    private const RegexOptions Opts = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    private static readonly Regex ImportStatement = new(
        @"(^|[;\n])[ \t]*(import[ \t]+[A-Za-z_][A-Za-z0-9_.]*([ \t]*,[ \t]*[A-Za-z_][A-Za-z0-9_.]*)*[ \t]*($|[;\n]|[ \t]+as[ \t])|from[ \t]+[A-Za-z_.][A-Za-z0-9_.]*[ \t]+import[ \t]+[A-Za-z_*(])",
        Opts | RegexOptions.Multiline);

    private static readonly Regex CodeCall = new(
        @"(\b(__import__|eval|exec|execfile|compile|getattr|setattr|breakpoint)\(|\bos[ \t]*\.[ \t]*(system|popen|exec[lvpe]*|spawn[lvpe]*|remove|unlink|fork)[ \t]*\(|\bsubprocess[ \t]*\.[ \t]*[A-Za-z_]+|\b(pickle|cPickle|marshal|dill|cloudpickle)[ \t]*\.[ \t]*loads?[ \t]*\(|\bbase64[ \t]*\.[ \t]*b(64|32|16|85)decode[ \t]*\(|\b(importlib[ \t]*\.[ \t]*import_module|runpy[ \t]*\.[ \t]*run_\w+)|__(builtins|globals|class|subclasses|mro|import|code|reduce)__|\blambda[ \t]+[A-Za-z_][A-Za-z0-9_, \t]*:)",
        Opts);

    private static readonly Regex ShellCommand = new(
        @"(\brm[ \t]+-[A-Za-z]*[rf]|\bchmod[ \t]+([0-7]{3,4}|[ugoa]*[+][rwxs]+)[ \t]|\b(curl|wget)[ \t]+(-{1,2}[A-Za-z-]+[ \t]+)*['""]?(https?|ftp)://|\|[ \t]*(ba|z|da|k)?sh\b|\b(bash|sh|zsh)[ \t]+-c\b|/bin/(ba)?sh\b|\bnc[ \t]+(-[A-Za-z]+[ \t]+)*-e\b|/dev/tcp/|\bmkfifo\b|\bpowershell(\.exe)?[ \t]+-|\bcmd(\.exe)?[ \t]+/c\b|(&&|;)[ \t]*(curl|wget|rm|chmod|sh|bash|nc|python[0-9.]*)[ \t])",
        Opts);

    private static readonly Regex Script = new(
        @"(<[ \t]*script\b|javascript[ \t]*:|\bon(error|load|click|mouseover|focus)[ \t]*=|<[ \t]*iframe\b|document\.cookie|<[ \t]*object\b|<[ \t]*embed\b)",
        Opts | RegexOptions.IgnoreCase);

    /// <summary>What turns markup into an attack on the viewer: sending data away, reading cookies, redirecting, eval.</summary>
    private static readonly Regex ScriptExfiltration = new(
        @"(document\.cookie|\bfetch[ \t]*\(|XMLHttpRequest|navigator\.sendBeacon|(document|window)\.location[ \t]*=|\beval[ \t]*\(|localStorage|new[ \t]+Image[ \t]*\()",
        Opts | RegexOptions.IgnoreCase);

    private static readonly Regex EscapeText = new(@"(\\x[0-9A-Fa-f]{2}){4,}|(\\u[0-9A-Fa-f]{4}){4,}|(\\[0-7]{3}){4,}", Opts);

    private static readonly Regex Url = new(@"\b(https?|ftp|file|s3|gs)://[^\s'""<>]+", Opts | RegexOptions.IgnoreCase);

    private static readonly Regex Secret = new(
        @"(\bsk-[A-Za-z0-9_-]{16,}|\bhf_[A-Za-z0-9]{30,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN ([A-Z]+ )?PRIVATE KEY-----)",
        Opts);

    private static readonly Regex QuotedBase64 = new(@"['""]([A-Za-z0-9+/]{16,}={0,2})['""]", Opts);

    private static readonly HashSet<string> SecretKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "api_key", "apikey", "api-key", "secret", "secret_key", "client_secret", "password", "passwd", "access_token",
        "auth_token", "hf_token", "private_key", "access_key", "aws_secret_access_key", "openai_api_key",
    };

    /// <summary>Inspects one string value; <paramref name="key"/> (its JSON/YAML key) helps only for credentials.</summary>
    public static IReadOnlyList<PayloadHit> Inspect(string value, string? key = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        var hits = new List<PayloadHit>();
        string text = value.Length > MaxInspectedChars ? value[..MaxInspectedChars] : value;

        if ((FirstMatch(ImportStatement, text) ?? FirstMatch(CodeCall, text)) is { } code)
            hits.Add(new PayloadHit(ScanRules.MetaCode, Severity.High, "Python code", Excerpt(text, code)));
        if (FirstMatch(ShellCommand, text) is { } shell)
            hits.Add(new PayloadHit(ScanRules.MetaShell, Severity.High, "shell command", Excerpt(text, shell)));
        if (FirstMatch(Script, text) is { } script)
        {
            bool exfiltrates = ScriptExfiltration.IsMatch(text);
            hits.Add(new PayloadHit(ScanRules.MetaScript, exfiltrates ? Severity.High : Severity.Medium,
                exfiltrates ? "JavaScript that sends data away or redirects the viewer" : "HTML/JavaScript", Excerpt(text, script)));
        }

        if (DecodedPayload(text) is { } decoded) hits.Add(decoded);

        if (FirstMatch(Url, text) is { } url)
            hits.Add(new PayloadHit(ScanRules.MetaUrl, Severity.Low, "URL", Excerpt(text, url)));
        if (FirstMatch(Secret, text) is { } secret)
            hits.Add(new PayloadHit(ScanRules.MetaSecret, Severity.Low, "credential-like value", Redact(text[secret.Index..(secret.Index + secret.Length)])));
        else if (key is not null && SecretKeys.Contains(key) && text.Length >= 8 && !text.Contains(' ', StringComparison.Ordinal) && !text.StartsWith('<'))
            hits.Add(new PayloadHit(ScanRules.MetaSecret, Severity.Low, $"credential in '{key}'", Redact(text)));
        return hits;
    }

    /// <summary>True when the text looks like Python code or a shell command (used on decoded payloads).</summary>
    public static bool LooksLikeCode(string text) =>
        ImportStatement.IsMatch(text) || CodeCall.IsMatch(text) || ShellCommand.IsMatch(text);

    /// <summary>True when the text calls code-execution primitives or names interpreter internals (no import/shell heuristics).</summary>
    public static bool LooksLikeCodeCall(string text) => CodeCall.IsMatch(text);

    /// <summary>True for bytes that start like a pickle stream (PROTO 2–5).</summary>
    public static bool LooksLikePickle(ReadOnlySpan<byte> bytes) => bytes.Length >= 3 && bytes[0] == 0x80 && bytes[1] is >= 2 and <= 5;

    private static PayloadHit? DecodedPayload(string text)
    {
        // Pickle bytes smuggled through a JSON string as \u0080\u0004…
        if (text.Length >= 3 && text[0] == '\u0080' && text[1] is >= '\u0002' and <= '\u0005')
            return new PayloadHit(ScanRules.MetaEncoded, Severity.High, "pickle bytes", Excerpt(text, null));

        if (FirstMatch(EscapeText, text) is { } esc)
        {
            string decoded = DecodeEscapes(text[esc.Index..(esc.Index + esc.Length)]);
            bool code = LooksLikeCode(decoded);
            return new PayloadHit(ScanRules.MetaEncoded, code ? Severity.High : Severity.Medium,
                code ? "escape sequences that decode to code" : "escape-sequence encoded text", $"decodes to: {Printable(decoded)}");
        }

        string trimmed = text.Trim();
        if (TryDecodeBase64(trimmed, out var b64) || TryDecodeHex(trimmed, out b64))
        {
            if (LooksLikePickle(b64)) return new PayloadHit(ScanRules.MetaEncoded, Severity.High, "encoded pickle", $"{b64.Length} bytes starting 80 {b64[1]:x2}");
            string s = Encoding.Latin1.GetString(b64);
            if (LooksLikeCode(s)) return new PayloadHit(ScanRules.MetaEncoded, Severity.High, "encoded code", $"decodes to: {Printable(s)}");
        }
        foreach (Match m in QuotedBase64.Matches(text))
        {
            if (TryDecodeBase64(m.Groups[1].Value, out var inner))
            {
                string s = Encoding.Latin1.GetString(inner);
                if (LooksLikePickle(inner) || LooksLikeCode(s) || IsMostlyPrintable(inner))
                    return new PayloadHit(ScanRules.MetaEncoded, LooksLikePickle(inner) || LooksLikeCode(s) ? Severity.High : Severity.Medium,
                        "embedded base64", $"'{m.Groups[1].Value}' decodes to: {Printable(s)}");
            }
        }
        return null;
    }

    internal static bool TryDecodeBase64(string s, out byte[] bytes)
    {
        bytes = [];
        if (s.Length < 16 || s.Length % 4 != 0) return false;
        foreach (char c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=' or '-' or '_')) return false;
        string normalized = s.Replace('-', '+').Replace('_', '/');
        try
        {
            bytes = Convert.FromBase64String(normalized);
            return bytes.Length > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool TryDecodeHex(string s, out byte[] bytes)
    {
        bytes = [];
        if (s.Length < 32 || s.Length % 2 != 0 || !s.All(char.IsAsciiHexDigit)) return false;
        bytes = Convert.FromHexString(s);
        return true;
    }

    private static bool IsMostlyPrintable(byte[] bytes)
    {
        int printable = bytes.Count(b => b is >= 0x20 and < 0x7F or (byte)'\n' or (byte)'\t');
        return bytes.Length >= 8 && printable * 10 >= bytes.Length * 9;
    }

    private static string DecodeEscapes(string s)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && s[i + 1] == 'x')
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 2, 2), 16));
                i += 3;
            }
            else if (s[i] == '\\' && i + 5 < s.Length && s[i + 1] == 'u')
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 2, 4), 16));
                i += 5;
            }
            else if (s[i] == '\\' && i + 3 < s.Length && s[i + 1] is >= '0' and <= '7')
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }
        return sb.ToString();
    }

    private readonly record struct Span(int Index, int Length);

    private static Span? FirstMatch(Regex regex, string text)
    {
        foreach (var m in regex.EnumerateMatches(text)) return new Span(m.Index, m.Length);
        return null;
    }

    private static string Excerpt(string text, Span? m)
    {
        const int Width = 160;
        if (m is not { } match || text.Length <= Width) return Printable(text.Length <= Width ? text : text[..Width] + "…");
        int start = Math.Max(0, match.Index - 40);
        int end = Math.Min(text.Length, start + Width);
        return (start > 0 ? "…" : "") + Printable(text[start..end]) + (end < text.Length ? "…" : "");
    }

    private static string Redact(string secret) => secret.Length <= 8 ? "****" : secret[..4] + new string('*', Math.Min(12, secret.Length - 4));

    /// <summary>Control and non-printable characters escaped, at most 200 characters.</summary>
    public static string Printable(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 200));
        foreach (char c in s)
        {
            if (sb.Length >= 200) { sb.Append('…'); break; }
            if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20 || c is >= '\x7F' and <= '\xA0') sb.Append($"\\x{(int)c:x2}");
            else sb.Append(c);
        }
        return sb.ToString();
    }
}
