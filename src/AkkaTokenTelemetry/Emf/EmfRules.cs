using System.Globalization;

namespace AkkaTokenTelemetry;

/// <summary>
/// The rules of <c>emf-facts.md</c> as code: checks that throw <see cref="EmfValidationException"/> for configuration,
/// and the sanitizing used for values that only arrive at run time. One place, shared by
/// <c>EmfPayload.Build</c>, the hook and the pipeline, so both paths obey the same rules.
/// </summary>
internal static class EmfRules
{
    /// <summary>The reserved root member that holds EMF metadata.</summary>
    public const string ReservedMember = "_aws";

    /// <summary>Epoch milliseconds below this (3 March 1973) are taken to be seconds passed by mistake.</summary>
    private const long SecondsSuspicionThresholdMs = 100_000_000_000;

    public static void ValidateNamespace(string? @namespace, string field = "namespace")
    {
        if (string.IsNullOrEmpty(@namespace))
        {
            throw new EmfValidationException(field, @namespace, "a namespace is required (1 to 255 characters)");
        }

        if (@namespace.Length > EmfLimits.MaxNamespaceLength)
        {
            throw new EmfValidationException(field, @namespace, $"a namespace is at most {EmfLimits.MaxNamespaceLength} characters, this one has {@namespace.Length}");
        }

        foreach (var c in @namespace)
        {
            if (!IsNamespaceChar(c))
            {
                throw new EmfValidationException(field, @namespace, $"character {Describe(c)} is not allowed: a namespace holds only ASCII letters, digits, space and . _ - / # :");
            }
        }

        if (string.IsNullOrWhiteSpace(@namespace))
        {
            throw new EmfValidationException(field, @namespace, "a namespace must not be only spaces");
        }

        if (@namespace.StartsWith("AWS/", StringComparison.Ordinal))
        {
            throw new EmfValidationException(field, @namespace, "the AWS/ prefix is reserved for AWS services");
        }
    }

    /// <summary>Validates the dimension sets and returns an immutable copy plus the distinct keys in first-seen order.</summary>
    public static (string[][] Sets, string[] Keys) ValidateDimensionSets(IReadOnlyList<IReadOnlyList<string>>? dimensions, string field = "dimensions")
    {
        if (dimensions is null)
        {
            throw new EmfValidationException(field, null, "dimension sets are required; pass an empty list for none");
        }

        var sets = new string[dimensions.Count][];
        var keys = new List<string>();
        for (var i = 0; i < dimensions.Count; i++)
        {
            var set = dimensions[i];
            var setField = $"{field}[{i}]";
            if (set is null)
            {
                throw new EmfValidationException(setField, null, "a dimension set must not be null; use an empty set for none");
            }

            if (set.Count > EmfLimits.MaxDimensionsPerSet)
            {
                throw new EmfValidationException(setField, string.Join(",", set), $"a dimension set holds at most {EmfLimits.MaxDimensionsPerSet} keys, this one has {set.Count}");
            }

            var copy = new string[set.Count];
            for (var j = 0; j < set.Count; j++)
            {
                var key = set[j];
                ValidateDimensionKey(key, $"{setField}[{j}]");
                for (var k = 0; k < j; k++)
                {
                    if (string.Equals(copy[k], key, StringComparison.Ordinal))
                    {
                        throw new EmfValidationException($"{setField}[{j}]", key, "a dimension key appears only once in a set");
                    }
                }

                copy[j] = key;
                if (!keys.Contains(key, StringComparer.Ordinal))
                {
                    keys.Add(key);
                }
            }

            sets[i] = copy;
        }

        return (sets, keys.ToArray());
    }

    public static void ValidateDimensionKey(string? key, string field)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new EmfValidationException(field, key, $"a dimension key is 1 to {EmfLimits.MaxDimensionKeyLength} characters");
        }

        if (key.Length > EmfLimits.MaxDimensionKeyLength)
        {
            throw new EmfValidationException(field, key, $"a dimension key is at most {EmfLimits.MaxDimensionKeyLength} characters, this one has {key.Length}");
        }

        foreach (var c in key)
        {
            if (!IsPrintableAscii(c))
            {
                throw new EmfValidationException(field, key, $"character {Describe(c)} is not allowed: a dimension key holds only printable ASCII");
            }
        }

        if (string.IsNullOrWhiteSpace(key))
        {
            throw new EmfValidationException(field, key, "a dimension key must not be only spaces");
        }

        if (key[0] == ':')
        {
            throw new EmfValidationException(field, key, "a dimension key must not start with ':'");
        }

        if (key == ReservedMember)
        {
            throw new EmfValidationException(field, key, "_aws is reserved for EMF metadata");
        }
    }

    /// <summary>Why a dimension value is invalid, or <see langword="null"/> when it is valid.</summary>
    public static string? DimensionValueProblem(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return $"a dimension value is 1 to {EmfLimits.MaxDimensionValueLength} characters";
        }

        if (value.Length > EmfLimits.MaxDimensionValueLength)
        {
            return $"a dimension value is at most {EmfLimits.MaxDimensionValueLength} characters, this one has {value.Length}";
        }

        foreach (var c in value)
        {
            if (!IsPrintableAscii(c))
            {
                return $"character {Describe(c)} is not allowed: a dimension value holds only printable ASCII (no control characters)";
            }
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            return "a dimension value must not be only spaces";
        }

        return null;
    }

    public static void ValidateDimensionValue(string? value, string field)
    {
        if (DimensionValueProblem(value) is { } problem)
        {
            throw new EmfValidationException(field, value, problem);
        }
    }

    /// <summary>
    /// The documented sanitized form of a run-time dimension value: every character that is not printable ASCII
    /// (control characters, non-ASCII letters, an emoji, a lone surrogate) becomes one <c>_</c>, the result is cut
    /// to 1024 characters, and a missing, empty or all-space value becomes <paramref name="missingValue"/>.
    /// </summary>
    /// <returns>The value to use; <paramref name="fix"/> says what was done, <see cref="DimensionValueFix.None"/> when the value was valid.</returns>
    public static string SanitizeDimensionValue(string? value, string missingValue, out DimensionValueFix fix)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            fix = DimensionValueFix.Missing;
            return missingValue;
        }

        var needsFix = value.Length > EmfLimits.MaxDimensionValueLength;
        if (!needsFix)
        {
            foreach (var c in value)
            {
                if (!IsPrintableAscii(c))
                {
                    needsFix = true;
                    break;
                }
            }
        }

        if (!needsFix)
        {
            fix = DimensionValueFix.None;
            return value;
        }

        // One '_' per character that is not printable ASCII; a surrogate pair (an emoji, say) is one character.
        Span<char> buffer = value.Length <= 1024 ? stackalloc char[value.Length] : new char[value.Length];
        var length = 0;
        for (var i = 0; i < value.Length && length < EmfLimits.MaxDimensionValueLength; i++)
        {
            var c = value[i];
            if (IsPrintableAscii(c))
            {
                buffer[length++] = c;
                continue;
            }

            buffer[length++] = '_';
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
        }

        var result = new string(buffer[..length]);
        fix = DimensionValueFix.Sanitized;
        return string.IsNullOrWhiteSpace(result) ? missingValue : result;
    }

    public static void ValidateMetricName(string? name, string field)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new EmfValidationException(field, name, $"a metric name (usage key) is 1 to {EmfLimits.MaxMetricNameLength} characters");
        }

        if (name.Length > EmfLimits.MaxMetricNameLength)
        {
            throw new EmfValidationException(field, name, $"a metric name is at most {EmfLimits.MaxMetricNameLength} characters, this one has {name.Length}");
        }

        if (name == ReservedMember)
        {
            throw new EmfValidationException(field, name, "_aws is reserved for EMF metadata");
        }

        if (HasLoneSurrogate(name))
        {
            throw new EmfValidationException(field, name, LoneSurrogateRule);
        }
    }

    /// <summary>Whether a usage key can be a metric name (the run-time check; <see cref="ValidateMetricName"/> throws).</summary>
    public static bool IsValidMetricName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= EmfLimits.MaxMetricNameLength && name != ReservedMember && !HasLoneSurrogate(name);

    /// <summary>
    /// Whether the string holds a UTF-16 surrogate that is not half of a pair. Such a name has no UTF-8 form: it
    /// would be written as U+FFFD and could then equal another name of the same event (a duplicate member).
    /// </summary>
    public static bool HasLoneSurrogate(string text)
    {
        var first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF'); // vectorized: most names have none
        if (first < 0)
        {
            return false;
        }

        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    private const string LoneSurrogateRule =
        "a name must be Unicode text: a lone UTF-16 surrogate has no UTF-8 form (it would be written as U+FFFD and could collide with another name)";

    public static void ValidateCount(long value, string field)
    {
        if (value < 0)
        {
            throw new EmfValidationException(field, value.ToString(CultureInfo.InvariantCulture), "a token count is an integer of 0 or more");
        }
    }

    public static void ValidateTimestamp(long timestampMs, long nowMs, string field = "timestampMs")
    {
        var oldest = nowMs - (long)EmfLimits.MaxTimestampAge.TotalMilliseconds;
        var newest = nowMs + (long)EmfLimits.MaxTimestampAhead.TotalMilliseconds;
        var text = timestampMs.ToString(CultureInfo.InvariantCulture);
        if (timestampMs > 0 && timestampMs < SecondsSuspicionThresholdMs && timestampMs * 1000 >= oldest && timestampMs * 1000 <= newest)
        {
            throw new EmfValidationException(field, text, "this looks like seconds since the Unix epoch; EMF timestamps are milliseconds (multiply by 1000)");
        }

        if (timestampMs < oldest)
        {
            throw new EmfValidationException(field, text, $"a timestamp is at most {EmfLimits.MaxTimestampAge.TotalDays:0} days old (epoch milliseconds; now is {nowMs})");
        }

        if (timestampMs > newest)
        {
            throw new EmfValidationException(field, text, $"a timestamp is at most {EmfLimits.MaxTimestampAhead.TotalHours:0} hours ahead of now (epoch milliseconds; now is {nowMs})");
        }
    }

    public static void ValidatePropertyName(string? name, string field)
    {
        if (name is null)
        {
            throw new EmfValidationException(field, name, "a property name must not be null");
        }

        if (name == ReservedMember)
        {
            throw new EmfValidationException(field, name, "_aws is reserved for EMF metadata and cannot be an extra property");
        }

        if (HasLoneSurrogate(name))
        {
            throw new EmfValidationException(field, name, LoneSurrogateRule);
        }
    }

    public static bool IsPrintableAscii(char c) => c is >= ' ' and <= '~';

    private static bool IsNamespaceChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-' or '/' or '#' or ':' or ' ';

    private static string Describe(char c) =>
        IsPrintableAscii(c) ? $"'{c}'" : $"U+{(int)c:X4}";
}

/// <summary>What <see cref="EmfRules.SanitizeDimensionValue"/> did to a value.</summary>
internal enum DimensionValueFix
{
    /// <summary>The value was valid and is used as it is.</summary>
    None,

    /// <summary>The value was missing, empty or only spaces, and became the missing-dimension value.</summary>
    Missing,

    /// <summary>The value held characters that are not printable ASCII, or was too long, and was cleaned.</summary>
    Sanitized,
}
