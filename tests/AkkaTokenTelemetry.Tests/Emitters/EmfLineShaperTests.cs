using System.Buffers;
using System.Text;
using Akka.Event;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>How an event is fitted to a transport: log group added, extra properties trimmed largest first, or dropped.</summary>
public class EmfLineShaperTests
{
    private static readonly EmitterContext Context = new("test", NoLogger.Instance, TimeProvider.System);

    private static string Event(params (string Name, string Value)[] properties) =>
        EmfPayload.Build(
            new Dictionary<string, long> { ["inputTokens"] = 5 },
            "Test/Tokens",
            [["Model"]],
            new Dictionary<string, string> { ["Model"] = "gpt-4o" },
            properties.ToDictionary(p => p.Name, p => (object?)p.Value),
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).ToJsonString();

    private static (bool Written, string Line) Shape(EmfLineShaper shaper, string evt)
    {
        var output = new ArrayBufferWriter<byte>();
        var written = shaper.WriteLine(Encoding.UTF8.GetBytes(evt), output, Context);
        return (written, Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Fact]
    public void AddsLogGroupAndStream_AsTheFirstMembersOfAws_WithoutChangingAnythingElse()
    {
        var evt = Event(("SessionId", "s-1"));
        var (written, line) = Shape(new EmfLineShaper(1024 * 1024, "/agents/tokens", "worker-\"1\""), evt);

        Assert.True(written);
        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        var root = Support.EmfAssert.ValidLine(line.TrimEnd('\n'));
        Assert.Equal("/agents/tokens", root["_aws"]!["LogGroupName"]!.GetValue<string>());
        Assert.Equal("worker-\"1\"", root["_aws"]!["LogStreamName"]!.GetValue<string>());
        root["_aws"]!.AsObject().Remove("LogGroupName");
        root["_aws"]!.AsObject().Remove("LogStreamName");
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(evt), root));
    }

    [Fact]
    public void OverTheLimit_LosesTheLargestExtraPropertiesFirst_AndKeepsMetricsAndDimensions()
    {
        var evt = Event(("Big", new string('b', 600)), ("Medium", new string('m', 200)), ("Small", "s"));
        var limit = Encoding.UTF8.GetByteCount(evt) - 300;
        var (written, line) = Shape(new EmfLineShaper(limit), evt);

        Assert.True(written);
        Assert.True(Encoding.UTF8.GetByteCount(line) - 1 <= limit);
        var root = Support.EmfAssert.ValidLine(line.TrimEnd('\n'));
        Assert.Null(root["Big"]);
        Assert.Equal(new string('m', 200), root["Medium"]!.GetValue<string>());
        Assert.Equal("s", root["Small"]!.GetValue<string>());
        Assert.Equal(5, root["inputTokens"]!.GetValue<long>());
        Assert.Equal("gpt-4o", root["Model"]!.GetValue<string>());
    }

    [Fact]
    public void StillOverTheLimitWithoutProperties_IsDroppedAndReported()
    {
        var evt = Event(("Note", "x"));
        var context = new EmitterContext("test", NoLogger.Instance, TimeProvider.System);
        var output = new ArrayBufferWriter<byte>();
        var written = new EmfLineShaper(100).WriteLine(Encoding.UTF8.GetBytes(evt), output, context);

        Assert.False(written);
        Assert.Equal(0, output.WrittenCount);
        Assert.Equal((1L, 0L, 0L), context.TakeReport());
    }
}
