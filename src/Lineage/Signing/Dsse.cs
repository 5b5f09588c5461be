using System.Globalization;
using System.Text;

namespace Lineage.Signing;

/// <summary>DSSE v1 pre-authentication encoding: what a DSSE signature actually signs.</summary>
internal static class Dsse
{
    /// <summary>PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal bytes.</summary>
    public static byte[] Pae(string payloadType, ReadOnlySpan<byte> payload)
    {
        var typeBytes = Encoding.UTF8.GetBytes(payloadType);
        var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"DSSEv1 {typeBytes.Length} "));
        var middle = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $" {payload.Length} "));
        var result = new byte[header.Length + typeBytes.Length + middle.Length + payload.Length];
        header.CopyTo(result, 0);
        typeBytes.CopyTo(result, header.Length);
        middle.CopyTo(result, header.Length + typeBytes.Length);
        payload.CopyTo(result.AsSpan(header.Length + typeBytes.Length + middle.Length));
        return result;
    }

    /// <summary>
    /// What model_signing 0.2 signed instead of the PAE, through a bug the reference still accepts for key-signed
    /// bundles: "DSSEV1 LEN(type) type LEN(body) " followed by Python's repr of the body bytes (b'...' with escapes).
    /// </summary>
    public static byte[] PaeCompat(string payloadType, ReadOnlySpan<byte> payload)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"DSSEV1 {payloadType.Length} {payloadType} {payload.Length} ");
        AppendPythonBytesRepr(text, payload);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Python's bytes.__repr__: single quotes unless the bytes hold a single quote and no double quote.</summary>
    internal static void AppendPythonBytesRepr(StringBuilder text, ReadOnlySpan<byte> bytes)
    {
        char quote = bytes.Contains((byte)'\'') && !bytes.Contains((byte)'"') ? '"' : '\'';
        text.Append('b').Append(quote);
        foreach (byte b in bytes)
        {
            if (b == quote || b == '\\') text.Append('\\').Append((char)b);
            else if (b == '\t') text.Append("\\t");
            else if (b == '\n') text.Append("\\n");
            else if (b == '\r') text.Append("\\r");
            else if (b < 0x20 || b >= 0x7f) text.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
            else text.Append((char)b);
        }
        text.Append(quote);
    }
}
