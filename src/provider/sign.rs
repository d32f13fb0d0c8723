//! Signing requests for paired credentials, where the key is never sent
//! itself but proves itself by a signature: AWS Signature Version 4 (an
//! access key id with its secret), Azure Storage Shared Key (an account name
//! with its key) and the RS256-signed JWT a Google service account exchanges
//! for a token. Pure functions over a request's parts and a clock reading,
//! so each is tested against published vectors (AWS's SigV4 test suite) and
//! the loopback stand-ins recompute every signature.
//!
//! The primitives are `ring`'s (HMAC-SHA256, RSASSA-PKCS1-v1_5 with
//! SHA-256), already in the tree for TLS; SHA-256 hashing is `sha2`'s.

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;
use ring::{hmac, rand, signature};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// AWS's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`.
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `20150830T123600Z` and `20150830` for a Unix time.
pub(crate) fn amz_date(unix: i64) -> (String, String) {
    let ts = jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let full = ts.strftime("%Y%m%dT%H%M%SZ").to_string();
    let day = full[..8].to_string();
    (full, day)
}

/// One SigV4 signature's inputs.
pub(crate) struct SigV4<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
}

impl SigV4<'_> {
    /// Sign `method url` with `headers` (lowercase names; `host` and
    /// `x-amz-date` among them) and `payload`. The path is used as it is
    /// (already URI-encoded by `Url`, and without `.` segments), as every
    /// service but S3 expects for the paths leakhound signs.
    pub(crate) fn authorization(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        payload: &[u8],
    ) -> String {
        let (canonical_request, signed_headers) =
            Self::canonical_request(method, url, headers, payload);
        let string_to_sign = self.string_to_sign(&canonical_request);
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={}",
            self.key_id,
            self.scope(),
            self.signature(&string_to_sign)
        )
    }

    fn scope(&self) -> String {
        let day = &self.amz_date[..8.min(self.amz_date.len())];
        format!("{day}/{}/{}/aws4_request", self.region, self.service)
    }

    /// The canonical request and the signed header list.
    fn canonical_request(
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        payload: &[u8],
    ) -> (String, String) {
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                (
                    utf8_percent_encode(&k, AWS_ENCODE).to_string(),
                    utf8_percent_encode(&v, AWS_ENCODE).to_string(),
                )
            })
            .collect();
        query.sort();
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut canon: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
                (n.to_ascii_lowercase(), v)
            })
            .collect();
        canon.sort();
        let signed_headers: Vec<&str> = canon.iter().map(|(n, _)| n.as_str()).collect();
        let signed_headers = signed_headers.join(";");
        let canonical_headers: String = canon.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let path = if url.path().is_empty() {
            "/"
        } else {
            url.path()
        };
        let canonical_request = format!(
            "{method}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
            query.join("&"),
            sha256_hex(payload)
        );
        (canonical_request, signed_headers)
    }

    fn string_to_sign(&self, canonical_request: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date,
            self.scope(),
            sha256_hex(canonical_request.as_bytes())
        )
    }

    fn signature(&self, string_to_sign: &str) -> String {
        let day = &self.amz_date[..8.min(self.amz_date.len())];
        let k_date = hmac_sha256(format!("AWS4{}", self.secret).as_bytes(), day.as_bytes());
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, self.service.as_bytes());
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()))
    }
}

/// The `Authorization: SharedKey ACCOUNT:SIGNATURE` value for a request
/// without a body to Azure Storage (version 2015-02-21 and later), `ms_headers`
/// being its `x-ms-*` headers. `None` if the key is not base64.
pub(crate) fn azure_shared_key(
    account: &str,
    key_base64: &str,
    method: &str,
    url: &Url,
    ms_headers: &[(String, String)],
) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_base64)
        .ok()?;
    let string_to_sign = azure_string_to_sign(account, method, url, ms_headers);
    let signature = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    Some(format!("SharedKey {account}:{signature}"))
}

/// The Shared Key string to sign: the verb, eleven standard headers (all
/// empty for a GET without a body), the `x-ms-` headers and the resource.
pub(crate) fn azure_string_to_sign(
    account: &str,
    method: &str,
    url: &Url,
    ms_headers: &[(String, String)],
) -> String {
    let mut s = format!("{method}\n");
    s.push_str(&"\n".repeat(11));
    let mut headers: Vec<(String, String)> = ms_headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    headers.sort();
    for (n, v) in &headers {
        s.push_str(&format!("{n}:{v}\n"));
    }
    s.push_str(&format!("/{account}{}", url.path()));
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    query.sort();
    for (k, v) in query {
        s.push_str(&format!("\n{k}:{v}"));
    }
    s
}

/// A Google service account's JWT assertion (RFC 7523): RS256 over
/// `{iss, scope, aud, iat, exp}`, signed with the account's private key
/// (PKCS#8 PEM, as the key file holds it, `\n` escapes and all). `None` if
/// the key does not parse.
pub(crate) fn google_jwt(
    pem: &str,
    client_email: &str,
    audience: &str,
    now: i64,
) -> Option<String> {
    let der = pem_to_der(pem)?;
    let key = signature::RsaKeyPair::from_pkcs8(&der).ok()?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": client_email,
        "scope": GOOGLE_SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + 600,
    });
    let claims = b64(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{claims}");
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .ok()?;
    Some(format!("{signing_input}.{}", b64(&sig)))
}

/// The narrowest scope that every service account may ask for; the token is
/// never used.
pub(crate) const GOOGLE_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform.read-only";

/// The DER bytes of a `-----BEGIN PRIVATE KEY-----` block, whose line
/// breaks may be real or JSON's `\n` escapes.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body = pem.replace("\\n", "\n").replace("\\r", "");
    let start = body.find("-----BEGIN PRIVATE KEY-----")? + "-----BEGIN PRIVATE KEY-----".len();
    let end = body[start..].find("-----END PRIVATE KEY-----")? + start;
    let b64: String = body[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials and date of AWS's SigV4 test suite
    /// (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
    fn suite() -> SigV4<'static> {
        SigV4 {
            key_id: "AKIDEXAMPLE",
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", // leakhound:allow (AWS's published test-suite key)
            region: "us-east-1",
            service: "service",
            amz_date: "20150830T123600Z",
        }
    }

    fn suite_headers() -> Vec<(String, String)> {
        vec![
            ("host".into(), "example.amazonaws.com".into()),
            ("x-amz-date".into(), "20150830T123600Z".into()),
        ]
    }

    #[test]
    fn sigv4_get_vanilla() {
        let url = Url::parse("https://example.amazonaws.com/").unwrap();
        let (canonical, signed) = SigV4::canonical_request("GET", &url, &suite_headers(), b"");
        assert_eq!(signed, "host;x-amz-date");
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = suite().string_to_sign(&canonical);
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            suite().authorization("GET", &url, &suite_headers(), b""),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn sigv4_get_vanilla_query_order_key_case() {
        let url = Url::parse("https://example.amazonaws.com/?Param2=value2&Param1=value1").unwrap();
        let (canonical, _) = SigV4::canonical_request("GET", &url, &suite_headers(), b"");
        assert!(canonical.starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
        assert_eq!(
            suite().signature(&suite().string_to_sign(&canonical)),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn sigv4_post_x_www_form_urlencoded() {
        let url = Url::parse("https://example.amazonaws.com/").unwrap();
        let mut headers = suite_headers();
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        let auth = suite().authorization("POST", &url, &headers, b"Param1=value1");
        assert!(
            auth.ends_with(
                "SignedHeaders=content-type;host;x-amz-date, \
                 Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            ),
            "{auth}"
        );
    }

    #[test]
    fn amz_dates() {
        assert_eq!(
            amz_date(1_440_938_160),
            ("20150830T123600Z".to_string(), "20150830".to_string())
        );
    }

    #[test]
    fn azure_string_to_sign_lists_the_resource_and_query() {
        let url = Url::parse("https://acme.blob.core.windows.net/?restype=service&comp=properties")
            .unwrap();
        let s = azure_string_to_sign(
            "acme",
            "GET",
            &url,
            &[
                ("x-ms-version".into(), "2021-08-06".into()),
                ("x-ms-date".into(), "Sun, 30 Aug 2015 12:36:00 GMT".into()),
            ],
        );
        assert_eq!(
            s,
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 30 Aug 2015 12:36:00 GMT\n\
             x-ms-version:2021-08-06\n/acme/\ncomp:properties\nrestype:service"
        );
        assert!(azure_shared_key("acme", "not base64!", "GET", &url, &[]).is_none());
        let auth = azure_shared_key("acme", "a2V5", "GET", &url, &[]).unwrap();
        assert!(auth.starts_with("SharedKey acme:"), "{auth}");
    }

    #[test]
    fn a_bad_private_key_gives_no_jwt() {
        assert!(google_jwt(
            "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----",
            "a@b",
            "x",
            0
        )
        .is_none());
        assert!(google_jwt("no key", "a@b", "x", 0).is_none());
    }
}
