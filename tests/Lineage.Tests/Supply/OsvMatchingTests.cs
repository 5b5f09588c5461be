using System.Text;
using Lineage.Supply.Advisories;
using static Lineage.Tests.Supply.OsvFixtures;

namespace Lineage.Tests.Supply;

public sealed class OsvMatchingTests
{
    private static OsvAffected Affected(string json) => OsvParser.Parse(Encoding.UTF8.GetBytes(json), "test.json").Single().Affected.Single();

    private static bool Hit(OsvAffected a, string version) => AffectedMatcher.Match(a, version) is not null;

    [Fact]
    public void Stored_form_round_trips_and_corrupt_forms_are_refused()
    {
        var a = Affected(Record("T-0", "PyPI", "pkg", [Ecosystem(("introduced", "1.0"), ("fixed", "1.2")), Ecosystem(("introduced", "2.0"), ("last_affected", "2.1"))]));
        var stored = AffectedCodec.Serialize(a);
        var back = AffectedCodec.Deserialize(stored);
        Assert.Equal(AffectedCodec.Serialize(back), stored);
        Assert.Equal(a.Ranges.Count, back.Ranges.Count);
        Assert.Equal(a.Ranges.SelectMany(r => r.Events), back.Ranges.SelectMany(r => r.Events));
        foreach (var corrupt in new[] { "", "[]", "{", "{\"e\":\"PyPI\"}", "{\"e\":1,\"n\":\"x\"}", "{\"e\":\"PyPI\",\"n\":\"x\",\"r\":[{\"t\":\"ECOSYSTEM\",\"ev\":[{\"k\":\"a\",\"v\":\"1\"}]}]}", stored[..^3] })
            Assert.Throws<LineageException>(() => AffectedCodec.Deserialize(corrupt));
    }

    [Fact]
    public void Introduced_and_fixed_bound_a_half_open_interval()
    {
        var a = Affected(Record("T-1", "PyPI", "pkg", [Ecosystem(("introduced", "1.0"), ("fixed", "1.82.10"))]));
        Assert.False(Hit(a, "0.9"));
        Assert.True(Hit(a, "1.0"));
        Assert.True(Hit(a, "1.82.8"));   // 1.82.8 < 1.82.10 numerically, not as text
        Assert.True(Hit(a, "1.82.10rc1"));
        Assert.False(Hit(a, "1.82.10"));
        Assert.False(Hit(a, "1.82.10.post1"));
        Assert.False(Hit(a, "2.0"));
        Assert.Equal("1.82.10", AffectedMatcher.Match(a, "1.5")!.FixedIn);
    }

    [Fact]
    public void Introduced_zero_covers_everything_below_the_fix()
    {
        var a = Affected(Record("T-2", "PyPI", "pkg", [Ecosystem(("introduced", "0"), ("fixed", "2.0"))]));
        Assert.True(Hit(a, "0.0.1.dev1"));
        Assert.True(Hit(a, "1!0.1") is false); // epoch 1 is above 2.0 of epoch 0
        Assert.False(Hit(a, "2.0"));
    }

    [Fact]
    public void Last_affected_is_inclusive()
    {
        var a = Affected(Record("T-3", "PyPI", "pkg", [Ecosystem(("introduced", "1.0"), ("last_affected", "1.4.2"))]));
        Assert.True(Hit(a, "1.4.2"));
        Assert.True(Hit(a, "1.4.2.dev0"));
        Assert.False(Hit(a, "1.4.2.post1"));
        Assert.False(Hit(a, "1.4.3"));
        Assert.Null(AffectedMatcher.Match(a, "1.2")!.FixedIn);
    }

    [Fact]
    public void Several_intervals_in_one_range_and_several_ranges()
    {
        var a = Affected(Record("T-4", "PyPI", "pkg", [
            Ecosystem(("introduced", "0"), ("fixed", "1.0"), ("introduced", "2.0"), ("fixed", "2.5")),
            Ecosystem(("introduced", "3.0"), ("last_affected", "3.1")),
        ]));
        Assert.True(Hit(a, "0.5"));
        Assert.False(Hit(a, "1.5"));
        Assert.True(Hit(a, "2.0"));
        Assert.False(Hit(a, "2.5"));
        Assert.False(Hit(a, "2.9"));
        Assert.True(Hit(a, "3.1"));
        Assert.False(Hit(a, "3.2"));
        Assert.Equal("2.5", AffectedMatcher.Match(a, "2.1")!.FixedIn);
    }

    [Fact]
    public void Events_written_out_of_order_are_sorted()
    {
        var a = Affected(Record("T-5", "PyPI", "pkg", [Ecosystem(("fixed", "2.0"), ("introduced", "1.0"))]));
        Assert.True(Hit(a, "1.5"));
        Assert.False(Hit(a, "2.0"));
        Assert.False(Hit(a, "0.5"));
    }

    [Fact]
    public void Explicit_versions_list_matches_equal_versions_only()
    {
        var a = Affected(Record("MAL-T-6", "PyPI", "litellm", versions: ["1.82.7", "1.82.8"]));
        Assert.True(Hit(a, "1.82.7"));
        Assert.True(Hit(a, "1.82.8"));
        Assert.True(Hit(a, "1.82.8.0")); // PEP 440 equal
        Assert.False(Hit(a, "1.82.9"));
        Assert.False(Hit(a, "1.82.10"));
    }

    [Fact]
    public void Limit_events_and_git_ranges_say_nothing_about_package_versions()
    {
        var a = Affected(Record("T-7", "PyPI", "pkg", [
            Range("GIT", ("introduced", "0"), ("fixed", "abcdef")),
            Ecosystem(("introduced", "1.0"), ("limit", "1.5")),
        ]));
        Assert.True(Hit(a, "1.7")); // limit is for git walks; ECOSYSTEM inclusion ignores it
        Assert.False(Hit(a, "0.9"));
    }

    [Fact]
    public void Npm_ranges_use_semver()
    {
        var a = Affected(Record("T-8", "npm", "left-pad", [Ecosystem(("introduced", "1.0.0-beta.2"), ("fixed", "1.10.0"))]));
        Assert.True(Hit(a, "1.0.0-beta.11"));
        Assert.False(Hit(a, "1.0.0-beta.1"));
        Assert.True(Hit(a, "1.9.3"));
        Assert.True(Hit(a, "1.10.0-rc.1"));
        Assert.False(Hit(a, "1.10.0"));
        var semver = Affected(Record("T-9", "npm", "x", [Range("SEMVER", ("introduced", "0"), ("fixed", "2.0.0"))]));
        Assert.True(Hit(semver, "1.99.99"));
        Assert.False(Hit(semver, "not-a-version"));
    }

    [Fact]
    public void Unreadable_event_versions_skip_the_range_rather_than_guess()
    {
        var a = Affected(Record("T-10", "PyPI", "pkg", [Ecosystem(("introduced", "0"), ("fixed", "not a version"))]));
        Assert.False(Hit(a, "1.0"));
    }

    [Fact]
    public void Affects_all_versions_only_without_an_upper_bound()
    {
        Assert.True(AffectedMatcher.AffectsAllVersions(Affected(Record("MAL-1", "PyPI", "evil", [Ecosystem(("introduced", "0"))]))));
        Assert.False(AffectedMatcher.AffectsAllVersions(Affected(Record("MAL-2", "PyPI", "evil", [Ecosystem(("introduced", "0"), ("fixed", "1.0"))]))));
    }

    [Fact]
    public void Malicious_markers_are_recognised()
    {
        Assert.True(OsvParser.Parse(Encoding.UTF8.GetBytes(Record("MAL-2025-1", "npm", "x")), "t").Single().IsMalicious);
        Assert.True(OsvParser.Parse(Encoding.UTF8.GetBytes(Record("GHSA-1", "npm", "x", aliases: ["MAL-2025-2"])), "t").Single().IsMalicious);
        Assert.True(OsvParser.Parse(Encoding.UTF8.GetBytes(Record("X-1", "npm", "x", databaseSpecific: new Dictionary<string, object> { ["malicious-packages-origins"] = new object[] { } })), "t").Single().IsMalicious);
        Assert.False(OsvParser.Parse(Encoding.UTF8.GetBytes(Record("GHSA-2", "npm", "x")), "t").Single().IsMalicious);
    }

    [Theory]
    [InlineData("""{"modified":"2024-01-01T00:00:00Z"}""", "'id' is required")]
    [InlineData("""{"id":"X"}""", "'modified' is required")]
    [InlineData("""{"id":"X","modified":"yesterday"}""", "not an RFC 3339")]
    [InlineData("""{"id":"X","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]}]}""", "more than one")]
    [InlineData("""{"id":"X","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM"}]}]}""", "'events'")]
    [InlineData("""{"id":"X","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI"}}]}""", "both 'ecosystem' and 'name'")]
    [InlineData("{\"id\":\"X\",\n\"modified\": }", "line 2")]
    public void Schema_violations_are_errors_naming_the_file(string json, string expected)
    {
        var e = Assert.Throws<LineageException>(() => OsvParser.Parse(Encoding.UTF8.GetBytes(json), "bad.json"));
        Assert.Equal("bad.json", e.File);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arrays_and_api_responses_are_read()
    {
        string one = Record("A-1", "PyPI", "a");
        string two = Record("A-2", "npm", "b");
        Assert.Equal(2, OsvParser.Parse(Encoding.UTF8.GetBytes($"[{one},{two}]"), "t").Count);
        Assert.Equal(2, OsvParser.Parse(Encoding.UTF8.GetBytes($$"""{"vulns":[{{one}},{{two}}]}"""), "t").Count);
    }

    [Theory]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0)]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4)]
    [InlineData("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5)]
    [InlineData("CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1)]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0)]
    [InlineData("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5)]
    [InlineData("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3)]
    [InlineData("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0)]
    public void Cvss_base_scores(string vector, double expected) => Assert.Equal(expected, Cvss.Score(vector)!.Score, 1);

    [Theory]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H")]
    [InlineData("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
    [InlineData("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
    [InlineData("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")]
    [InlineData("garbage")]
    public void Unscorable_vectors_give_null(string vector) => Assert.Null(Cvss.Score(vector));

    [Fact]
    public void Severity_prefers_cvss_then_database_rating_then_medium()
    {
        OsvRecord Parse(string json) => OsvParser.Parse(Encoding.UTF8.GetBytes(json), "t").Single();
        Assert.Equal(Lineage.Security.Severity.Critical, AdvisorySeverity.Of(Parse(Record("S-1", "PyPI", "a", cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"))).Severity);
        Assert.Equal(Lineage.Security.Severity.Low, AdvisorySeverity.Of(Parse(Record("S-2", "PyPI", "a", cvss: "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"))).Severity);
        Assert.Equal(Lineage.Security.Severity.High, AdvisorySeverity.Of(Parse(Record("S-3", "PyPI", "a", cvss: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            databaseSpecific: new { severity = "HIGH" }))).Severity);
        Assert.Equal(Lineage.Security.Severity.Medium, AdvisorySeverity.Of(Parse(Record("S-4", "PyPI", "a"))).Severity);
    }
}
