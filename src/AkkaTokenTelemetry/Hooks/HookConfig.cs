namespace AkkaTokenTelemetry;

/// <summary>
/// One hook's configuration as its messages carry it: the options, and the profile resolved against HOCON
/// (built when the hook is created if the pipeline is known, else by the router on first use).
/// </summary>
internal sealed class HookConfig
{
    public HookConfig(TokenUsageHookOptions options, HookProfile? profile)
    {
        Options = options;
        Profile = profile;
    }

    public TokenUsageHookOptions Options { get; }

    /// <summary>The resolved profile. Written only by the router that serves this hook, so no lock is needed.</summary>
    public HookProfile? Profile { get; set; }

    /// <summary>Set when the profile could not be built: every record of this hook is dropped and counted.</summary>
    public EmfValidationException? Invalid { get; set; }
}
