using System.CommandLine;
using Lineage.Signing;

namespace Lineage.Cli.Commands;

internal static class SignCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "Model folder or file" };
        var key = new Option<string>("--key") { Description = "ECDSA private key (PEM, unencrypted; P-256, P-384 or P-521)", Required = true };
        var chain = new Option<string[]>("--certificate-chain")
        {
            Description = "Sign with a certificate: the signing certificate (matching --key) first, then intermediates (PEM files)",
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--output", "-o") { Description = "Signature file to write (default: MODEL/model.sig)" };
        var ignore = new Option<string[]>("--ignore-paths")
        {
            Description = "Paths to leave out of the signature; a folder leaves out everything below it",
            AllowMultipleArgumentsPerToken = true,
        };
        var keepGit = new Option<bool>("--no-ignore-git-paths") { Description = "Sign .git, .gitattributes, .github and .gitignore too" };
        var hash = new Option<string>("--hash") { Description = "File digest: sha256 (default), blake2b, blake3", DefaultValueFactory = _ => "sha256" };
        hash.AcceptOnlyFromAmong("sha256", "blake2b", "blake3");
        var shardSize = new Option<long?>("--shard-size") { Description = "Sign shards of this many bytes instead of whole files" };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("sign", """
            Sign a model with a key or a certificate as an OpenSSF Model Signing v1.0 bundle (Sigstore bundle v0.3,
            DSSE envelope, in-toto statement listing every file's digest) that model_signing and 'lineage verify'
            accept. Keyless Sigstore signing needs the network and is not offered.

            Exit codes: 0 signed, 2 unreadable input (key, certificate, model), 4 usage.

            Examples:
              lineage sign ./model --key signing-key.pem
              lineage sign ./model --key signing-key.pem --certificate-chain signing-cert.pem intermediate.pem -o model.sig
              lineage sign model.gguf --key signing-key.pem -o model.gguf.sig
            """)
        {
            model, key, chain, output, ignore, keepGit, hash, shardSize, format,
        };
        command.SetAction(parse => context.Run(() =>
        {
            string modelPath = parse.GetValue(model)!;
            string? outputPath = parse.GetValue(output);
            if (outputPath is null)
            {
                if (!Directory.Exists(modelPath))
                {
                    Output.Error(context.Stderr, "-o is needed when the model is a single file");
                    return ExitCodes.Usage;
                }
                outputPath = Path.Combine(modelPath, SignatureVerifier.DefaultSignatureName);
            }
            if (parse.GetValue(shardSize) is <= 0)
            {
                Output.Error(context.Stderr, "--shard-size must be positive");
                return ExitCodes.Usage;
            }
            var result = ModelSigner.Sign(modelPath, new SigningOptions
            {
                PrivateKeyPath = parse.GetValue(key)!,
                CertificateChainPaths = parse.GetValue(chain) ?? [],
                OutputPath = outputPath,
                IgnorePaths = parse.GetValue(ignore) ?? [],
                IgnoreGitPaths = !parse.GetValue(keepGit),
                Hash = parse.GetValue(hash) ?? "sha256",
                ShardSize = parse.GetValue(shardSize),
            });
            if (parse.GetValue(format) == "json")
            {
                Output.WriteJson(context.Stdout, new { signature = result.SignaturePath, signer = result.Signer, files = result.Files });
            }
            else
            {
                context.Stdout.WriteLine($"signed {result.Files.Count} files of {modelPath} with {VerifyCommand.DescribeSigner(result.Signer)} -> {result.SignaturePath}");
                int width = result.Files.Count == 0 ? 0 : Math.Min(60, result.Files.Max(f => f.Name.Length));
                foreach (var file in result.Files) context.Stdout.WriteLine($"  {file.Name.PadRight(width)}  {file.Digest}".TrimEnd());
            }
            return ExitCodes.Success;
        }));
        return command;
    }
}
