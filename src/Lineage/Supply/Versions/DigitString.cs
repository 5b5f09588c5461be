namespace Lineage.Supply.Versions;

/// <summary>
/// Numeric comparison of decimal digit strings of any length (version numbers are not bounded by the specs,
/// and date-stamped releases such as 20240101120000 overflow int): leading zeros are ignored.
/// </summary>
internal static class DigitString
{
    public static string Normalize(string digits)
    {
        int i = 0;
        while (i < digits.Length - 1 && digits[i] == '0') i++;
        return digits[i..];
    }

    /// <summary>Compares two normalized (no leading zeros) digit strings as numbers.</summary>
    public static int Compare(string a, string b)
    {
        if (a.Length != b.Length) return a.Length.CompareTo(b.Length);
        return string.CompareOrdinal(a, b);
    }

    public static bool IsDigits(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return false;
        foreach (char c in s)
            if (c is < '0' or > '9') return false;
        return true;
    }
}
