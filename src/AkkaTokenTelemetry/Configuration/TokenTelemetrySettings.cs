using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace AkkaTokenTelemetry;

/// <summary>Which element a full bounded buffer drops.</summary>
internal enum OverflowMode
{
    /// <summary>The element arriving is dropped.</summary>
    DropNewest,

    /// <summary>The oldest element waiting is dropped to make room.</summary>
    DropOldest,
}

/// <summary>
/// Everything under <c>akka.token-telemetry</c>, read once and checked. A bad value fails start-up with a
/// <see cref="ConfigurationException"/> (or an <see cref="EmfValidationException"/> for EMF rules) naming its HOCON path.
/// </summary>
internal sealed class TokenTelemetrySettings
{
    /// <summary>The HOCON section this library reads.</summary>
    public const string Section = "akka.token-telemetry";

    private static readonly Lazy<Config> LazyDefaultConfig = new(LoadDefaultConfig);

    private TokenTelemetrySettings()
    {
    }

    /// <summary>The embedded <c>reference.conf</c>.</summary>
    public static Config DefaultConfig => LazyDefaultConfig.Value;

    public string Namespace { get; private init; } = string.Empty;

    public IReadOnlyList<IReadOnlyList<string>> Dimensions { get; private init; } = [];

    public IReadOnlyDictionary<string, string> DimensionValues { get; private init; } = ImmutableDictionary<string, string>.Empty;

    public IReadOnlyDictionary<string, object?> ExtraProperties { get; private init; } = ImmutableDictionary<string, object?>.Empty;

    public string MissingDimensionValue { get; private init; } = "unknown";

    public int StorageResolution { get; private init; } = 60;

    public int IngressBufferSize { get; private init; }

    public OverflowMode IngressOverflow { get; private init; }

    public int BatchMaxRecords { get; private init; }

    public long BatchMaxBytes { get; private init; }

    public TimeSpan BatchMaxDelay { get; private init; }

    public bool MergeEnabled { get; private init; }

    public int MergeMaxValues { get; private init; } = EmfLimits.MaxValuesPerMetric;

    public TimeSpan MergeMaxSkew { get; private init; } = TimeSpan.FromMinutes(1);

    public IReadOnlyList<EmitterSettings> Emitters { get; private init; } = [];

    /// <summary>Emitter settings used for emitters not configured in HOCON (a hook's own <c>Emitter</c>).</summary>
    public EmitterSettings DefaultEmitter { get; private init; } = null!;

    public TimeSpan ShutdownTimeout { get; private init; }

    /// <summary>Reads the settings of an actor system (its config, with <see cref="DefaultConfig"/> as fallback).</summary>
    public static TokenTelemetrySettings Create(ActorSystem system) => Create(system.Settings.Config);

    /// <summary>Reads and checks the settings from a full config (the <c>akka.token-telemetry</c> section is looked up in it).</summary>
    public static TokenTelemetrySettings Create(Config config)
    {
        var root = config.WithFallback(DefaultConfig);
        var c = root.GetConfig(Section);
        string Path(string key) => $"{Section}.{key}";

        var @namespace = c.GetString("namespace");
        EmfRules.ValidateNamespace(@namespace, Path("namespace"));
        var dimensions = ReadDimensions(c, Path("dimensions"));
        var (_, declared) = EmfRules.ValidateDimensionSets(dimensions, Path("dimensions"));

        var dimensionValues = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in ReadObject(c, "dimension-values"))
        {
            var field = Path($"dimension-values.{key}");
            if (Array.IndexOf(declared, key) < 0)
            {
                throw new EmfValidationException(field, value.GetString(), $"every dimension value needs its key declared in {Path("dimensions")}");
            }

            EmfRules.ValidateDimensionValue(value.GetString(), field);
            dimensionValues[key] = value.GetString();
        }

        var extraProperties = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in ReadObject(c, "extra-properties"))
        {
            extraProperties[key] = ToPlain(value);
        }

        // Collisions of extra properties with _aws or a dimension key are refused here, naming the path.
        EmfContext.Create(@namespace, dimensions, extraProperties.ToDictionary(p => p.Key, p => p.Value), 60, Path("extra-properties"));

        var missing = c.GetString("missing-dimension-value");
        EmfRules.ValidateDimensionValue(missing, Path("missing-dimension-value"));

        var resolution = c.GetInt("storage-resolution");
        if (resolution is not (1 or 60))
        {
            throw Bad(Path("storage-resolution"), resolution, "must be 60 (standard) or 1 (high resolution)");
        }

        var defaults = c.GetConfig("emitter.defaults");
        // A bare null in the list (emitters = [null]) can only mean the emitter named "null".
        var emitterNames = c.GetStringList("emitters").Select(n => n ?? "null").ToList();
        var emitters = new List<EmitterSettings>();
        foreach (var name in emitterNames)
        {
            if (string.IsNullOrWhiteSpace(name) || name == "defaults")
            {
                throw Bad(Path("emitters"), name, "names an emitter block under emitter { }; 'defaults' and blank names are not emitters");
            }

            if (emitters.Any(e => e.Name == name))
            {
                throw Bad(Path("emitters"), name, "lists this emitter twice");
            }

            if (!c.HasPath($"emitter.{name}"))
            {
                throw Bad(Path("emitters"), name, $"has no block {Path($"emitter.{name}")} {{ type = … }}");
            }

            emitters.Add(EmitterSettings.Create(name, WithTypeDefaults(c, c.GetConfig($"emitter.{name}")).WithFallback(defaults), Path($"emitter.{name}")));
        }

        var sharedFile = emitters.Where(e => e.File is not null).GroupBy(e => e.File!.Path, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (sharedFile is not null)
        {
            throw Bad(Path($"emitter.{sharedFile.Last().Name}.path"), $"\"{sharedFile.Key}\"", $"is also the path of emitter '{sharedFile.First().Name}'; two file emitters must not write one file");
        }

        var overflow = c.GetString("ingress.overflow");
        return new TokenTelemetrySettings
        {
            Namespace = @namespace,
            Dimensions = dimensions,
            DimensionValues = dimensionValues.ToImmutableDictionary(StringComparer.Ordinal),
            ExtraProperties = extraProperties.ToImmutableDictionary(StringComparer.Ordinal),
            MissingDimensionValue = missing,
            StorageResolution = resolution,
            IngressBufferSize = Positive(c, "ingress.buffer-size", Path("ingress.buffer-size")),
            IngressOverflow = ParseOverflow(overflow, Path("ingress.overflow")),
            BatchMaxRecords = Positive(c, "batch.max-records", Path("batch.max-records")),
            BatchMaxBytes = PositiveBytes(c, "batch.max-bytes", Path("batch.max-bytes")),
            BatchMaxDelay = PositiveDuration(c, "batch.max-delay", Path("batch.max-delay")),
            MergeEnabled = ReadBoolean(c, "merge.enabled", Path("merge.enabled")),
            MergeMaxValues = ReadMaxValues(c, Path("merge.max-values")),
            MergeMaxSkew = PositiveDuration(c, "merge.max-skew", Path("merge.max-skew")),
            Emitters = emitters,
            DefaultEmitter = EmitterSettings.Create("hook-emitters", ConfigurationFactory.ParseString("type = delegate").WithFallback(defaults), Path("emitter.defaults")),
            ShutdownTimeout = PositiveDuration(c, "shutdown-timeout", Path("shutdown-timeout")),
        };
    }

    /// <summary>An emitter block over the defaults of its built-in type (emitter-type-defaults.&lt;type&gt;), if it has one.</summary>
    private static Config WithTypeDefaults(Config c, Config block)
    {
        var type = block.HasPath("type") ? block.GetString("type") : null;
        return type is not null && EmitterSettings.KnownTypes.Contains(type) && c.HasPath($"emitter-type-defaults.{type}")
            ? block.WithFallback(c.GetConfig($"emitter-type-defaults.{type}"))
            : block;
    }

    internal static OverflowMode ParseOverflow(string? value, string path) => value switch
    {
        "drop-newest" => OverflowMode.DropNewest,
        "drop-oldest" => OverflowMode.DropOldest,
        _ => throw Bad(path, value, "is not an overflow mode; use drop-newest or drop-oldest"),
    };

    internal static int Positive(Config c, string key, string path)
    {
        var value = ReadLong(c, key, path);
        if (value is < 1 or > int.MaxValue)
        {
            throw Bad(path, value, "must be a whole number from 1 to 2147483647");
        }

        return (int)value;
    }

    internal static int NonNegative(Config c, string key, string path)
    {
        var value = ReadLong(c, key, path);
        if (value is < 0 or > int.MaxValue)
        {
            throw Bad(path, value, "must be a whole number from 0 to 2147483647");
        }

        return (int)value;
    }

    internal static TimeSpan PositiveDuration(Config c, string key, string path)
    {
        TimeSpan value;
        try
        {
            value = c.GetTimeSpan(key, allowInfinite: false);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw Bad(path, c.GetString(key), $"is not a duration such as 200ms, 10s or 1m ({e.Message})");
        }

        if (value <= TimeSpan.Zero)
        {
            throw Bad(path, c.GetString(key), "must be a duration above zero");
        }

        return value;
    }

    internal static double Fraction(Config c, string key, string path)
    {
        double value;
        try
        {
            value = c.GetDouble(key);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw Bad(path, c.GetString(key), "is not a number");
        }

        if (value is < 0 or > 1 || double.IsNaN(value))
        {
            throw Bad(path, value, "must be between 0 and 1");
        }

        return value;
    }

    internal static ConfigurationException Bad(string path, object? value, string rule) =>
        new($"Invalid token telemetry configuration: {path} = {value ?? "(missing)"} {rule}.");

    private static long ReadLong(Config c, string key, string path)
    {
        if (!c.HasPath(key))
        {
            throw Bad(path, null, "is required");
        }

        try
        {
            return c.GetLong(key);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw Bad(path, c.GetString(key), "is not a whole number");
        }
    }

    internal static long PositiveBytes(Config c, string key, string path)
    {
        long? value;
        try
        {
            value = c.GetByteSize(key);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw Bad(path, c.GetString(key), "is not a size such as 256KiB or 1MiB");
        }

        if (value is not > 0)
        {
            throw Bad(path, c.GetString(key), "must be a size above zero");
        }

        return value.Value;
    }

    private static bool ReadBoolean(Config c, string key, string path)
    {
        try
        {
            return c.GetBoolean(key);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw Bad(path, c.GetString(key), "must be on or off");
        }
    }

    private static int ReadMaxValues(Config c, string path)
    {
        var value = ReadLong(c, "merge.max-values", path);
        if (value is < 1 or > EmfLimits.MaxValuesPerMetric)
        {
            throw Bad(path, value, $"must be from 1 to {EmfLimits.MaxValuesPerMetric} (CloudWatch takes at most {EmfLimits.MaxValuesPerMetric} values per metric in one event)");
        }

        return (int)value;
    }

    private static IReadOnlyList<IReadOnlyList<string>> ReadDimensions(Config c, string path)
    {
        var value = c.GetValue("dimensions");
        if (value is null || value.IsEmpty)
        {
            return [];
        }

        if (!value.IsArray())
        {
            throw Bad(path, value.ToString(), "must be a list of dimension sets, such as [[\"Model\"], [\"Model\", \"Agent\"]]");
        }

        var sets = new List<IReadOnlyList<string>>();
        foreach (var set in value.GetArray())
        {
            if (!set.IsArray())
            {
                throw Bad(path, value.ToString(), "must be a list of lists of keys, such as [[\"Model\"]]");
            }

            sets.Add(set.GetArray().Select(k => k.GetString()).ToArray());
        }

        return sets;
    }

    private static IEnumerable<KeyValuePair<string, HoconValue>> ReadObject(Config c, string key)
    {
        if (!c.HasPath(key))
        {
            return [];
        }

        var value = c.GetValue(key);
        return value.IsObject() ? value.GetObject().Items : [];
    }

    private static object? ToPlain(HoconValue value)
    {
        if (value.IsObject())
        {
            return value.GetObject().Items.ToDictionary(p => p.Key, p => ToPlain(p.Value));
        }

        if (value.IsArray())
        {
            return value.GetArray().Select(ToPlain).ToList();
        }

        return value.GetString();
    }

    private static Config LoadDefaultConfig()
    {
        using var stream = typeof(TokenTelemetrySettings).Assembly.GetManifestResourceStream("AkkaTokenTelemetry.reference.conf")
            ?? throw new InvalidOperationException("The embedded reference.conf is missing from the AkkaTokenTelemetry assembly.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}

/// <summary>The settings of one emitter block, <c>akka.token-telemetry.emitter.&lt;name&gt;</c>, with <c>defaults</c> as fallback.</summary>
internal sealed class EmitterSettings
{
    /// <summary>The emitter types this version knows.</summary>
    public static readonly IReadOnlyList<string> KnownTypes = ["stdout", "cloudwatch-agent", "http", "file", "logger", "null", "delegate"];

    private EmitterSettings()
    {
    }

    public string Name { get; private init; } = string.Empty;

    public string Type { get; private init; } = string.Empty;

    public string Path { get; private init; } = string.Empty;

    public Config Config { get; private init; } = Config.Empty;

    public int BufferBatches { get; private init; }

    public OverflowMode Overflow { get; private init; }

    public TimeSpan StallTimeout { get; private init; }

    public TimeSpan AskTimeout { get; private init; }

    public int MaxRetriesPerBatch { get; private init; }

    public TimeSpan BackoffMin { get; private init; }

    public TimeSpan BackoffMax { get; private init; }

    public double BackoffRandomFactor { get; private init; }

    /// <summary>For <c>type = cloudwatch-agent</c>.</summary>
    public AgentEmitterOptions? Agent { get; private init; }

    /// <summary>For <c>type = http</c>.</summary>
    public HttpEmitterOptions? Http { get; private init; }

    /// <summary>For <c>type = file</c>.</summary>
    public FileEmitterOptions? File { get; private init; }

    /// <summary>For <c>type = logger</c>.</summary>
    public LoggerEmitterOptions? Logger { get; private init; }

    /// <summary>For a <c>type</c> naming a class that implements <see cref="IEmfEmitter"/>.</summary>
    public CustomEmitterType? Custom { get; private init; }

    /// <summary>The longest one sink's whole retry cycle for a batch takes: every attempt and the backoffs between them, plus slack.</summary>
    public TimeSpan AttemptCycle =>
        (AskTimeout * (MaxRetriesPerBatch + 1)) + (BackoffMax * MaxRetriesPerBatch * (1 + BackoffRandomFactor)) + TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest a branch waits for one batch: every attempt, every backoff between attempts, a restart of the
    /// sink after its own backoff, and slack.
    /// </summary>
    public TimeSpan BatchTimeout =>
        (AskTimeout * (MaxRetriesPerBatch + 1)) + (BackoffMax * (MaxRetriesPerBatch + 1.2 + BackoffRandomFactor)) + TimeSpan.FromSeconds(5);

    public static EmitterSettings Create(string name, Config c, string path) => Create(name, c, path, Environment.GetEnvironmentVariable);

    public static EmitterSettings Create(string name, Config c, string path, Func<string, string?> environment)
    {
        // type = null (the HOCON null literal) means the "null" emitter, as does type = "null".
        var type = c.HasPath("type") ? c.GetString("type") ?? "null" : null;
        if (string.IsNullOrEmpty(type))
        {
            throw TokenTelemetrySettings.Bad($"{path}.type", null, $"is required: one of {string.Join(", ", KnownTypes)}");
        }

        var custom = !KnownTypes.Contains(type) && CustomEmitterType.LooksLikeTypeName(type) ? CustomEmitterType.Resolve(type, path) : null;
        if (!KnownTypes.Contains(type) && custom is null)
        {
            throw TokenTelemetrySettings.Bad(
                $"{path}.type",
                type,
                $"is not a known emitter type: use one of {string.Join(", ", KnownTypes)}, or name a class implementing IEmfEmitter as \"Namespace.Type, Assembly\"");
        }

        var min = TokenTelemetrySettings.PositiveDuration(c, "backoff.min", $"{path}.backoff.min");
        var max = TokenTelemetrySettings.PositiveDuration(c, "backoff.max", $"{path}.backoff.max");
        if (max < min)
        {
            throw TokenTelemetrySettings.Bad($"{path}.backoff.max", max, $"must not be below backoff.min ({min})");
        }

        var askTimeout = TokenTelemetrySettings.PositiveDuration(c, "ask-timeout", $"{path}.ask-timeout");
        return new EmitterSettings
        {
            Agent = type == "cloudwatch-agent" ? AgentEmitterOptions.Create(c, path, environment) : null,
            Http = type == "http" ? HttpEmitterOptions.Create(c, path, askTimeout) : null,
            File = type == "file" ? FileEmitterOptions.Create(c, path) : null,
            Logger = type == "logger" ? LoggerEmitterOptions.Create(c, path) : null,
            Custom = custom,
            Name = name,
            Type = type,
            Path = path,
            Config = c,
            BufferBatches = TokenTelemetrySettings.Positive(c, "buffer-batches", $"{path}.buffer-batches"),
            Overflow = TokenTelemetrySettings.ParseOverflow(c.GetString("overflow"), $"{path}.overflow"),
            StallTimeout = TokenTelemetrySettings.PositiveDuration(c, "stall-timeout", $"{path}.stall-timeout"),
            AskTimeout = askTimeout,
            MaxRetriesPerBatch = TokenTelemetrySettings.NonNegative(c, "max-retries-per-batch", $"{path}.max-retries-per-batch"),
            BackoffMin = min,
            BackoffMax = max,
            BackoffRandomFactor = TokenTelemetrySettings.Fraction(c, "backoff.random-factor", $"{path}.backoff.random-factor"),
        };
    }
}
