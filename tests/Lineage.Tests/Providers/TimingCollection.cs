namespace Lineage.Tests.Providers;

/// <summary>
/// Tests that measure real latency against the stand-in server run alone, not beside CPU-heavy tests of other
/// classes: a loaded machine would slow one probe more than another and fake a latency shift.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "provider-timing";
}
