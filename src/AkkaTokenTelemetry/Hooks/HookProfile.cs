using System.Text.Json.Nodes;

namespace AkkaTokenTelemetry;

/// <summary>
/// A hook's options merged with the HOCON settings and checked: everything the router needs to turn an invocation
/// into a record, fixed for the hook's life.
/// </summary>
internal sealed class HookProfile
{
    private HookProfile(EmfContext context, string?[] staticValues, Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>? resolver, Action<JsonObject>? emitter, string missingValue)
    {
        Context = context;
        StaticValues = staticValues;
        Resolver = resolver;
        Emitter = emitter;
        JsonEmitter = emitter is null ? null : new JsonEmitter(emitter);
        MissingValue = missingValue;
        ModelIndex = context.IndexOfDimensionKey("Model");
        AgentIndex = context.IndexOfDimensionKey("Agent");
        ProviderIndex = context.IndexOfDimensionKey("Provider");
    }

    public EmfContext Context { get; }

    /// <summary>Static values (HOCON, then the hook's), one per <see cref="EmfContext.DimensionKeys"/> entry; null where none.</summary>
    public string?[] StaticValues { get; }

    public Func<AfterInvocationEvent, IReadOnlyDictionary<string, string>?>? Resolver { get; }

    /// <summary>The hook's own emitter; null sends to the HOCON emitters.</summary>
    public Action<JsonObject>? Emitter { get; }

    /// <summary><see cref="Emitter"/>, wrapped once for the batches that carry it.</summary>
    public JsonEmitter? JsonEmitter { get; }

    public string MissingValue { get; }

    public int ModelIndex { get; }

    public int AgentIndex { get; }

    public int ProviderIndex { get; }

    /// <summary>Merges the options with the settings and checks the result.</summary>
    /// <exception cref="EmfValidationException">An option breaks an EMF rule; the field is named <c>options.…</c>.</exception>
    public static HookProfile Create(TokenUsageHookOptions options, TokenTelemetrySettings settings)
    {
        var @namespace = options.Namespace ?? settings.Namespace;
        var dimensions = options.Dimensions ?? settings.Dimensions;
        EmfRules.ValidateNamespace(@namespace, "options.Namespace");
        var (_, keys) = EmfRules.ValidateDimensionSets(dimensions, "options.Dimensions");

        var staticValues = new string?[keys.Length];
        foreach (var (key, value) in settings.DimensionValues)
        {
            var index = Array.IndexOf(keys, key);
            if (index >= 0)
            {
                staticValues[index] = value;
            }
        }

        if (options.DimensionValues is { } values)
        {
            foreach (var (key, value) in values)
            {
                var field = $"options.DimensionValues[\"{key}\"]";
                var index = Array.IndexOf(keys, key);
                if (index < 0)
                {
                    throw new EmfValidationException(field, value, "every dimension value needs its key declared in a dimension set (options.Dimensions, else HOCON dimensions)");
                }

                EmfRules.ValidateDimensionValue(value, field);
                staticValues[index] = value;
            }
        }

        var properties = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in settings.ExtraProperties)
        {
            if (Array.IndexOf(keys, name) < 0)
            {
                properties[name] = value;
            }
        }

        if (options.ExtraProperties is { } extra)
        {
            foreach (var (name, value) in extra)
            {
                properties[name] = value;
            }
        }

        var context = EmfContext.Create(@namespace, dimensions, properties, settings.StorageResolution, "options.ExtraProperties");
        return new HookProfile(context, staticValues, options.DimensionResolver, options.Emitter, settings.MissingDimensionValue);
    }

    /// <summary>Checks what can be checked without the HOCON settings (a hook over a router that is not a pipeline's).</summary>
    public static void ValidateAlone(TokenUsageHookOptions options)
    {
        if (options.Namespace is not null)
        {
            EmfRules.ValidateNamespace(options.Namespace, "options.Namespace");
        }

        string[]? keys = null;
        if (options.Dimensions is not null)
        {
            (_, keys) = EmfRules.ValidateDimensionSets(options.Dimensions, "options.Dimensions");
        }

        if (options.DimensionValues is { } values)
        {
            foreach (var (key, value) in values)
            {
                var field = $"options.DimensionValues[\"{key}\"]";
                if (keys is not null && Array.IndexOf(keys, key) < 0)
                {
                    throw new EmfValidationException(field, value, "every dimension value needs its key declared in a dimension set (options.Dimensions)");
                }

                EmfRules.ValidateDimensionValue(value, field);
            }
        }

        if (options.ExtraProperties is { } extra)
        {
            foreach (var (name, value) in extra)
            {
                var field = $"options.ExtraProperties[\"{name}\"]";
                EmfRules.ValidatePropertyName(name, field);
                if (keys is not null && Array.IndexOf(keys, name) >= 0)
                {
                    throw new EmfValidationException(field, name, "an extra property cannot have the name of a dimension key (the dimension value would be lost)");
                }

                EmfJson.ToNode(value, field);
            }
        }
    }
}
