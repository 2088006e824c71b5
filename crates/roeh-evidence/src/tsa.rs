//! RFC 3161 timestamps of checkpoints (design record 0005 §3 and §4): the request a site sends
//! to a time-stamping authority (TSA) for the SHA-256 of a checkpoint's text, and the checks of
//! the response it keeps as `checkpoint.tsr`. No I/O here: the HTTP exchange is the custody
//! service's. The ASN.1 is read and written with the RustCrypto crates (`der`, `cms`,
//! `x509-cert`, `x509-tsp`); signatures are checked with `rsa`, `p256` and `p384`.
//!
//! What [`check_response`] checks:
//! - the response is DER (see the invariants) and its status is `granted` or `grantedWithMods`;
//! - its token is a CMS `SignedData` (RFC 5652) with exactly one `SignerInfo`, whose
//!   encapsulated content (carried in the token, not detached) is a `TSTInfo` of version 1;
//! - the `TSTInfo`'s message imprint is SHA-256 of exactly the expected bytes and, when the
//!   caller sent one, its nonce is the one sent ([`TsaErrorKind::Imprint`],
//!   [`TsaErrorKind::Nonce`]);
//! - the CMS signature ([`TsaErrorKind::Signature`]): the signer's signed attributes hold
//!   exactly one content-type attribute, `id-ct-TSTInfo`, and exactly one message-digest
//!   attribute, equal to the digest (the signer's digest algorithm: SHA-256, SHA-384 or
//!   SHA-512) of the encapsulated `TSTInfo`; the signer's certificate is among the token's
//!   `certificates`, found by issuer and serial number or by subject key identifier; and the
//!   signature over the DER of the signed attributes (as a `SET OF`) verifies with that
//!   certificate's public key: RSA PKCS#1 v1.5 (keys of at most 4096 bits) or ECDSA on P-256 or
//!   P-384. A token signed otherwise is refused ([`TsaErrorKind::Unsupported`]), never trusted.
//!
//! What is *not* checked here: whether the signer's certificate is one to trust. Its issuer,
//! its chain to a CA, its validity period (against `genTime`), its revocation, its extended key
//! usage `timeStamping` and the ESS signing-certificate attribute that names it are not looked
//! at; the certificate's own signature is not checked. A token made by anyone who signs with
//! the key of a certificate that the token carries passes; only the TSA's CA tells whether that
//! key is the TSA's. That is left to the stock tool, on the files of a bundle:
//!
//! ```text
//! openssl ts -verify -in checkpoint.tsr -data checkpoint.txt -CAfile tsa-ca.pem
//! ```
//!
//! (`-in` takes the whole `TimeStampResp`, which is what `checkpoint.tsr` holds; `-token_in`
//! would be needed for a bare token. The request sets `certReq`, so the token carries the TSA's
//! certificate and only the TSA's CA has to be given.)
//!
//! Invariants (the input is hostile):
//! - inputs longer than [`MAX_RESPONSE_BYTES`] are refused before they are read;
//! - the framing is walked first, without recursion, with the `der` crate's header reader:
//!   definite lengths in their shortest form (indefinite-length BER is refused), at most 4
//!   length bytes, low tag numbers, every length within its enclosing element, constructed
//!   elements at most [`MAX_DEPTH`] deep and holding at most [`MAX_ELEMENTS`] elements each,
//!   OBJECT IDENTIFIERs in their shortest form, nothing after the outermost element. The
//!   `TSTInfo` inside its OCTET STRING gets the same walk;
//! - then the typed decoders of the crates read it (they nest only as deep as the ASN.1 types,
//!   which are not recursive), and each of the response, the `SignedData` and the `TSTInfo`
//!   must encode back to exactly the bytes it was read from: BER that the decoders tolerate (a
//!   `SET OF` out of order, an encoded DEFAULT value) is refused as not DER;
//! - nothing here panics, unwraps input or uses `unsafe`.
//!
//! Two types are declared here rather than taken from `x509-tsp` 0.1 (which has the request,
//! the message imprint, the accuracy and the version): its `TSTInfo` reads `genTime` with the
//! `der` crate's `GeneralizedTime`, which refuses the fractional seconds that RFC 3161 §2.4.2
//! allows and some TSAs send, and its `PKIStatusInfo` (from `cmpv2`) cannot read a `failInfo`
//! with bits past 15 (`unacceptedExtension`, `systemFailure`), so such a refusal would read as
//! malformed instead of as a refusal. Here `genTime` is read as DER's GeneralizedTime with an
//! optional fraction (no trailing zero) and `failInfo` as a plain BIT STRING; the other fields
//! are the crates' types.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedAttributes, SignedData, SignerIdentifier};
use der::asn1::{BitStringRef, Int, ObjectIdentifier, OctetString, Uint, Utf8StringRef};
use der::{
    Any, Decode, DecodeValue, Encode, EncodeValue, FixedTag, Header, Length, Reader, Sequence,
    SliceReader, Tag, Writer,
};
use ecdsa::signature::hazmat::PrehashVerifier;
use roeh_domain::WallTime;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;
use x509_cert::Certificate;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::{AlgorithmIdentifier, AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TsaPolicyId, TspVersion};

/// Largest `TimeStampResp` accepted, in bytes (also the cap of the HTTP reply).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Deepest nesting of constructed DER elements accepted.
pub const MAX_DEPTH: usize = 32;

/// Most elements directly inside one constructed element. The decoders sort each `SET OF` by
/// insertion (quadratic in its length); this bounds that work on hostile input. A token has a
/// few dozen at most (extensions, name attributes, signed attributes).
pub const MAX_ELEMENTS: usize = 1024;

/// Media type of an RFC 3161 request (RFC 3161 §3.4).
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";

/// Media type of an RFC 3161 response (RFC 3161 §3.4).
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

/// OID of SHA-256, 2.16.840.1.101.3.4.2.1, as DER content bytes.
pub const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// CMS `signedData`.
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-ct-TSTInfo`.
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// The content-type attribute (RFC 5652 §11.1).
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// The message-digest attribute (RFC 5652 §11.2).
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// The subject key identifier extension (RFC 5280 §4.2.1.2).
const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// What kind of timestamp failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsaErrorKind {
    /// Not DER, or not the structure RFC 3161 and CMS prescribe.
    Format,
    /// The TSA did not grant the request (its status is neither granted nor grantedWithMods).
    NotGranted,
    /// The token stamps something else: another hash algorithm or another hash.
    Imprint,
    /// The token does not carry the nonce that was sent.
    Nonce,
    /// The token's CMS signature does not hold: the signed attributes do not bind its
    /// `TSTInfo`, the signer's certificate is not in the token, or the signature does not
    /// verify with that certificate's key. A forged or altered token.
    Signature,
    /// The token is signed with an algorithm that is not checked here (see the module docs):
    /// refused, since its signature cannot be checked.
    Unsupported,
}

/// A timestamp failure: its kind and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsaError {
    /// What kind of failure.
    pub kind: TsaErrorKind,
    /// What happened.
    pub message: String,
}

impl TsaError {
    fn new(kind: TsaErrorKind, message: impl Into<String>) -> Self {
        TsaError {
            kind,
            message: message.into(),
        }
    }

    fn format(message: impl Into<String>) -> Self {
        TsaError::new(TsaErrorKind::Format, message)
    }

    fn signature(message: impl Into<String>) -> Self {
        TsaError::new(TsaErrorKind::Signature, message)
    }

    fn unsupported(message: impl Into<String>) -> Self {
        TsaError::new(TsaErrorKind::Unsupported, message)
    }
}

impl fmt::Display for TsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TsaErrorKind::Format => "format",
            TsaErrorKind::NotGranted => "not granted",
            TsaErrorKind::Imprint => "imprint",
            TsaErrorKind::Nonce => "nonce",
            TsaErrorKind::Signature => "signature",
            TsaErrorKind::Unsupported => "unsupported",
        };
        write!(f, "timestamp ({kind}): {}", self.message)
    }
}

impl std::error::Error for TsaError {}

type Result<T> = std::result::Result<T, TsaError>;

/// Maps an error of the `der` crate (or one built on it) to a format error about `what`.
fn der_error<E: fmt::Display>(what: &str) -> impl Fn(E) -> TsaError + '_ {
    move |e| TsaError::format(format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// The nonce `n` as an ASN.1 INTEGER (non-negative, shortest form).
fn nonce_integer(n: u64) -> der::Result<Int> {
    Ok(Int::from(Uint::new(&n.to_be_bytes())?))
}

fn encode_request(digest: &[u8; 32], nonce: u64) -> der::Result<Vec<u8>> {
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            // NULL parameters, as OpenSSL writes them.
            hash_algorithm: AlgorithmIdentifier {
                oid: ID_SHA256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(digest.as_slice())?,
        },
        req_policy: None,
        nonce: Some(nonce_integer(nonce)?),
        cert_req: true,
        extensions: None,
    }
    .to_der()
}

/// The DER `TimeStampReq` (RFC 3161 §2.4.1) for the SHA-256 `digest` of the data to stamp:
/// version 1, the message imprint, `nonce`, and `certReq` TRUE (so the token carries the TSA's
/// certificate); no policy, no extensions.
pub fn request_der(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    // Not an input path: a request of fixed-size fields, a few dozen bytes, always encodes (the
    // `der` crate fails only past 256 MiB).
    encode_request(digest, nonce).expect("a TimeStampReq of a SHA-256 hash and a u64 nonce")
}

// ---------------------------------------------------------------------------------------------
// DER framing and strictness.

/// Checks the framing of `der` (see the module's invariants): exactly one element, every
/// length definite, in its shortest form and within its enclosing element, constructed
/// elements at most [`MAX_DEPTH`] deep and holding at most [`MAX_ELEMENTS`] each, OBJECT
/// IDENTIFIERs in their shortest form. Iterative: the open elements are a stack of their ends
/// and how many elements each holds so far.
fn check_framing(der: &[u8], what: &str) -> Result<()> {
    if der.is_empty() {
        return Err(TsaError::format(format!("{what}: empty")));
    }
    let at = |reader: &SliceReader<'_>| usize::try_from(reader.position()).map_err(der_error(what));
    let mut reader = SliceReader::new(der).map_err(der_error(what))?;
    // (where it ends, elements in it so far) of each open constructed element.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0usize;
    loop {
        while open.last().is_some_and(|&(end, _)| end == pos) {
            open.pop();
        }
        if pos >= der.len() {
            return Ok(());
        }
        match open.last_mut() {
            None if pos > 0 => {
                return Err(TsaError::format(format!(
                    "{what}: unexpected trailing data"
                )));
            }
            None => {}
            Some((_, count)) => {
                *count += 1;
                if *count > MAX_ELEMENTS {
                    return Err(TsaError::format(format!(
                        "{what}: more than {MAX_ELEMENTS} elements in one element"
                    )));
                }
            }
        }
        let header = Header::decode(&mut reader).map_err(der_error(what))?;
        let len = usize::try_from(header.length).map_err(der_error(what))?;
        let start = at(&reader)?;
        let limit = open.last().map_or(der.len(), |&(end, _)| end);
        let end = start
            .checked_add(len)
            .filter(|&e| e <= limit)
            .ok_or_else(|| {
                TsaError::format(format!(
                    "{what}: length {len} at byte {start} runs past the end of the data"
                ))
            })?;
        if header.tag.is_constructed() {
            if open.len() + 1 >= MAX_DEPTH {
                return Err(TsaError::format(format!(
                    "{what}: nested more than {MAX_DEPTH} levels deep"
                )));
            }
            open.push((end, 0));
            pos = start;
        } else {
            let content = reader.read_slice(header.length).map_err(der_error(what))?;
            if header.tag == Tag::ObjectIdentifier && !minimal_oid(content) {
                return Err(TsaError::format(format!(
                    "{what}: OBJECT IDENTIFIER at byte {start} not in its shortest form"
                )));
            }
            pos = end;
        }
    }
}

/// Whether no arc of the OID's content starts with a 0x80 byte (X.690 8.19.2: the shortest
/// form), which the `const-oid` crate does not check.
fn minimal_oid(content: &[u8]) -> bool {
    let mut arc_start = true;
    for &b in content {
        if arc_start && b == 0x80 {
            return false;
        }
        arc_start = b & 0x80 == 0;
    }
    true
}

/// Decodes `bytes` as a `T`, which must encode back to exactly `bytes` (DER has one encoding
/// of each value; the decoders accept some BER that is not it).
fn decode_strict<'a, T: Decode<'a> + Encode>(bytes: &'a [u8], what: &str) -> Result<T> {
    let value = T::from_der(bytes).map_err(der_error(what))?;
    if value.to_der().map_err(der_error(what))? != bytes {
        return Err(TsaError::format(format!(
            "{what}: not DER (a SET OF out of order, an encoded DEFAULT value or another BER form)"
        )));
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------------
// ASN.1 types declared here (see the module docs for why).

/// `PKIStatusInfo` (RFC 3161 §2.4.2), with the status as a plain INTEGER and `failInfo` as a
/// plain BIT STRING.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct StatusInfo<'a> {
    status: u64,
    #[asn1(optional = "true")]
    status_string: Option<Vec<Utf8StringRef<'a>>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitStringRef<'a>>,
}

/// `TimeStampResp` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampResp<'a> {
    status: StatusInfo<'a>,
    #[asn1(optional = "true")]
    time_stamp_token: Option<ContentInfo>,
}

/// The value of a GeneralizedTime, read by [`generalized_time`] (which allows the fractional
/// seconds that the `der` crate's `GeneralizedTime` refuses).
#[derive(Clone, Debug, Eq, PartialEq)]
struct GenTime(Vec<u8>);

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        Ok(GenTime(reader.read_vec(header.length)?))
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

/// `TSTInfo` (RFC 3161 §2.4.2): `x509_tsp::TstInfo` with [`GenTime`].
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfoDer {
    version: TspVersion,
    policy: TsaPolicyId,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: GenTime,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

/// A DER GeneralizedTime (`YYYYMMDDHHMMSS[.f…]Z`, no trailing zero in the fraction) as wall
/// time, sub-microsecond digits truncated.
fn generalized_time(c: &[u8]) -> Result<WallTime> {
    let bad = || TsaError::format("genTime is not a DER GeneralizedTime (YYYYMMDDHHMMSS[.f]Z)");
    let s = std::str::from_utf8(c).map_err(|_| bad())?;
    let body = s.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut micros = String::from("000000");
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) || f.ends_with('0') {
            return Err(bad());
        }
        let digits: String = f.chars().take(6).collect();
        micros.replace_range(..digits.len(), &digits);
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}.{micros}Z",
        &whole[0..4],
        &whole[4..6],
        &whole[6..8],
        &whole[8..10],
        &whole[10..12],
        &whole[12..14]
    );
    let t = WallTime::parse(&text).ok_or_else(bad)?;
    // Rejects impossible dates and leap seconds, which do not print back unchanged.
    if t.to_rfc3339() != text {
        return Err(bad());
    }
    Ok(t)
}

/// Whether algorithm parameters are absent or NULL (as OpenSSL writes them for hashes and RSA).
fn absent_or_null(parameters: Option<&Any>) -> bool {
    parameters.is_none_or(|p| p.is_null())
}

// ---------------------------------------------------------------------------------------------
// Responses and tokens.

/// A granted `TimeStampResp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeStampResponse {
    /// `PKIStatus`: 0 (granted) or 1 (grantedWithMods).
    pub status: u64,
    /// The `TimeStampToken`: the DER bytes of its CMS `ContentInfo`.
    pub token: Vec<u8>,
}

/// What a token's `TSTInfo` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TstInfo {
    /// The TSA's policy, dotted OID.
    pub policy: String,
    /// Hash algorithm of the message imprint, dotted OID.
    pub hash_algorithm: String,
    /// The stamped hash.
    pub hashed_message: Vec<u8>,
    /// Serial number: the INTEGER's big-endian bytes as encoded.
    pub serial: Vec<u8>,
    /// When the TSA stamped it.
    pub gen_time: WallTime,
    /// The nonce, the INTEGER's big-endian bytes as encoded, if the token has one.
    pub nonce: Option<Vec<u8>>,
}

impl TstInfo {
    /// The serial number in hexadecimal, as `openssl ts -reply -text` prints it.
    pub fn serial_hex(&self) -> String {
        hex::encode(&self.serial)
    }
}

fn status_name(s: u64) -> &'static str {
    match s {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown",
    }
}

/// The TSA's free text of a refused response, sanitised and bounded.
fn status_text(parts: &[Utf8StringRef<'_>]) -> String {
    let joined = parts
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    joined
        .chars()
        .take(200)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// Parses a DER `TimeStampResp` (RFC 3161 §2.4.2) and returns its token. The status must be
/// granted (0) or grantedWithMods (1) and a token must be present; the whole response must be
/// DER. Does not look inside the token (see [`parse_token`]).
pub fn parse_response(der: &[u8]) -> Result<TimeStampResponse> {
    if der.len() > MAX_RESPONSE_BYTES {
        return Err(TsaError::format(format!(
            "response of {} bytes exceeds {MAX_RESPONSE_BYTES}",
            der.len()
        )));
    }
    check_framing(der, "TimeStampResp")?;
    let resp: TimeStampResp<'_> = decode_strict(der, "TimeStampResp")?;
    let info = &resp.status;
    if info.status > 1 {
        let mut msg = format!(
            "the TSA answered {} ({})",
            status_name(info.status),
            info.status
        );
        if let Some(t) = &info.status_string {
            msg.push_str(&format!(": {}", status_text(t)));
        }
        if let Some(fi) = &info.fail_info {
            msg.push_str(&format!(
                ", failInfo {:02x}{}",
                fi.unused_bits(),
                hex::encode(fi.raw_bytes())
            ));
        }
        return Err(TsaError::new(TsaErrorKind::NotGranted, msg));
    }
    let token = resp
        .time_stamp_token
        .as_ref()
        .ok_or_else(|| TsaError::format("timeStampToken: missing from a granted response"))?;
    Ok(TimeStampResponse {
        status: info.status,
        token: token.to_der().map_err(der_error("timeStampToken"))?,
    })
}

/// A decoded token.
#[derive(Debug)]
struct Token {
    /// The CMS `SignedData`.
    signed_data: SignedData,
    /// The DER of the encapsulated `TSTInfo` (the eContent's octets).
    tst_der: Vec<u8>,
    /// Its message imprint's hash algorithm.
    imprint_algorithm: ObjectIdentifier,
    /// What it says.
    info: TstInfo,
}

fn decode_token(token_der: &[u8]) -> Result<Token> {
    if token_der.len() > MAX_RESPONSE_BYTES {
        return Err(TsaError::format("token too large"));
    }
    check_framing(token_der, "TimeStampToken")?;
    let ci: ContentInfo = decode_strict(token_der, "ContentInfo")?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(TsaError::format(format!(
            "the token is not CMS signedData (content type {})",
            ci.content_type
        )));
    }
    let sd_der = ci.content.to_der().map_err(der_error("SignedData"))?;
    let signed_data: SignedData = decode_strict(&sd_der, "SignedData")?;
    match signed_data.signer_infos.0.len() {
        0 => return Err(TsaError::format("the token has no signer")),
        1 => {}
        n => {
            return Err(TsaError::format(format!(
                "the token has {n} signers; RFC 3161 allows only the TSA's"
            )));
        }
    }
    let eci = &signed_data.encap_content_info;
    if eci.econtent_type != ID_CT_TST_INFO {
        return Err(TsaError::format(format!(
            "the token's content is not a TSTInfo (content type {})",
            eci.econtent_type
        )));
    }
    let econtent = eci
        .econtent
        .as_ref()
        .ok_or_else(|| TsaError::format("the token does not carry its TSTInfo (eContent)"))?;
    let octets: OctetString = econtent.decode_as().map_err(der_error("eContent"))?;
    let tst_der = octets.as_bytes().to_vec();
    check_framing(&tst_der, "TSTInfo")?;
    let tst: TstInfoDer = decode_strict(&tst_der, "TSTInfo")?;

    let alg = &tst.message_imprint.hash_algorithm;
    // Parameters: absent, or NULL (as OpenSSL writes them).
    if !absent_or_null(alg.parameters.as_ref()) {
        return Err(TsaError::format("hashAlgorithm parameters: not NULL"));
    }
    let info = TstInfo {
        policy: tst.policy.to_string(),
        hash_algorithm: alg.oid.to_string(),
        hashed_message: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        serial: tst.serial_number.as_bytes().to_vec(),
        gen_time: generalized_time(&tst.gen_time.0)?,
        nonce: tst.nonce.as_ref().map(|n| n.as_bytes().to_vec()),
    };
    Ok(Token {
        imprint_algorithm: alg.oid,
        signed_data,
        tst_der,
        info,
    })
}

/// Parses a `TimeStampToken` (a CMS `ContentInfo` of `SignedData` encapsulating a `TSTInfo`,
/// RFC 3161 §2.4.2) and returns what its `TSTInfo` says. Checks the structure only: not what
/// it stamps and not the signature (see [`check_token`]).
pub fn parse_token(token_der: &[u8]) -> Result<TstInfo> {
    decode_token(token_der).map(|t| t.info)
}

/// Parses `token_der` ([`parse_token`]) and checks that it stamps the SHA-256 `expected_sha256`,
/// that it carries `expected_nonce` when one is given, and then its CMS signature (see the
/// module docs for what that covers and what it does not).
pub fn check_token(
    token_der: &[u8],
    expected_sha256: &[u8; 32],
    expected_nonce: Option<u64>,
) -> Result<TstInfo> {
    let token = decode_token(token_der)?;
    let info = &token.info;
    if token.imprint_algorithm != ID_SHA256 {
        return Err(TsaError::new(
            TsaErrorKind::Imprint,
            format!(
                "the token stamps a hash of algorithm {}, not SHA-256",
                info.hash_algorithm
            ),
        ));
    }
    if info.hashed_message != expected_sha256 {
        return Err(TsaError::new(
            TsaErrorKind::Imprint,
            format!(
                "the token stamps SHA-256 {}, not {} (a token for other data)",
                hex::encode(&info.hashed_message),
                hex::encode(expected_sha256)
            ),
        ));
    }
    if let Some(n) = expected_nonce {
        let sent = nonce_integer(n).map_err(der_error("nonce"))?;
        if info.nonce.as_deref() != Some(sent.as_bytes()) {
            return Err(TsaError::new(
                TsaErrorKind::Nonce,
                "the token does not carry the nonce of the request",
            ));
        }
    }
    verify_signature(&token)?;
    Ok(token.info)
}

/// [`parse_response`] then [`check_token`] on its token.
pub fn check_response(
    response_der: &[u8],
    expected_sha256: &[u8; 32],
    expected_nonce: Option<u64>,
) -> Result<TstInfo> {
    let resp = parse_response(response_der)?;
    check_token(&resp.token, expected_sha256, expected_nonce)
}

// ---------------------------------------------------------------------------------------------
// The CMS signature.

/// A digest algorithm of a `SignerInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    fn from_oid(oid: ObjectIdentifier) -> Option<DigestAlg> {
        if oid == ID_SHA256 {
            Some(DigestAlg::Sha256)
        } else if oid == ID_SHA384 {
            Some(DigestAlg::Sha384)
        } else if oid == ID_SHA512 {
            Some(DigestAlg::Sha512)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "SHA-256",
            DigestAlg::Sha384 => "SHA-384",
            DigestAlg::Sha512 => "SHA-512",
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
            DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
            DigestAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn pkcs1v15(self) -> rsa::Pkcs1v15Sign {
        match self {
            DigestAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            DigestAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            DigestAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

/// The only value of the signed attribute `oid`, which must appear exactly once with exactly
/// one value (RFC 5652 §11.1 and §11.2).
fn signed_attribute<'s>(
    attrs: &'s SignedAttributes,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<&'s Any> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let attr = found.next().ok_or_else(|| {
        TsaError::format(format!("the signed attributes have no {name} attribute"))
    })?;
    if found.next().is_some() {
        return Err(TsaError::format(format!(
            "the signed attributes have more than one {name} attribute"
        )));
    }
    match attr.values.as_slice() {
        [value] => Ok(value),
        _ => Err(TsaError::format(format!(
            "the {name} attribute does not have exactly one value"
        ))),
    }
}

/// The certificate's subject key identifier, if it has one that reads.
fn subject_key_identifier(cert: &Certificate) -> Option<SubjectKeyIdentifier> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)
        .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
}

/// The signer's certificate among the token's `certificates`.
fn signer_certificate<'s>(sd: &'s SignedData, sid: &SignerIdentifier) -> Result<&'s Certificate> {
    let found = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(cert) => Some(cert),
            CertificateChoices::Other(_) => None,
        })
        .find(|cert| match sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => {
                ias.issuer == cert.tbs_certificate.issuer
                    && ias.serial_number == cert.tbs_certificate.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                subject_key_identifier(cert).is_some_and(|k| k == *ski)
            }
        });
    found.ok_or_else(|| {
        let who = match sid {
            SignerIdentifier::IssuerAndSerialNumber(ias) => format!(
                "issuer {}, serial {}",
                ias.issuer.to_string().escape_debug(),
                hex::encode(ias.serial_number.as_bytes())
            ),
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                format!("subject key identifier {}", hex::encode(ski.0.as_bytes()))
            }
        };
        TsaError::signature(format!(
            "the signer's certificate ({who}) is not in the token, so its signature cannot be \
             checked (the request asks for it with certReq)"
        ))
    })
}

/// Checks the signature of the token's only `SignerInfo` (see the module docs).
fn verify_signature(token: &Token) -> Result<()> {
    let si = token
        .signed_data
        .signer_infos
        .0
        .get(0)
        .ok_or_else(|| TsaError::format("the token has no signer"))?;
    if !absent_or_null(si.digest_alg.parameters.as_ref()) {
        return Err(TsaError::format(
            "the signer's digest algorithm parameters: not NULL",
        ));
    }
    let digest = DigestAlg::from_oid(si.digest_alg.oid).ok_or_else(|| {
        TsaError::unsupported(format!(
            "the signer's digest algorithm {} is not SHA-256, SHA-384 or SHA-512",
            si.digest_alg.oid
        ))
    })?;
    let attrs = si.signed_attrs.as_ref().ok_or_else(|| {
        TsaError::format("the signer has no signed attributes (CMS requires them for a TSTInfo)")
    })?;
    let content_type: ObjectIdentifier = signed_attribute(attrs, ID_CONTENT_TYPE, "content-type")?
        .decode_as()
        .map_err(der_error("the content-type attribute"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(TsaError::signature(format!(
            "the signed content-type attribute is {content_type}, not id-ct-TSTInfo"
        )));
    }
    let message_digest: OctetString = signed_attribute(attrs, ID_MESSAGE_DIGEST, "message-digest")?
        .decode_as()
        .map_err(der_error("the message-digest attribute"))?;
    if message_digest.as_bytes() != digest.digest(&token.tst_der).as_slice() {
        return Err(TsaError::signature(format!(
            "the signed message-digest attribute is not the {} of the TSTInfo (an altered token)",
            digest.name()
        )));
    }
    let cert = signer_certificate(&token.signed_data, &si.sid)?;
    // The signature is over the DER of the signed attributes as a SET OF (RFC 5652 §5.4). The
    // SignedData encoded back to its own bytes, so these are the attributes as received.
    let signed = attrs.to_der().map_err(der_error("the signed attributes"))?;
    verify_with_key(
        &cert.tbs_certificate.subject_public_key_info,
        &si.signature_algorithm,
        digest,
        &digest.digest(&signed),
        si.signature.as_bytes(),
    )
}

/// Verifies `signature` of the digest `hashed` (made with `digest`) with `key`, for the
/// signature algorithm `sig_alg`: RSA PKCS#1 v1.5, or ECDSA on P-256 or P-384.
fn verify_with_key(
    key: &SubjectPublicKeyInfoOwned,
    sig_alg: &AlgorithmIdentifierOwned,
    digest: DigestAlg,
    hashed: &[u8],
    signature: &[u8],
) -> Result<()> {
    let refused = || {
        TsaError::signature(
            "the token's signature does not verify with its signer certificate's key \
             (a forged or altered token)",
        )
    };
    let mismatch = |named: DigestAlg| {
        TsaError::format(format!(
            "the signature algorithm {} names {}, but the signer's digest algorithm is {}",
            sig_alg.oid,
            named.name(),
            digest.name()
        ))
    };
    if key.algorithm.oid == RSA_ENCRYPTION {
        // rsaEncryption (as OpenSSL writes it), or shaNNNWithRSAEncryption of the same digest.
        let named = if sig_alg.oid == RSA_ENCRYPTION {
            None
        } else if sig_alg.oid == SHA256_WITH_RSA {
            Some(DigestAlg::Sha256)
        } else if sig_alg.oid == SHA384_WITH_RSA {
            Some(DigestAlg::Sha384)
        } else if sig_alg.oid == SHA512_WITH_RSA {
            Some(DigestAlg::Sha512)
        } else {
            return Err(TsaError::unsupported(format!(
                "signature algorithm {} with an RSA key (only PKCS#1 v1.5 is checked)",
                sig_alg.oid
            )));
        };
        if let Some(named) = named
            && named != digest
        {
            return Err(mismatch(named));
        }
        if !absent_or_null(sig_alg.parameters.as_ref()) {
            return Err(TsaError::format(
                "the RSA signature algorithm's parameters: not NULL",
            ));
        }
        let spki = key.to_der().map_err(der_error("the signer's public key"))?;
        let public = rsa::RsaPublicKey::from_public_key_der(&spki).map_err(|e| {
            TsaError::unsupported(format!(
                "the signer's RSA key ({e}): malformed, or larger than 4096 bits"
            ))
        })?;
        public
            .verify(digest.pkcs1v15(), hashed, signature)
            .map_err(|_| refused())
    } else if key.algorithm.oid == ID_EC_PUBLIC_KEY {
        let named = if sig_alg.oid == ECDSA_WITH_SHA256 {
            DigestAlg::Sha256
        } else if sig_alg.oid == ECDSA_WITH_SHA384 {
            DigestAlg::Sha384
        } else if sig_alg.oid == ECDSA_WITH_SHA512 {
            DigestAlg::Sha512
        } else {
            return Err(TsaError::unsupported(format!(
                "signature algorithm {} with an EC key (only ECDSA with SHA-2 is checked)",
                sig_alg.oid
            )));
        };
        if named != digest {
            return Err(mismatch(named));
        }
        if sig_alg.parameters.is_some() {
            return Err(TsaError::format(
                "the ECDSA signature algorithm has parameters",
            ));
        }
        let curve: ObjectIdentifier = key
            .algorithm
            .parameters
            .as_ref()
            .ok_or_else(|| TsaError::format("the signer's EC key names no curve"))?
            .decode_as()
            .map_err(der_error("the signer's EC key's curve"))?;
        let point = key.subject_public_key.as_bytes().ok_or_else(|| {
            TsaError::format("the signer's EC key is not a whole number of bytes")
        })?;
        let bad_point = |_| {
            TsaError::format(format!(
                "the signer's EC key is not a point of curve {curve}"
            ))
        };
        if curve == SECP256R1 {
            let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad_point)?;
            let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| refused())?;
            public.verify_prehash(hashed, &sig).map_err(|_| refused())
        } else if curve == SECP384R1 {
            let public = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad_point)?;
            let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| refused())?;
            public.verify_prehash(hashed, &sig).map_err(|_| refused())
        } else {
            Err(TsaError::unsupported(format!(
                "the signer's EC key is on curve {curve} (only P-256 and P-384 are checked)"
            )))
        }
    } else {
        Err(TsaError::unsupported(format!(
            "the signer's key algorithm {} (only RSA and ECDSA are checked)",
            key.algorithm.oid
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cms::signed_data::{SignerInfo, SignerInfos};
    use der::asn1::SetOfVec;
    use roeh_testkit::tsa::{TestTsa, TsaKey, have_openssl};
    use sha2::{Digest, Sha256};

    const DIGEST: [u8; 32] = [
        0x58, 0x91, 0xb5, 0xb5, 0x22, 0xd5, 0xdf, 0x08, 0x6d, 0x0f, 0xf0, 0xb1, 0x10, 0xfb, 0xd9,
        0xd2, 0x1b, 0xb4, 0xfc, 0x71, 0x63, 0xaf, 0x34, 0xd0, 0x82, 0x86, 0xa2, 0xe8, 0x46, 0xf6,
        0xbe, 0x03,
    ];

    const TAG_INTEGER: u8 = 0x02;
    const TAG_BIT_STRING: u8 = 0x03;
    const TAG_OCTET_STRING: u8 = 0x04;
    const TAG_OID: u8 = 0x06;
    const TAG_GENERALIZED_TIME: u8 = 0x18;
    const TAG_SEQUENCE: u8 = 0x30;
    const TAG_SET: u8 = 0x31;
    const TAG_CTX0: u8 = 0xa0;

    /// One element, written by hand (to build input the encoders would not write).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend(Length::try_from(content.len()).unwrap().to_der().unwrap());
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn request_matches_openssl_bytes() {
        // `openssl ts -query -data hello.txt -sha256 -cert` for "hello\n", whose nonce was
        // 0xc28dc09a8dfbc0d8.
        let mut want = hex::decode("30440201013031300d060960864801650304020105000420").unwrap();
        want.extend_from_slice(&DIGEST);
        want.extend(hex::decode("020900c28dc09a8dfbc0d80101ff").unwrap());
        assert_eq!(request_der(&DIGEST, 0xc28d_c09a_8dfb_c0d8), want);
        assert_eq!(<[u8; 32]>::from(Sha256::digest(b"hello\n")), DIGEST);
        // The request reads back with the same fields.
        let req = TimeStampReq::from_der(&want).unwrap();
        assert!(req.cert_req);
        assert_eq!(req.message_imprint.hash_algorithm.oid, ID_SHA256);
        assert_eq!(
            req.nonce.unwrap().as_bytes(),
            hex::decode("00c28dc09a8dfbc0d8").unwrap()
        );
    }

    #[test]
    fn integers_lengths_and_oids_are_minimal() {
        let n = |v: u64| nonce_integer(v).unwrap().as_bytes().to_vec();
        assert_eq!(n(0), [0]);
        assert_eq!(n(0x7f), [0x7f]);
        assert_eq!(n(0x80), [0, 0x80]);
        assert_eq!(n(0x1234), [0x12, 0x34]);
        assert_eq!(
            n(u64::MAX),
            [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        for v in [0u64, 1, 0x7f, 0x80, 0xff, 0x100, u64::MAX] {
            let der = nonce_integer(v).unwrap().to_der().unwrap();
            assert_eq!(u64::from_der(&der).unwrap(), v);
            assert_eq!(Int::from_der(&der).unwrap().as_bytes(), n(v));
        }
        let big = tlv(TAG_OCTET_STRING, &[7u8; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(OctetString::from_der(&big).unwrap().as_bytes().len(), 300);
        check_framing(&big, "x").unwrap();
        // Non-minimal forms are refused.
        for bad in [
            &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..],
            &[0x04, 0x82, 0x00, 0x81],
        ] {
            assert!(OctetString::from_der(bad).is_err(), "{bad:02x?}");
            assert!(check_framing(bad, "x").is_err(), "{bad:02x?}");
        }
        assert!(Int::from_der(&[0x02, 0x02, 0, 1]).is_err());
        assert!(Int::from_der(&[0x02, 0x02, 0xff, 0x80]).is_err());
        assert!(Int::from_der(&[0x02, 0x00]).is_err());
        assert!(u64::from_der(&[0x02, 0x01, 0x80]).is_err());
        assert_eq!(ID_SHA256.as_bytes(), OID_SHA256);
        assert_eq!(
            ObjectIdentifier::from_bytes(OID_SHA256)
                .unwrap()
                .to_string(),
            "2.16.840.1.101.3.4.2.1"
        );
        assert_eq!(ID_CT_TST_INFO.to_string(), "1.2.840.113549.1.9.16.1.4");
        // const-oid accepts an arc that starts with 0x80; the framing walk refuses it.
        assert!(check_framing(&tlv(TAG_OID, &[0x2a, 0x80, 0x01]), "x").is_err());
        assert!(minimal_oid(OID_SHA256));
        assert!(minimal_oid(ID_CT_TST_INFO.as_bytes()));
        assert!(ObjectIdentifier::from_bytes(&[0x2a, 0x86]).is_err());
        assert!(ObjectIdentifier::from_bytes(&[0xff; 12]).is_err());
    }

    #[test]
    fn generalized_times() {
        let t = |s: &str| generalized_time(s.as_bytes());
        assert_eq!(
            t("20261122223916Z").unwrap(),
            WallTime::parse("2026-11-22T22:39:16Z").unwrap()
        );
        assert_eq!(
            t("20261122223916.1234567Z").unwrap(),
            WallTime::parse("2026-11-22T22:39:16.123456Z").unwrap()
        );
        for bad in [
            "20261122223916",
            "20261122223916.Z",
            "20261122223916.10Z",
            "2026112222391Z",
            "20261122223916+0100",
            "20260230223916Z",
            "20261122235960Z",
            "2026112222391aZ",
            "",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    fn tsa_with(key: TsaKey) -> Option<(tempfile::TempDir, TestTsa)> {
        if !have_openssl() {
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let t = TestTsa::create_with(&d.path().join("tsa"), key).unwrap();
        Some((d, t))
    }

    fn tsa() -> Option<(tempfile::TempDir, TestTsa)> {
        tsa_with(TsaKey::EcP256)
    }

    #[test]
    fn local_tsa_round_trip_and_openssl_verify() {
        let Some((d, tsa)) = tsa() else { return };
        let text = b"roeh-checkpoint/v1\nroeh:test\n1\n...\n";
        let digest: [u8; 32] = Sha256::digest(text).into();
        let resp = tsa
            .reply(&request_der(&digest, 0x8000_0000_0000_0001))
            .unwrap();
        let info = check_response(&resp, &digest, Some(0x8000_0000_0000_0001)).unwrap();
        assert_eq!(info.policy, "1.2.3.4.1");
        assert_eq!(info.hash_algorithm, "2.16.840.1.101.3.4.2.1");
        assert_eq!(info.hashed_message, digest);
        assert!(!info.serial.is_empty());
        let now = WallTime(
            i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_micros(),
            )
            .unwrap(),
        );
        assert!(info.gen_time.0 <= now.0 && info.gen_time.0 > now.0 - 3_600_000_000);

        // The stock tool agrees with the files a bundle holds.
        let tsr = d.path().join("checkpoint.tsr");
        let txt = d.path().join("checkpoint.txt");
        std::fs::write(&tsr, &resp).unwrap();
        std::fs::write(&txt, text).unwrap();
        assert!(tsa.openssl_verifies(&tsr, &txt));

        // A token for another hash, or with another nonce, is refused.
        let other: [u8; 32] = Sha256::digest(b"other text\n").into();
        let e = check_response(&resp, &other, None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Imprint);
        let e = check_response(&resp, &digest, Some(1)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Nonce);
        let other_txt = d.path().join("other.txt");
        std::fs::write(&other_txt, b"other text\n").unwrap();
        assert!(!tsa.openssl_verifies(&tsr, &other_txt));

        // A flipped byte in the stamped hash: our imprint check and openssl both refuse it.
        let at = resp
            .windows(32)
            .position(|w| w == digest)
            .expect("the hash is in the response");
        let mut flipped = resp.clone();
        flipped[at + 5] ^= 0x01;
        let e = check_response(&flipped, &digest, None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Imprint);
        std::fs::write(&tsr, &flipped).unwrap();
        assert!(!tsa.openssl_verifies(&tsr, &txt));

        // A flipped byte in the signature still parses, and both the in-process check and
        // openssl refuse it.
        let mut sig_flipped = resp.clone();
        let last = sig_flipped.len() - 3;
        sig_flipped[last] ^= 0x01;
        parse_token(&parse_response(&sig_flipped).unwrap().token).unwrap();
        let e = check_response(&sig_flipped, &digest, None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Signature, "{e}");
        assert!(e.message.contains("does not verify"), "{e}");
        std::fs::write(&tsr, &sig_flipped).unwrap();
        assert!(!tsa.openssl_verifies(&tsr, &txt));
    }

    #[test]
    fn every_supported_key_verifies_and_a_flipped_signature_byte_is_refused() {
        for key in [TsaKey::EcP256, TsaKey::EcP384, TsaKey::Rsa2048] {
            let Some((d, tsa)) = tsa_with(key) else {
                return;
            };
            let text = format!("checkpoint signed with {key:?}\n");
            let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            let resp = tsa.reply(&request_der(&digest, 77)).unwrap();
            let info = check_response(&resp, &digest, Some(77)).unwrap();
            assert_eq!(info.hashed_message, digest, "{key:?}");
            let tsr = d.path().join("checkpoint.tsr");
            let txt = d.path().join("checkpoint.txt");
            std::fs::write(&tsr, &resp).unwrap();
            std::fs::write(&txt, &text).unwrap();
            assert!(tsa.openssl_verifies(&tsr, &txt), "{key:?}");

            // Every byte of the signature value flipped in turn: refused, by both.
            let sig = signer(&resp).signature.as_bytes().to_vec();
            let at = resp.windows(sig.len()).position(|w| w == sig).unwrap();
            for i in 0..sig.len() {
                let mut m = resp.clone();
                m[at + i] ^= 0x01;
                let e = check_response(&m, &digest, Some(77)).unwrap_err();
                assert_eq!(e.kind, TsaErrorKind::Signature, "{key:?} byte {i}: {e}");
            }
            let mut m = resp.clone();
            m[at + sig.len() / 2] ^= 0x10;
            std::fs::write(&tsr, &m).unwrap();
            assert!(!tsa.openssl_verifies(&tsr, &txt), "{key:?}");
        }
    }

    /// The only `SignerInfo` of the token in `resp`.
    fn signer(resp: &[u8]) -> SignerInfo {
        let token = decode_token(&parse_response(resp).unwrap().token).unwrap();
        token.signed_data.signer_infos.0.get(0).unwrap().clone()
    }

    /// `resp` with its token's `SignedData` changed by `f`, encoded again (nothing re-signed).
    fn with_signed_data(resp: &[u8], f: impl FnOnce(&mut SignedData)) -> Vec<u8> {
        let mut r = TimeStampResp::from_der(resp).unwrap();
        let mut ci = r.time_stamp_token.take().unwrap();
        let mut sd: SignedData = ci.content.decode_as().unwrap();
        f(&mut sd);
        ci.content = Any::from_der(&sd.to_der().unwrap()).unwrap();
        r.time_stamp_token = Some(ci);
        r.to_der().unwrap()
    }

    /// `sd` with its only `SignerInfo` changed by `f`.
    fn with_signer(sd: &mut SignedData, f: impl FnOnce(&mut SignerInfo)) {
        let mut si = sd.signer_infos.0.get(0).unwrap().clone();
        f(&mut si);
        sd.signer_infos = SignerInfos(SetOfVec::try_from(vec![si]).unwrap());
    }

    /// Replaces the first occurrence of `from` in `v` with `to` and fixes nothing else.
    fn replace(v: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = v.windows(from.len()).position(|w| w == from).unwrap();
        let mut out = v[..at].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&v[at + from.len()..]);
        out
    }

    /// The DER of attribute `oid`'s header: the OID and the header of its SET of values.
    fn attribute_prefix(oid: ObjectIdentifier, set_len: u8) -> Vec<u8> {
        let mut p = oid.to_der().unwrap();
        p.extend([TAG_SET, set_len]);
        p
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let Some((d, tsa)) = tsa() else { return };
        let digest: [u8; 32] = Sha256::digest(b"tampered\n").into();
        let resp = tsa.reply(&request_der(&digest, 5)).unwrap();
        check_response(&resp, &digest, Some(5)).unwrap();
        let tsr = d.path().join("checkpoint.tsr");
        let txt = d.path().join("checkpoint.txt");
        std::fs::write(&txt, b"tampered\n").unwrap();
        let refused_by_openssl = |bytes: &[u8]| {
            std::fs::write(&tsr, bytes).unwrap();
            !tsa.openssl_verifies(&tsr, &txt)
        };
        let signature_error = |bytes: &[u8], what: &str| {
            let e = check_response(bytes, &digest, Some(5)).unwrap_err();
            assert_eq!(e.kind, TsaErrorKind::Signature, "{what}: {e}");
            assert!(refused_by_openssl(bytes), "{what}");
            e
        };

        // The TSTInfo altered (genTime one second later): its digest is no longer the signed
        // message-digest attribute.
        let at = resp
            .windows(2)
            .position(|w| w == [TAG_GENERALIZED_TIME, 15])
            .unwrap();
        let mut later = resp.clone();
        let s = &mut later[at + 2 + 13];
        *s = if *s == b'9' { b'0' } else { *s + 1 };
        parse_token(&parse_response(&later).unwrap().token).unwrap();
        let e = signature_error(&later, "genTime");
        assert!(e.message.contains("message-digest"), "{e}");

        // The signed message-digest attribute altered.
        let md = attribute_prefix(ID_MESSAGE_DIGEST, 0x22);
        let at = resp.windows(md.len()).position(|w| w == md).unwrap() + md.len() + 2;
        let mut m = resp.clone();
        m[at + 7] ^= 0x20;
        let e = signature_error(&m, "message-digest");
        assert!(e.message.contains("message-digest"), "{e}");

        // The signed content-type attribute altered (id-ct-TSTInfo to another id-ct).
        let ct = attribute_prefix(ID_CONTENT_TYPE, 0x0d);
        let at = resp.windows(ct.len()).position(|w| w == ct).unwrap() + ct.len();
        let mut m = resp.clone();
        m[at + 12] ^= 0x07;
        let e = signature_error(&m, "content-type");
        assert!(e.message.contains("content-type"), "{e}");

        // Another signed attribute altered (the signing time): the signature fails.
        let st = attribute_prefix(ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5"), 0x0f);
        let at = resp.windows(st.len()).position(|w| w == st).unwrap() + st.len() + 2;
        let mut m = resp.clone();
        m[at + 11] = if m[at + 11] == b'9' {
            b'0'
        } else {
            m[at + 11] + 1
        };
        let e = signature_error(&m, "signing time");
        assert!(e.message.contains("does not verify"), "{e}");

        // The TSA's certificate taken out of the token.
        let no_cert = with_signed_data(&resp, |sd| sd.certificates = None);
        let e = signature_error(&no_cert, "no certificate");
        assert!(e.message.contains("not in the token"), "{e}");

        // A token that names its signer by subject key identifier (the identifier is not
        // signed): found, and verified; another identifier is not found.
        let cert = match decode_token(&parse_response(&resp).unwrap().token)
            .unwrap()
            .signed_data
            .certificates
            .unwrap()
            .0
            .get(0)
            .unwrap()
        {
            CertificateChoices::Certificate(c) => c.clone(),
            CertificateChoices::Other(_) => unreachable!(),
        };
        let ski = subject_key_identifier(&cert).expect("the test TSA has a key identifier");
        let by_ski = with_signed_data(&resp, |sd| {
            with_signer(sd, |si| {
                si.version = cms::content_info::CmsVersion::V3;
                si.sid = SignerIdentifier::SubjectKeyIdentifier(ski.clone());
            })
        });
        check_response(&by_ski, &digest, Some(5)).unwrap();
        let mut wrong = ski.0.as_bytes().to_vec();
        wrong[0] ^= 1;
        let wrong_ski = with_signed_data(&resp, |sd| {
            with_signer(sd, |si| {
                si.sid = SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(
                    OctetString::new(wrong).unwrap(),
                ))
            })
        });
        let e = check_response(&wrong_ski, &digest, Some(5)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Signature, "{e}");
        assert!(e.message.contains("not in the token"), "{e}");

        // Another serial number in the issuer-and-serial signer identifier.
        let wrong_serial = with_signed_data(&resp, |sd| {
            with_signer(sd, |si| {
                if let SignerIdentifier::IssuerAndSerialNumber(ias) = &mut si.sid {
                    let mut s = ias.serial_number.as_bytes().to_vec();
                    let last = s.len() - 1;
                    s[last] ^= 1;
                    ias.serial_number = x509_cert::serial_number::SerialNumber::new(&s).unwrap();
                }
            })
        });
        let e = check_response(&wrong_serial, &digest, Some(5)).unwrap_err();
        assert!(e.message.contains("not in the token"), "{e}");

        // A digest algorithm that is not checked here: refused as unsupported.
        let sha1 = with_signed_data(&resp, |sd| {
            with_signer(sd, |si| {
                si.digest_alg.oid = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
            })
        });
        let e = check_response(&sha1, &digest, Some(5)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Unsupported, "{e}");
        // A signature algorithm naming another digest than the signer's.
        let mixed = with_signed_data(&resp, |sd| {
            with_signer(sd, |si| si.signature_algorithm.oid = ECDSA_WITH_SHA384)
        });
        let e = check_response(&mixed, &digest, Some(5)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
        // Two signers.
        let two = with_signed_data(&resp, |sd| {
            let si = sd.signer_infos.0.get(0).unwrap().clone();
            let mut other = si.clone();
            other.signature = OctetString::new(vec![0x30, 0x00]).unwrap();
            sd.signer_infos = SignerInfos(SetOfVec::try_from(vec![si, other]).unwrap());
        });
        let e = check_response(&two, &digest, Some(5)).unwrap_err();
        assert!(e.message.contains("2 signers"), "{e}");
    }

    #[test]
    fn a_token_without_the_tsa_certificate_is_refused() {
        let Some((d, tsa)) = tsa() else { return };
        let digest: [u8; 32] = Sha256::digest(b"no certificate\n").into();
        // A request without certReq: openssl leaves its certificate out of the token.
        let query = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid: ID_SHA256,
                    parameters: Some(Any::null()),
                },
                hashed_message: OctetString::new(digest.as_slice()).unwrap(),
            },
            req_policy: None,
            nonce: Some(nonce_integer(9).unwrap()),
            cert_req: false,
            extensions: None,
        }
        .to_der()
        .unwrap();
        let resp = tsa.reply(&query).unwrap();
        let token = decode_token(&parse_response(&resp).unwrap().token).unwrap();
        assert!(token.signed_data.certificates.is_none());
        let e = check_response(&resp, &digest, Some(9)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Signature, "{e}");
        assert!(e.message.contains("not in the token"), "{e}");
        assert!(e.message.contains("certReq"), "{e}");
        // The stock tool needs the certificate too.
        let tsr = d.path().join("checkpoint.tsr");
        let txt = d.path().join("checkpoint.txt");
        std::fs::write(&tsr, &resp).unwrap();
        std::fs::write(&txt, b"no certificate\n").unwrap();
        assert!(!tsa.openssl_verifies(&tsr, &txt));
    }

    #[test]
    fn refused_statuses_are_not_granted() {
        let mut info = tlv(TAG_INTEGER, &[2]);
        info.extend(tlv(TAG_SEQUENCE, &tlv(0x0c, b"bad msg")));
        info.extend(tlv(TAG_BIT_STRING, &[0x06, 0x40]));
        let rejection = tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &info));
        let e = parse_response(&rejection).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::NotGranted);
        assert!(e.message.contains("rejection"), "{e}");
        assert!(e.message.contains("bad msg"), "{e}");
        // Granted without a token.
        let e = parse_response(&hex::decode("30053003020100").unwrap()).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format);
        // A failInfo past bit 15 (systemFailure, bit 25) is still read as a refusal.
        let mut info = tlv(TAG_INTEGER, &[2]);
        info.extend(tlv(TAG_BIT_STRING, &[0x06, 0x00, 0x00, 0x00, 0x40]));
        let e = parse_response(&tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &info))).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::NotGranted, "{e}");
        assert!(e.message.contains("failInfo 06000000"), "{e}");
        // An unknown status is a refusal too.
        let e = parse_response(&hex::decode("30053003020109").unwrap()).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::NotGranted, "{e}");
    }

    #[test]
    fn hostile_der_never_panics() {
        let Some((_d, tsa)) = tsa() else { return };
        let digest = [0x11u8; 32];
        let resp = tsa.reply(&request_der(&digest, 42)).unwrap();
        check_response(&resp, &digest, Some(42)).unwrap();

        // Every truncation fails.
        for n in 0..resp.len() {
            assert!(parse_response(&resp[..n]).is_err(), "truncated to {n}");
        }
        // A trailing byte fails.
        let mut longer = resp.clone();
        longer.push(0);
        assert!(parse_response(&longer).is_err());
        // Every single-byte flip either fails or still names the same hash; nothing panics.
        for i in 0..resp.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut m = resp.clone();
                m[i] ^= x;
                if let Ok(info) = check_response(&m, &digest, None) {
                    assert_eq!(info.hashed_message, digest);
                }
            }
        }
        // Random garbage and random splices.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 300) as usize;
            let g: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = parse_response(&g);
            let _ = parse_token(&g);
            let mut m = resp.clone();
            let at = (next() as usize) % m.len();
            let n = 1 + (next() % 8) as usize;
            for k in at..(at + n).min(m.len()) {
                m[k] = next() as u8;
            }
            let _ = check_response(&m, &digest, Some(42));
        }

        // Huge lengths.
        for bad in [
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30],
            vec![0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            vec![0x30, 0x85, 1, 0, 0, 0, 0],
            vec![0x30, 0x80, 0x00, 0x00],
            vec![0x30, 0xff],
            vec![0x1f, 0x81, 0x00, 0x00],
            vec![0x30],
            vec![],
        ] {
            let e = parse_response(&bad).unwrap_err();
            assert_eq!(e.kind, TsaErrorKind::Format, "{bad:02x?}");
        }
        let e = parse_response(&vec![0u8; MAX_RESPONSE_BYTES + 1]).unwrap_err();
        assert!(e.message.contains("exceeds"), "{e}");

        // Deep nesting: refused by depth, well before the stack is at risk.
        let mut deep = vec![0x05, 0x00];
        for _ in 0..5000 {
            deep = tlv(TAG_SEQUENCE, &deep);
        }
        let e = parse_response(&deep).unwrap_err();
        assert!(e.message.contains("deep"), "{e}");
        let e = parse_token(&deep).unwrap_err();
        assert!(e.message.contains("deep"), "{e}");
        let mut nested_token = tlv(TAG_SEQUENCE, &[0x02, 0x01, 0x00]);
        nested_token.extend(deep.clone());
        let e = parse_response(&tlv(TAG_SEQUENCE, &nested_token)).unwrap_err();
        assert!(e.message.contains("deep"), "{e}");

        // Wrong OIDs: the content type, the encapsulated content type, the hash algorithm.
        let e = check_response(
            &replace(&resp, ID_SIGNED_DATA.as_bytes(), &[0x2a; 9]),
            &digest,
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("signedData"), "{e}");
        let mut data_oid = ID_CT_TST_INFO.as_bytes().to_vec();
        data_oid[10] = 0x05;
        let e = check_response(
            &replace(&resp, ID_CT_TST_INFO.as_bytes(), &data_oid),
            &digest,
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("TSTInfo"), "{e}");
        // The imprint's algorithm is the SHA-256 OID followed by NULL and the 32-byte hash;
        // SHA-512's OID has the same length.
        let mut imprint_alg = OID_SHA256.to_vec();
        imprint_alg.extend_from_slice(&[0x05, 0x00, 0x04, 0x20]);
        let mut sha512_alg = imprint_alg.clone();
        sha512_alg[8] = 0x03;
        let wrong_alg = replace(&resp, &imprint_alg, &sha512_alg);
        assert_eq!(wrong_alg.len(), resp.len());
        let e = check_response(&wrong_alg, &digest, None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Imprint, "{e}");
        assert!(e.message.contains("2.16.840.1.101.3.4.2.3"), "{e}");
    }

    /// The response's outermost element, or its token's, made indefinite-length (BER): the
    /// length octets become 0x80 and end-of-contents octets follow the content.
    #[test]
    fn indefinite_lengths_are_refused() {
        let Some((_d, tsa)) = tsa() else { return };
        let digest = [0x33u8; 32];
        let resp = tsa.reply(&request_der(&digest, 3)).unwrap();
        check_response(&resp, &digest, Some(3)).unwrap();
        let header_len = |b: &[u8]| match b[1] {
            l if l < 0x80 => 2,
            l => 2 + usize::from(l & 0x7f),
        };
        // The whole response.
        let h = header_len(&resp);
        let mut ber = vec![resp[0], 0x80];
        ber.extend_from_slice(&resp[h..]);
        ber.extend([0, 0]);
        let e = check_response(&ber, &digest, Some(3)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
        assert!(e.message.contains("indefinite"), "{e}");
        // The token inside it (the response's length adjusted, so only the token is BER).
        let token = parse_response(&resp).unwrap().token;
        let at = resp.windows(token.len()).position(|w| w == token).unwrap();
        let th = header_len(&token);
        let mut ber_token = vec![token[0], 0x80];
        ber_token.extend_from_slice(&token[th..]);
        ber_token.extend([0, 0]);
        let status = &resp[h..at];
        let mut body = status.to_vec();
        body.extend(&ber_token);
        let nested = tlv(TAG_SEQUENCE, &body);
        let e = check_response(&nested, &digest, Some(3)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
        assert!(e.message.contains("indefinite"), "{e}");
        // And a bare token.
        let e = check_token(&ber_token, &digest, Some(3)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
    }

    /// BER that the decoders accept, but that is not DER, is refused: the signed attributes
    /// out of their DER order.
    #[test]
    fn a_set_out_of_order_is_not_der() {
        let Some((_d, tsa)) = tsa() else { return };
        let digest = [0x44u8; 32];
        let resp = tsa.reply(&request_der(&digest, 4)).unwrap();
        let si = signer(&resp);
        let attrs: Vec<Vec<u8>> = si
            .signed_attrs
            .unwrap()
            .iter()
            .map(|a| a.to_der().unwrap())
            .collect();
        assert!(attrs.len() >= 3);
        let sorted = attrs.concat();
        let reversed: Vec<u8> = attrs.iter().rev().flatten().copied().collect();
        let m = replace(&resp, &sorted, &reversed);
        assert_eq!(m.len(), resp.len());
        let e = check_response(&m, &digest, Some(4)).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
        assert!(e.message.contains("not DER"), "{e}");
    }

    /// A minimal token around `tst` (a TSTInfo's content), with one `SignerInfo` that names
    /// an issuer and serial number but has no signed attributes, and no certificate.
    fn minimal_token(tst: &[u8], signers: usize) -> Vec<u8> {
        let tst = tlv(TAG_SEQUENCE, tst);
        let mut eci = tlv(TAG_OID, ID_CT_TST_INFO.as_bytes());
        eci.extend(tlv(TAG_CTX0, &tlv(TAG_OCTET_STRING, &tst)));
        let mut si = tlv(TAG_INTEGER, &[1]);
        let mut ias = tlv(TAG_SEQUENCE, &[]);
        ias.extend(tlv(TAG_INTEGER, &[1]));
        si.extend(tlv(TAG_SEQUENCE, &ias));
        si.extend(tlv(TAG_SEQUENCE, &tlv(TAG_OID, OID_SHA256)));
        si.extend(tlv(
            TAG_SEQUENCE,
            &tlv(TAG_OID, ECDSA_WITH_SHA256.as_bytes()),
        ));
        si.extend(tlv(TAG_OCTET_STRING, &[0x30, 0x00]));
        let si = tlv(TAG_SEQUENCE, &si);
        let mut sd = tlv(TAG_INTEGER, &[3]);
        sd.extend(tlv(TAG_SET, &[]));
        sd.extend(tlv(TAG_SEQUENCE, &eci));
        sd.extend(tlv(TAG_SET, &si.repeat(signers)));
        let mut ci = tlv(TAG_OID, ID_SIGNED_DATA.as_bytes());
        ci.extend(tlv(TAG_CTX0, &tlv(TAG_SEQUENCE, &sd)));
        tlv(TAG_SEQUENCE, &ci)
    }

    /// A TSTInfo's content stamping `hash` with the algorithm of DER `alg`.
    fn tst_content(alg: &[u8], hash: &[u8], gen_time: &[u8]) -> Vec<u8> {
        let mut imprint = tlv(TAG_SEQUENCE, alg);
        imprint.extend(tlv(TAG_OCTET_STRING, hash));
        let mut tst = tlv(TAG_INTEGER, &[1]);
        tst.extend(tlv(TAG_OID, &[0x2a, 0x03, 0x04]));
        tst.extend(tlv(TAG_SEQUENCE, &imprint));
        tst.extend(tlv(TAG_INTEGER, &[5]));
        tst.extend(tlv(TAG_GENERALIZED_TIME, gen_time));
        tst
    }

    #[test]
    fn a_hash_of_another_algorithm_is_an_imprint_error() {
        // A TSTInfo stamping SHA-1 (20 bytes), in a minimal signedData.
        let sha1_alg = [0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00];
        let token = minimal_token(&tst_content(&sha1_alg, &[0x22; 20], b"20260101000000Z"), 1);
        let info = parse_token(&token).unwrap();
        assert_eq!(info.hash_algorithm, "1.3.14.3.2.26");
        assert_eq!(info.serial_hex(), "05");
        assert_eq!(info.nonce, None);
        let e = check_token(&token, &[0x22; 32], None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Imprint);
        assert!(e.message.contains("not SHA-256"), "{e}");
        // A token without signers is malformed.
        let e = parse_token(&minimal_token(
            &tst_content(&sha1_alg, &[0x22; 20], b"20260101000000Z"),
            0,
        ))
        .unwrap_err();
        assert!(e.message.contains("signer"), "{e}");

        // A token that stamps the right SHA-256 (with a genTime in fractional seconds, which
        // RFC 3161 allows) but is not signed: it parses, and it is refused.
        let mut sha256_alg = tlv(TAG_OID, OID_SHA256);
        sha256_alg.extend([0x05, 0x00]);
        let unsigned = minimal_token(&tst_content(&sha256_alg, &DIGEST, b"20260101000000.25Z"), 1);
        let info = parse_token(&unsigned).unwrap();
        assert_eq!(
            info.gen_time,
            WallTime::parse("2026-01-01T00:00:00.25Z").unwrap()
        );
        let e = check_token(&unsigned, &DIGEST, None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
        assert!(e.message.contains("no signed attributes"), "{e}");
    }

    /// A token whose signed attributes are `n` distinct attributes in descending order.
    fn token_with_attributes(n: usize) -> Vec<u8> {
        let mut attrs = Vec::new();
        for k in (0..n).rev() {
            let (hi, lo) = (0x81 + (k / 128) as u8, (k % 128) as u8);
            attrs.extend(tlv(
                TAG_SEQUENCE,
                &[TAG_OID, 0x03, 0x2a, hi, lo, TAG_SET, 0x00],
            ));
        }
        let mut si = tlv(TAG_INTEGER, &[1]);
        let mut ias = tlv(TAG_SEQUENCE, &[]);
        ias.extend(tlv(TAG_INTEGER, &[1]));
        si.extend(tlv(TAG_SEQUENCE, &ias));
        si.extend(tlv(TAG_SEQUENCE, &tlv(TAG_OID, OID_SHA256)));
        si.extend(tlv(TAG_CTX0, &attrs));
        si.extend(tlv(
            TAG_SEQUENCE,
            &tlv(TAG_OID, ECDSA_WITH_SHA256.as_bytes()),
        ));
        si.extend(tlv(TAG_OCTET_STRING, &[0x30, 0x00]));
        let si = tlv(TAG_SEQUENCE, &si);
        let mut eci = tlv(TAG_OID, ID_CT_TST_INFO.as_bytes());
        eci.extend(tlv(TAG_CTX0, &tlv(TAG_OCTET_STRING, &[0x30, 0x00])));
        let mut sd = tlv(TAG_INTEGER, &[3]);
        sd.extend(tlv(TAG_SET, &[]));
        sd.extend(tlv(TAG_SEQUENCE, &eci));
        sd.extend(tlv(TAG_SET, &si));
        let mut ci = tlv(TAG_OID, ID_SIGNED_DATA.as_bytes());
        ci.extend(tlv(TAG_CTX0, &tlv(TAG_SEQUENCE, &sd)));
        tlv(TAG_SEQUENCE, &ci)
    }

    /// The decoders sort a SET OF by insertion: a long one, out of order, is quadratic work.
    /// Past MAX_ELEMENTS the framing walk refuses it before any decoding; up to it, the
    /// decoder's sort is bounded and the result is refused as not DER.
    #[test]
    fn long_sets_are_bounded() {
        let token = token_with_attributes(MAX_ELEMENTS + 1);
        assert!(token.len() < MAX_RESPONSE_BYTES);
        let e = parse_token(&token).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Format, "{e}");
        assert!(e.message.contains("elements"), "{e}");
        let e = parse_token(&token_with_attributes(MAX_ELEMENTS)).unwrap_err();
        assert!(e.message.contains("not DER"), "{e}");
    }
}
