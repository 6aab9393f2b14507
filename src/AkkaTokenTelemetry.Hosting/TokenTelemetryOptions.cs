using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Configuration;

namespace AkkaTokenTelemetry.Hosting;

/// <summary>
/// The token telemetry settings of an Akka.Hosting actor system. Every property left null keeps the value of the
/// HOCON section <c>akka.token-telemetry</c> (your HOCON, else the embedded <c>reference.conf</c>); the ones you
/// set are rendered to HOCON and override it.
/// </summary>
public sealed class TokenTelemetryOptions
{
    private readonly List<(string Name, Func<TokenTelemetrySetup, TokenTelemetrySetup> Register)> _emitters = [];

    /// <summary>The CloudWatch namespace. The default value is HOCON <c>namespace</c>: <c>"Strands/AgentTokenUsage"</c>.</summary>
    public string? Namespace { get; set; }

    /// <summary>Dimension sets, each at most 30 keys; empty for none. The default value is HOCON <c>dimensions</c>: <c>[["Model"]]</c>.</summary>
    public IReadOnlyList<IReadOnlyList<string>>? Dimensions { get; set; }

    /// <summary>Static dimension values for keys declared in <see cref="Dimensions"/>. The default value is HOCON <c>dimension-values</c>: none.</summary>
    public IReadOnlyDictionary<string, string>? DimensionValues { get; set; }

    /// <summary>Extra top-level string properties of every event. The default value is HOCON <c>extra-properties</c>: none.
    /// Properties of other JSON types go in <see cref="TokenUsageHookOptions.ExtraProperties"/> of <see cref="Hook"/>.</summary>
    public IReadOnlyDictionary<string, string>? ExtraProperties { get; set; }

    /// <summary>The value of a declared dimension that nothing provides. The default value is HOCON <c>missing-dimension-value</c>: <c>"unknown"</c>.</summary>
    public string? MissingDimensionValue { get; set; }

    /// <summary>
    /// Names of the active emitter blocks. The default value is HOCON <c>emitters</c>: <c>[stdout]</c>. Emitters added
    /// with <see cref="AddEmitter(string, IEmfEmitter)"/> are always added to this list.
    /// </summary>
    public IReadOnlyList<string>? Emitters { get; set; }

    /// <summary>Whether records of one batch that differ only in their counts become one event. The default value is HOCON <c>merge.enabled</c>: <c>off</c>.</summary>
    public bool? MergeEnabled { get; set; }

    /// <summary>The longest a record waits for its batch. The default value is HOCON <c>batch.max-delay</c>: 200 ms.</summary>
    public TimeSpan? BatchMaxDelay { get; set; }

    /// <summary>How long a graceful shutdown waits for the emitters. The default value is HOCON <c>shutdown-timeout</c>: 8 s.</summary>
    public TimeSpan? ShutdownTimeout { get; set; }

    /// <summary>
    /// The options of every hook created without options of its own (a resolver, a hook emitter, properties of any
    /// JSON type): the <see cref="TokenUsageHook"/> that the service provider resolves, the one
    /// <c>UseTokenTelemetry()</c> creates when none is registered, and <see cref="TokenTelemetry.CreateHook"/> with
    /// null. They become the actor system's <see cref="TokenTelemetrySetup.DefaultHookOptions"/>. The default value
    /// is null: every hook setting comes from HOCON.
    /// </summary>
    public TokenUsageHookOptions? Hook { get; set; }

    /// <summary>Whether emitters were added in code.</summary>
    internal bool HasCodeEmitters => _emitters.Count > 0;

    /// <summary>Adds the emitters registered in code to <paramref name="setup"/>.</summary>
    internal TokenTelemetrySetup RegisterEmitters(TokenTelemetrySetup setup)
    {
        foreach (var (_, register) in _emitters)
        {
            setup = register(setup);
        }

        return setup;
    }

    /// <summary>
    /// Adds an emitter in code: it gets the HOCON block <c>emitter.&lt;name&gt; { type = delegate }</c> (keeping any
    /// other settings you wrote in that block) and becomes active, with the pipeline's buffering, retries and supervision.
    /// </summary>
    /// <param name="name">The emitter's name: its HOCON block and its name in <c>Stats.Emitters</c>.</param>
    /// <param name="emitter">The emitter; the pipeline does not dispose it.</param>
    /// <returns>These options, for chaining.</returns>
    public TokenTelemetryOptions AddEmitter(string name, IEmfEmitter emitter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(emitter);
        return Add(name, setup => setup.WithEmitter(name, emitter));
    }

    /// <summary>Adds a per-event delegate as an emitter; see <see cref="AddEmitter(string, IEmfEmitter)"/>.</summary>
    /// <param name="name">The emitter's name.</param>
    /// <param name="emitter">Called once per event with the parsed payload; when it throws, the batch is retried.</param>
    /// <returns>These options, for chaining.</returns>
    public TokenTelemetryOptions AddEmitter(string name, Action<JsonObject> emitter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(emitter);
        return Add(name, setup => setup.WithEmitter(name, emitter));
    }

    private TokenTelemetryOptions Add(string name, Func<TokenTelemetrySetup, TokenTelemetrySetup> register)
    {
        _emitters.RemoveAll(e => e.Name == name);
        _emitters.Add((name, register));
        return this;
    }

    /// <summary>
    /// Renders the properties that are set as HOCON. <paramref name="current"/> is the configuration the options
    /// override, used only to extend its <c>emitters</c> list with the emitters added in code.
    /// </summary>
    internal string ToHocon(Config current)
    {
        var sb = new StringBuilder();
        const string Root = "akka.token-telemetry";
        if (Namespace is not null)
        {
            sb.Append(Root).Append(".namespace = ").AppendLine(Quote(Namespace));
        }

        if (Dimensions is not null)
        {
            sb.Append(Root).Append(".dimensions = [");
            sb.AppendJoin(", ", Dimensions.Select(set => "[" + string.Join(", ", set.Select(Quote)) + "]"));
            sb.AppendLine("]");
        }

        if (DimensionValues is not null)
        {
            AppendObject(sb, Root + ".dimension-values", DimensionValues);
        }

        if (ExtraProperties is not null)
        {
            AppendObject(sb, Root + ".extra-properties", ExtraProperties);
        }

        if (MissingDimensionValue is not null)
        {
            sb.Append(Root).Append(".missing-dimension-value = ").AppendLine(Quote(MissingDimensionValue));
        }

        if (MergeEnabled is { } merge)
        {
            sb.Append(Root).Append(".merge.enabled = ").AppendLine(merge ? "on" : "off");
        }

        if (BatchMaxDelay is { } delay)
        {
            sb.Append(Root).Append(".batch.max-delay = ").AppendLine(Duration(delay));
        }

        if (ShutdownTimeout is { } timeout)
        {
            sb.Append(Root).Append(".shutdown-timeout = ").AppendLine(Duration(timeout));
        }

        var emitters = Emitters;
        if (_emitters.Count > 0)
        {
            var active = new List<string>(emitters ?? (IEnumerable<string>)current.GetStringList(Root + ".emitters", []));
            foreach (var (name, _) in _emitters)
            {
                if (!active.Contains(name, StringComparer.Ordinal))
                {
                    active.Add(name);
                }

                sb.Append(Root).Append(".emitter.").Append(Quote(name)).AppendLine(".type = delegate");
            }

            emitters = active;
        }

        if (emitters is not null)
        {
            sb.Append(Root).Append(".emitters = [").AppendJoin(", ", emitters.Select(Quote)).AppendLine("]");
        }

        return sb.ToString();
    }

    /// <summary>The HOCON these options render over the embedded defaults alone (for diagnostics).</summary>
    /// <returns>HOCON text; empty when nothing is set.</returns>
    public override string ToString() => ToHocon(TokenTelemetry.DefaultConfig);

    private static void AppendObject(StringBuilder sb, string path, IReadOnlyDictionary<string, string> values)
    {
        sb.Append(path).Append(" { ");
        foreach (var (key, value) in values)
        {
            sb.Append(Quote(key)).Append(" = ").Append(Quote(value)).Append(", ");
        }

        sb.AppendLine("}");
    }

    /// <summary>A HOCON quoted string: JSON string syntax, which HOCON accepts as it is.</summary>
    private static string Quote(string value) =>
        "\"" + JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) + "\"";

    private static string Duration(TimeSpan value) =>
        ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
}
