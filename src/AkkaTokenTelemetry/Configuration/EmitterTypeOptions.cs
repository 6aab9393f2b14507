using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace AkkaTokenTelemetry;

/// <summary>The settings of a <c>type = cloudwatch-agent</c> block, resolved against the environment.</summary>
internal sealed partial class AgentEmitterOptions
{
    /// <summary>The agent endpoint when neither HOCON nor <c>AWS_EMF_AGENT_ENDPOINT</c> gives one.</summary>
    public const string DefaultEndpoint = "tcp://127.0.0.1:25888";

    /// <summary>The log group when neither HOCON nor <c>AWS_EMF_LOG_GROUP_NAME</c> gives one.</summary>
    public const string DefaultLogGroupName = "AkkaTokenTelemetry-metrics";

    public const string EndpointVariable = "AWS_EMF_AGENT_ENDPOINT";

    public const string LogGroupVariable = "AWS_EMF_LOG_GROUP_NAME";

    public const string LogStreamVariable = "AWS_EMF_LOG_STREAM_NAME";

    public bool IsUdp { get; private init; }

    public string Host { get; private init; } = string.Empty;

    public int Port { get; private init; }

    /// <summary>The endpoint as configured, for messages.</summary>
    public string Endpoint { get; private init; } = string.Empty;

    public string LogGroupName { get; private init; } = string.Empty;

    public string? LogStreamName { get; private init; }

    public TimeSpan ResendWindow { get; private init; }

    public long ResendBuffer { get; private init; }

    /// <summary>unacknowledged-timeout: how long written bytes may stay unacknowledged before the connection counts as dead.</summary>
    public TimeSpan UnacknowledgedTimeout { get; private init; }

    public static AgentEmitterOptions Create(Config c, string path, Func<string, string?> environment)
    {
        var (endpoint, endpointSource) = FromConfigOrEnvironment(c, "endpoint", $"{path}.endpoint", EndpointVariable, environment);
        endpoint ??= DefaultEndpoint;
        endpointSource ??= $"{path}.endpoint";
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw TokenTelemetrySettings.Bad(endpointSource, $"\"{endpoint}\"", "is not an endpoint: use tcp://host:port or udp://host:port");
        }

        if (uri.Scheme is not ("tcp" or "udp"))
        {
            throw TokenTelemetrySettings.Bad(endpointSource, $"\"{endpoint}\"", $"has the scheme '{uri.Scheme}': the CloudWatch agent takes tcp://host:port or udp://host:port");
        }

        if (uri.Port is < 1 or > 65535 || !HasExplicitPort(endpoint))
        {
            throw TokenTelemetrySettings.Bad(endpointSource, $"\"{endpoint}\"", "has no port: use tcp://host:port or udp://host:port (the agent listens on 25888 by default)");
        }

        if (uri.AbsolutePath is not ("/" or "") || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            throw TokenTelemetrySettings.Bad(endpointSource, $"\"{endpoint}\"", "must be only scheme, host and port, such as tcp://127.0.0.1:25888");
        }

        var (group, groupSource) = FromConfigOrEnvironment(c, "log-group-name", $"{path}.log-group-name", LogGroupVariable, environment);
        group ??= DefaultLogGroupName;
        if (!LogGroupPattern().IsMatch(group))
        {
            throw TokenTelemetrySettings.Bad(groupSource ?? $"{path}.log-group-name", $"\"{group}\"", "is not a log group name: 1-512 characters, letters, digits and _ - / . #");
        }

        var (stream, streamSource) = FromConfigOrEnvironment(c, "log-stream-name", $"{path}.log-stream-name", LogStreamVariable, environment);
        if (stream is not null && (stream.Length > 512 || stream.Contains(':', StringComparison.Ordinal) || stream.Contains('*', StringComparison.Ordinal) || stream.Any(char.IsControl)))
        {
            throw TokenTelemetrySettings.Bad(streamSource!, $"\"{stream}\"", "is not a log stream name: 1-512 characters, without ':', '*' or control characters");
        }

        return new AgentEmitterOptions
        {
            IsUdp = uri.Scheme == "udp",
            Host = uri.Host.Trim('[', ']'),
            Port = uri.Port,
            Endpoint = endpoint,
            LogGroupName = group,
            LogStreamName = stream,
            ResendWindow = TokenTelemetrySettings.PositiveDuration(c, "resend-window", $"{path}.resend-window"),
            ResendBuffer = TokenTelemetrySettings.PositiveBytes(c, "resend-buffer", $"{path}.resend-buffer"),
            UnacknowledgedTimeout = TokenTelemetrySettings.PositiveDuration(c, "unacknowledged-timeout", $"{path}.unacknowledged-timeout"),
        };
    }

    /// <summary>The HOCON value when it is not empty, else the environment variable when set, else null.</summary>
    private static (string? Value, string? Source) FromConfigOrEnvironment(Config c, string key, string path, string variable, Func<string, string?> environment)
    {
        var configured = c.HasPath(key) ? c.GetString(key) : null;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return (configured.Trim(), path);
        }

        var fromEnvironment = environment(variable);
        return string.IsNullOrWhiteSpace(fromEnvironment)
            ? (null, null)
            : (fromEnvironment.Trim(), $"{variable} (environment variable, used because {path} is empty)");
    }

    /// <summary>Uri fills in no default port for tcp/udp, but be explicit: "host:port" must be in the text.</summary>
    private static bool HasExplicitPort(string endpoint)
    {
        var authority = endpoint[(endpoint.IndexOf("://", StringComparison.Ordinal) + 3)..];
        authority = authority.IndexOfAny(['/', '?', '#']) is var end and >= 0 ? authority[..end] : authority;
        var colon = authority.LastIndexOf(':');
        return colon > 0 && colon > authority.LastIndexOf(']') && int.TryParse(authority[(colon + 1)..], out _);
    }

    [GeneratedRegex(@"^[A-Za-z0-9_\-/.#]{1,512}$")]
    private static partial Regex LogGroupPattern();
}

/// <summary>The settings of a <c>type = http</c> block.</summary>
internal sealed class HttpEmitterOptions
{
    public Uri Url { get; private init; } = null!;

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; private init; } = [];

    public string ContentType { get; private init; } = "application/x-ndjson";

    public TimeSpan Timeout { get; private init; }

    public static HttpEmitterOptions Create(Config c, string path, TimeSpan askTimeout)
    {
        var url = c.HasPath("url") ? c.GetString("url") : null;
        if (string.IsNullOrWhiteSpace(url))
        {
            throw TokenTelemetrySettings.Bad($"{path}.url", null, "is required: the http(s) URL the batches are POSTed to");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw TokenTelemetrySettings.Bad($"{path}.url", $"\"{url}\"", "is not an absolute http:// or https:// URL");
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw TokenTelemetrySettings.Bad($"{path}.url", "(a URL with user:password@, not shown)", "must not carry credentials; send them as a header, e.g. headers { Authorization = \"…\" }");
        }

        // ask-timeout bounds every attempt anyway: keep the request's own timeout just below it, so that a server
        // that does not answer is reported as such rather than as an attempt cut short.
        var timeout = TokenTelemetrySettings.PositiveDuration(c, "timeout", $"{path}.timeout");
        var cap = askTimeout * 0.9;
        timeout = timeout < cap ? timeout : cap;

        var contentType = c.HasPath("content-type") ? c.GetString("content-type") : null;
        if (string.IsNullOrWhiteSpace(contentType) || !System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out _))
        {
            throw TokenTelemetrySettings.Bad($"{path}.content-type", contentType, "is not a media type such as application/x-ndjson");
        }

        var headers = new List<KeyValuePair<string, string>>();
        if (c.HasPath("headers") && c.GetValue("headers").IsObject())
        {
            using var probe = new HttpRequestMessage();
            foreach (var (name, value) in c.GetValue("headers").GetObject().Items)
            {
                // Header values are often secrets: messages name the header, never its value.
                const string Hidden = "(value not shown)";
                var text = value.IsString() ? value.GetString() : null;
                if (text is null)
                {
                    throw TokenTelemetrySettings.Bad($"{path}.headers.{name}", Hidden, "must be a string");
                }

                if (string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    throw TokenTelemetrySettings.Bad($"{path}.headers.{name}", Hidden, $"is set with {path}.content-type instead");
                }

                if (text.Any(ch => ch is < ' ' or > '~'))
                {
                    throw TokenTelemetrySettings.Bad($"{path}.headers.{name}", Hidden, "must be printable ASCII (no line breaks or other control characters)");
                }

                if (!probe.Headers.TryAddWithoutValidation(name, text))
                {
                    throw TokenTelemetrySettings.Bad($"{path}.headers.{name}", Hidden, "is not a request header name that can be sent");
                }

                headers.Add(new(name, text));
            }
        }

        return new HttpEmitterOptions { Url = uri, Headers = headers, ContentType = contentType, Timeout = timeout };
    }
}

/// <summary>The settings of a <c>type = file</c> block.</summary>
internal sealed class FileEmitterOptions
{
    public string Path { get; private init; } = string.Empty;

    /// <summary>0 = never rotate.</summary>
    public long MaxFileSize { get; private init; }

    public int KeepFiles { get; private init; }

    public static FileEmitterOptions Create(Config c, string path)
    {
        var file = c.HasPath("path") ? c.GetString("path") : null;
        if (string.IsNullOrWhiteSpace(file))
        {
            throw TokenTelemetrySettings.Bad($"{path}.path", null, "is required: the file the events are appended to");
        }

        string full;
        try
        {
            full = System.IO.Path.GetFullPath(file);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw TokenTelemetrySettings.Bad($"{path}.path", $"\"{file}\"", $"is not a valid file path ({e.Message})");
        }

        var directory = System.IO.Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
        {
            throw TokenTelemetrySettings.Bad($"{path}.path", $"\"{file}\"", $"is in a directory that does not exist ({directory}); create it first");
        }

        if (Directory.Exists(full))
        {
            throw TokenTelemetrySettings.Bad($"{path}.path", $"\"{file}\"", "is a directory; name a file");
        }

        long maxSize = 0;
        var sizeText = c.HasPath("max-file-size") ? c.GetString("max-file-size") : null;
        if (!string.IsNullOrWhiteSpace(sizeText) && sizeText is not ("0" or "off"))
        {
            maxSize = TokenTelemetrySettings.PositiveBytes(c, "max-file-size", $"{path}.max-file-size");
        }

        return new FileEmitterOptions
        {
            Path = full,
            MaxFileSize = maxSize,
            KeepFiles = TokenTelemetrySettings.NonNegative(c, "keep-files", $"{path}.keep-files"),
        };
    }
}

/// <summary>The settings of a <c>type = logger</c> block.</summary>
internal sealed class LoggerEmitterOptions
{
    public string Category { get; private init; } = string.Empty;

    public LogLevel Level { get; private init; }

    public static LoggerEmitterOptions Create(Config c, string path)
    {
        var category = c.HasPath("category") ? c.GetString("category") : null;
        if (string.IsNullOrWhiteSpace(category))
        {
            throw TokenTelemetrySettings.Bad($"{path}.category", category, "is required: the logger category, such as AkkaTokenTelemetry.Emf");
        }

        var levelText = c.HasPath("level") ? c.GetString("level") : null;
        if (levelText is null || levelText.Contains(',', StringComparison.Ordinal) || int.TryParse(levelText, out _)
            || !Enum.TryParse<LogLevel>(levelText, ignoreCase: true, out var level) || level == LogLevel.None || !Enum.IsDefined(level))
        {
            throw TokenTelemetrySettings.Bad($"{path}.level", levelText, "is not a log level: Trace, Debug, Information, Warning, Error or Critical");
        }

        return new LoggerEmitterOptions { Category = category, Level = level };
    }
}

/// <summary>A HOCON <c>type</c> that names a class implementing <see cref="IEmfEmitter"/>.</summary>
internal sealed class CustomEmitterType
{
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)]
    private readonly Type _type;
    private readonly bool _takesConfig;

    private CustomEmitterType([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] Type type, bool takesConfig)
    {
        _type = type;
        _takesConfig = takesConfig;
    }

    /// <summary>Whether a <c>type</c> value looks like a .NET type name rather than a built-in emitter type.</summary>
    public static bool LooksLikeTypeName(string type) => type.Contains('.', StringComparison.Ordinal) || type.Contains(',', StringComparison.Ordinal);

    [UnconditionalSuppressMessage("Trimming", "IL2057", Justification = "Custom emitter types are named in configuration; the application keeps them (documented in the README).")]
    [UnconditionalSuppressMessage("Trimming", "IL2073", Justification = "Custom emitter types are named in configuration; the application keeps them (documented in the README).")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Custom emitter types are named in configuration; the application keeps them (documented in the README).")]
    public static CustomEmitterType Resolve(string typeName, string path)
    {
        Type? type;
        try
        {
            type = Type.GetType(typeName, throwOnError: true);
        }
        catch (Exception e) when (e is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException or ArgumentException)
        {
            throw TokenTelemetrySettings.Bad(
                $"{path}.type",
                $"\"{typeName}\"",
                $"is neither a built-in emitter type ({string.Join(", ", EmitterSettings.KnownTypes)}) nor a class that can be loaded ({e.Message}); name a class as \"Namespace.Type, Assembly\"");
        }

        if (type is null || !typeof(IEmfEmitter).IsAssignableFrom(type) || type.IsAbstract || type.IsInterface || type.ContainsGenericParameters)
        {
            throw TokenTelemetrySettings.Bad($"{path}.type", $"\"{typeName}\"", "is not a concrete class implementing AkkaTokenTelemetry.IEmfEmitter");
        }

        var withConfig = Constructor(type, [typeof(Config)]);
        if (withConfig is null && Constructor(type, Type.EmptyTypes) is null)
        {
            throw TokenTelemetrySettings.Bad($"{path}.type", $"\"{typeName}\"", "needs a public constructor that takes its HOCON block (Akka.Configuration.Config) or no arguments");
        }

        return new CustomEmitterType(type, withConfig is not null);
    }

    /// <summary>Creates an instance, given the emitter's HOCON block.</summary>
    public IEmfEmitter Create(Config block, string path)
    {
        try
        {
            return (IEmfEmitter)(_takesConfig ? Activator.CreateInstance(_type, block) : Activator.CreateInstance(_type))!;
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new ConfigurationException($"Invalid token telemetry configuration: {path}: the emitter {_type.FullName} could not be created: {e.InnerException.Message}", e.InnerException);
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "See Resolve.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "See Resolve.")]
    private static System.Reflection.ConstructorInfo? Constructor(Type type, Type[] parameters) => type.GetConstructor(parameters);
}
