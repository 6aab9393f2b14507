namespace AkkaTokenTelemetry;

/// <summary>
/// Thrown when an input breaks a rule of CloudWatch's Embedded Metric Format (EMF), so that no malformed event
/// is ever built. The message names the field, the offending value (cut to a readable length) and the rule.
/// </summary>
/// <remarks>
/// Configuration (namespace, dimension sets, static dimension values, extra properties) is checked when a payload,
/// hook or pipeline is built, and a violation throws this exception there. Values that only arrive at run time
/// are never thrown into the agent: the pipeline sanitizes or drops them and counts what it did.
/// </remarks>
public sealed class EmfValidationException : ArgumentException
{
    /// <summary>The longest part of an offending value quoted in <see cref="Exception.Message"/>.</summary>
    public const int MaxQuotedValueLength = 80;

    /// <summary>Creates the exception for one broken rule.</summary>
    /// <param name="field">The field that holds the offending value, for example <c>dimensions[0]</c>.</param>
    /// <param name="value">The offending value as text; cut to <see cref="MaxQuotedValueLength"/> characters in the message.</param>
    /// <param name="rule">The rule that was broken, in words.</param>
    public EmfValidationException(string field, string? value, string rule)
        : base(FormatMessage(field, value, rule), field)
    {
        _message = FormatMessage(field, value, rule);
        Field = field;
        Value = value;
        Rule = rule;
    }

    private readonly string _message;

    /// <summary>Field, quoted value and rule in one sentence (without the <c>(Parameter …)</c> suffix, which would repeat the field).</summary>
    public override string Message => _message;

    /// <summary>The field that holds the offending value, for example <c>namespace</c> or <c>dimensionValues["Model"]</c>.</summary>
    public string Field { get; }

    /// <summary>The offending value as text (not cut), or <see langword="null"/> when the value was missing.</summary>
    public string? Value { get; }

    /// <summary>The rule that was broken, in words.</summary>
    public string Rule { get; }

    /// <summary>Quotes a value for a message: escapes control characters and cuts it to a readable length.</summary>
    internal static string Quote(string? value)
    {
        if (value is null)
        {
            return "null";
        }

        var cut = value.Length > MaxQuotedValueLength ? value[..MaxQuotedValueLength] : value;
        var builder = new System.Text.StringBuilder(cut.Length + 32);
        builder.Append('"');
        foreach (var c in cut)
        {
            if (char.IsControl(c) || char.IsSurrogate(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        builder.Append('"');
        if (value.Length > MaxQuotedValueLength)
        {
            builder.Append("… (").Append(value.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(" chars)");
        }

        return builder.ToString();
    }

    private static string FormatMessage(string field, string? value, string rule) =>
        $"Invalid EMF {field} {Quote(value)}: {rule}";
}
