using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>The cloudwatch-agent emitter over UDP, against a real socket on 127.0.0.1.</summary>
public class CloudWatchAgentUdpTests(ITestOutputHelper output) : TestKit(output: output)
{
    [Fact]
    public async Task EveryDatagramIsAtMost65507Bytes_AndSplitsIntoWholeValidLines()
    {
        using var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.Client.ReceiveBufferSize = 8 * 1024 * 1024;
        var port = ((IPEndPoint)receiver.Client.LocalEndPoint!).Port;
        var datagrams = new ConcurrentQueue<byte[]>();
        using var stop = new CancellationTokenSource();
        var receiving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    datagrams.Enqueue((await receiver.ReceiveAsync(stop.Token)).Buffer);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });

        await using var t = TelemetrySystem.Start($$"""
            akka.token-telemetry {
              emitters = [agent]
              emitter.agent { type = cloudwatch-agent, endpoint = "udp://127.0.0.1:{{port}}", log-group-name = udp-test }
            }
            """);

        // Lines of about 20 KB (three fit in a datagram), plus one of 70 KB that must lose its big property to fit.
        var medium = t.Telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Blob"] = new string('m', 20_000), ["Note"] = "ünïcødé" } });
        var huge = t.Telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Blob"] = new string('h', 70_000), ["Note"] = "kept" } });
        const int N = 60;
        for (var i = 0; i < N; i++)
        {
            medium.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        huge.OnAfterInvocation(TelemetrySystem.Invocation(N));
        await t.FlushAsync();

        await AwaitAssertAsync(() => Assert.Equal(N + 1, datagrams.Sum(d => d.Count(b => b == (byte)'\n'))), Dilated(TimeSpan.FromSeconds(5)));
        await stop.CancelAsync();
        await receiving;

        var seqs = new List<long>();
        foreach (var datagram in datagrams)
        {
            Assert.InRange(datagram.Length, 1, 65_507);
            Assert.Equal((byte)'\n', datagram[^1]);
            var lines = Encoding.UTF8.GetString(datagram).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (var line in lines)
            {
                var root = EmfAssert.ValidLine(line);
                Assert.Equal("udp-test", root["_aws"]!["LogGroupName"]!.GetValue<string>());
                seqs.Add(root["seq"]!.GetValue<long>());
                if (root["seq"]!.GetValue<long>() == N)
                {
                    Assert.Null(root["Blob"]);
                    Assert.Equal("kept", root["Note"]!.GetValue<string>());
                }
                else
                {
                    Assert.Equal("ünïcødé", root["Note"]!.GetValue<string>());
                }
            }
        }

        Assert.Contains(datagrams, d => Encoding.UTF8.GetString(d).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length > 1);
        Assert.Equal(Enumerable.Range(0, N + 1).Select(i => (long)i), seqs.Order());
        Assert.Equal(1, t.Telemetry.Stats.Fixes[FixKinds.PropertiesTrimmed]);
        Assert.Equal(N + 1, t.Telemetry.Stats.Emitters["agent"].RecordsDelivered);
    }
}
