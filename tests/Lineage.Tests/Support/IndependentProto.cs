namespace Lineage.Tests.Support;

/// <summary>
/// A deliberately separate, minimal protobuf walk used as a test oracle (no limits, no validation: only for
/// trusted corpus files), so reader tests do not check the library against itself.
/// </summary>
internal static class IndependentProto
{
    public static ulong Varint(ReadOnlySpan<byte> b, ref int i)
    {
        ulong r = 0;
        for (int s = 0; ; s += 7)
        {
            byte c = b[i++];
            r |= (ulong)(c & 0x7F) << s;
            if (c < 0x80) return r;
        }
    }

    public static List<(int Field, ulong Value, ReadOnlyMemory<byte> Payload)> Fields(ReadOnlyMemory<byte> m)
    {
        var list = new List<(int, ulong, ReadOnlyMemory<byte>)>();
        var b = m.Span;
        int i = 0;
        while (i < b.Length)
        {
            ulong tag = Varint(b, ref i);
            int wire = (int)(tag & 7);
            if (wire == 0) list.Add(((int)(tag >> 3), Varint(b, ref i), ReadOnlyMemory<byte>.Empty));
            else if (wire == 5) { list.Add(((int)(tag >> 3), 0, m.Slice(i, 4))); i += 4; }
            else if (wire == 1) { list.Add(((int)(tag >> 3), 0, m.Slice(i, 8))); i += 8; }
            else
            {
                int n = (int)Varint(b, ref i);
                list.Add(((int)(tag >> 3), 0, m.Slice(i, n)));
                i += n;
            }
        }
        return list;
    }
}
