using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Lineage.Signing;

/// <summary>An RFC 6962 signed certificate timestamp as embedded in a certificate.</summary>
internal sealed record SignedCertificateTimestamp(byte Version, byte[] LogId, ulong Timestamp, byte[] Extensions, byte HashAlgorithm, byte SignatureAlgorithm, byte[] Signature)
{
    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Min(Timestamp, (ulong)long.MaxValue / 2));
}

/// <summary>
/// Verifies the SCTs Fulcio embeds in its certificates (extension 1.3.6.1.4.1.11129.2.4.2): each is a CT log's
/// signature over the precertificate, i.e. the certificate's TBS without the SCT extension, bound to the issuer's
/// key hash (RFC 6962 §3.2, precert_entry). The log's key comes from the trusted root, found by log id.
/// </summary>
internal static class CertificateTransparency
{
    public const string SctListOid = "1.3.6.1.4.1.11129.2.4.2";

    private static readonly Asn1Tag ExtensionsTag = new(TagClass.ContextSpecific, 3, isConstructed: true);

    /// <summary>Returns null when at least one embedded SCT verifies against a CT log of the trusted root, else why not.</summary>
    public static string? Verify(X509Certificate2 leaf, X509Certificate2 issuer, TrustedRoot root)
    {
        List<SignedCertificateTimestamp> scts;
        byte[] tbs;
        try
        {
            scts = EmbeddedTimestamps(leaf);
            if (scts.Count == 0) return "the signing certificate carries no signed certificate timestamp";
            tbs = TbsWithoutExtension(leaf.RawData, SctListOid);
        }
        catch (LineageException e)
        {
            return e.Message;
        }
        return VerifyTimestamps(scts, SHA256.HashData(issuer.PublicKey.ExportSubjectPublicKeyInfo()), tbs, root);
    }

    /// <summary>Returns null when one of <paramref name="scts"/> verifies for the precertificate <paramref name="tbs"/>.</summary>
    internal static string? VerifyTimestamps(IReadOnlyList<SignedCertificateTimestamp> scts, byte[] issuerKeyHash, byte[] tbs, TrustedRoot root)
    {
        if (scts.Count == 0) return "the signing certificate carries no signed certificate timestamp";
        var problems = new List<string>();
        foreach (var sct in scts)
        {
            var log = root.CtLogs.FirstOrDefault(l => l.LogId.AsSpan().SequenceEqual(sct.LogId));
            if (log is null)
            {
                problems.Add($"SCT from CT log {Convert.ToBase64String(sct.LogId)} which the trusted root does not know");
                continue;
            }
            if (log.Key is null)
            {
                problems.Add(log.KeyError ?? "CT log key unusable");
                continue;
            }
            if (!log.ValidAt(sct.Time))
            {
                problems.Add($"SCT time {sct.Time:u} is outside the CT log key's validity");
                continue;
            }
            if (sct.Version != 0 || sct.HashAlgorithm != 4)
            {
                problems.Add($"SCT version {sct.Version} with hash algorithm {sct.HashAlgorithm} is not supported (expected v1, SHA-256)");
                continue;
            }
            if (log.Key.Verify(SignedData(sct, issuerKeyHash, tbs), sct.Signature)) return null;
            problems.Add("SCT signature does not verify with the CT log's key");
        }
        return string.Join("; ", problems);
    }

    internal static List<SignedCertificateTimestamp> EmbeddedTimestamps(X509Certificate2 certificate)
    {
        var extension = certificate.Extensions.FirstOrDefault(e => e.Oid?.Value == SctListOid);
        if (extension is null) return [];
        byte[] list;
        try
        {
            list = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadOctetString();
        }
        catch (AsnContentException e)
        {
            throw new LineageException($"SCT list extension is not an OCTET STRING: {e.Message}");
        }
        var reader = new TlsReader(list);
        var total = reader.Vector(2);
        if (!reader.AtEnd) throw new LineageException("SCT list has trailing bytes");
        var items = new TlsReader(total);
        var result = new List<SignedCertificateTimestamp>();
        while (!items.AtEnd && result.Count < 64)
        {
            var one = new TlsReader(items.Vector(2));
            byte version = one.Byte();
            var logId = one.Bytes(32).ToArray();
            ulong timestamp = one.UInt64();
            var extensions = one.Vector(2).ToArray();
            byte hash = one.Byte();
            byte sigAlg = one.Byte();
            var signature = one.Vector(2).ToArray();
            if (!one.AtEnd) throw new LineageException("SCT has trailing bytes");
            result.Add(new SignedCertificateTimestamp(version, logId, timestamp, extensions, hash, sigAlg, signature));
        }
        return result;
    }

    private static byte[] SignedData(SignedCertificateTimestamp sct, byte[] issuerKeyHash, byte[] tbs)
    {
        var data = new byte[1 + 1 + 8 + 2 + 32 + 3 + tbs.Length + 2 + sct.Extensions.Length];
        int at = 0;
        data[at++] = sct.Version;
        data[at++] = 0; // signature_type: certificate_timestamp
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(at), sct.Timestamp);
        at += 8;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), 1); // entry_type: precert_entry
        at += 2;
        issuerKeyHash.CopyTo(data, at);
        at += 32;
        data[at++] = (byte)(tbs.Length >> 16);
        data[at++] = (byte)(tbs.Length >> 8);
        data[at++] = (byte)tbs.Length;
        tbs.CopyTo(data, at);
        at += tbs.Length;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), (ushort)sct.Extensions.Length);
        at += 2;
        sct.Extensions.CopyTo(data, at);
        return data;
    }

    /// <summary>The DER TBSCertificate of <paramref name="certificateDer"/> with the extension <paramref name="oid"/> removed.</summary>
    internal static byte[] TbsWithoutExtension(byte[] certificateDer, string oid)
    {
        try
        {
            var certificate = new AsnReader(certificateDer, AsnEncodingRules.DER).ReadSequence();
            var tbs = certificate.ReadSequence();
            var writer = new AsnWriter(AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                while (tbs.HasData)
                {
                    var tag = tbs.PeekTag();
                    var encoded = tbs.ReadEncodedValue();
                    if (tag != ExtensionsTag)
                    {
                        writer.WriteEncodedValue(encoded.Span);
                        continue;
                    }
                    var extensions = new AsnReader(encoded, AsnEncodingRules.DER).ReadSequence(ExtensionsTag).ReadSequence();
                    using (writer.PushSequence(ExtensionsTag))
                    using (writer.PushSequence())
                    {
                        while (extensions.HasData)
                        {
                            var extension = extensions.ReadEncodedValue();
                            string id = new AsnReader(extension, AsnEncodingRules.DER).ReadSequence().ReadObjectIdentifier();
                            if (id != oid) writer.WriteEncodedValue(extension.Span);
                        }
                    }
                }
            }
            return writer.Encode();
        }
        catch (AsnContentException e)
        {
            throw new LineageException($"signing certificate is not valid DER: {e.Message}");
        }
    }

    /// <summary>Big-endian TLS presentation-language reader with bounds checks.</summary>
    private ref struct TlsReader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly bool AtEnd => _data.IsEmpty;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count > _data.Length) throw new LineageException("SCT list is truncated");
            var result = _data[..count];
            _data = _data[count..];
            return result;
        }

        public byte Byte() => Bytes(1)[0];

        public ulong UInt64() => BinaryPrimitives.ReadUInt64BigEndian(Bytes(8));

        public ReadOnlySpan<byte> Vector(int lengthBytes)
        {
            var prefix = Bytes(lengthBytes);
            int length = lengthBytes == 2 ? BinaryPrimitives.ReadUInt16BigEndian(prefix) : prefix[0];
            return Bytes(length);
        }
    }
}
