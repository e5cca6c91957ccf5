//! The opening handshake, both roles, on arbitrary bytes:
//! - server: `parse_request`, `ClientOffer::from_headers`, `accept` (with
//!   two deflate configurations); an accepted request's 101 response must
//!   parse and validate on the client side with the same outcome;
//! - client: `parse_response` + `ServerResponse::validate` against a fixed
//!   `ClientRequest`;
//! - `parse_extensions`, `accept_offer` and `validate_response` on the
//!   input as text.
//!
//! The whole input is used for each, so a seed can be an HTTP request, an
//! HTTP response or an extension header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pushwire_proto::ws::deflate::{
    accept_offer, parse_extensions, validate_response, DeflateConfig, DeflateParams,
};
use pushwire_proto::ws::handshake::{parse_request, parse_response, ClientOffer, ClientRequest};

const MAX_HEAD: usize = 4096;

/// The subprotocols the server side supports.
const SUPPORTED: &[&str] = &["chat", "superchat", "v2.json"];

fn configs() -> [DeflateConfig; 2] {
    [
        DeflateConfig::default(),
        DeflateConfig::default().server_no_context_takeover(true).client_no_context_takeover(true).server_max_window_bits(10).client_max_window_bits(9).compression_level(6).min_compress_size(16),
    ]
}

/// The request whose response the client side checks; its key's accept
/// value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` (RFC 6455 section 1.3).
fn fixed_request(deflate: Option<DeflateConfig>) -> ClientRequest {
    ClientRequest {
        host: "example.com".into(),
        target: "/chat".into(),
        key: "dGhlIHNhbXBsZSBub25jZQ==".into(),
        protocols: vec!["chat".into(), "superchat".into()],
        deflate,
        headers: vec![("Origin".into(), "http://example.com".into())],
    }
}

/// Agreed parameters must be in range and survive their own header.
fn check_params(params: &DeflateParams) {
    assert!((8..=15).contains(&params.server_max_window_bits));
    assert!((8..=15).contains(&params.client_max_window_bits));
    let header = params.to_header();
    let exts = parse_extensions(&header).expect("our own header parses");
    assert_eq!(exts.len(), 1);
    let again = validate_response(&DeflateConfig::default(), &exts)
        .expect("our own header validates")
        .expect("and accepts deflate");
    assert_eq!(&again, params, "{header}");
}

fn server_side(data: &[u8]) {
    let Ok(Some((head, used))) = parse_request(data, MAX_HEAD) else {
        return;
    };
    assert!(used <= data.len() && used <= MAX_HEAD);
    let Ok(offer) = ClientOffer::from_headers(&head.method, head.header_pairs()) else {
        return;
    };
    for config in configs() {
        let accept = offer.accept(SUPPORTED, Some(&config));
        if let Some(protocol) = &accept.protocol {
            assert!(offer.protocols.contains(protocol));
        }
        if let Some(params) = &accept.deflate {
            check_params(params);
            assert!(params.server_max_window_bits <= config.server_max_window_bits);
        }
        // The response must satisfy a client that sent this offer with
        // default deflate settings, and agree on the outcome.
        let response = accept.to_response(&[("Server", "pushwire-fuzz")]);
        let (parsed, used) = parse_response(&response, MAX_HEAD)
            .expect("our response parses")
            .expect("our response is complete");
        assert_eq!(used, response.len());
        let request = ClientRequest {
            key: offer.key.clone(),
            protocols: offer.protocols.clone(),
            deflate: Some(DeflateConfig::default()),
            ..fixed_request(None)
        };
        let agreed = parsed.validate(&request).expect("our response validates");
        assert_eq!(agreed, (accept.protocol.clone(), accept.deflate));
    }
    let _ = offer.accept(SUPPORTED, None);
}

fn client_side(data: &[u8]) {
    let Ok(Some((response, used))) = parse_response(data, MAX_HEAD) else {
        return;
    };
    assert!(used <= data.len() && used <= MAX_HEAD);
    for deflate in [None, Some(DeflateConfig::default()), Some(configs()[1])] {
        let request = fixed_request(deflate);
        if let Ok((protocol, params)) = response.validate(&request) {
            assert_eq!(response.status, 101);
            if let Some(protocol) = protocol {
                assert!(request.protocols.contains(&protocol));
            }
            if let Some(params) = params {
                let config = deflate.expect("deflate accepted without an offer");
                assert!(params.server_max_window_bits <= config.server_max_window_bits);
                assert!(params.client_max_window_bits <= config.client_max_window_bits);
            }
        }
    }
}

fn extensions(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Some(exts) = parse_extensions(&text) else {
        return;
    };
    for ext in &exts {
        assert!(!ext.name.is_empty());
    }
    for config in configs() {
        if let Some(params) = accept_offer(&config, &exts) {
            check_params(&params);
        }
        if let Ok(Some(params)) = validate_response(&config, &exts) {
            assert!(params.server_max_window_bits <= config.server_max_window_bits);
            assert!(params.client_max_window_bits <= config.client_max_window_bits);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    server_side(data);
    client_side(data);
    extensions(data);
});
