using System.Buffers.Binary;
using System.Globalization;

namespace Lineage.Formats.Pickle;

/// <summary>
/// Decides whether the first bytes of a file could be a pickle that Python's Unpickler would act on. Pickles
/// need no header (PROTO is optional), so a first-byte test alone calls YAML starting "chat_template:" a GLOBAL
/// and "In this folder" an INT. The sniffer walks the opcode framing the way the Unpickler reads it and rejects
/// content only when the Unpickler would stop before importing anything (an unknown opcode, an INT that is not
/// a number, a GLOBAL whose module cannot be a module name). Once an opcode that imports (GLOBAL, INST,
/// STACK_GLOBAL, EXT*) has been framed, a later error no longer matters: loading would already have run the
/// import, so the bytes count as a pickle and a payload placed before a corrupt byte is still analysed.
/// </summary>
internal static class PickleSniffer
{
    /// <summary>Opcodes walked before the answer is "yes": 64 well-framed opcodes are not an accident.</summary>
    private const int EnoughOpcodes = 64;

    /// <summary>Opcodes taking one newline-terminated argument.</summary>
    private const string LineArgOpcodes = "ILFSVPpg";

    /// <summary>Opcodes taking no argument.</summary>
    private const string NoArgOpcodes = "(.0123NRabd}el]ostu)Q";

    /// <summary>
    /// True when <paramref name="head"/> could be the start of a pickle Python would act on.
    /// <paramref name="truncated"/> says the file continues past <paramref name="head"/>.
    /// </summary>
    public static bool IsPlausible(ReadOnlySpan<byte> head, bool truncated) => IsPlausible(head, truncated ? long.MaxValue : head.Length);

    /// <summary>
    /// True when <paramref name="head"/>, the first bytes of a stream of <paramref name="totalLength"/> bytes, could be
    /// the start of a pickle Python would act on. A counted string longer than the whole stream cannot be read.
    /// </summary>
    public static bool IsPlausible(ReadOnlySpan<byte> head, long totalLength)
    {
        bool truncated = totalLength > head.Length;
        int i = 0, ops = 0;
        bool imported = false;
        while (i < head.Length && ops < EnoughOpcodes)
        {
            byte op = head[i++];
            ops++;
            if (op == (byte)'.') return ops > 1;
            if (op < 0x80 && NoArgOpcodes.Contains((char)op, StringComparison.Ordinal)) continue;
            if (op < 0x80 && LineArgOpcodes.Contains((char)op, StringComparison.Ordinal))
            {
                int nl = head[i..].IndexOf((byte)'\n');
                if (nl < 0) return truncated || imported;
                if (!LineArgumentValid((char)op, head.Slice(i, nl))) return imported;
                i += nl + 1;
                continue;
            }
            if (op is (byte)'c' or (byte)'i')
            {
                for (int line = 0; line < 2; line++)
                {
                    int nl = head[i..].IndexOf((byte)'\n');
                    if (nl < 0) return truncated || imported;
                    if (nl == 0 || (line == 0 && !ImportableModuleName(head.Slice(i, nl)))) return imported;
                    i += nl + 1;
                }
                imported = true;
                continue;
            }
            if (op is 0x93 or 0x82 or 0x83 or 0x84) imported = true;
            if (op == 0x80 && i < head.Length && head[i] > 5) return imported;
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
            int prefix = op switch
            {
                (byte)'U' or (byte)'C' or 0x8c or 0x8a => 1,
                (byte)'T' or (byte)'X' or (byte)'B' or 0x8b => 4,
                0x8d or 0x8e or 0x96 => 8,
                _ => -1,
            };
            if (prefix < 0) return imported;
            if (i + prefix > head.Length) return truncated || imported;
            long length = prefix switch
            {
                1 => head[i],
                4 => BinaryPrimitives.ReadUInt32LittleEndian(head.Slice(i, 4)),
                _ => (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(head.Slice(i, 8)), long.MaxValue),
            };
            i += prefix;
            if (length > totalLength - i) return imported;
            if (length > head.Length - i) return truncated || imported;
            i += (int)length;
        }
        // Out of bytes without a STOP: a complete file that never stops cannot load (but an import may already have run).
        return ops >= EnoughOpcodes || truncated || imported;
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
            case 'P':
            case 'V':
                return true;
            default:
                // Memo indices (p, g) are decimal numbers.
                return text.Trim().Length > 0 && text.Trim().All(char.IsAsciiDigit);
        }
    }

    /// <summary>A module name the importer could resolve: no whitespace, colon, slash or control characters.</summary>
    private static bool ImportableModuleName(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
            if (b <= 0x20 || b is (byte)':' or (byte)'/' or (byte)'\\' or 0x7F or (byte)',' or (byte)';' or (byte)'(' or (byte)')' or (byte)'=') return false;
        return true;
    }
}
