using BenchmarkDotNet.Running;

namespace AkkaTokenTelemetry.Benchmarks;

/// <summary>
/// BenchmarkDotNet micro-benchmarks, and the pipeline's own throughput command. See benchmarks/README.md.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "throughput")
        {
            return await ThroughputCommand.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "soak")
        {
            return await SoakCommand.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "merge")
        {
            return await MergeCommand.RunAsync(args[1..]);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
