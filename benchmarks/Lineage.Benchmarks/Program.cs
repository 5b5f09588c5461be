using BenchmarkDotNet.Running;

namespace Lineage.Benchmarks;

/// <summary>
/// Micro-benchmarks (BenchmarkDotNet): <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- --filter '*'</c>.
/// Scale protocol: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- scale --layout llama-8b [--sparse] [--dir D] [--keep]</c>.
/// Identify at scale: <c>-- identify --entries 10000</c>.
/// Remote protocol (fingerprint over HTTP vs file size): <c>… -- remote [--latency-ms N] PATH... | remote --layout llama-1b [--sparse]</c>.
/// Scan scale protocol: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- scan-scale [--dir D] [--repeats N] [--keep]</c>.
/// All are described in docs/benchmarks.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "scale") return Scale.ScaleBench.Run(args[1..]);
        if (args.Length > 0 && args[0] == "identify") return IdentifyBenchmark.Run(args);
        if (args.Length > 0 && args[0] == "remote") return Remote.RemoteBench.Run(args[1..]);
        if (args.Length > 0 && args[0] == "scan-scale") return Scale.ScanScaleBench.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
