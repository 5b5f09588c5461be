using BenchmarkDotNet.Running;

namespace Lineage.Benchmarks;

/// <summary>
/// BenchmarkDotNet entry point. Run all: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- --filter '*'</c>.
/// The protocol for each suite is in docs/benchmarks.md. <c>-- identify</c> runs the identify-at-scale benchmark instead.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "identify") return IdentifyBenchmark.Run(args);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
