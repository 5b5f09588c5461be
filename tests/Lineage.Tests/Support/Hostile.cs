using Lineage.IO;

namespace Lineage.Tests.Support;

/// <summary>
/// The hostile-input contract shared by every reader's property tests: whatever bytes come in, the reader
/// either succeeds or throws <see cref="LineageException"/> naming the file. Any other exception type fails.
/// </summary>
internal static class Hostile
{
    public static void OnlyLineageExceptions(string name, byte[] bytes, Action<IByteSource> read)
    {
        using var source = new MemoryByteSource(name, bytes);
        try
        {
            read(source);
        }
        catch (LineageException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
            Assert.NotNull(e.File);
        }
    }

    public static IEnumerable<byte[]> Truncations(byte[] original, int count, int seed)
    {
        var rng = new Random(seed);
        yield return [];
        yield return original[..Math.Min(1, original.Length)];
        for (int i = 0; i < count; i++)
            yield return original[..rng.Next(0, original.Length)];
    }

    public static IEnumerable<byte[]> BitFlips(byte[] original, int count, int seed, int focusPrefix = int.MaxValue)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var copy = (byte[])original.Clone();
            int flips = rng.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.Next(0, Math.Min(copy.Length, focusPrefix));
                copy[at] ^= (byte)(1 << rng.Next(8));
            }
            yield return copy;
        }
    }
}
