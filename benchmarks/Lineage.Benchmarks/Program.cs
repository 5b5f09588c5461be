using BenchmarkDotNet.Running;

namespace Lineage.Benchmarks;

/// <summary>
/// BenchmarkDotNet entry point. Run all: <c>dotnet run -c Release --project benchmarks/Lineage.Benchmarks -- --filter '*'</c>.
/// The protocol for each suite is in docs/benchmarks.md.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
