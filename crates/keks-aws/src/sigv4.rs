//! AWS Signature Version 4: parsing the Authorization header or presigned query, rebuilding
//! the canonical request as the signer did, and checking the signature, the credential scope
//! and the clock skew (15 minutes), before anything else reads the request.
//!
//! Errors are protocol neutral; each front end words them for its wire (for example
//! `InvalidSignatureException` on restJson1, `SignatureDoesNotMatch` on awsQuery).

use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's timestamp may be from the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The payload hash presigned URLs use.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The parts of an HTTP request the signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Headers with lowercase names, in any order; repeated names allowed.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `<access key>/<date>/<region>/<service>/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Where the signature was carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Header,
    /// A presigned URL; `X-Amz-Expires` seconds of validity.
    Query {
        expires: u64,
    },
}

/// A parsed signature, not yet verified.
#[derive(Clone, Debug)]
pub struct Signature {
    pub scope: Scope,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `X-Amz-Date`: `20150830T123600Z`.
    pub amz_date: String,
    pub form: Form,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No signature at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// A signature that cannot be parsed or lacks required parts.
    #[error("{0}")]
    Incomplete(String),
    /// The access key is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The temporary credentials' session has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The signature does not match.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
    /// The request's time is more than 15 minutes away from the clock.
    #[error("Signature expired: {amz_date} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired {
        amz_date: String,
        earliest: String,
        now: String,
    },
    /// The request is signed in the future.
    #[error(
        "Signature not yet current: {amz_date} is still later than {latest} ({now} + 15 min.)"
    )]
    NotYetCurrent {
        amz_date: String,
        latest: String,
        now: String,
    },
    /// A presigned URL past its `X-Amz-Expires`.
    #[error("Request has expired")]
    PresignExpired,
}

/// Reads the signature of a request, from the Authorization header or the query.
pub fn parse(req: &Request<'_>) -> Result<Signature, SigV4Error> {
    if let Some(auth) = req.header("authorization") {
        return parse_header(req, auth);
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(algorithm) = get("X-Amz-Algorithm") else {
        return Err(SigV4Error::Missing);
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let required = |name: &str| {
        get(name).ok_or_else(|| SigV4Error::Incomplete(format!("AWS query-string parameters must include '{name}'. Re-examine the query-string parameters.")))
    };
    let scope = parse_scope(&required("X-Amz-Credential")?)?;
    let expires: u64 = required("X-Amz-Expires")?
        .parse()
        .map_err(|_| SigV4Error::Incomplete("X-Amz-Expires should be a number".into()))?;
    Ok(Signature {
        scope,
        signed_headers: required("X-Amz-SignedHeaders")?
            .split(';')
            .map(str::to_string)
            .collect(),
        signature: required("X-Amz-Signature")?,
        amz_date: required("X-Amz-Date")?,
        form: Form::Query { expires },
    })
}

fn parse_header(req: &Request<'_>, auth: &str) -> Result<Signature, SigV4Error> {
    let Some(rest) = auth.strip_prefix(ALGORITHM) else {
        return Err(SigV4Error::Incomplete(format!("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={auth}")));
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v.to_string()),
            Some(("SignedHeaders", v)) => signed_headers = Some(v.to_string()),
            Some(("Signature", v)) => signature = Some(v.to_string()),
            _ => {}
        }
    }
    let mut missing = Vec::new();
    for (name, value) in [
        ("Credential", &credential),
        ("Signature", &signature),
        ("SignedHeaders", &signed_headers),
    ] {
        if value.is_none() {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let amz_date = req.header("x-amz-date").map(str::to_string);
    if amz_date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        );
    }
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "{} Authorization={auth}",
            missing.join(" ")
        )));
    }
    Ok(Signature {
        scope: parse_scope(&credential.expect("checked"))?,
        signed_headers: signed_headers
            .expect("checked")
            .split(';')
            .map(str::to_string)
            .collect(),
        signature: signature.expect("checked"),
        amz_date: amz_date.expect("checked"),
        form: Form::Header,
    })
}

fn parse_scope(credential: &str) -> Result<Scope, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"] if !key.is_empty() => Ok(Scope {
            access_key: key.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
        }),
        _ => Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped to a valid region. Credential={credential}"
        ))),
    }
}

/// The session token a request carries: the `X-Amz-Security-Token` header of a
/// header-signed request, or the query parameter of a presigned URL.
pub fn session_token(req: &Request<'_>, sig: &Signature) -> Option<String> {
    match sig.form {
        Form::Header => req.header("x-amz-security-token").map(str::to_string),
        Form::Query { .. } => form_urlencoded::parse(req.query.as_bytes())
            .find(|(k, _)| k == "X-Amz-Security-Token")
            .map(|(_, v)| v.into_owned()),
    }
}

/// Checks a parsed signature against the secret key and the clock.
pub fn verify(
    req: &Request<'_>,
    sig: &Signature,
    secret: &str,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    if !sig
        .signed_headers
        .iter()
        .any(|h| h == "host" || h == ":authority")
    {
        return Err(SigV4Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let signed_at = parse_amz_date(&sig.amz_date).ok_or_else(|| SigV4Error::Incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601", sig.amz_date)))?;
    if !sig.amz_date.starts_with(&sig.scope.date) {
        return Err(SigV4Error::Incomplete(format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.", sig.scope.date, &sig.amz_date[..8.min(sig.amz_date.len())], sig.amz_date)));
    }
    match sig.form {
        Form::Header => check_skew(&sig.amz_date, signed_at, now)?,
        Form::Query { expires } => {
            if now > signed_at + Duration::from_secs(expires) {
                return Err(SigV4Error::PresignExpired);
            }
            if signed_at > now + MAX_SKEW {
                check_skew(&sig.amz_date, signed_at, now)?;
            }
        }
    }
    let payload_hashes: Vec<String> = match (sig.form, req.header("x-amz-content-sha256")) {
        (_, Some(declared)) => vec![declared.to_string()],
        (Form::Header, None) => vec![hex(&Sha256::digest(req.body))],
        // Presigned URLs sign either the unsigned-payload marker (botocore) or the hash of
        // the empty body (some SDKs); accept what the signer used.
        (Form::Query { .. }, None) => {
            vec![UNSIGNED_PAYLOAD.to_string(), hex(&Sha256::digest(req.body))]
        }
    };
    for payload_hash in payload_hashes {
        let expected = signature_for(req, sig, secret, &payload_hash);
        if constant_time_eq(expected.as_bytes(), sig.signature.as_bytes()) {
            return Ok(());
        }
    }
    Err(SigV4Error::Mismatch)
}

fn check_skew(amz_date: &str, signed_at: SystemTime, now: SystemTime) -> Result<(), SigV4Error> {
    if signed_at + MAX_SKEW < now {
        return Err(SigV4Error::Expired {
            amz_date: amz_date.to_string(),
            earliest: amz_date_of(now - MAX_SKEW),
            now: amz_date_of(now),
        });
    }
    if signed_at > now + MAX_SKEW {
        return Err(SigV4Error::NotYetCurrent {
            amz_date: amz_date.to_string(),
            latest: amz_date_of(now + MAX_SKEW),
            now: amz_date_of(now),
        });
    }
    Ok(())
}

/// The signature a signer with `secret` would have computed.
fn signature_for(req: &Request<'_>, sig: &Signature, secret: &str, payload_hash: &str) -> String {
    let canonical = canonical_request(
        req,
        &sig.signed_headers,
        payload_hash,
        sig.form != Form::Header,
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        sig.scope.date, sig.scope.region, sig.scope.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        sig.amz_date,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(
        secret,
        &sig.scope.date,
        &sig.scope.region,
        &sig.scope.service,
    );
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// Signs a request (for keks' own clients and tests): the Authorization header value.
pub fn sign(
    req: &Request<'_>,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
    signed_headers: &[&str],
) -> String {
    let sig = Signature {
        scope: Scope {
            access_key: access_key.into(),
            date: amz_date[..8].into(),
            region: region.into(),
            service: service.into(),
        },
        signed_headers: signed_headers.iter().map(|s| s.to_string()).collect(),
        signature: String::new(),
        amz_date: amz_date.into(),
        form: Form::Header,
    };
    let signature = signature_for(req, &sig, secret, &hex(&Sha256::digest(req.body)));
    format!("{ALGORITHM} Credential={access_key}/{}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={signature}", &amz_date[..8], signed_headers.join(";"))
}

/// Presigns a request (for keks' own clients and tests), as botocore's
/// `generate_presigned_url` does: returns the query string to send, `req.query` (the
/// operation's own parameters, and `X-Amz-Security-Token` for temporary credentials) followed
/// by `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-SignedHeaders` and `X-Amz-Signature`. The payload is `UNSIGNED-PAYLOAD`. The
/// scope's date must be the day of `amz_date`.
pub fn presign(
    req: &Request<'_>,
    scope: &Scope,
    secret: &str,
    amz_date: &str,
    expires: u64,
    signed_headers: &[&str],
) -> String {
    let credential = format!(
        "{}/{}/{}/{}/aws4_request",
        scope.access_key, scope.date, scope.region, scope.service
    );
    let signed = signed_headers.join(";");
    let mut query = String::with_capacity(req.query.len() + 256);
    query.push_str(req.query);
    for (name, value) in [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", &expires.to_string()),
        ("X-Amz-SignedHeaders", &signed),
    ] {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&uri_encode(value, true));
    }
    let sig = Signature {
        scope: scope.clone(),
        signed_headers: signed_headers.iter().map(|s| s.to_string()).collect(),
        signature: String::new(),
        amz_date: amz_date.into(),
        form: Form::Query { expires },
    };
    let with_params = Request {
        query: &query,
        ..*req
    };
    let signature = signature_for(&with_params, &sig, secret, UNSIGNED_PAYLOAD);
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);
    query
}

fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    presigned: bool,
) -> String {
    // The signer encoded the (already encoded) path once more, segment by segment.
    let path = if req.path.is_empty() {
        "/".to_string()
    } else {
        uri_encode(req.path, false)
    };
    let mut query: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .into_owned()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(&k, true), uri_encode(&v, true)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{path}\n{}\n{headers}\n{}\n{payload_hash}",
        req.method,
        query.join("&"),
        signed_headers.join(";")
    )
}

/// RFC 3986 encoding as SigV4 defines it: unreserved characters kept, everything else as
/// `%XX`; `/` kept in paths.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(HEX_UPPER[usize::from(b >> 4)] as char);
                out.push(HEX_UPPER[usize::from(b & 0xf)] as char);
            }
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signing key of a secret for a day, region and service. It changes once a day, so it
/// is derived once (four HMACs) and remembered: every request of a busy client reuses it.
fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    type Cache =
        parking_lot::Mutex<std::collections::HashMap<(String, String, String, String), Vec<u8>>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id = (
        secret.to_string(),
        date.to_string(),
        region.to_string(),
        service.to_string(),
    );
    if let Some(key) = cache.lock().get(&id) {
        return key.clone();
    }
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let key = hmac(&k_service, b"aws4_request");
    let mut cache = cache.lock();
    // Bounded: old days and forgotten credentials go when it fills.
    if cache.len() >= 4096 {
        cache.clear();
    }
    cache.insert(id, key.clone());
    key
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Lowercase hex. Every request's signature check hexes three digests, so this is a table
/// lookup rather than a `format!` per byte (which was ~10% of keks' CPU per EKS request).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX_LOWER[usize::from(b >> 4)] as char);
        out.push(HEX_LOWER[usize::from(b & 0xf)] as char);
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `20150830T123600Z` → a time.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let ts = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", text)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp();
    Some(SystemTime::from(ts))
}

/// A time as `20150830T123600Z`.
pub fn amz_date_of(time: SystemTime) -> String {
    let ts = jiff::Timestamp::try_from(time).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla` case of AWS's SigV4 test suite.
    fn vanilla_headers() -> Vec<(String, String)> {
        vec![
            ("host".into(), "example.amazonaws.com".into()),
            ("x-amz-date".into(), "20150830T123600Z".into()),
        ]
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EXPECTED: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn at(text: &str) -> SystemTime {
        parse_amz_date(text).unwrap()
    }

    #[test]
    fn aws_test_suite_get_vanilla() {
        let headers = vanilla_headers();
        let unsigned = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let auth = sign(
            &unsigned,
            "AKIDEXAMPLE",
            SECRET,
            "us-east-1",
            "service",
            "20150830T123600Z",
            &["host", "x-amz-date"],
        );
        assert!(auth.ends_with(&format!("Signature={EXPECTED}")), "{auth}");
        let mut headers = vanilla_headers();
        headers.push(("authorization".into(), auth));
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let sig = parse(&req).unwrap();
        assert_eq!(sig.scope.service, "service");
        verify(&req, &sig, SECRET, at("20150830T124000Z")).unwrap();
        assert_eq!(
            verify(&req, &sig, "wrong", at("20150830T124000Z")),
            Err(SigV4Error::Mismatch)
        );
        assert!(matches!(
            verify(&req, &sig, SECRET, at("20150830T130000Z")),
            Err(SigV4Error::Expired { .. })
        ));
        assert!(matches!(
            verify(&req, &sig, SECRET, at("20150830T120000Z")),
            Err(SigV4Error::NotYetCurrent { .. })
        ));
        let err = verify(&req, &sig, SECRET, at("20150830T130000Z"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Signature expired: 20150830T123600Z is now earlier than 20150830T124500Z (20150830T130000Z - 15 min.)");
    }

    #[test]
    fn hex_and_uri_encoding() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(uri_encode("a b/c~", true), "a%20b%2Fc~");
        assert_eq!(uri_encode("a b/c~", false), "a%20b/c~");
        assert_eq!(uri_encode("é", true), "%C3%A9");
    }

    #[test]
    fn presigned_urls_verify() {
        let headers = vec![
            ("host".to_string(), "127.0.0.1:7600".to_string()),
            ("x-k8s-aws-id".to_string(), "prod".to_string()),
        ];
        let unsigned = Request {
            method: "GET",
            path: "/",
            query: "Action=GetCallerIdentity&Version=2011-06-15",
            headers: &headers,
            body: b"",
        };
        let scope = Scope {
            access_key: "AKIDEXAMPLE".into(),
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "sts".into(),
        };
        let query = presign(
            &unsigned,
            &scope,
            SECRET,
            "20150830T123600Z",
            60,
            &["host", "x-k8s-aws-id"],
        );
        assert!(query.starts_with("Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&"), "{query}");
        let req = Request {
            query: &query,
            ..unsigned
        };
        let sig = parse(&req).unwrap();
        assert_eq!(sig.scope, scope);
        assert_eq!(sig.form, Form::Query { expires: 60 });
        assert_eq!(sig.signed_headers, ["host", "x-k8s-aws-id"]);
        verify(&req, &sig, SECRET, at("20150830T123630Z")).unwrap();
        assert_eq!(
            verify(&req, &sig, "wrong", at("20150830T123630Z")),
            Err(SigV4Error::Mismatch)
        );
        assert_eq!(
            verify(&req, &sig, SECRET, at("20150830T123800Z")),
            Err(SigV4Error::PresignExpired)
        );
        // The signature covers the cluster header: another cluster's name does not verify.
        let other = vec![
            ("host".to_string(), "127.0.0.1:7600".to_string()),
            ("x-k8s-aws-id".to_string(), "dev".to_string()),
        ];
        let req = Request {
            headers: &other,
            ..req
        };
        assert_eq!(
            verify(&req, &sig, SECRET, at("20150830T123630Z")),
            Err(SigV4Error::Mismatch)
        );
    }

    #[test]
    fn missing_and_incomplete() {
        let headers = vanilla_headers();
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert_eq!(parse(&req).unwrap_err(), SigV4Error::Missing);
        let mut headers = vanilla_headers();
        headers.push((
            "authorization".into(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
                .into(),
        ));
        let req = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert!(
            matches!(parse(&req), Err(SigV4Error::Incomplete(m)) if m.contains("requires 'Signature'"))
        );
    }
}
