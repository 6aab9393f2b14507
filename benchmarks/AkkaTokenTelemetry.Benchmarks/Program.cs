using BenchmarkDotNet.Running;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// BenchmarkDotNet micro-benchmarks. See benchmarks/README.md for the commands and the latest figures.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
