using System.Runtime.ExceptionServices;

namespace Lineage;

/// <summary>
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/> for work whose failures are
/// <see cref="LineageException"/>s: the first one escapes as itself (file, offset and entry intact) instead of
/// wrapped in an <see cref="AggregateException"/> that callers would print as a stack trace.
/// </summary>
internal static class ParallelWork
{
    public static void For(int count, Action<int> body, int maxParallelism = -1, CancellationToken cancellation = default)
    {
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxParallelism, CancellationToken = cancellation }, body);
        }
        catch (AggregateException e)
        {
            var inner = e.Flatten().InnerExceptions;
            ExceptionDispatchInfo.Throw(inner.FirstOrDefault(x => x is LineageException) ?? inner[0]);
        }
    }
}
