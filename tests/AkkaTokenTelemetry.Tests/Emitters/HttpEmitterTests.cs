using System.Text;
using System.Diagnostics;
using Akka.TestKit.Xunit2;
using AkkaTokenTelemetry.Tests.Support;
using Xunit.Abstractions;
using static AkkaTokenTelemetry.Tests.Support.LoopbackHttpServer;

namespace AkkaTokenTelemetry.Tests.Emitters;

/// <summary>The http emitter against a real Kestrel server on 127.0.0.1.</summary>
public class HttpEmitterTests(ITestOutputHelper output) : TestKit(output: output)
{
    private static string Hocon(string url, string extra = "") => $$"""
        akka.token-telemetry {
          emitters = [collector]
          batch.max-records = 1000
          emitter.collector {
            type = http
            url = "{{url}}"
            headers { Authorization = "Bearer test-token" }
            {{extra}}
          }
        }
        """;

    private static async Task<TelemetrySystem> SendAsync(TelemetrySystem t, int records)
    {
        var hook = t.Telemetry.CreateHook();
        for (var i = 0; i < records; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        await t.FlushAsync();
        return t;
    }

    [Fact]
    public async Task PostsNewlineDelimitedEmf_WithTheConfiguredHeaders()
    {
        await using var server = await LoopbackHttpServer.StartAsync(Reply.Ok);
        await using var t = await SendAsync(TelemetrySystem.Start(Hocon(server.Url)), 25);

        var lines = server.Requests.SelectMany(r => EmfAssert.ValidLines(r.Body)).ToList();
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), lines.Select(l => l["seq"]!.GetValue<long>()).Order());
        var request = server.Requests.First();
        Assert.Equal("Bearer test-token", request.Headers["Authorization"]);
        Assert.Equal("application/x-ndjson", request.ContentType);
        Assert.EndsWith("\n", request.Body, StringComparison.Ordinal);
        Assert.Equal(25, t.Telemetry.Stats.Emitters["collector"].RecordsDelivered);
    }

    [Fact]
    public async Task ServiceUnavailableTwiceThenOk_IsDeliveredOnce()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(503), new Reply(503), Reply.Ok);
        await using var t = await SendAsync(TelemetrySystem.Start(Hocon(server.Url, "max-retries-per-batch = 3")), 10);

        Assert.Equal(3, server.Requests.Count);
        Assert.Single(server.Requests.Select(r => r.Body).Distinct());
        var stats = t.Telemetry.Stats.Emitters["collector"];
        Assert.Equal((10, 2, 1), (stats.RecordsDelivered, stats.Retries, stats.BatchesDelivered));
        Assert.Empty(stats.RecordsDropped);
    }

    [Fact]
    public async Task BadRequest_IsDroppedAtOnce_CountedAsRejected_AndLoggedWithStatusAndBody()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(400, "{\"error\":\"schema mismatch in field Model\"}"));
        var t = TelemetrySystem.Start(Hocon(server.Url, "max-retries-per-batch = 3"));
        await using var _ = t;
        var log = LogCollector.Attach(t.System);
        await SendAsync(t, 10);

        Assert.Single(server.Requests);
        var stats = t.Telemetry.Stats.Emitters["collector"];
        Assert.Equal(10, stats.RecordsDropped[DropReasons.Rejected]);
        Assert.Equal(0, stats.RecordsDelivered);
        Assert.Equal(0, stats.Restarts);
        await AwaitAssertAsync(() => Assert.Contains(log, m => m.Contains("400", StringComparison.Ordinal) && m.Contains("schema mismatch in field Model", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Redirect_IsNotFollowed_TheBatchIsRejectedNamingTheLocation()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(302, Location: "https://elsewhere.example/emf"));
        var t = TelemetrySystem.Start(Hocon(server.Url, "max-retries-per-batch = 3"));
        await using var _ = t;
        var log = LogCollector.Attach(t.System);
        await SendAsync(t, 4);

        Assert.Single(server.Requests);
        Assert.Equal(4, t.Telemetry.Stats.Emitters["collector"].RecordsDropped[DropReasons.Rejected]);
        await AwaitAssertAsync(() => Assert.Contains(log, m => m.Contains("302", StringComparison.Ordinal) && m.Contains("https://elsewhere.example/emf", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task PayloadTooLarge_SplitsTheBodyOnLineBoundaries_AndDropsOnlyAnEventRefusedOnItsOwn()
    {
        // Only the last reply is used (it repeats): 200 for bodies up to 2,000 bytes, 413 above.
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(200, MaxBodyBytes: 2_000));
        var t = TelemetrySystem.Start(Hocon(server.Url));
        await using var _ = t;
        var hook = t.Telemetry.CreateHook();
        var big = t.Telemetry.CreateHook(new TokenUsageHookOptions { ExtraProperties = new Dictionary<string, object?> { ["Note"] = new string('n', 5_000) } });
        for (var i = 0; i < 20; i++)
        {
            hook.OnAfterInvocation(TelemetrySystem.Invocation(i));
        }

        big.OnAfterInvocation(TelemetrySystem.Invocation(99));
        await t.FlushAsync();

        var accepted = server.Requests.Where(r => Encoding.UTF8.GetByteCount(r.Body) <= 2_000).ToList();
        var seqs = accepted.SelectMany(r => EmfAssert.ValidLines(r.Body)).Select(l => l["seq"]!.GetValue<long>()).ToList();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), seqs.Order());
        var stats = t.Telemetry.Stats.Emitters["collector"];
        Assert.Equal(20, stats.RecordsDelivered);
        Assert.Equal(1, stats.RecordsDropped[DropReasons.TooLarge]);
    }

    [Fact]
    public async Task TooManyRequests_HonoursRetryAfter()
    {
        await using var server = await LoopbackHttpServer.StartAsync(new Reply(429, RetryAfter: "1"), Reply.Ok);
        await using var t = await SendAsync(
            TelemetrySystem.Start(Hocon(server.Url, "max-retries-per-batch = 2, backoff { min = 10ms, max = 5s }")),
            5);

        var requests = server.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        var gap = Stopwatch.GetElapsedTime(requests[0].ReceivedAt, requests[1].ReceivedAt);
        Assert.True(gap >= TimeSpan.FromMilliseconds(950), $"the retry came {gap} after the 429, before its Retry-After of 1 s");
        Assert.Equal(5, t.Telemetry.Stats.Emitters["collector"].RecordsDelivered);
    }

    [Fact]
    public async Task ServerThatNeverAnswers_TimeoutIsEnforced_AndRetriesAreBounded()
    {
        await using var server = await LoopbackHttpServer.StartAsync(Reply.NeverAnswers);
        // ask-timeout (30 s) is far away: only the emitter's own 300 ms timeout can end an attempt in time.
        await using var t = TelemetrySystem.Start(Hocon(server.Url, "timeout = 300ms, max-retries-per-batch = 2, ask-timeout = 30s"));
        var hook = t.Telemetry.CreateHook();
        hook.OnAfterInvocation(TelemetrySystem.Invocation(1));

        // Three attempts of 300 ms and two short backoffs: settled in about 1.5 s, never hanging.
        await AwaitAssertAsync(
            () => Assert.Equal(1, t.Telemetry.Stats.Emitters["collector"].RecordsDropped.GetValueOrDefault(DropReasons.RetriesExhausted)),
            Dilated(TimeSpan.FromSeconds(5)));
        var requests = server.Requests.ToArray();
        Assert.Equal(3, requests.Length);
        Assert.Equal(2, t.Telemetry.Stats.Emitters["collector"].Retries);

        // Each attempt waited for its timeout before the next began (a retry after an immediate failure would come sooner).
        for (var i = 1; i < requests.Length; i++)
        {
            var gap = Stopwatch.GetElapsedTime(requests[i - 1].ReceivedAt, requests[i].ReceivedAt);
            Assert.True(gap >= TimeSpan.FromMilliseconds(290), $"attempt {i + 1} came {gap} after attempt {i}, before the 300 ms timeout");
        }
    }
}
