using System.Text;
using Lineage.Formats;
using Lineage.Formats.Pickle;
using Lineage.Security.Containers;

namespace Lineage.Security.Pickles;

/// <summary>
/// Static evaluation of the few expressions a pickle uses to build a name or a byte string, without running
/// anything: which callable a value would be (<c>getattr(__import__('os'), 'system')</c> is <c>os.system</c>),
/// and which bytes an argument holds (<c>base64.b64decode('gASV…')</c>, <c>bytes.fromhex(…)</c>,
/// <c>codecs.decode(…, 'hex')</c>, <c>zlib.decompress(…)</c>). Depth and output size are bounded.
/// </summary>
internal static class SymbolicValues
{
    private const int MaxDepth = 16;

    /// <summary>Largest decoded byte string (bigger payloads are not followed).</summary>
    public const int MaxDecodedBytes = 64 << 20;

    /// <summary>The dotted name of the callable <paramref name="value"/> evaluates to, or null when it is not known statically.</summary>
    public static string? CalleeName(PickleValue value) => CalleeName(value, 0);

    private static string? CalleeName(PickleValue value, int depth)
    {
        if (depth > MaxDepth) return null;
        switch (value)
        {
            case PickleGlobal { IsComputed: false, Source: not PickleGlobalSource.Extension } g:
                return g.ResolvedFullName;
            case PickleCall call:
                {
                    string? inner = CalleeName(call.Callable, depth + 1);
                    var args = call.ArgumentItems;
                    switch (inner)
                    {
                        case "builtins.getattr" or "__builtin__.getattr" when args.Count >= 2 && args[1] is PickleString attr:
                            return CalleeName(args[0], depth + 1) is { } owner ? owner + "." + attr.Value : null;
                        case "builtins.__import__" or "__builtin__.__import__" or "importlib.import_module" or "importlib.__import__"
                            when args.Count >= 1 && args[0] is PickleString module:
                            return module.Value;
                        case "builtins.globals" or "builtins.vars" or "builtins.locals":
                            return "builtins";
                        case "pkgutil.resolve_name" when args.Count >= 1 && args[0] is PickleString resolvable:
                            return resolvable.Value.Replace(':', '.');
                    }
                    // operator.attrgetter('a.b')(obj) is obj.a.b; operator.itemgetter('x')(vars(builtins)) is builtins.x.
                    if (call.Callable is PickleCall { } getter && CalleeName(getter.Callable, depth + 1) is "operator.attrgetter" or "operator.itemgetter"
                        && getter.ArgumentItems is [PickleString path] && args.Count >= 1 && CalleeName(args[0], depth + 1) is { } target)
                        return target + "." + path.Value;
                    return null;
                }
            default:
                return null;
        }
    }

    /// <summary>
    /// The bytes <paramref name="value"/> evaluates to (constants, and decode/decompress calls on them), or null.
    /// <paramref name="steps"/> collects the decode steps applied, for evidence.
    /// </summary>
    public static byte[]? Bytes(PickleValue value, ScanContext context, List<string> steps) => Bytes(value, context, steps, 0);

    private static byte[]? Bytes(PickleValue value, ScanContext context, List<string> steps, int depth)
    {
        if (depth > MaxDepth) return null;
        switch (value)
        {
            case PickleBytes b:
                return b.Value.ToArray();
            case PickleString s:
                return StringBytes(s.Value);
            case PickleCall call:
                return CallBytes(call, context, steps, depth);
            default:
                return null;
        }
    }

    /// <summary>A str standing for bytes: Latin-1 when every character fits (Python 2 byte strings), else UTF-8.</summary>
    public static byte[] StringBytes(string s) => s.All(c => c <= '\xFF') ? Encoding.Latin1.GetBytes(s) : Encoding.UTF8.GetBytes(s);

    private static byte[]? CallBytes(PickleCall call, ScanContext context, List<string> steps, int depth)
    {
        string? name = CalleeName(call.Callable, depth + 1);
        if (name is null) return null;
        var args = call.ArgumentItems;
        if (args.Count == 0) return null;
        string? Text(int i) => i < args.Count && args[i] is PickleString s ? s.Value : null;
        byte[]? Arg0() => Bytes(args[0], context, steps, depth + 1);
        byte[]? result = name switch
        {
            "base64.b64decode" or "base64.standard_b64decode" or "base64.decodebytes" or "base64.decodestring" or "binascii.a2b_base64"
                => Arg0() is { } a ? Base64(a, urlSafe: false) : null,
            "base64.urlsafe_b64decode" => Arg0() is { } a ? Base64(a, urlSafe: true) : null,
            "base64.b16decode" or "binascii.a2b_hex" or "binascii.unhexlify" or "builtins.bytes.fromhex" or "builtins.bytearray.fromhex"
                => Arg0() is { } a ? Hex(a) : null,
            "base64.b32decode" => Arg0() is { } a ? Base32(a) : null,
            "codecs.decode" or "_codecs.decode" => Codec(Arg0(), Text(1) ?? "utf-8", decode: true, context),
            "codecs.encode" or "_codecs.encode" or "builtins.str.encode" => Codec(Arg0(), Text(1) ?? "utf-8", decode: false, context),
            "builtins.bytes" or "builtins.bytearray" => args[0] is PickleList or PickleTuple ? IntList(args[0]) : Arg0(),
            "io.BytesIO" or "_io.BytesIO" => Arg0(),
            "zlib.decompress" => Decompress(Arg0(), ContainerFormat.Zlib, context),
            "gzip.decompress" => Decompress(Arg0(), ContainerFormat.Gzip, context),
            "bz2.decompress" => Decompress(Arg0(), ContainerFormat.Bzip2, context),
            "lzma.decompress" => Arg0() is { } a ? Decompress(a, a.Length > 0 && a[0] == 0x5D ? ContainerFormat.Lzma : ContainerFormat.Xz, context) : null,
            _ => null,
        };
        if (result is not null) steps.Add(name);
        return result;
    }

    private static byte[]? IntList(PickleValue list)
    {
        var items = list is PickleList l ? l.Items : ((PickleTuple)list).Items;
        if (items.Count > MaxDecodedBytes) return null;
        var bytes = new byte[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i] is not PickleInt n || !n.TryGetInt64(out long v) || v is < 0 or > 255) return null;
            bytes[i] = (byte)v;
        }
        return bytes;
    }

    private static byte[]? Codec(byte[]? input, string encoding, bool decode, ScanContext context)
    {
        if (input is null) return null;
        string e = encoding.ToLowerInvariant().Replace('-', '_');
        return e switch
        {
            "base64" or "base_64" or "base64_codec" when decode => Base64(input, urlSafe: false),
            "hex" or "hex_codec" when decode => Hex(input),
            "zlib" or "zip" or "zlib_codec" when decode => Decompress(input, ContainerFormat.Zlib, context),
            "bz2" or "bz2_codec" when decode => Decompress(input, ContainerFormat.Bzip2, context),
            // Text codecs: decode(bytes, 'latin1') gives a str that stands for the same bytes; encode(str, 'latin1') gives them back.
            "latin1" or "latin_1" or "iso_8859_1" or "iso8859_1" or "l1" or "ascii" or "utf_8" or "utf8" or "raw_unicode_escape" => input,
            _ => null,
        };
    }

    private static byte[]? Decompress(byte[]? input, ContainerFormat format, ScanContext context)
    {
        if (input is null) return null;
        var expanded = Expander.Expand(input, format, context, "<embedded compressed payload>");
        return expanded.Length > MaxDecodedBytes ? null : expanded.ToArray();
    }

    /// <summary>Python's lenient base64 decoding: characters outside the alphabet are dropped, missing padding is an error.</summary>
    public static byte[]? Base64(byte[] input, bool urlSafe)
    {
        var sb = new StringBuilder(input.Length);
        foreach (byte b in input)
        {
            char c = (char)b;
            if (urlSafe && c == '-') c = '+';
            else if (urlSafe && c == '_') c = '/';
            if (char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=') sb.Append(c);
        }
        if (sb.Length == 0 || sb.Length % 4 != 0) return null;
        try
        {
            return Convert.FromBase64String(sb.ToString());
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>bytes.fromhex: hex digit pairs, whitespace between them ignored.</summary>
    public static byte[]? Hex(byte[] input)
    {
        var sb = new StringBuilder(input.Length);
        foreach (byte b in input)
        {
            if (b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') continue;
            if (!char.IsAsciiHexDigit((char)b)) return null;
            sb.Append((char)b);
        }
        if (sb.Length == 0 || sb.Length % 2 != 0) return null;
        return Convert.FromHexString(sb.ToString());
    }

    private static byte[]? Base32(byte[] input)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var output = new List<byte>(input.Length * 5 / 8);
        int buffer = 0, bits = 0;
        foreach (byte b in input)
        {
            if (b == (byte)'=') break;
            int v = Alphabet.IndexOf((char)b, StringComparison.Ordinal);
            if (v < 0) return null;
            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                output.Add((byte)(buffer >> bits));
                buffer &= (1 << bits) - 1;
            }
        }
        return output.Count == 0 ? null : [.. output];
    }
}
