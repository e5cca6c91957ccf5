//! Parsing `Sec-WebSocket-Extensions` and negotiating permessage-deflate.

use super::{DeflateConfig, DeflateParams};

/// One extension from a `Sec-WebSocket-Extensions` list, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order; a parameter without `=` has value `None`.
    pub params: Vec<(String, Option<String>)>,
}

/// Why a permessage-deflate response cannot be accepted by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiationError(pub String);

impl std::fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "permessage-deflate negotiation failed: {}", self.0)
    }
}

impl std::error::Error for NegotiationError {}

/// Parses a `Sec-WebSocket-Extensions` value (several header lines may be
/// joined with commas). Quoted parameter values are unquoted. Returns
/// `None` if the syntax is invalid.
///
/// ```
/// use pushwire_proto::ws::deflate::parse_extensions;
/// let exts = parse_extensions("permessage-deflate; client_max_window_bits, x-foo; a=\"1\"").unwrap();
/// assert_eq!(exts.len(), 2);
/// assert_eq!(exts[0].params, vec![("client_max_window_bits".to_string(), None)]);
/// assert_eq!(exts[1].params, vec![("a".to_string(), Some("1".to_string()))]);
/// ```
pub fn parse_extensions(value: &str) -> Option<Vec<Extension>> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().filter(|n| is_token(n))?;
        let mut params = Vec::new();
        for part in parts {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    if !is_token(v) {
                        return None;
                    }
                    (k.trim(), Some(v.to_owned()))
                }
                None => (part, None),
            };
            if !is_token(key) {
                return None;
            }
            params.push((key.to_owned(), value));
        }
        out.push(Extension {
            name: name.to_owned(),
            params,
        });
    }
    Some(out)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The permessage-deflate parameters of one offer or response.
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// Reads the parameters, refusing unknown, repeated or out-of-range ones.
fn read_params(ext: &Extension) -> Result<Params, String> {
    let mut p = Params::default();
    let mut seen = Vec::new();
    for (key, value) in &ext.params {
        if seen.contains(&key.as_str()) {
            return Err(format!("parameter {key} repeated"));
        }
        seen.push(key);
        match (key.as_str(), value) {
            ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => p.server_max_window_bits = Some(window_bits(v)?),
            ("client_max_window_bits", None) => p.client_max_window_bits = Some(None),
            ("client_max_window_bits", Some(v)) => {
                p.client_max_window_bits = Some(Some(window_bits(v)?))
            }
            _ => return Err(format!("unsupported parameter {key}")),
        }
    }
    Ok(p)
}

fn window_bits(value: &str) -> Result<u8, String> {
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) if !value.starts_with('0') => Ok(bits),
        _ => Err(format!("invalid window bits {value:?}")),
    }
}

/// Server side: accepts the first acceptable permessage-deflate offer
/// among `offers`, within what `config` allows. Returns the agreed
/// parameters; [`DeflateParams::to_header`] gives the response value.
///
/// ```
/// use pushwire_proto::ws::deflate::{accept_offer, parse_extensions, DeflateConfig};
/// let offers = parse_extensions("permessage-deflate; server_max_window_bits=10; client_max_window_bits").unwrap();
/// let p = accept_offer(&DeflateConfig::default(), &offers).unwrap();
/// assert_eq!(p.server_max_window_bits, 10);
/// assert_eq!(p.to_header(), "permessage-deflate; server_max_window_bits=10");
/// ```
pub fn accept_offer(config: &DeflateConfig, offers: &[Extension]) -> Option<DeflateParams> {
    offers
        .iter()
        .filter(|ext| ext.name == "permessage-deflate")
        .find_map(|ext| {
            let offer = read_params(ext).ok()?;
            let server_bits = offer
                .server_max_window_bits
                .unwrap_or(15)
                .min(config.server_max_window_bits);
            // The response may only limit the client's window if the offer allows it.
            let client_bits = match offer.client_max_window_bits {
                Some(limit) => limit.unwrap_or(15).min(config.client_max_window_bits),
                None => 15,
            };
            Some(DeflateParams {
                server_no_context_takeover: offer.server_no_context_takeover
                    || config.server_no_context_takeover,
                client_no_context_takeover: offer.client_no_context_takeover
                    || config.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            })
        })
}

/// Client side: the offer to send in `Sec-WebSocket-Extensions`.
///
/// ```
/// use pushwire_proto::ws::deflate::{client_offer, DeflateConfig};
/// assert_eq!(client_offer(&DeflateConfig::default()), "permessage-deflate; client_max_window_bits");
/// ```
pub fn client_offer(config: &DeflateConfig) -> String {
    let requested = DeflateParams {
        server_no_context_takeover: config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: config.server_max_window_bits,
        client_max_window_bits: config.client_max_window_bits,
    };
    let mut offer = requested.to_header();
    if config.client_max_window_bits >= 15 {
        // Without a value: the server may choose any window for the client.
        offer.push_str("; client_max_window_bits");
    }
    offer
}

/// Client side: checks the server's `Sec-WebSocket-Extensions` response to
/// the offer from [`client_offer`]. `Ok(None)`: the server declined.
pub fn validate_response(
    config: &DeflateConfig,
    response: &[Extension],
) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut accepted = None;
    for ext in response {
        if ext.name != "permessage-deflate" {
            return Err(NegotiationError(format!(
                "extension {} was not offered",
                ext.name
            )));
        }
        if accepted.is_some() {
            return Err(NegotiationError("permessage-deflate accepted twice".into()));
        }
        let p = read_params(ext).map_err(NegotiationError)?;
        let server_bits = p.server_max_window_bits.unwrap_or(15);
        if server_bits > config.server_max_window_bits {
            return Err(NegotiationError(
                "server_max_window_bits above the offer".into(),
            ));
        }
        let client_bits = match p.client_max_window_bits {
            None => config.client_max_window_bits,
            Some(None) => {
                return Err(NegotiationError(
                    "client_max_window_bits without a value".into(),
                ))
            }
            Some(Some(bits)) if bits <= config.client_max_window_bits => bits,
            Some(Some(_)) => {
                return Err(NegotiationError(
                    "client_max_window_bits above the offer".into(),
                ))
            }
        };
        if config.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(NegotiationError(
                "server_no_context_takeover was required".into(),
            ));
        }
        accepted = Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        });
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(offer: &str) -> Option<DeflateParams> {
        accept_offer(&DeflateConfig::default(), &parse_extensions(offer).unwrap())
    }

    #[test]
    fn server_accepts_plain_offer() {
        let p = accept("permessage-deflate").unwrap();
        assert_eq!(p.to_header(), "permessage-deflate");
    }

    #[test]
    fn server_honours_each_parameter() {
        let p = accept("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9").unwrap();
        assert_eq!(
            p.to_header(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=9"
        );
    }

    #[test]
    fn server_declines_bad_offer_and_takes_the_next() {
        assert!(accept("permessage-deflate; server_max_window_bits=7").is_none());
        assert!(accept("permessage-deflate; server_max_window_bits").is_none());
        assert!(accept("permessage-deflate; client_max_window_bits=16").is_none());
        assert!(accept("permessage-deflate; foo").is_none());
        assert!(accept(
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
        )
        .is_none());
        let p = accept("permessage-deflate; bar, permessage-deflate; server_max_window_bits=12")
            .unwrap();
        assert_eq!(p.server_max_window_bits, 12);
        assert!(accept("x-webkit-deflate-frame").is_none());
    }

    #[test]
    fn server_limits_client_window_only_when_offered() {
        let config = DeflateConfig {
            client_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let with = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(
            accept_offer(&config, &with).unwrap().client_max_window_bits,
            10
        );
        let without = parse_extensions("permessage-deflate").unwrap();
        assert_eq!(
            accept_offer(&config, &without)
                .unwrap()
                .client_max_window_bits,
            15
        );
    }

    #[test]
    fn client_validates_response() {
        let config = DeflateConfig::default();
        let check = |s: &str| validate_response(&config, &parse_extensions(s).unwrap());
        assert_eq!(
            check("permessage-deflate")
                .unwrap()
                .unwrap()
                .client_max_window_bits,
            15
        );
        assert_eq!(
            check("permessage-deflate; client_max_window_bits=8")
                .unwrap()
                .unwrap()
                .client_max_window_bits,
            8
        );
        assert!(check("permessage-deflate; client_max_window_bits").is_err());
        assert!(check("permessage-deflate, permessage-deflate").is_err());
        assert!(check("x-foo").is_err());
        let strict = DeflateConfig {
            server_max_window_bits: 10,
            ..config
        };
        assert!(
            validate_response(&strict, &parse_extensions("permessage-deflate").unwrap()).is_err()
        );
    }

    #[test]
    fn every_client_offer_is_accepted_as_offered() {
        for bits in 8..=15 {
            for flags in 0..4 {
                let config = DeflateConfig {
                    server_no_context_takeover: flags & 1 != 0,
                    client_no_context_takeover: flags & 2 != 0,
                    server_max_window_bits: bits,
                    client_max_window_bits: 23 - bits,
                    ..DeflateConfig::default()
                };
                let offer = parse_extensions(&client_offer(&config)).unwrap();
                let params = accept_offer(&DeflateConfig::default(), &offer).unwrap();
                assert_eq!(
                    params.server_no_context_takeover,
                    config.server_no_context_takeover
                );
                assert_eq!(
                    params.client_no_context_takeover,
                    config.client_no_context_takeover
                );
                assert_eq!(params.server_max_window_bits, bits);
                let response = parse_extensions(&params.to_header()).unwrap();
                assert_eq!(validate_response(&config, &response).unwrap(), Some(params));
            }
        }
    }

    #[test]
    fn rejects_bad_syntax() {
        assert!(parse_extensions("permessage-deflate; a=\"b c\"").is_none());
        assert!(parse_extensions(", permessage-deflate").is_none());
        assert!(parse_extensions("permessage-deflate;").is_none());
    }
}
