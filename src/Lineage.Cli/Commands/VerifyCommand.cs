using System.CommandLine;
using Lineage.Signing;

namespace Lineage.Cli.Commands;

internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder or file" };
        var signature = new Option<string>("--signature", "-s") { Description = "Signature bundle (default: MODEL/model.sig)" };
        var publicKey = new Option<string>("--public-key") { Description = "Verify with this ECDSA public key (PEM; P-256 or P-384)" };
        var chain = new Option<string[]>("--certificate-chain")
        {
            Description = "Verify against these CA certificates (PEM files; the signing certificate and intermediates come from the bundle)",
            AllowMultipleArgumentsPerToken = true,
        };
        var identity = new Option<string>("--identity") { Description = "Sigstore keyless: the signer's identity (certificate SAN: email or URI)" };
        var issuer = new Option<string>("--issuer", "--identity-provider") { Description = "Sigstore keyless: the OIDC issuer that vouched for the identity" };
        var trustRoot = new Option<string>("--trust-root") { Description = "Sigstore trusted_root.json to use instead of the built-in public-good root" };
        var ignore = new Option<string[]>("--ignore-paths")
        {
            Description = "Paths to leave out of the model (as when it was signed); a folder leaves out everything below it",
            AllowMultipleArgumentsPerToken = true,
        };
        var keepGit = new Option<bool>("--no-ignore-git-paths") { Description = "Treat .git, .gitattributes, .github and .gitignore as model files" };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("verify", """
            Verify an OpenSSF Model Signing signature (Sigstore bundle, e.g. model.sig written by model_signing or
            'lineage sign') offline, with exactly one of --public-key, --certificate-chain, or --identity and --issuer
            (Sigstore keyless: Fulcio chain, SCT, Rekor inclusion proof / signed entry timestamp, checked against the
            built-in Sigstore trusted root or --trust-root). Every file of the model is re-hashed and must match the
            signed statement: changed, missing and unexpected files are named. The signature file is never part of
            the model; git metadata is left out unless --no-ignore-git-paths.

            Exit codes: 0 verified, 1 verification failed, 2 unreadable input (key, bundle, statement, model), 4 usage.

            Examples:
              lineage verify ./model --public-key signing-key-pub.pem
              lineage verify ./model --signature model.sig --certificate-chain ca-cert.pem
              lineage verify ./model --identity user@example.com --issuer https://accounts.google.com
              lineage verify ./model --public-key key.pub --ignore-paths README.md --format json
            """)
        {
            model, signature, publicKey, chain, identity, issuer, trustRoot, ignore, keepGit, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string modelPath = parse.GetValue(model)!;
            string? key = parse.GetValue(publicKey);
            var cas = parse.GetValue(chain) ?? [];
            string? id = parse.GetValue(identity);
            string? oidc = parse.GetValue(issuer);
            int modes = (key is null ? 0 : 1) + (cas.Length == 0 ? 0 : 1) + (id is null && oidc is null ? 0 : 1);
            if (modes != 1)
                return Usage(context, "give exactly one of --public-key, --certificate-chain, or --identity with --issuer");
            if ((id is null) != (oidc is null))
                return Usage(context, "--identity and --issuer go together");
            if (parse.GetValue(trustRoot) is not null && id is null)
                return Usage(context, "--trust-root applies to Sigstore keyless verification (--identity, --issuer)");

            string? signaturePath = parse.GetValue(signature);
            if (signaturePath is null)
            {
                if (!Directory.Exists(modelPath))
                    return Usage(context, "--signature is needed when the model is a single file");
                signaturePath = Path.Combine(modelPath, SignatureVerifier.DefaultSignatureName);
            }

            var options = key is not null ? VerificationOptions.WithPublicKey(key)
                : cas.Length > 0 ? VerificationOptions.WithCertificateChain(cas)
                : VerificationOptions.WithIdentity(id!, oidc!) with { TrustRootPath = parse.GetValue(trustRoot) };
            options = options with { IgnorePaths = parse.GetValue(ignore) ?? [], IgnoreGitPaths = !parse.GetValue(keepGit) };

            var result = SignatureVerifier.Verify(modelPath, signaturePath, options);
            if (parse.GetValue(format) == "json")
                Output.WriteJson(context.Stdout, result);
            else
                WriteText(context.Stdout, modelPath, result);
            if (result.Outcome == VerificationOutcome.Unreadable)
                foreach (string error in result.Errors) Output.Error(context.Stderr, error);
            return result.Outcome switch
            {
                VerificationOutcome.Verified => ExitCodes.Success,
                VerificationOutcome.Failed => ExitCodes.Findings,
                _ => ExitCodes.Error,
            };
        }));
        return command;
    }

    private static int Usage(CliContext context, string message)
    {
        Output.Error(context.Stderr, message);
        context.Stderr.WriteLine("Run 'lineage verify --help' for usage.");
        return ExitCodes.Usage;
    }

    internal static string DescribeSigner(SignerInfo? signer) => signer switch
    {
        null => "unknown signer",
        { Kind: SignerKind.Sigstore } => $"Sigstore identity {signer.Identity ?? "?"} (issuer {signer.Issuer ?? "?"})",
        { Kind: SignerKind.Certificate } => $"certificate {signer.Identity} (issued by {signer.Issuer}, key {signer.KeyId})",
        _ => $"key {signer.KeyId}",
    };

    private static void WriteText(TextWriter stdout, string modelPath, VerificationResult result)
    {
        if (result.Outcome == VerificationOutcome.Unreadable) return;
        string when = result.SigningTime is { } t ? $", signed {t:yyyy-MM-dd HH:mm:ss}Z" : "";
        stdout.WriteLine(result.Verified
            ? $"verified: {modelPath} ({result.Files.Count} files) signed by {DescribeSigner(result.Signer)}{when}"
            : $"NOT VERIFIED: {modelPath} (signer: {DescribeSigner(result.Signer)}{when})");
        int width = result.Files.Count == 0 ? 0 : Math.Min(60, result.Files.Max(f => f.Name.Length));
        foreach (var file in result.Files)
        {
            string status = file.Status.ToString().ToLowerInvariant();
            string detail = file.Status == FileStatus.Changed ? $"signed {file.Digest ?? "(shards)"}, now {file.ActualDigest}" : file.Digest ?? "";
            stdout.WriteLine($"  {status,-10} {file.Name.PadRight(width)}  {detail}".TrimEnd());
        }
        if (!result.Verified)
            foreach (string error in result.Errors) stdout.WriteLine($"  error: {error}");
    }
}
