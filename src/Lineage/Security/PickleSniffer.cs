using System.Globalization;

namespace Lineage.Security;

/// <summary>
/// A second opinion on text that <see cref="Formats.FormatDetector"/> calls a protocol 0/1 pickle because of its
/// first byte (a YAML file starting "chat_template:" begins with the GLOBAL opcode 'c'). It walks the opcode
/// framing of the first bytes the way pickle's Unpickler reads them and rejects only content that the
/// Unpickler itself would reject before executing anything (an unknown opcode, an INT that is not a number, a
/// GLOBAL whose module name cannot be imported). So it can never turn a loadable pickle into "text".
/// </summary>
internal static class PickleSniffer
{
    /// <summary>Opcodes taking one newline-terminated argument.</summary>
    private const string LineArgOpcodes = "ILFSVPpg";

    /// <summary>Opcodes taking no argument.</summary>
    private const string NoArgOpcodes = "(.0123NRabd}el]ostu)Q";

    /// <summary>True when <paramref name="head"/> could be the start of a pickle that Python would load.</summary>
    public static bool IsPlausible(ReadOnlySpan<byte> head, bool truncated)
    {
        int i = 0, ops = 0;
        while (i < head.Length && ops < 64)
        {
            byte op = head[i++];
            ops++;
            if (op == (byte)'.') return ops > 1;
            if (op < 0x80 && NoArgOpcodes.Contains((char)op, StringComparison.Ordinal)) continue;
            if (op < 0x80 && LineArgOpcodes.Contains((char)op, StringComparison.Ordinal))
            {
                int nl = head[i..].IndexOf((byte)'\n');
                if (nl < 0) return truncated;
                if (!LineArgumentValid((char)op, head.Slice(i, nl))) return false;
                i += nl + 1;
                continue;
            }
            if (op is (byte)'c' or (byte)'i')
            {
                for (int line = 0; line < 2; line++)
                {
                    int nl = head[i..].IndexOf((byte)'\n');
                    if (nl < 0) return truncated;
                    if (nl == 0 || (line == 0 && !ImportableModuleName(head.Slice(i, nl)))) return false;
                    i += nl + 1;
                }
                continue;
            }
            int fixedArg = op switch
            {
                (byte)'K' or (byte)'h' or (byte)'q' or 0x80 or 0x82 => 1,
                (byte)'M' or 0x83 => 2,
                (byte)'J' or (byte)'j' or (byte)'r' or 0x84 => 4,
                (byte)'G' or 0x95 => 8,
                0x81 or 0x85 or 0x86 or 0x87 or 0x88 or 0x89 or 0x8f or 0x90 or 0x91 or 0x92 or 0x93 or 0x94 or 0x97 or 0x98 => 0,
                _ => -1,
            };
            if (fixedArg >= 0)
            {
                i += fixedArg;
                continue;
            }
            long length;
            int prefix = op switch
            {
                (byte)'U' or (byte)'C' or 0x8c or 0x8a => 1,
                (byte)'T' or (byte)'X' or (byte)'B' or 0x8b => 4,
                0x8d or 0x8e or 0x96 => 8,
                _ => -1,
            };
            if (prefix < 0) return false;
            if (i + prefix > head.Length) return truncated;
            length = prefix switch
            {
                1 => head[i],
                4 => BitConverter.ToUInt32(head.Slice(i, 4)),
                _ => (long)Math.Min(BitConverter.ToUInt64(head.Slice(i, 8)), long.MaxValue),
            };
            i += prefix;
            if (length > head.Length - i) return truncated;
            i += (int)length;
        }
        return true;
    }

    private static bool LineArgumentValid(char op, ReadOnlySpan<byte> arg)
    {
        string text = System.Text.Encoding.Latin1.GetString(arg);
        switch (op)
        {
            case 'I':
            case 'L':
                {
                    string t = text.Trim().TrimEnd('L');
                    return long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                        || t.Length > 0 && t.TrimStart('-', '+').All(char.IsAsciiDigit);
                }
            case 'F':
                return double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                    || text.Trim() is "nan" or "inf" or "-inf";
            case 'S':
                {
                    string t = text.TrimEnd();
                    return t.Length >= 2 && t[0] is '\'' or '"' && t[^1] == t[0];
                }
            default:
                return true;
        }
    }

    /// <summary>A module name __import__ could resolve: no whitespace, colon, slash or control characters.</summary>
    private static bool ImportableModuleName(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
            if (b <= 0x20 || b is (byte)':' or (byte)'/' or (byte)'\\' or 0x7F) return false;
        return true;
    }
}
