using System.Text;
using System.Text.Json.Nodes;
using AkkaTokenTelemetry.Tests.Support;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>Tests that replace <see cref="Console.Out"/> run alone: the console is process-wide.</summary>
[CollectionDefinition(nameof(ConsoleTests), DisableParallelization = true)]
public sealed class ConsoleTests;

[Collection(nameof(ConsoleTests))]
public class EmfEmittersTests
{
    private static JsonObject Payload(int thread, int sequence, int padding) =>
        EmfPayload.Build(
            EmfSamples.Usage,
            EmfSamples.Namespace,
            EmfSamples.Dimensions,
            EmfSamples.DimensionValues,
            new Dictionary<string, object?> { ["Thread"] = thread, ["Sequence"] = sequence, ["Padding"] = new string('p', padding) },
            EmfSamples.NowMs,
            EmfSamples.Clock());

    private static void AssertEveryLineWholeAndPresent(string output, int threads, int perThread)
    {
        var events = EmfAssert.ValidLines(output, EmfSamples.NowMs);
        Assert.Equal(threads * perThread, events.Count);
        var seen = events.Select(e => (e["Thread"]!.GetValue<int>(), e["Sequence"]!.GetValue<int>())).ToHashSet();
        Assert.Equal(threads * perThread, seen.Count);
    }

    [Fact]
    public void Default_WritesOneCompactLinePerPayloadToStdout()
    {
        var original = Console.Out;
        var captured = new StringWriter();
        Console.SetOut(captured);
        try
        {
            EmfEmitters.Default(Payload(0, 0, 0));
            EmfEmitters.Default(Payload(0, 1, 0));
        }
        finally
        {
            Console.SetOut(original);
        }

        var text = captured.ToString();
        var lines = text.Split('\n');
        Assert.Equal(3, lines.Length); // two lines, each ending in '\n'
        Assert.Equal(string.Empty, lines[2]);
        Assert.DoesNotContain("  ", lines[0]); // compact
        Assert.Equal(0, EmfAssert.ValidLine(lines[0], EmfSamples.NowMs)["Sequence"]!.GetValue<int>());
        Assert.Equal(1, EmfAssert.ValidLine(lines[1], EmfSamples.NowMs)["Sequence"]!.GetValue<int>());
    }

    [Fact]
    public void Default_FromManyThreadsAtOnce_LinesNeverInterleave()
    {
        const int threads = 8;
        const int perThread = 300;
        var original = Console.Out;
        var captured = new StringWriter();
        Console.SetOut(captured); // Console makes it synchronized, as it does for the real stdout
        try
        {
            using var start = new Barrier(threads);
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                for (var i = 0; i < perThread; i++)
                {
                    EmfEmitters.Default(Payload(t, i, 2000 + (i % 7 * 500)));
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
        }
        finally
        {
            Console.SetOut(original);
        }

        AssertEveryLineWholeAndPresent(captured.ToString(), threads, perThread);
    }

    [Fact]
    public void ToTextWriter_FromManyThreadsAtOnce_LinesNeverInterleave()
    {
        const int threads = 8;
        const int perThread = 300;
        var target = new StringWriter(); // not synchronized itself: the emitter must keep lines whole
        var emit = EmfEmitters.ToTextWriter(target);

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (var i = 0; i < perThread; i++)
            {
                emit(Payload(t, i, 3000));
            }
        });

        AssertEveryLineWholeAndPresent(target.ToString(), threads, perThread);
    }

    [Fact]
    public void ToTextWriter_Null_IsRefused()
    {
        Assert.Throws<ArgumentNullException>(() => EmfEmitters.ToTextWriter(null!));
    }

    [Fact]
    public void Default_WritesNonAsciiAsUtf8_WhenTheConsoleIsUnicode()
    {
        var original = Console.Out;
        using var stream = new MemoryStream();
        var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
        Console.SetOut(writer);
        try
        {
            EmfEmitters.Default(EmfPayload.Build(
                EmfSamples.Usage, EmfSamples.Namespace, [], new Dictionary<string, string>(),
                new Dictionary<string, object?> { ["Note"] = "héllo ✓ 東京" }, EmfSamples.NowMs, EmfSamples.Clock()));
        }
        finally
        {
            Console.SetOut(original);
        }

        var bytes = stream.ToArray();
        Assert.Contains("héllo ✓ 東京", Encoding.UTF8.GetString(bytes));
        Assert.Equal("héllo ✓ 東京", EmfAssert.ValidLine(bytes, EmfSamples.NowMs)["Note"]!.GetValue<string>());
    }
}
