using Lineage.Formats;
using Lineage.Provenance;

namespace Lineage.Cli;

/// <summary>Turns a command-line model argument into a fingerprint: a saved fingerprint file, or a model to fingerprint.</summary>
internal static class FingerprintSource
{
    public static Fingerprint Load(string path)
    {
        if (File.Exists(path) && FingerprintSerializer.LooksLikeFingerprint(path))
            return FingerprintSerializer.Read(path);
        using var model = ModelLoader.Open(path);
        return FingerprintExtractor.Extract(model);
    }
}
