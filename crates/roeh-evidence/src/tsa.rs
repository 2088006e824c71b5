//! RFC 3161 timestamps of checkpoints (design record 0005 §3 and §4): the request a site sends
//! to a time-stamping authority (TSA) for the SHA-256 of a checkpoint's text, and the checks of
//! the response it keeps as `checkpoint.tsr`. No I/O here: the HTTP exchange is the custody
//! service's.
//!
//! What is checked here: the response is DER, its status is `granted` or `grantedWithMods`, the
//! token is a CMS `SignedData` whose encapsulated content is a `TSTInfo` (version 1), and the
//! `TSTInfo`'s message imprint is SHA-256 of exactly the expected bytes (and, when the caller
//! sent one, its nonce is the one sent). What is *not* checked here: the CMS signature, the
//! TSA's certificate and its chain. That is left to the stock tool, on the files of a bundle:
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
//! - the reader accepts DER only: definite lengths in their shortest form, at most 4 length
//!   bytes, low tag numbers, no bytes after the outermost element; every length is checked
//!   against what is left before it is used;
//! - every constructed element of a response or token is walked, at most [`MAX_DEPTH`] deep;
//!   nothing recurses deeper and nothing here panics;
//! - inputs longer than [`MAX_RESPONSE_BYTES`] are refused before they are read.

use roeh_domain::WallTime;
use std::fmt;

/// Largest `TimeStampResp` accepted, in bytes (also the cap of the HTTP reply).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Deepest nesting of constructed DER elements accepted.
pub const MAX_DEPTH: usize = 32;

/// Media type of an RFC 3161 request (RFC 3161 §3.4).
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";

/// Media type of an RFC 3161 response (RFC 3161 §3.4).
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

/// OID of SHA-256, 2.16.840.1.101.3.4.2.1, as DER content bytes.
pub const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];

/// OID of CMS `signedData`, 1.2.840.113549.1.7.2.
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// OID of `id-ct-TSTInfo`, 1.2.840.113549.1.9.16.1.4.
const OID_TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_CTX0: u8 = 0xa0;
const TAG_CTX1: u8 = 0xa1;

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
}

impl fmt::Display for TsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TsaErrorKind::Format => "format",
            TsaErrorKind::NotGranted => "not granted",
            TsaErrorKind::Imprint => "imprint",
            TsaErrorKind::Nonce => "nonce",
        };
        write!(f, "timestamp ({kind}): {}", self.message)
    }
}

impl std::error::Error for TsaError {}

type Result<T> = std::result::Result<T, TsaError>;

// ---------------------------------------------------------------------------------------------
// DER writing.

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// The DER content of a non-negative INTEGER.
fn uint_content(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    let mut out = Vec::with_capacity(9);
    if bytes[skip] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// The DER `AlgorithmIdentifier` of SHA-256 with NULL parameters, as OpenSSL writes it.
fn sha256_algorithm() -> Vec<u8> {
    let mut alg = tlv(TAG_OID, OID_SHA256);
    alg.extend_from_slice(&[TAG_NULL, 0]);
    tlv(TAG_SEQUENCE, &alg)
}

/// The DER `TimeStampReq` (RFC 3161 §2.4.1) for the SHA-256 `digest` of the data to stamp:
/// version 1, the message imprint, `nonce`, and `certReq` TRUE (so the token carries the TSA's
/// certificate); no policy, no extensions.
pub fn request_der(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let mut imprint = sha256_algorithm();
    imprint.extend(tlv(TAG_OCTET_STRING, digest));
    let mut body = tlv(TAG_INTEGER, &[1]);
    body.extend(tlv(TAG_SEQUENCE, &imprint));
    body.extend(tlv(TAG_INTEGER, &uint_content(nonce)));
    body.extend(tlv(TAG_BOOLEAN, &[0xff]));
    tlv(TAG_SEQUENCE, &body)
}

// ---------------------------------------------------------------------------------------------
// DER reading.

/// One element: its tag, its content and all its bytes.
#[derive(Clone, Copy, Debug)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

/// A cursor over a run of DER elements.
#[derive(Debug)]
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn read(&mut self, what: &str) -> Result<Tlv<'a>> {
        let start = self.pos;
        let rest = self.buf.get(start..).unwrap_or(&[]);
        let (&tag, after_tag) = rest
            .split_first()
            .ok_or_else(|| TsaError::format(format!("{what}: missing")))?;
        if tag & 0x1f == 0x1f {
            return Err(TsaError::format(format!(
                "{what}: high tag numbers are not used by RFC 3161"
            )));
        }
        let (&first, after_len0) = after_tag
            .split_first()
            .ok_or_else(|| TsaError::format(format!("{what}: truncated length")))?;
        let (len, len_bytes) = if first < 0x80 {
            (usize::from(first), 0usize)
        } else if first == 0x80 {
            return Err(TsaError::format(format!(
                "{what}: indefinite length (BER, not DER)"
            )));
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 {
                return Err(TsaError::format(format!("{what}: length of {n} bytes")));
            }
            let lb = after_len0
                .get(..n)
                .ok_or_else(|| TsaError::format(format!("{what}: truncated length")))?;
            if lb.first() == Some(&0) {
                return Err(TsaError::format(format!(
                    "{what}: length not in its shortest form"
                )));
            }
            let len = lb
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(TsaError::format(format!(
                    "{what}: length not in its shortest form"
                )));
            }
            (len, n)
        };
        let header = 2 + len_bytes;
        let content_start = start
            .checked_add(header)
            .ok_or_else(|| TsaError::format(format!("{what}: too long")))?;
        let end = content_start
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                TsaError::format(format!(
                    "{what}: length {len} runs past the end of the data"
                ))
            })?;
        self.pos = end;
        Ok(Tlv {
            tag,
            content: self.buf.get(content_start..end).unwrap_or(&[]),
            raw: self.buf.get(start..end).unwrap_or(&[]),
        })
    }

    /// The content of the next element, which must have `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8]> {
        let t = self.read(what)?;
        if t.tag != tag {
            return Err(TsaError::format(format!(
                "{what}: tag 0x{:02x}, expected 0x{tag:02x}",
                t.tag
            )));
        }
        Ok(t.content)
    }

    /// The content of the next element if it has `tag`.
    fn optional(&mut self, tag: u8, what: &str) -> Result<Option<&'a [u8]>> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag, what).map(Some)
        } else {
            Ok(None)
        }
    }

    fn finish(&self, what: &str) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(TsaError::format(format!(
                "{what}: unexpected trailing data"
            )))
        }
    }
}

/// The content of `buf`, which must be exactly one element with `tag`.
fn single<'a>(buf: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8]> {
    let mut r = Reader::new(buf);
    let c = r.expect(tag, what)?;
    r.finish(what)?;
    Ok(c)
}

/// Checks that `buf` is a run of well-formed DER elements, descending into every constructed
/// one, at most `MAX_DEPTH - depth` levels further.
fn walk(buf: &[u8], depth: usize) -> Result<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let t = r.read("element")?;
        if t.tag & 0x20 != 0 {
            if depth + 1 >= MAX_DEPTH {
                return Err(TsaError::format(format!(
                    "nested more than {MAX_DEPTH} levels deep"
                )));
            }
            walk(t.content, depth + 1)?;
        }
    }
    Ok(())
}

/// A DER INTEGER's content, checked for minimal form.
fn integer(c: &[u8], what: &str) -> Result<Vec<u8>> {
    match c {
        [] => Err(TsaError::format(format!("{what}: empty INTEGER"))),
        [0, b, ..] if b & 0x80 == 0 => Err(TsaError::format(format!(
            "{what}: INTEGER not in its shortest form"
        ))),
        [0xff, b, ..] if b & 0x80 != 0 => Err(TsaError::format(format!(
            "{what}: INTEGER not in its shortest form"
        ))),
        _ => Ok(c.to_vec()),
    }
}

/// A small non-negative INTEGER.
fn small_uint(c: &[u8], what: &str) -> Result<u64> {
    let c = integer(c, what)?;
    if c.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(TsaError::format(format!("{what}: negative")));
    }
    let c = c.strip_prefix(&[0]).unwrap_or(&c);
    if c.len() > 8 {
        return Err(TsaError::format(format!("{what}: too large")));
    }
    Ok(c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// An OID's dotted form, checked for minimal encoding.
fn oid_text(c: &[u8], what: &str) -> Result<String> {
    if c.is_empty() {
        return Err(TsaError::format(format!("{what}: empty OID")));
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    let mut fresh = true;
    for &b in c {
        if fresh && b == 0x80 {
            return Err(TsaError::format(format!(
                "{what}: OID not in its shortest form"
            )));
        }
        if v > (u64::MAX >> 7) {
            return Err(TsaError::format(format!("{what}: OID arc too large")));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        fresh = b & 0x80 == 0;
        if fresh {
            arcs.push(v);
            v = 0;
        }
    }
    if !fresh {
        return Err(TsaError::format(format!("{what}: truncated OID")));
    }
    let mut out = String::new();
    for (i, &a) in arcs.iter().enumerate() {
        if i == 0 {
            let (x, y) = match a {
                0..=39 => (0, a),
                40..=79 => (1, a - 40),
                _ => (2, a - 80),
            };
            out.push_str(&format!("{x}.{y}"));
        } else {
            out.push_str(&format!(".{a}"));
        }
    }
    Ok(out)
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
fn status_text(c: &[u8]) -> String {
    let mut r = Reader::new(c);
    let mut parts = Vec::new();
    while !r.is_empty() {
        match r.read("statusString") {
            Ok(t) => parts.push(String::from_utf8_lossy(t.content).into_owned()),
            Err(_) => break,
        }
    }
    let joined = parts.join("; ");
    joined
        .chars()
        .take(200)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// Parses a DER `TimeStampResp` (RFC 3161 §2.4.2) and returns its token. The status must be
/// granted (0) or grantedWithMods (1) and a token must be present; the whole response must be
/// well-formed DER.
pub fn parse_response(der: &[u8]) -> Result<TimeStampResponse> {
    if der.len() > MAX_RESPONSE_BYTES {
        return Err(TsaError::format(format!(
            "response of {} bytes exceeds {MAX_RESPONSE_BYTES}",
            der.len()
        )));
    }
    walk(der, 0)?;
    let body = single(der, TAG_SEQUENCE, "TimeStampResp")?;
    let mut r = Reader::new(body);
    let info = r.expect(TAG_SEQUENCE, "PKIStatusInfo")?;
    let mut ri = Reader::new(info);
    let status = small_uint(ri.expect(TAG_INTEGER, "PKIStatus")?, "PKIStatus")?;
    let text = ri.optional(TAG_SEQUENCE, "statusString")?;
    let fail_info = ri.optional(TAG_BIT_STRING, "failInfo")?;
    ri.finish("PKIStatusInfo")?;
    if status > 1 {
        let mut msg = format!("the TSA answered {} ({status})", status_name(status));
        if let Some(t) = text {
            msg.push_str(&format!(": {}", status_text(t)));
        }
        if let Some(fi) = fail_info {
            msg.push_str(&format!(", failInfo {}", hex::encode(fi)));
        }
        return Err(TsaError::new(TsaErrorKind::NotGranted, msg));
    }
    let token = r.read("timeStampToken")?;
    if token.tag != TAG_SEQUENCE {
        return Err(TsaError::format("timeStampToken: not a ContentInfo"));
    }
    r.finish("TimeStampResp")?;
    Ok(TimeStampResponse {
        status,
        token: token.raw.to_vec(),
    })
}

/// Parses a `TimeStampToken` (a CMS `ContentInfo` of `SignedData` encapsulating a `TSTInfo`,
/// RFC 3161 §2.4.2) and returns what its `TSTInfo` says. Does not check the signature.
pub fn parse_token(token_der: &[u8]) -> Result<TstInfo> {
    if token_der.len() > MAX_RESPONSE_BYTES {
        return Err(TsaError::format("token too large"));
    }
    walk(token_der, 0)?;
    let ci = single(token_der, TAG_SEQUENCE, "ContentInfo")?;
    let mut r = Reader::new(ci);
    if r.expect(TAG_OID, "contentType")? != OID_SIGNED_DATA {
        return Err(TsaError::format("the token is not CMS signedData"));
    }
    let sd = single(r.expect(TAG_CTX0, "content")?, TAG_SEQUENCE, "SignedData")?;
    r.finish("ContentInfo")?;

    let mut s = Reader::new(sd);
    small_uint(s.expect(TAG_INTEGER, "SignedData version")?, "version")?;
    s.expect(TAG_SET, "digestAlgorithms")?;
    let eci = s.expect(TAG_SEQUENCE, "encapContentInfo")?;
    s.optional(TAG_CTX0, "certificates")?;
    s.optional(TAG_CTX1, "crls")?;
    let signers = s.expect(TAG_SET, "signerInfos")?;
    s.finish("SignedData")?;
    if signers.is_empty() {
        return Err(TsaError::format("the token has no signer"));
    }

    let mut e = Reader::new(eci);
    if e.expect(TAG_OID, "eContentType")? != OID_TST_INFO {
        return Err(TsaError::format("the token's content is not a TSTInfo"));
    }
    let econtent = single(
        e.expect(TAG_CTX0, "eContent")?,
        TAG_OCTET_STRING,
        "eContent",
    )?;
    e.finish("encapContentInfo")?;
    walk(econtent, 0)?;
    let tst = single(econtent, TAG_SEQUENCE, "TSTInfo")?;
    parse_tst_info(tst)
}

fn parse_tst_info(tst: &[u8]) -> Result<TstInfo> {
    let mut t = Reader::new(tst);
    let version = small_uint(t.expect(TAG_INTEGER, "TSTInfo version")?, "TSTInfo version")?;
    if version != 1 {
        return Err(TsaError::format(format!(
            "TSTInfo version {version}, not 1"
        )));
    }
    let policy = oid_text(t.expect(TAG_OID, "policy")?, "policy")?;
    let imprint = t.expect(TAG_SEQUENCE, "messageImprint")?;
    let serial = integer(t.expect(TAG_INTEGER, "serialNumber")?, "serialNumber")?;
    let gen_time = generalized_time(t.expect(TAG_GENERALIZED_TIME, "genTime")?)?;
    t.optional(TAG_SEQUENCE, "accuracy")?;
    if let Some(o) = t.optional(TAG_BOOLEAN, "ordering")?
        && o.len() != 1
    {
        return Err(TsaError::format("ordering: not a BOOLEAN"));
    }
    let nonce = match t.optional(TAG_INTEGER, "nonce")? {
        Some(c) => Some(integer(c, "nonce")?),
        None => None,
    };
    t.optional(TAG_CTX0, "tsa")?;
    t.optional(TAG_CTX1, "extensions")?;
    t.finish("TSTInfo")?;

    let mut m = Reader::new(imprint);
    let alg = m.expect(TAG_SEQUENCE, "hashAlgorithm")?;
    let hashed_message = m.expect(TAG_OCTET_STRING, "hashedMessage")?.to_vec();
    m.finish("messageImprint")?;
    let mut a = Reader::new(alg);
    let alg_oid = a.expect(TAG_OID, "hashAlgorithm")?;
    let hash_algorithm = oid_text(alg_oid, "hashAlgorithm")?;
    // Parameters: absent, or NULL (as OpenSSL writes them).
    if let Some(p) = a.optional(TAG_NULL, "hashAlgorithm parameters")?
        && !p.is_empty()
    {
        return Err(TsaError::format("hashAlgorithm parameters: not NULL"));
    }
    a.finish("hashAlgorithm")?;
    Ok(TstInfo {
        policy,
        hash_algorithm,
        hashed_message,
        serial,
        gen_time,
        nonce,
    })
}

/// Parses `token_der` ([`parse_token`]) and checks that it stamps the SHA-256 `expected_sha256`
/// and, when `expected_nonce` is given, that it carries that nonce. Does not check the
/// signature (see the module docs).
pub fn check_token(
    token_der: &[u8],
    expected_sha256: &[u8; 32],
    expected_nonce: Option<u64>,
) -> Result<TstInfo> {
    let info = parse_token(token_der)?;
    let sha256 = oid_text(OID_SHA256, "SHA-256")?;
    if info.hash_algorithm != sha256 {
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
    if let Some(n) = expected_nonce
        && info.nonce.as_deref() != Some(uint_content(n).as_slice())
    {
        return Err(TsaError::new(
            TsaErrorKind::Nonce,
            "the token does not carry the nonce of the request",
        ));
    }
    Ok(info)
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

/// A local TSA made with the stock `openssl` tool, for tests of this crate and of the custody
/// service. Not part of the supported API.
#[doc(hidden)]
pub mod testkit {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Whether `openssl` runs. When it does not, the calling test fails (`scripts/setup.sh`
    /// installs it), unless `ROEH_ALLOW_SKIP=1` asks to skip it: then this prints `SKIPPED` and
    /// answers `false`.
    pub fn have_openssl() -> bool {
        if Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return true;
        }
        let why = "the openssl command is not on PATH (bash scripts/setup.sh installs it)";
        assert!(
            std::env::var("ROEH_ALLOW_SKIP").is_ok_and(|v| v == "1"),
            "OpenSSL cross-check: {why}; set ROEH_ALLOW_SKIP=1 only to skip it deliberately"
        );
        eprintln!("SKIPPED OpenSSL cross-check: {why} (ROEH_ALLOW_SKIP=1)");
        false
    }

    /// A CA, a TSA certificate it issued (critical extendedKeyUsage timeStamping) and an
    /// `openssl ts` configuration, in a directory.
    #[derive(Debug, Clone)]
    pub struct TestTsa {
        /// The directory holding the files.
        pub dir: PathBuf,
    }

    fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("running openssl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out.stdout)
    }

    const TS_CNF: &str = "\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = ./tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_alg = sha256
";

    impl TestTsa {
        /// Makes the CA, the TSA's key and certificate and the configuration in `dir`.
        pub fn create(dir: &Path) -> Result<TestTsa, String> {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            run(
                dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "3650",
                    "-subj",
                    "/CN=roeh test TSA CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            )?;
            run(
                dir,
                &[
                    "req",
                    "-new",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    "tsa.key",
                    "-out",
                    "tsa.csr",
                    "-subj",
                    "/CN=roeh test TSA",
                ],
            )?;
            std::fs::write(
                dir.join("tsa.ext"),
                "basicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature,nonRepudiation\n\
                 extendedKeyUsage=critical,timeStamping\n",
            )
            .map_err(|e| e.to_string())?;
            run(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "tsa.csr",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    "tsa.pem",
                    "-days",
                    "3650",
                    "-extfile",
                    "tsa.ext",
                ],
            )?;
            std::fs::write(dir.join("ts.cnf"), TS_CNF).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("tsaserial"), "01\n").map_err(|e| e.to_string())?;
            Ok(TestTsa {
                dir: dir.to_path_buf(),
            })
        }

        /// The CA certificate (PEM) to give `openssl ts -verify -CAfile`.
        pub fn ca_pem(&self) -> PathBuf {
            self.dir.join("ca.pem")
        }

        /// Answers a DER `TimeStampReq` with `openssl ts -reply`, returning the DER
        /// `TimeStampResp`. Calls are serialised by the caller (the serial file is shared).
        pub fn reply(&self, query: &[u8]) -> Result<Vec<u8>, String> {
            let n = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let q = format!("query-{n}.tsq");
            let r = format!("reply-{n}.tsr");
            std::fs::write(self.dir.join(&q), query).map_err(|e| e.to_string())?;
            run(
                &self.dir,
                &[
                    "ts",
                    "-reply",
                    "-queryfile",
                    &q,
                    "-signer",
                    "tsa.pem",
                    "-inkey",
                    "tsa.key",
                    "-config",
                    "ts.cnf",
                    "-out",
                    &r,
                ],
            )?;
            let out = std::fs::read(self.dir.join(&r)).map_err(|e| e.to_string())?;
            let _ = std::fs::remove_file(self.dir.join(&q));
            let _ = std::fs::remove_file(self.dir.join(&r));
            Ok(out)
        }

        /// Whether `openssl ts -verify -in <response> -data <data> -CAfile ca.pem` succeeds,
        /// the command 0005 gives to check a bundle's `checkpoint.tsr`.
        pub fn openssl_verifies(&self, response: &Path, data: &Path) -> bool {
            Command::new("openssl")
                .arg("ts")
                .arg("-verify")
                .arg("-in")
                .arg(response)
                .arg("-data")
                .arg(data)
                .arg("-CAfile")
                .arg(self.ca_pem())
                .output()
                .is_ok_and(|o| o.status.success())
        }

        /// Serves the TSA over HTTP on 127.0.0.1 (an ephemeral port) from a thread: every POST
        /// is answered `200` with `application/timestamp-reply` and the DER response (or `500`
        /// when openssl fails). Returns the URL to post to. The thread lives as long as the
        /// process.
        pub fn serve(&self) -> Result<String, String> {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let tsa = self.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(mut conn) = conn else { continue };
                    let _ = answer(&tsa, &mut conn);
                }
            });
            Ok(format!("http://{addr}/tsa"))
        }
    }

    fn answer(tsa: &TestTsa, conn: &mut std::net::TcpStream) -> std::io::Result<()> {
        use std::io::{Read, Write};
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head_end, len) = loop {
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (i + 4, len);
            }
            if buf.len() > 1 << 16 {
                return Ok(());
            }
        };
        while buf.len() < head_end + len {
            let n = conn.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf.get(head_end..).unwrap_or(&[]);
        let (status, reply) = match tsa.reply(body) {
            Ok(r) => ("200 OK", r),
            Err(_) => ("500 Internal Server Error", Vec::new()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            super::REPLY_MEDIA_TYPE,
            reply.len()
        );
        conn.write_all(head.as_bytes())?;
        conn.write_all(&reply)?;
        conn.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::testkit::{TestTsa, have_openssl};
    use super::*;
    use sha2::{Digest, Sha256};

    const DIGEST: [u8; 32] = [
        0x58, 0x91, 0xb5, 0xb5, 0x22, 0xd5, 0xdf, 0x08, 0x6d, 0x0f, 0xf0, 0xb1, 0x10, 0xfb, 0xd9,
        0xd2, 0x1b, 0xb4, 0xfc, 0x71, 0x63, 0xaf, 0x34, 0xd0, 0x82, 0x86, 0xa2, 0xe8, 0x46, 0xf6,
        0xbe, 0x03,
    ];

    #[test]
    fn request_matches_openssl_bytes() {
        // `openssl ts -query -data hello.txt -sha256 -cert` for "hello\n", whose nonce was
        // 0xc28dc09a8dfbc0d8.
        let mut want = hex::decode("30440201013031300d060960864801650304020105000420").unwrap();
        want.extend_from_slice(&DIGEST);
        want.extend(hex::decode("020900c28dc09a8dfbc0d80101ff").unwrap());
        assert_eq!(request_der(&DIGEST, 0xc28d_c09a_8dfb_c0d8), want);
        assert_eq!(<[u8; 32]>::from(Sha256::digest(b"hello\n")), DIGEST);
    }

    #[test]
    fn integers_and_lengths_are_minimal() {
        assert_eq!(uint_content(0), [0]);
        assert_eq!(uint_content(0x7f), [0x7f]);
        assert_eq!(uint_content(0x80), [0, 0x80]);
        assert_eq!(uint_content(0x1234), [0x12, 0x34]);
        assert_eq!(
            uint_content(u64::MAX),
            [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        for n in [0u64, 1, 0x7f, 0x80, 0xff, 0x100, u64::MAX] {
            let c = uint_content(n);
            assert_eq!(small_uint(&c, "n").unwrap(), n);
        }
        let big = tlv(TAG_OCTET_STRING, &[7u8; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut r = Reader::new(&big);
        assert_eq!(r.expect(TAG_OCTET_STRING, "x").unwrap().len(), 300);
        assert!(r.is_empty());
        // Non-minimal forms are refused.
        assert!(
            Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5])
                .read("x")
                .is_err()
        );
        assert!(Reader::new(&[0x04, 0x82, 0x00, 0x81]).read("x").is_err());
        assert!(integer(&[0, 1], "x").is_err());
        assert!(integer(&[0xff, 0x80], "x").is_err());
        assert!(integer(&[], "x").is_err());
        assert!(small_uint(&[0x80], "x").is_err());
        assert_eq!(oid_text(OID_SHA256, "x").unwrap(), "2.16.840.1.101.3.4.2.1");
        assert_eq!(
            oid_text(OID_TST_INFO, "x").unwrap(),
            "1.2.840.113549.1.9.16.1.4"
        );
        assert!(oid_text(&[0x2a, 0x80, 0x01], "x").is_err());
        assert!(oid_text(&[0x2a, 0x86], "x").is_err());
        assert!(oid_text(&[0xff; 12], "x").is_err());
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

    fn tsa() -> Option<(tempfile::TempDir, TestTsa)> {
        if !have_openssl() {
            return None;
        }
        let d = tempfile::tempdir().unwrap();
        let t = TestTsa::create(&d.path().join("tsa")).unwrap();
        Some((d, t))
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

        // A flipped byte in the signature still parses (we do not check signatures), and
        // openssl refuses it: the delegated check is needed and works.
        let mut sig_flipped = resp.clone();
        let last = sig_flipped.len() - 3;
        sig_flipped[last] ^= 0x01;
        check_response(&sig_flipped, &digest, None).unwrap();
        std::fs::write(&tsr, &sig_flipped).unwrap();
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
    }

    /// Replaces the first occurrence of `from` in `v` with `to` and fixes nothing else.
    fn replace(v: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = v.windows(from.len()).position(|w| w == from).unwrap();
        let mut out = v[..at].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&v[at + from.len()..]);
        out
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
        let e = check_response(&replace(&resp, OID_SIGNED_DATA, &[0x2a; 9]), &digest, None)
            .unwrap_err();
        assert!(e.message.contains("signedData"), "{e}");
        let mut data_oid = OID_TST_INFO.to_vec();
        data_oid[10] = 0x05;
        let e =
            check_response(&replace(&resp, OID_TST_INFO, &data_oid), &digest, None).unwrap_err();
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

    #[test]
    fn a_hash_of_another_algorithm_is_an_imprint_error() {
        // A TSTInfo stamping SHA-1 (20 bytes), in a minimal signedData.
        let sha1_alg = tlv(
            TAG_SEQUENCE,
            &[0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00],
        );
        let mut imprint = sha1_alg;
        imprint.extend(tlv(TAG_OCTET_STRING, &[0x22; 20]));
        let mut tst = tlv(TAG_INTEGER, &[1]);
        tst.extend(tlv(TAG_OID, &[0x2a, 0x03, 0x04]));
        tst.extend(tlv(TAG_SEQUENCE, &imprint));
        tst.extend(tlv(TAG_INTEGER, &[5]));
        tst.extend(tlv(TAG_GENERALIZED_TIME, b"20260101000000Z"));
        let tst = tlv(TAG_SEQUENCE, &tst);
        let mut eci = tlv(TAG_OID, OID_TST_INFO);
        eci.extend(tlv(TAG_CTX0, &tlv(TAG_OCTET_STRING, &tst)));
        let mut sd = tlv(TAG_INTEGER, &[3]);
        sd.extend(tlv(TAG_SET, &[]));
        sd.extend(tlv(TAG_SEQUENCE, &eci));
        sd.extend(tlv(TAG_SET, &tlv(TAG_SEQUENCE, &[0x02, 0x01, 0x01])));
        let mut ci = tlv(TAG_OID, OID_SIGNED_DATA);
        ci.extend(tlv(TAG_CTX0, &tlv(TAG_SEQUENCE, &sd)));
        let token = tlv(TAG_SEQUENCE, &ci);
        let info = parse_token(&token).unwrap();
        assert_eq!(info.hash_algorithm, "1.3.14.3.2.26");
        assert_eq!(info.serial_hex(), "05");
        assert_eq!(info.nonce, None);
        let e = check_token(&token, &[0x22; 32], None).unwrap_err();
        assert_eq!(e.kind, TsaErrorKind::Imprint);
        assert!(e.message.contains("not SHA-256"), "{e}");
        // A token without signers is malformed.
        let mut sd2 = tlv(TAG_INTEGER, &[3]);
        sd2.extend(tlv(TAG_SET, &[]));
        sd2.extend(tlv(TAG_SEQUENCE, &eci));
        sd2.extend(tlv(TAG_SET, &[]));
        let mut ci2 = tlv(TAG_OID, OID_SIGNED_DATA);
        ci2.extend(tlv(TAG_CTX0, &tlv(TAG_SEQUENCE, &sd2)));
        let e = parse_token(&tlv(TAG_SEQUENCE, &ci2)).unwrap_err();
        assert!(e.message.contains("signer"), "{e}");
    }
}
