namespace Lineage.Cli;

/// <summary>
/// Progress on stderr for long work: a redrawn line on a terminal, nothing when stderr is redirected
/// (logs stay clean), and no colour codes at all (NO_COLOR is honoured by never emitting them).
/// </summary>
internal sealed class ProgressReporter(TextWriter stderr, string label) : IProgress<(int Done, int Total)>, IDisposable
{
    private readonly bool _interactive = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
    private long _lastTicks;
    private bool _drawn;

    public void Report((int Done, int Total) value)
    {
        if (!_interactive) return;
        long now = Environment.TickCount64;
        if (value.Done != value.Total && now - Interlocked.Read(ref _lastTicks) < 100) return;
        Interlocked.Exchange(ref _lastTicks, now);
        lock (this)
        {
            int width = 30;
            int filled = value.Total == 0 ? width : value.Done * width / value.Total;
            stderr.Write($"\r{label} [{new string('=', filled)}{new string(' ', width - filled)}] {value.Done}/{value.Total}");
            _drawn = true;
        }
    }

    public void Dispose()
    {
        if (_drawn)
        {
            stderr.WriteLine();
            _drawn = false;
        }
    }
}
