//! The `Authorization` header through the layer: RFC 6750 sections 2.1 and 3.1, RFC 9110
//! sections 5.5 and 11.4; every hostile shape gets the exact status and body, and a 1 MB token is
//! refused by its size alone.

use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{LoginLayer, LoginManager, TokenError};

use crate::support::{NOW, SECRET, b64, manager, read};
use crate::{
    AMBIGUOUS, EXPIRED, INTERNAL, INVALID, LOGIN, NOT_FOUND, claims, echo, hv, issue, loader,
    request,
};

// ---------------------------------------------------------------------------------------------
// HTTP: RFC 6750 section 2.1 (the Authorization header), section 3.1 (error codes), RFC 9110
// sections 5.5 (field values) and 11.4 (credentials).
// ---------------------------------------------------------------------------------------------

fn hv_bytes(b: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(b).unwrap()
}

struct HttpCase {
    name: &'static str,
    header: Vec<HeaderValue>,
    status: StatusCode,
    body: &'static str,
}

#[tokio::test]
async fn rfc6750_section2_1_hostile_authorization_headers() {
    let t = issue("1");
    let bearer = |tok: &str| hv(&format!("Bearer {tok}"));
    let expired = LoginManager::builder(SECRET)
        .clock(|| NOW - 7200)
        .build()
        .unwrap()
        .issue_token("1", Duration::from_secs(3600))
        .unwrap();
    let mut with_high_byte = format!("Bearer {t}").into_bytes();
    let i = with_high_byte.len() - 10;
    with_high_byte[i] = 0xc3;
    let none_alg = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims("").as_bytes())
    );
    let ok = StatusCode::OK;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let cases = vec![
        HttpCase {
            name: "control: a valid token",
            header: vec![bearer(&t)],
            status: ok,
            body: "hello 1",
        },
        HttpCase {
            name: "RFC 6750 3.1: no Authorization header",
            header: vec![],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 3.1: an empty header value",
            header: vec![hv("")],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 2.1: Bearer alone",
            header: vec![hv("Bearer")],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 2.1: Bearer and spaces",
            header: vec![hv("Bearer    ")],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 9110 11.1: scheme in lower case",
            header: vec![hv(&format!("bearer {t}"))],
            status: ok,
            body: "hello 1",
        },
        HttpCase {
            name: "RFC 9110 11.1: scheme in mixed case",
            header: vec![hv(&format!("bEaReR {t}"))],
            status: ok,
            body: "hello 1",
        },
        HttpCase {
            name: "RFC 9110 11.4: two spaces after the scheme",
            header: vec![hv(&format!("Bearer  {t}"))],
            status: ok,
            body: "hello 1",
        },
        HttpCase {
            name: "RFC 9110 11.4: Basic credentials",
            header: vec![hv("Basic YWxhZGRpbjpvcGVuc2VzYW1l")],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 9110 11.4: another scheme carrying a valid token",
            header: vec![hv(&format!("Token {t}"))],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 2.1: no space after the scheme",
            header: vec![hv(&format!("Bearer{t}"))],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 2.1: a tab after the scheme (the grammar says 1*SP)",
            header: vec![hv(&format!("Bearer\t{t}"))],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 2.1: a longer scheme name",
            header: vec![hv(&format!("Bearers {t}"))],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 6750 2.1: b64token followed by a comma and more",
            header: vec![hv(&format!("Bearer {t}, Basic x"))],
            status: unauthorized,
            body: INVALID,
        },
        HttpCase {
            name: "RFC 6750 2.1: two tokens in one value",
            header: vec![hv(&format!("Bearer {t} {t}"))],
            status: unauthorized,
            body: INVALID,
        },
        HttpCase {
            name: "RFC 6750 2.1: token with trailing space (hyper trims it; http does not)",
            header: vec![hv(&format!("Bearer {t} "))],
            status: unauthorized,
            body: INVALID,
        },
        HttpCase {
            name: "RFC 6750 3.1: two Authorization headers",
            header: vec![bearer(&t), bearer(&t)],
            status: StatusCode::BAD_REQUEST,
            body: AMBIGUOUS,
        },
        HttpCase {
            name: "RFC 6750 3.1: Bearer and Basic headers",
            header: vec![hv("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), bearer(&t)],
            status: StatusCode::BAD_REQUEST,
            body: AMBIGUOUS,
        },
        HttpCase {
            name: "RFC 6750 3.1: two empty headers",
            header: vec![hv(""), hv("")],
            status: StatusCode::BAD_REQUEST,
            body: AMBIGUOUS,
        },
        HttpCase {
            name: "RFC 9110 5.5: obs-text (0x80-0xFF) inside a valid token",
            header: vec![hv_bytes(&with_high_byte)],
            status: unauthorized,
            body: INVALID,
        },
        HttpCase {
            name: "RFC 9110 5.5: a token made only of obs-text",
            header: vec![hv_bytes(b"Bearer \x80\x81\xfe\xff.\xc3\xa9.\xff")],
            status: unauthorized,
            body: INVALID,
        },
        HttpCase {
            name: "RFC 9110 5.5: obs-text in the scheme",
            header: vec![hv_bytes(b"B\xe9arer abc.def.ghi")],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 9110 5.5: a header value entirely obs-text",
            header: vec![hv_bytes(&[0xff; 64])],
            status: unauthorized,
            body: LOGIN,
        },
        HttpCase {
            name: "RFC 8725 3.1: an alg none token",
            header: vec![bearer(&none_alg)],
            status: unauthorized,
            body: INVALID,
        },
        HttpCase {
            name: "RFC 7519 4.1.4: an expired token",
            header: vec![bearer(&expired)],
            status: unauthorized,
            body: EXPIRED,
        },
        HttpCase {
            name: "a valid token for an unknown user",
            header: vec![bearer(&issue("3"))],
            status: unauthorized,
            body: NOT_FOUND,
        },
        HttpCase {
            name: "a valid token, the loader fails",
            header: vec![bearer(&issue("500"))],
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: INTERNAL,
        },
    ];
    let layer = LoginLayer::new(manager(), loader());
    for case in cases {
        let res = layer
            .layer(service_fn(echo))
            .oneshot(request(case.header))
            .await
            .unwrap();
        let res = read(res).await;
        assert_eq!(res.status, case.status, "{}", case.name);
        assert_eq!(res.body, case.body, "{}", case.name);
        if res.status != StatusCode::OK {
            assert_eq!(
                res.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
                Some(&b"application/json"[..]),
                "{}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn a_1_mb_token_is_refused_by_size_before_decoding() {
    let huge = format!(
        "{}.{}.{}",
        "a".repeat(1 << 19),
        "b".repeat(1 << 19),
        "c".repeat(43)
    );
    // Decoded, its header would be bytes that are not JSON (`Malformed`): `TooLarge` shows the
    // size is checked first. (How fast is for the benches, not for a timed test.)
    assert_eq!(manager().decode_token(&huge), Err(TokenError::TooLarge));
    let unsized_token = format!("{}.{}.{}", "a".repeat(16), "b".repeat(16), "c".repeat(43));
    assert_eq!(
        manager().decode_token(&unsized_token),
        Err(TokenError::Malformed)
    );
    let res = LoginLayer::new(manager(), loader())
        .layer(service_fn(echo))
        .oneshot(request(vec![hv(&format!("Bearer {huge}"))]))
        .await
        .unwrap();
    assert_eq!(
        read(res).await.status_and_body(),
        (StatusCode::UNAUTHORIZED, INVALID.to_owned())
    );
}
