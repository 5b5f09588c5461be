namespace Lineage.Formats.Pickle;

/// <summary>
/// Hard limits for one run of the <see cref="PickleMachine"/>. Defaults are generous for real checkpoints
/// (a 70B-parameter state dict pickle has well under a million opcodes) and small enough that hostile input
/// fails fast. Every length read from the stream is additionally bounded by the bytes that remain.
/// </summary>
public sealed record PickleLimits
{
    public static PickleLimits Default { get; } = new();

    /// <summary>Opcodes executed before the run stops with an error.</summary>
    public long MaxOpcodes { get; init; } = 50_000_000;

    /// <summary>Values on the stack, all mark frames together.</summary>
    public int MaxStackDepth { get; init; } = 1_000_000;

    /// <summary>Open MARKs at once.</summary>
    public int MaxMarkDepth { get; init; } = 100_000;

    /// <summary>Distinct memo entries.</summary>
    public int MaxMemoEntries { get; init; } = 4_000_000;

    /// <summary>Items in one list, tuple, dict, set, or in one call result's mutation log.</summary>
    public int MaxContainerItems { get; init; } = 16_000_000;

    /// <summary>Bytes of one string, bytes object or text line.</summary>
    public int MaxStringBytes { get; init; } = 256 << 20;

    /// <summary>Bytes of one LONG1/LONG4 integer, and decimal digits of INT/LONG text (Python's own cap is 4300 digits).</summary>
    public int MaxIntegerDigits { get; init; } = 4300;

    /// <summary>Events (calls, builds, mutations of call results, persistent loads) recorded.</summary>
    public int MaxEvents { get; init; } = 10_000_000;

    /// <summary>Depth to which nested values are rendered (deeper parts print as <c>...</c>).</summary>
    public int MaxRenderDepth { get; init; } = 12;

    /// <summary>Characters of <see cref="PickleResult.Decompile(int?)"/> output.</summary>
    public int MaxDecompileChars { get; init; } = 256 * 1024;
}
