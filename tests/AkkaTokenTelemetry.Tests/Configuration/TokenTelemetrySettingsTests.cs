using Akka.Actor;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Tests.Configuration;

public class TokenTelemetrySettingsTests
{
    private static TokenTelemetrySettings Parse(string hocon) =>
        TokenTelemetrySettings.Create(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void ReferenceConf_IsEmbedded_AndGivesTheDocumentedDefaults()
    {
        var settings = TokenTelemetrySettings.Create(Config.Empty);
        Assert.Equal("Strands/AgentTokenUsage", settings.Namespace);
        Assert.Equal([["Model"]], settings.Dimensions.Select(s => s.ToArray()));
        Assert.Empty(settings.DimensionValues);
        Assert.Empty(settings.ExtraProperties);
        Assert.Equal("unknown", settings.MissingDimensionValue);
        Assert.Equal(60, settings.StorageResolution);
        Assert.Equal(100_000, settings.IngressBufferSize);
        Assert.Equal(OverflowMode.DropNewest, settings.IngressOverflow);
        Assert.Equal(500, settings.BatchMaxRecords);
        Assert.Equal(256 * 1024, settings.BatchMaxBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(200), settings.BatchMaxDelay);
        Assert.False(settings.MergeEnabled);
        Assert.Equal(100, settings.MergeMaxValues);
        Assert.Equal(TimeSpan.FromMinutes(1), settings.MergeMaxSkew);
        var stdout = Assert.Single(settings.Emitters);
        Assert.Equal(("stdout", "stdout"), (stdout.Name, stdout.Type));
        Assert.Equal(64, stdout.BufferBatches);
        Assert.Equal(OverflowMode.DropOldest, stdout.Overflow);
        Assert.Equal(TimeSpan.FromMilliseconds(500), stdout.StallTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), stdout.AskTimeout);
        Assert.Equal(3, stdout.MaxRetriesPerBatch);
        Assert.Equal((TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), 0.2), (stdout.BackoffMin, stdout.BackoffMax, stdout.BackoffRandomFactor));
        Assert.Equal(TimeSpan.FromSeconds(8), settings.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), TokenTelemetry.DefaultConfig.GetTimeSpan("akka.coordinated-shutdown.phases.before-actor-system-terminate.timeout"));
    }

    [Fact]
    public void Hocon_OverridesDefaults_AndPerEmitterBlocksFallBackToDefaults()
    {
        var settings = Parse("""
            akka.token-telemetry {
              namespace = "Acme/Tokens"
              dimensions = [["Model"], ["Model", "Environment"]]
              dimension-values { Environment = prod }
              extra-properties { Service = checkout }
              emitters = [stdout, quiet]
              emitter.quiet { type = null, buffer-batches = 8 }
              batch { max-records = 100, max-bytes = 64KiB, max-delay = 1s }
            }
            """);
        Assert.Equal("Acme/Tokens", settings.Namespace);
        Assert.Equal("prod", settings.DimensionValues["Environment"]);
        Assert.Equal("checkout", settings.ExtraProperties["Service"]);
        Assert.Equal(["stdout", "quiet"], settings.Emitters.Select(e => e.Name));
        Assert.Equal("null", settings.Emitters[1].Type);
        Assert.Equal(8, settings.Emitters[1].BufferBatches);
        Assert.Equal(3, settings.Emitters[1].MaxRetriesPerBatch);
        Assert.Equal((100, 64 * 1024L, TimeSpan.FromSeconds(1)), (settings.BatchMaxRecords, settings.BatchMaxBytes, settings.BatchMaxDelay));
    }

    [Theory]
    [InlineData("akka.token-telemetry.ingress.overflow = drop-random", "akka.token-telemetry.ingress.overflow")]
    [InlineData("akka.token-telemetry.emitter.stdout.overflow = backpressure", "akka.token-telemetry.emitter.stdout.overflow")]
    [InlineData("akka.token-telemetry.ingress.buffer-size = -1", "akka.token-telemetry.ingress.buffer-size")]
    [InlineData("akka.token-telemetry.batch.max-records = 0", "akka.token-telemetry.batch.max-records")]
    [InlineData("akka.token-telemetry.batch.max-delay = -5s", "akka.token-telemetry.batch.max-delay")]
    [InlineData("akka.token-telemetry.batch.max-bytes = 0", "akka.token-telemetry.batch.max-bytes")]
    [InlineData("akka.token-telemetry.emitter.stdout.buffer-batches = -3", "akka.token-telemetry.emitter.stdout.buffer-batches")]
    [InlineData("akka.token-telemetry.emitter.stdout.max-retries-per-batch = -1", "akka.token-telemetry.emitter.stdout.max-retries-per-batch")]
    [InlineData("akka.token-telemetry.emitter.stdout.backoff.random-factor = 2", "akka.token-telemetry.emitter.stdout.backoff.random-factor")]
    [InlineData("akka.token-telemetry.emitter.stdout.type = kafka", "akka.token-telemetry.emitter.stdout.type")]
    [InlineData("akka.token-telemetry.emitters = [stdout, missing]", "akka.token-telemetry.emitters")]
    [InlineData("akka.token-telemetry.emitters = [stdout, stdout]", "akka.token-telemetry.emitters")]
    [InlineData("akka.token-telemetry.storage-resolution = 30", "akka.token-telemetry.storage-resolution")]
    [InlineData("akka.token-telemetry.shutdown-timeout = 0s", "akka.token-telemetry.shutdown-timeout")]
    [InlineData("akka.token-telemetry.merge.max-values = 101", "akka.token-telemetry.merge.max-values")]
    [InlineData("akka.token-telemetry.merge.max-values = 0", "akka.token-telemetry.merge.max-values")]
    [InlineData("akka.token-telemetry.merge.max-skew = 0s", "akka.token-telemetry.merge.max-skew")]
    [InlineData("akka.token-telemetry.merge.enabled = sometimes", "akka.token-telemetry.merge.enabled")]
    public void BadValue_FailsNamingItsHoconPath(string hocon, string path)
    {
        var e = Assert.Throws<ConfigurationException>(() => Parse(hocon));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void UnknownEmitterType_ListsTheKnownTypes()
    {
        var e = Assert.Throws<ConfigurationException>(() => Parse("akka.token-telemetry { emitters = [k], emitter.k.type = kafka }"));
        Assert.Contains("kafka", e.Message);
        Assert.Contains("stdout", e.Message);
    }

    [Theory]
    [InlineData("akka.token-telemetry.namespace = \"AWS/Mine\"", "akka.token-telemetry.namespace")]
    [InlineData("akka.token-telemetry.dimension-values { Environment = prod }", "akka.token-telemetry.dimension-values.Environment")]
    [InlineData("akka.token-telemetry.extra-properties { Model = x }", "akka.token-telemetry.extra-properties[\"Model\"]")]
    [InlineData("akka.token-telemetry.missing-dimension-value = \"\"", "akka.token-telemetry.missing-dimension-value")]
    public void EmfRuleBrokenInHocon_FailsNamingItsHoconPath(string hocon, string field)
    {
        var e = Assert.Throws<EmfValidationException>(() => Parse(hocon));
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void NullEmitter_CanBeNamedUnquoted()
    {
        var settings = Parse("akka.token-telemetry.emitters = [null]");
        Assert.Equal("null", Assert.Single(settings.Emitters).Type);
    }

    [Fact]
    public async Task StartUp_WithABadValue_FailsWhenThePipelineStarts()
    {
        var system = ActorSystem.Create("bad-config", ConfigurationFactory.ParseString("akka.token-telemetry.emitters = [nowhere]").WithFallback(TokenTelemetry.DefaultConfig));
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => TokenTelemetry.Get(system));
            var configError = Assert.IsType<ConfigurationException>(e.GetBaseException());
            Assert.Contains("akka.token-telemetry.emitters", configError.Message);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task DelegateEmitterWithoutRegistration_FailsAtStartUpNamingIt()
    {
        var system = ActorSystem.Create("no-registration", ConfigurationFactory.ParseString("akka.token-telemetry { emitters = [audit], emitter.audit.type = delegate }").WithFallback(TokenTelemetry.DefaultConfig));
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => TokenTelemetry.Get(system)).GetBaseException();
            Assert.Contains("akka.token-telemetry.emitter.audit.type", e.Message);
            Assert.Contains("TokenTelemetrySetup.WithEmitter(\"audit\"", e.Message);
        }
        finally
        {
            await system.Terminate();
        }
    }
}
