//! The opening handshake from the client side, through pushwire-proto's
//! handshake module: a request per connection (fresh key) and a strict
//! check of the response (status 101, `Sec-WebSocket-Accept`, extensions).

use pushwire_proto::ws::deflate::{DeflateConfig, DeflateParams};
use pushwire_proto::ws::handshake::{generate_key, parse_response, ClientRequest};

use super::rng::Rng;

/// The most bytes a response head may take.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// One connection's upgrade request and what its response must satisfy.
pub struct Upgrade {
    request: ClientRequest,
}

/// The outcome of reading a response head.
pub enum UpgradeStatus {
    /// The head is incomplete: read more.
    Incomplete,
    /// Accepted: the head took `head_len` bytes; deflate was agreed or not.
    Accepted {
        /// Bytes of the buffer the head used (frames may follow).
        head_len: usize,
        /// The permessage-deflate parameters, when the server accepted the offer.
        deflate: Option<DeflateParams>,
    },
    /// Refused or malformed, with the reason.
    Refused(String),
}

impl Upgrade {
    /// A request for `host` (the `Host` header) offering permessage-deflate
    /// (`permessage-deflate; client_max_window_bits`, as browsers do) when
    /// `offer_deflate` is set.
    pub fn new(host: &str, offer_deflate: bool, rng: &mut Rng) -> Self {
        Self::to_target(host, "/", offer_deflate, rng)
    }

    /// The same request for path `target` (the hub's
    /// `/connection/websocket`).
    pub fn to_target(host: &str, target: &str, offer_deflate: bool, rng: &mut Rng) -> Self {
        Upgrade {
            request: ClientRequest {
                host: host.to_owned(),
                target: target.to_owned(),
                key: generate_key(rng.nonce()),
                protocols: Vec::new(),
                deflate: offer_deflate.then(DeflateConfig::default),
                headers: Vec::new(),
            },
        }
    }

    /// The request bytes to send.
    pub fn request_bytes(&self) -> Vec<u8> {
        self.request.encode()
    }

    /// Checks the response head at the start of `buf`.
    pub fn check(&self, buf: &[u8]) -> UpgradeStatus {
        match parse_response(buf, MAX_RESPONSE_HEAD) {
            Ok(None) => UpgradeStatus::Incomplete,
            Ok(Some((response, head_len))) => match response.validate(&self.request) {
                Ok((_, deflate)) => UpgradeStatus::Accepted { head_len, deflate },
                Err(e) => UpgradeStatus::Refused(format!("upgrade refused: {e}")),
            },
            Err(e) => UpgradeStatus::Refused(format!("bad upgrade response: {e}")),
        }
    }

    /// The `Sec-WebSocket-Extensions` value of a response head, for reports.
    pub fn extensions_header(buf: &[u8]) -> Option<String> {
        let (response, _) = parse_response(buf, MAX_RESPONSE_HEAD).ok()??;
        response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .map(|(_, value)| value.clone())
    }
}
