//! Verifies arbitrary tokens with the hub's `jwt::TokenVerifier` (an HMAC
//! secret, with and without a required audience and issuer), both as
//! connection and as subscription tokens.
//!
//! Three kinds of token reach three depths of the verifier:
//! - the input as it is (the token's framing and base64);
//! - header, claims and signature given as raw bytes and base64-encoded
//!   here (the header's JSON: algorithm, `typ`, unknown fields);
//! - claims JSON signed with the right secret by `jwt::mint_hs256` (the
//!   claims' types, `exp`/`nbf` as any JSON number, `aud`, `iss`).
//!
//! Checks, besides "no panic":
//! - a token is never accepted unless it was signed with the secret;
//! - a signed token whose signature is changed, or that was signed with
//!   another secret, is refused;
//! - an accepted connection token has no `channel` claim and the `sub`
//!   of its JSON; an accepted subscription token has a channel; both are
//!   unexpired at the time given.
//!
//! Input layout: byte 0, bits 0-1 the verifier (no audience or issuer,
//! an audience, an issuer, both), bits 2-3 the kind of token (0: as it
//! is; 1: raw parts split at 0xFF bytes; 2, 3: signed claims); the rest
//! is the token or its parts.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use pushwire_hub::config::TokenConfig;
use pushwire_hub::jwt::{mint_hs256, TokenVerifier};
use pushwire_hub::Timestamp;
use serde_json::value::RawValue;

const SECRET: &str = "fuzz-secret";
const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

fn verifier(config: u8) -> TokenVerifier {
    let mut cfg = TokenConfig::default();
    cfg.hmac_secret_key = SECRET.into();
    if config & 1 != 0 {
        cfg.audience = "pushwire".into();
    }
    if config & 2 != 0 {
        cfg.issuer = "https://auth.example".into();
    }
    TokenVerifier::new(&cfg).expect("an HMAC secret is a valid config")
}

/// Verifies `token` both ways; whether either accepted it.
fn verify(verifier: &TokenVerifier, token: &str, claims: Option<&serde_json::Value>) -> bool {
    let connection = verifier.verify_connection(token, NOW);
    let subscription = verifier.verify_subscription(token, NOW);
    if let Ok(c) = &connection {
        assert!(c.channel.is_none(), "a connection token with a channel");
        if let Some(claims) = claims {
            let sub = claims
                .get("sub")
                .and_then(|s| s.as_str())
                .unwrap_or_default();
            assert_eq!(c.sub, sub, "the sub claim changed");
        }
        if let Some(exp) = c.exp {
            assert!(
                exp * 1000.0 > NOW.as_millis() as f64,
                "an expired connection token"
            );
        }
    }
    if let Ok(s) = &subscription {
        assert!(
            !s.channel.is_empty(),
            "a subscription token without a channel"
        );
        if let Some(exp) = s.exp {
            assert!(
                exp * 1000.0 > NOW.as_millis() as f64,
                "an expired subscription token"
            );
        }
    }
    connection.is_ok() || subscription.is_ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, rest)) = data.split_first() else {
        return;
    };
    let verifier = verifier(config);
    match config >> 2 & 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            assert!(
                !verify(&verifier, &token, None),
                "an unsigned token accepted"
            );
        }
        1 => {
            let token = rest
                .splitn(3, |&b| b == 0xff)
                .map(|part| URL_SAFE_NO_PAD.encode(part))
                .collect::<Vec<_>>()
                .join(".");
            assert!(
                !verify(&verifier, &token, None),
                "an unsigned token accepted"
            );
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let Ok(raw) = serde_json::from_str::<Box<RawValue>>(text) else {
                return;
            };
            // `RawValue` takes numbers `Value` refuses (`1e999`).
            let claims: Option<serde_json::Value> = serde_json::from_str(text).ok();
            let token = mint_hs256(SECRET.as_bytes(), &raw).expect("claims serialize");
            verify(&verifier, &token, claims.as_ref());

            let other = mint_hs256(b"another-secret", &raw).expect("claims serialize");
            assert!(
                !verify(&verifier, &other, None),
                "a token of another secret accepted"
            );

            // Change one character of the signature's start (whose bits
            // all count, unlike the last character's).
            let at = token.rfind('.').expect("three parts") + 1;
            let mut tampered = token.into_bytes();
            tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).expect("ASCII");
            assert!(
                !verify(&verifier, &tampered, None),
                "a tampered token accepted"
            );
        }
    }
});
