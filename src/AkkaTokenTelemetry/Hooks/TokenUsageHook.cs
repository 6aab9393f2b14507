using Akka.Actor;

namespace AkkaTokenTelemetry;

/// <summary>
/// Records each agent invocation's token usage: the C# form of the seed's <c>TokenUsageHook</c>. Call
/// <see cref="OnAfterInvocation"/> after every invocation; it copies the usage, tells the router, and returns — it
/// never blocks and never throws into the agent. Dimension resolution, validation and EMF writing happen in the
/// pipeline.
/// </summary>
/// <remarks>Create hooks with <see cref="TokenTelemetry.CreateHook"/>; the public constructor also accepts any
/// <see cref="IActorRef"/>, so a TestKit probe can stand in for the router and receive <see cref="UsageRecorded"/>.</remarks>
public sealed class TokenUsageHook
{
    private readonly IActorRef _router;
    private readonly HookConfig _config;
    private readonly TelemetryPipeline? _pipeline;

    /// <summary>Creates a hook that tells <paramref name="router"/> a <see cref="UsageRecorded"/> per invocation.</summary>
    /// <param name="router">A pipeline's <see cref="TokenTelemetry.Router"/>, or any actor (a test probe).</param>
    /// <param name="options">How events are built; null properties take HOCON values.</param>
    /// <exception cref="ArgumentNullException"><paramref name="router"/> is null.</exception>
    /// <exception cref="EmfValidationException">The options break an EMF rule (checked against the pipeline's HOCON when <paramref name="router"/> is a pipeline's).</exception>
    public TokenUsageHook(IActorRef router, TokenUsageHookOptions? options = null)
        : this(router, options, router is null ? null : TokenTelemetry.FindPipeline(router))
    {
    }

    internal TokenUsageHook(IActorRef router, TokenUsageHookOptions? options, TelemetryPipeline? pipeline)
    {
        ArgumentNullException.ThrowIfNull(router);
        options ??= new TokenUsageHookOptions();
        HookProfile? profile = null;
        if (pipeline is not null)
        {
            profile = HookProfile.Create(options, pipeline.Settings);
        }
        else
        {
            HookProfile.ValidateAlone(options);
        }

        _router = router;
        _pipeline = pipeline;
        _config = new HookConfig(options, profile);
    }

    /// <summary>The hook's options (null properties are taken from HOCON).</summary>
    public TokenUsageHookOptions Options => _config.Options;

    /// <summary>
    /// Records one invocation. An event without a <see cref="AfterInvocationEvent.Result"/> emits nothing. Never
    /// blocks, never throws: after shutdown the record is dropped and counted (<c>shutdown</c>).
    /// </summary>
    /// <param name="e">The invocation's event.</param>
    public void OnAfterInvocation(AfterInvocationEvent e)
    {
        try
        {
            var usage = e?.Result?.Usage;
            if (usage is null)
            {
                return;
            }

            var pipeline = _pipeline;
            if (pipeline is not null)
            {
                pipeline.Counters.Received();
                if (!pipeline.IsAcceptingRecords)
                {
                    pipeline.Counters.RecordsDropped(DropReasons.Shutdown);
                    return;
                }

                if (!pipeline.TryEnterMailbox())
                {
                    pipeline.Counters.RecordsDropped(DropReasons.QueueFull);
                    return;
                }
            }

            _router.Tell(new UsageRecorded(_config, e!, Copy(usage), pipeline is not null), ActorRefs.NoSender);
        }
#pragma warning disable CA1031 // the agent must never see telemetry's exceptions
        catch (Exception)
        {
            try
            {
                _pipeline?.Counters.RecordsDropped(DropReasons.HookError);
            }
            catch (Exception)
            {
                // Nothing more can be done without risking the agent's call.
            }
        }
#pragma warning restore CA1031
    }

    private static KeyValuePair<string, long>[] Copy(IReadOnlyDictionary<string, long> usage)
    {
        if (usage is Dictionary<string, long> dictionary)
        {
            var copy = new KeyValuePair<string, long>[dictionary.Count];
            var i = 0;
            foreach (var pair in dictionary)
            {
                copy[i++] = pair;
            }

            return copy;
        }

        var result = new KeyValuePair<string, long>[usage.Count];
        var count = 0;
        foreach (var pair in usage)
        {
            if (count == result.Length)
            {
                Array.Resize(ref result, (result.Length * 2) + 1);
            }

            result[count++] = pair;
        }

        if (count != result.Length)
        {
            Array.Resize(ref result, count);
        }

        return result;
    }
}
