using System.Text.Json;
using Lineage.Tests.Signing;
using Lineage.Tests.Support;

namespace Lineage.Tests.Cli;

/// <summary>lineage sign / lineage verify: exit codes 0 verified, 1 failed, 2 unreadable, 4 usage; the JSON fields.</summary>
public sealed class SigningCommandTests
{
    [Fact]
    public void VerifyJsonUsesTheContractFieldNames()
    {
        string root = SigningCorpus.Dir("v1.0.1-sigstore");
        var result = CliRunner.Run("verify", root, "--identity", SigningCorpus.Identity, "--issuer", SigningCorpus.Issuer,
            "--ignore-paths", Path.Combine(root, "ignore-me"), "--format", "json");
        Assert.Equal(0, result.ExitCode);

        using var json = JsonDocument.Parse(result.Stdout);
        var top = json.RootElement;
        Assert.Equal(["verified", "signer", "files", "errors"], top.EnumerateObject().Select(p => p.Name));
        Assert.True(top.GetProperty("verified").GetBoolean());
        var signer = top.GetProperty("signer");
        Assert.Equal("sigstore", signer.GetProperty("kind").GetString());
        Assert.Equal(SigningCorpus.Identity, signer.GetProperty("identity").GetString());
        Assert.Equal(SigningCorpus.Issuer, signer.GetProperty("issuer").GetString());
        Assert.Matches("^[0-9a-f]{64}$", signer.GetProperty("key_id").GetString()!);
        Assert.Equal(["kind", "identity", "issuer", "key_id"], signer.EnumerateObject().Select(p => p.Name));
        foreach (var file in top.GetProperty("files").EnumerateArray())
        {
            Assert.Equal(["name", "digest", "status"], file.EnumerateObject().Select(p => p.Name));
            Assert.Equal("ok", file.GetProperty("status").GetString());
            Assert.StartsWith("sha256:", file.GetProperty("digest").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(0, top.GetProperty("errors").GetArrayLength());
    }

    [Fact]
    public void TheFieldNamesDoNotDependOnSerializerOptions()
    {
        // Other commands (audit, bom) may serialize the result with their own options.
        string root = SigningCorpus.Dir("v1.0.0-certificate");
        var result = Lineage.Signing.SignatureVerifier.Verify(root, Path.Combine(root, "model.sig"),
            Lineage.Signing.VerificationOptions.WithCertificateChain([SigningCorpus.Key("ca-cert.pem")]), TestContext.Current.CancellationToken);
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(result));
        Assert.Equal(["verified", "signer", "files", "errors"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("certificate", json.RootElement.GetProperty("signer").GetProperty("kind").GetString());
        Assert.True(json.RootElement.GetProperty("signer").TryGetProperty("key_id", out _));
        Assert.Equal("ok", json.RootElement.GetProperty("files")[0].GetProperty("status").GetString());
    }

    [Fact]
    public void KeySignerJsonHasNoIdentity()
    {
        string root = SigningCorpus.Dir("v1.0.1-elliptic-key");
        var result = CliRunner.Run("verify", root, "--public-key", SigningCorpus.Key("signing-key-pub.pem"), "--ignore-paths", Path.Combine(root, "ignore-me"), "--format", "json");
        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        var signer = json.RootElement.GetProperty("signer");
        Assert.Equal(["kind", "key_id"], signer.EnumerateObject().Select(p => p.Name));
        Assert.Equal("key", signer.GetProperty("kind").GetString());
    }

    [Fact]
    public void AFailedVerificationExitsOneAndNamesTheFile()
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy("v1.0.0-certificate", temp);
        SigningCorpus.FlipByte(Path.Combine(root, "signme-2"), 0);

        var json = CliRunner.Run("verify", root, "--certificate-chain", SigningCorpus.Key("ca-cert.pem"), "--format", "json");
        Assert.Equal(1, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.False(doc.RootElement.GetProperty("verified").GetBoolean());
        var changed = doc.RootElement.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("status").GetString() != "ok");
        Assert.Equal(("signme-2", "changed"), (changed.GetProperty("name").GetString(), changed.GetProperty("status").GetString()));
        Assert.Equal("certificate", doc.RootElement.GetProperty("signer").GetProperty("kind").GetString());

        var text = CliRunner.Run("verify", root, "--certificate-chain", SigningCorpus.Key("ca-cert.pem"));
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("NOT VERIFIED", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("changed", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void TheWrongIdentityExitsOne()
    {
        string root = SigningCorpus.Dir("v1.0.0-sigstore");
        var result = CliRunner.Run("verify", root, "--identity", "someone@example.com", "--issuer", SigningCorpus.Issuer);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not to someone@example.com", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnreadableBundleExitsTwo()
    {
        using var temp = new TempDir();
        string root = SigningCorpus.Copy("v1.0.0-certificate", temp);
        File.WriteAllText(Path.Combine(root, "model.sig"), "{\"mediaType\": ");
        var result = CliRunner.Run("verify", root, "--certificate-chain", SigningCorpus.Key("ca-cert.pem"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("lineage: error:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("model.sig", result.Stderr, StringComparison.Ordinal);

        var json = CliRunner.Run("verify", root, "--certificate-chain", SigningCorpus.Key("ca-cert.pem"), "--format", "json");
        Assert.Equal(2, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.False(doc.RootElement.GetProperty("verified").GetBoolean());
        Assert.Equal(1, doc.RootElement.GetProperty("errors").GetArrayLength());
    }

    [Theory]
    [InlineData("--public-key", "k.pem", "--identity", "x", "--issuer", "y")]
    [InlineData("--identity", "x")]
    [InlineData("--issuer", "y")]
    [InlineData("--public-key", "k.pem", "--trust-root", "t.json")]
    public void ModesAreExclusiveAndComplete(params string[] options)
    {
        var result = CliRunner.Run(["verify", SigningCorpus.Dir("v1.0.0-certificate"), .. options]);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("lineage: error:", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void NoModeIsAUsageError() => Assert.Equal(4, CliRunner.Run("verify", SigningCorpus.Dir("v1.0.0-certificate")).ExitCode);

    [Fact]
    public void SignThenVerifyFromTheCommandLine()
    {
        using var temp = new TempDir();
        string model = Path.Combine(temp.Path, "model");
        Directory.CreateDirectory(model);
        foreach (string file in Directory.GetFiles(Corpus.Path("ladder/A-cast")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));

        var sign = CliRunner.Run("sign", model, "--key", SigningCorpus.Key("signing-key.pem"), "--format", "json");
        Assert.Equal(0, sign.ExitCode);
        Assert.True(File.Exists(Path.Combine(model, "model.sig")));
        using (var doc = JsonDocument.Parse(sign.Stdout))
            Assert.Equal(Directory.GetFiles(model).Length - 1, doc.RootElement.GetProperty("files").GetArrayLength());

        var verify = CliRunner.Run("verify", model, "--public-key", SigningCorpus.Key("signing-key-pub.pem"));
        Assert.Equal(0, verify.ExitCode);
        Assert.StartsWith("verified:", verify.Stdout, StringComparison.Ordinal);

        string external = temp.File("external.sig");
        var chain = CliRunner.Run("sign", model, "--key", SigningCorpus.Key("signing-key.pem"), "--certificate-chain", SigningCorpus.Key("signing-key-cert.pem"), SigningCorpus.Key("int-ca-cert.pem"), "-o", external);
        Assert.Equal(0, chain.ExitCode);
        // The old model.sig inside the folder is now an ordinary file of the model: it was signed by the second run.
        Assert.Equal(0, CliRunner.Run("verify", model, "--signature", external, "--certificate-chain", SigningCorpus.Key("ca-cert.pem")).ExitCode);
    }

    [Fact]
    public void SigningWithAMissingKeyExitsTwo()
    {
        using var temp = new TempDir();
        temp.Write("m/a.bin", "a");
        var result = CliRunner.Run("sign", temp.File("m"), "--key", temp.File("none.pem"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("private key not found", result.Stderr, StringComparison.Ordinal);
    }
}
