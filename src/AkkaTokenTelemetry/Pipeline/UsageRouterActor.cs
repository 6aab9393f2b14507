using Akka;
using Akka.Actor;
using Akka.Event;

namespace AkkaTokenTelemetry;

/// <summary>Asks the router to put flush markers behind every record it has received so far.</summary>
internal sealed record FlushRequest(FlushMarker Main, FlushMarker Hooks);

/// <summary>Asks the router to stop accepting records and complete the stream's ingress (graceful shutdown).</summary>
internal sealed class CompleteIngress
{
    public static readonly CompleteIngress Instance = new();
}

/// <summary>
/// Receives <see cref="UsageRecorded"/> from the hooks and turns each into a record: dimension values resolved
/// (automatic, then static, then the hook's resolver — later wins), sanitized and filled; invalid usage values and
/// out-of-range timestamps fixed; then written into the stream's ingress without ever waiting. Every fix and drop
/// is counted, and each kind of problem is logged once. The resolver runs here, never on the agent's thread.
/// </summary>
/// <remarks>The stream is materialized by the pipeline, not by this actor, so a restart of the router never stops
/// the stream.</remarks>
public sealed class UsageRouterActor : ReceiveActor
{
    private const int MaxWarnings = 1000;

    /// <summary>Hooks whose last resolution is remembered; beyond this the memory starts again empty.</summary>
    private const int MaxRemembered = 4096;

    private readonly TelemetryPipeline _pipeline;
    private readonly TelemetryCounters _counters;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly Dictionary<HookProfile, ResolvedValues> _last = new(ReferenceEqualityComparer.Instance);
    private string?[] _scratch = new string?[8];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _completed;

    internal UsageRouterActor(TelemetryPipeline pipeline)
    {
        _pipeline = pipeline;
        _counters = pipeline.Counters;
        Receive<UsageRecorded>(Handle);
        Receive<FlushRequest>(request =>
        {
            _pipeline.WriteMarker(_pipeline.MainIngress, request.Main);
            _pipeline.WriteMarker(_pipeline.HookIngress, request.Hooks);
        });
        Receive<CompleteIngress>(_ =>
        {
            _completed = true;
            _pipeline.CompleteIngress();
            Sender.Tell(Done.Instance);
        });
    }

    internal static Props Props(TelemetryPipeline pipeline) => FactoryActorProducer<UsageRouterActor>.Props(() => new UsageRouterActor(pipeline));

    private void Handle(UsageRecorded message)
    {
        if (message.CountsInMailbox)
        {
            _pipeline.LeftMailbox();
        }

        try
        {
            Route(message);
        }
        catch (Exception e)
        {
            // A bug must not restart the router with the record uncounted.
            _counters.RecordsDropped(DropReasons.WriteError);
            _log.Error(e, "Token telemetry's router failed on a record; it was dropped and counted as {0}.", DropReasons.WriteError);
        }
    }

    private void Route(UsageRecorded message)
    {
        if (_completed)
        {
            _counters.RecordsDropped(DropReasons.Shutdown);
            return;
        }

        var profile = ProfileOf(message.Config);
        if (profile is null)
        {
            _counters.RecordsDropped(DropReasons.InvalidConfiguration);
            return;
        }

        var usage = FilterUsage(message.UsageArray, profile);
        if (usage is null)
        {
            _counters.RecordsDropped(DropReasons.NoUsage);
            return;
        }

        var record = new UsageRecord(profile, ResolveDimensions(message.Event, profile), usage, Timestamp(message.Event));
        var hooks = profile.Emitter is not null;
        var ingress = hooks ? _pipeline.HookIngress : _pipeline.MainIngress;
        if (ingress.TryWrite(record))
        {
            _pipeline.OnAccepted(hooks);
        }
        else
        {
            _counters.RecordsDropped(_pipeline.IsIngressCompleted ? DropReasons.Shutdown : DropReasons.QueueFull);
            WarnOnce(DropReasons.QueueFull, "Token telemetry's ingress is full (ingress.buffer-size = {0}): records are being dropped and counted as queue_full. The emitters are slower than the agents; see Stats.", _pipeline.Settings.IngressBufferSize);
        }
    }

    private HookProfile? ProfileOf(HookConfig config)
    {
        if (config.Profile is { } profile)
        {
            return profile;
        }

        if (config.Invalid is not null)
        {
            return null;
        }

        try
        {
            return config.Profile = HookProfile.Create(config.Options, _pipeline.Settings);
        }
        catch (EmfValidationException e)
        {
            config.Invalid = e;
            _log.Warning("A token usage hook's options do not fit this pipeline's HOCON settings; all of its records are dropped and counted as {0}. {1}", DropReasons.InvalidConfiguration, e.Message);
            return null;
        }
    }

    private UsageEntry[]? FilterUsage(KeyValuePair<string, long>[] usage, HookProfile profile)
    {
        var valid = 0;
        foreach (var (name, value) in usage)
        {
            if (Problem(name, value, profile) is null)
            {
                valid++;
            }
        }

        if (valid == 0)
        {
            foreach (var (name, value) in usage)
            {
                CountProblem(Problem(name, value, profile), name);
            }

            return null;
        }

        var entries = new UsageEntry[valid];
        var index = 0;
        foreach (var (name, value) in usage)
        {
            var problem = Problem(name, value, profile);
            if (problem is null)
            {
                entries[index++] = new UsageEntry(name, value);
                if (profile.Context.HasProperty(name))
                {
                    _counters.Fixed(FixKinds.PropertyNamedLikeMetric);
                    WarnOnce("property:" + name, "Usage key '{0}' has the name of an extra property: the metric wins and the property is left out of those events.", name);
                }
            }
            else
            {
                CountProblem(problem, name);
            }
        }

        return entries;
    }

    private static string? Problem(string name, long value, HookProfile profile)
    {
        if (!EmfRules.IsValidMetricName(name))
        {
            return DropReasons.InvalidMetricName;
        }

        if (profile.Context.IndexOfDimensionKey(name) >= 0)
        {
            return DropReasons.MetricNamedLikeDimension;
        }

        return value < 0 ? DropReasons.NegativeCount : null;
    }

    private void CountProblem(string? problem, string name)
    {
        if (problem is null)
        {
            return;
        }

        _counters.UsageValueDropped(problem);
        WarnOnce(problem + ":" + name, "Usage value '{0}' was dropped ({1}); the record's other values are still emitted.", EmfValidationException.Quote(name), problem);
    }

    private string[] ResolveDimensions(AfterInvocationEvent e, HookProfile profile)
    {
        var keys = profile.Context.DimensionKeys;
        if (_scratch.Length < keys.Length)
        {
            _scratch = new string?[keys.Length];
        }

        var values = _scratch.AsSpan(0, keys.Length);
        values.Clear();
        if (profile.ModelIndex >= 0)
        {
            values[profile.ModelIndex] = e.Result?.Model ?? e.Agent?.DefaultModelId;
        }

        if (profile.AgentIndex >= 0)
        {
            values[profile.AgentIndex] = e.Agent?.Name;
        }

        if (profile.ProviderIndex >= 0)
        {
            values[profile.ProviderIndex] = e.Agent?.ProviderName;
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (profile.StaticValues[i] is { } value)
            {
                values[i] = value;
            }
        }

        if (profile.Resolver is { } resolver)
        {
            ApplyResolver(resolver, e, profile, values);
        }

        // Consecutive records of a hook mostly resolve to the same values: reuse the last result (it is never
        // changed once made), so the writer's template lookup finds it at once. Its fixes still count per record.
        if (_last.TryGetValue(profile, out var last) && values.SequenceEqual(last.Raw))
        {
            foreach (var fix in last.Fixes)
            {
                _counters.Fixed(fix);
            }

            return last.Resolved;
        }

        var result = new string[values.Length];
        var fixes = new List<string>();
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = EmfRules.SanitizeDimensionValue(values[i], profile.MissingValue, out var fix);
            switch (fix)
            {
                case DimensionValueFix.Missing:
                    fixes.Add(FixKinds.MissingDimensionValue);
                    WarnOnce("missing:" + keys[i], "Dimension '{0}' had no value; it was set to '{1}' (counted as {2}).", keys[i], profile.MissingValue, FixKinds.MissingDimensionValue);
                    break;
                case DimensionValueFix.Sanitized:
                    fixes.Add(FixKinds.SanitizedDimensionValue);
                    WarnOnce("sanitized:" + keys[i], "Dimension '{0}' had a value that is not 1-1024 printable ASCII characters ({1}); it was sanitized to '{2}' (counted as {3}).", keys[i], EmfValidationException.Quote(values[i]), result[i], FixKinds.SanitizedDimensionValue);
                    break;
            }
        }

        foreach (var fix in fixes)
        {
            _counters.Fixed(fix);
        }

        if (_last.Count >= MaxRemembered && !_last.ContainsKey(profile))
        {
            _last.Clear();
        }

        _last[profile] = new ResolvedValues(values.ToArray(), result, fixes.ToArray());
        return result;
    }

    /// <summary>A hook's last resolution: the values before sanitizing, after, and the fixes made.</summary>
    private sealed record ResolvedValues(string?[] Raw, string[] Resolved, string[] Fixes);

    private void ApplyResolver(Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?> resolver, AfterInvocationEvent e, HookProfile profile, Span<string?> values)
    {
        IReadOnlyDictionary<string, string>? resolved;
        try
        {
            resolved = resolver(e);
        }
        catch (Exception ex)
        {
            _counters.Fixed(FixKinds.ResolverFailed);
            WarnOnce("resolver:" + ex.GetType().FullName, "The dimension resolver threw {0}: {1}. The record is still emitted with the automatic and static values (counted as {2}).", ex.GetType().Name, ex.Message, FixKinds.ResolverFailed);
            return;
        }

        if (resolved is null)
        {
            return;
        }

        try
        {
            foreach (var (key, value) in resolved)
            {
                var index = key is null ? -1 : profile.Context.IndexOfDimensionKey(key);
                if (index < 0)
                {
                    _counters.Fixed(FixKinds.UndeclaredDimension);
                    WarnOnce("undeclared:" + key, "The dimension resolver returned key {0}, which no dimension set declares; it was ignored (counted as {1}).", EmfValidationException.Quote(key), FixKinds.UndeclaredDimension);
                    continue;
                }

                values[index] = value;
            }
        }
        catch (Exception ex)
        {
            _counters.Fixed(FixKinds.ResolverFailed);
            WarnOnce("resolver-result:" + ex.GetType().FullName, "Reading the dimension resolver's result threw {0}: {1} (counted as {2}).", ex.GetType().Name, ex.Message, FixKinds.ResolverFailed);
        }
    }

    private long Timestamp(AfterInvocationEvent e)
    {
        var now = _pipeline.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var timestamp = e.Timestamp.ToUnixTimeMilliseconds();
        if (timestamp < now - (long)EmfLimits.MaxTimestampAge.TotalMilliseconds || timestamp > now + (long)EmfLimits.MaxTimestampAhead.TotalMilliseconds)
        {
            _counters.Fixed(FixKinds.TimestampReplaced);
            WarnOnce("timestamp", "An event's timestamp ({0:O}) is outside what CloudWatch accepts (14 days old to 2 hours ahead); the time of processing was used (counted as {1}).", e.Timestamp, FixKinds.TimestampReplaced);
            return now;
        }

        return timestamp;
    }

    private void WarnOnce(string cause, string format, params object?[] args)
    {
        if (_warned.Count < MaxWarnings && _warned.Add(cause))
        {
            _log.Warning(format, args);
        }
    }
}
