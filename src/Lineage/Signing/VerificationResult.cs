using System.Text.Json.Serialization;

namespace Lineage.Signing;

/// <summary>How a model was signed: with a bare key, a certificate from a private PKI, or Sigstore keyless.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SignerKind>))]
public enum SignerKind
{
    [JsonStringEnumMemberName("key")]
    Key,

    [JsonStringEnumMemberName("certificate")]
    Certificate,

    [JsonStringEnumMemberName("sigstore")]
    Sigstore,
}

/// <summary>What became of one file of the model.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FileStatus>))]
public enum FileStatus
{
    /// <summary>Present and every signed digest matches.</summary>
    [JsonStringEnumMemberName("ok")]
    Ok,

    /// <summary>Present but its bytes differ from what was signed.</summary>
    [JsonStringEnumMemberName("changed")]
    Changed,

    /// <summary>Signed but absent from the model.</summary>
    [JsonStringEnumMemberName("missing")]
    Missing,

    /// <summary>In the model but not covered by the signature (and not ignored).</summary>
    [JsonStringEnumMemberName("unexpected")]
    Unexpected,
}

/// <summary>The overall answer; <see cref="Unreadable"/> is an input that could not be read or parsed (fail closed).
/// The default value is <see cref="Failed"/>, so that a result nobody filled in never reads as verified.</summary>
public enum VerificationOutcome
{
    Failed = 0,
    Verified = 1,
    Unreadable = 2,
}

/// <summary>Who signed: the kind, and what the signature material says (identity and issuer for certificates,
/// the key id: sha256 of the public key's PEM, as model_signing records it).</summary>
public sealed record SignerInfo
{
    [JsonPropertyName("kind")]
    public required SignerKind Kind { get; init; }

    /// <summary>Sigstore: the certificate's SAN (email or URI). Certificate: SAN, else the subject DN.</summary>
    [JsonPropertyName("identity")]
    public string? Identity { get; init; }

    /// <summary>Sigstore: the OIDC issuer from the certificate. Certificate: the issuer DN.</summary>
    [JsonPropertyName("issuer")]
    public string? Issuer { get; init; }

    [JsonPropertyName("key_id")]
    public string? KeyId { get; init; }
}

/// <summary>One model file: its path relative to the model, the digest ("sha256:…") and its status.</summary>
public sealed record FileVerification
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The signed digest ("algorithm:hex"); for an unexpected file, the file's own sha256; null for
    /// sharded signatures, which hold one digest per shard.</summary>
    [JsonPropertyName("digest")]
    public string? Digest { get; init; }

    [JsonPropertyName("status")]
    public required FileStatus Status { get; init; }

    /// <summary>For a changed file: the digest of what is on disk now (for sharded signatures, of the first shard
    /// that differs).</summary>
    [JsonPropertyName("actual_digest")]
    public string? ActualDigest { get; init; }
}

/// <summary>
/// The result of <see cref="SignatureVerifier.Verify"/>. JSON field names are fixed (verified, signer, files,
/// errors); <see cref="Outcome"/> and <see cref="SigningTime"/> are for callers and text output.
/// </summary>
public sealed record VerificationResult
{
    [JsonPropertyName("verified")]
    public bool Verified => Outcome == VerificationOutcome.Verified;

    [JsonPropertyName("signer")]
    public SignerInfo? Signer { get; init; }

    [JsonPropertyName("files")]
    public IReadOnlyList<FileVerification> Files { get; init; } = [];

    [JsonPropertyName("errors")]
    public IReadOnlyList<string> Errors { get; init; } = [];

    [JsonIgnore]
    public VerificationOutcome Outcome { get; init; }

    /// <summary>When the signature was made, as far as the bundle proves it (the Rekor integrated time for Sigstore,
    /// the certificate's notBefore for a private PKI); null for bare keys.</summary>
    [JsonIgnore]
    public DateTimeOffset? SigningTime { get; init; }

    /// <summary>The in-toto predicate type of the signed statement, when it was read.</summary>
    [JsonIgnore]
    public string? PredicateType { get; init; }
}
