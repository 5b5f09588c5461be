using BenchmarkDotNet.Running;

namespace Lineage.Benchmarks;

/// <summary>
/// Micro-benchmarks (BenchmarkDotNet): <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- --filter '*'</c>.
/// Scale protocol: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- scale --layout llama-8b [--sparse] [--dir D] [--keep]</c>.
/// Scan scale protocol: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- scan-scale [--dir D] [--repeats N] [--keep]</c>.
/// Both are described in docs/benchmarks.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "scale") return Scale.ScaleBench.Run(args[1..]);
        if (args.Length > 0 && args[0] == "scan-scale") return Scale.ScanScaleBench.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
