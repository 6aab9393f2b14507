using System.Diagnostics;

namespace AkkaTokenTelemetry.Tests.Support;

/// <summary>
/// Where a sample's own build output is. Samples run from there, with their own dependencies and runtime
/// configuration, as <c>dotnet run</c> runs them — not from the tests' folder, whose dependencies differ.
/// </summary>
public static class SampleBuild
{
    /// <summary>The sample's main assembly, built with the same configuration and target framework as the tests.</summary>
    public static string Path(string sample) => Output("samples", sample);

    /// <summary>The benchmarks' assembly (for its own commands, such as <c>soak</c>), built like the tests.</summary>
    public static string BenchmarksPath() => Output("benchmarks", "AkkaTokenTelemetry.Benchmarks");

    private static string Output(string folder, string sample)
    {
        // tests/AkkaTokenTelemetry.Tests/bin/<Configuration>/<tfm>/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var framework = output.Name;
        var configuration = output.Parent!.Name;
        var root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        return System.IO.Path.Combine(root, folder, sample, "bin", configuration, framework, $"{sample}.dll");
    }

    /// <summary>The repository's root (where <c>hocon/</c> and <c>samples/</c> are), found from the tests' build output.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
            return output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        }
    }

    /// <summary>Runs a built assembly as its own process (<c>dotnet exec</c>), as a user runs it, within <paramref name="timeout"/>.</summary>
    public static async Task<ProcessRun> RunAsync(string assembly, TimeSpan timeout, params string[] args)
    {
        Assert.True(File.Exists(assembly), $"{System.IO.Path.GetFileName(assembly)} is built (a project reference of the tests): {assembly}");
        var start = new ProcessStartInfo("dotnet", ["exec", assembly, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"{System.IO.Path.GetFileName(assembly)} did not finish within {timeout}; stderr so far: {await stderrTask}");
        }

        return new ProcessRun(process.ExitCode, await stdoutTask, await stderrTask);
    }
}

/// <summary>How a process ended: its exit code and everything it wrote.</summary>
public sealed record ProcessRun(int ExitCode, string Stdout, string Stderr);
