using Lineage.Formats;
using Lineage.Provenance;

namespace Lineage.Cli;

/// <summary>Turns a command-line model argument into a fingerprint (computing it from the model's files).</summary>
internal static class FingerprintSource
{
    public static Fingerprint Load(string path)
    {
        using var model = ModelLoader.Open(path);
        return FingerprintExtractor.Extract(model);
    }
}
