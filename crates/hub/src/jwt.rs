//! Connection and subscription JWTs.
//!
//! Signatures are checked by the `jsonwebtoken` crate (HS256/384/512 with
//! `client.token.hmac_secret_key`, RS256/384/512 with `rsa_public_key`,
//! ES256/384 with `ecdsa_public_key`); `exp` and `nbf` are checked here
//! against the `now` the caller passes in, so time stays an argument.
//! `aud`/`iss` are checked only when `client.token.audience`/`issuer` are set.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, TokenConfig};
use crate::protocol::RawJson;
use crate::time::Timestamp;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `exp` is past: the client should get a new token (error 109).
    Expired,
    /// The token is malformed, wrongly signed, not yet valid, of an algorithm
    /// without a configured key, or fails `aud`/`iss`.
    Invalid(String),
}

/// Claims of a connection token.
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct ConnectionClaims {
    /// User id; `""` is anonymous.
    #[serde(default)]
    pub sub: String,
    /// Expiry (Unix seconds).
    pub exp: Option<f64>,
    /// Not before (Unix seconds).
    pub nbf: Option<f64>,
    /// Issued at.
    pub iat: Option<f64>,
    /// Connection info (presence, join/leave, publications).
    pub info: Option<RawJson>,
    /// Server-side channels to subscribe.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Server-side subscriptions with options.
    #[serde(default)]
    pub subs: HashMap<String, SubClaim>,
    /// Connection expiry decoupled from `exp` (0 = never).
    pub expire_at: Option<f64>,
    /// Must be absent: a connection token with `channel` is invalid.
    pub channel: Option<String>,
}

impl ConnectionClaims {
    /// When the connection expires: `expire_at` if present (0 = never), else `exp`.
    pub fn expires(&self) -> Option<Timestamp> {
        match self.expire_at {
            Some(e) if e <= 0.0 => None,
            Some(e) => Some(secs(e)),
            None => self.exp.map(secs),
        }
    }
}

/// One entry of a connection token's `subs`.
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct SubClaim {
    /// Channel info for this subscription.
    pub info: Option<RawJson>,
    /// Data for the subscribe result.
    pub data: Option<RawJson>,
}

/// Claims of a subscription token.
#[derive(Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionClaims {
    /// Must equal the connection's user.
    #[serde(default)]
    pub sub: String,
    /// Must equal the channel subscribed.
    #[serde(default)]
    pub channel: String,
    /// If set, must equal the client id.
    #[serde(default)]
    pub client: String,
    /// Expiry (Unix seconds).
    pub exp: Option<f64>,
    /// Not before.
    pub nbf: Option<f64>,
    /// Subscription expiry decoupled from `exp` (0 = never).
    pub expire_at: Option<f64>,
    /// Channel info.
    pub info: Option<RawJson>,
    /// Data for the subscribe result.
    pub data: Option<RawJson>,
}

impl SubscriptionClaims {
    /// When the subscription expires.
    pub fn expires(&self) -> Option<Timestamp> {
        match self.expire_at {
            Some(e) if e <= 0.0 => None,
            Some(e) => Some(secs(e)),
            None => self.exp.map(secs),
        }
    }
}

fn secs(s: f64) -> Timestamp {
    if s.is_finite() && s > 0.0 {
        Timestamp::from_millis((s * 1000.0).min(u64::MAX as f64) as u64)
    } else {
        Timestamp::from_millis(0)
    }
}

/// Verifies tokens with the configured keys.
pub struct TokenVerifier {
    hmac: Option<DecodingKey>,
    rsa: Option<DecodingKey>,
    ec: Option<DecodingKey>,
    audience: String,
    issuer: String,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hmac", &self.hmac.is_some())
            .field("rsa", &self.rsa.is_some())
            .field("ec", &self.ec.is_some())
            .finish()
    }
}

impl TokenVerifier {
    /// Loads the keys of `client.token`; a PEM that does not parse is a config error.
    pub fn new(cfg: &TokenConfig) -> Result<Self, ConfigError> {
        let rsa = if cfg.rsa_public_key.is_empty() {
            None
        } else {
            Some(
                DecodingKey::from_rsa_pem(cfg.rsa_public_key.as_bytes()).map_err(|e| {
                    ConfigError::new(
                        "client.token.rsa_public_key",
                        format!("not an RSA public key PEM: {e}"),
                    )
                })?,
            )
        };
        let ec = if cfg.ecdsa_public_key.is_empty() {
            None
        } else {
            Some(
                DecodingKey::from_ec_pem(cfg.ecdsa_public_key.as_bytes()).map_err(|e| {
                    ConfigError::new(
                        "client.token.ecdsa_public_key",
                        format!("not an EC public key PEM: {e}"),
                    )
                })?,
            )
        };
        let hmac = (!cfg.hmac_secret_key.is_empty())
            .then(|| DecodingKey::from_secret(cfg.hmac_secret_key.as_bytes()));
        Ok(TokenVerifier {
            hmac,
            rsa,
            ec,
            audience: cfg.audience.clone(),
            issuer: cfg.issuer.clone(),
        })
    }

    /// Whether any key is configured.
    pub fn has_keys(&self) -> bool {
        self.hmac.is_some() || self.rsa.is_some() || self.ec.is_some()
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let invalid = |e: jsonwebtoken::errors::Error| TokenError::Invalid(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        let key = match header.alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => self.hmac.as_ref(),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => self.rsa.as_ref(),
            Algorithm::ES256 | Algorithm::ES384 => self.ec.as_ref(),
            _ => None,
        }
        .ok_or_else(|| TokenError::Invalid(format!("no key for {:?}", header.alg)))?;
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims.clear();
        if self.audience.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&[&self.audience]);
            v.required_spec_claims.insert("aud".into());
        }
        if !self.issuer.is_empty() {
            v.set_issuer(&[&self.issuer]);
            v.required_spec_claims.insert("iss".into());
        }
        jsonwebtoken::decode::<T>(token, key, &v)
            .map(|d| d.claims)
            .map_err(invalid)
    }

    /// Verifies a connection token at `now`.
    pub fn verify_connection(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<ConnectionClaims, TokenError> {
        let c: ConnectionClaims = self.decode(token)?;
        if c.channel.is_some() {
            return Err(TokenError::Invalid(
                "connection token with a channel claim".into(),
            ));
        }
        check_times(c.exp, c.nbf, now)?;
        Ok(c)
    }

    /// Verifies a subscription token at `now` (the caller checks that
    /// `sub`/`channel`/`client` match).
    pub fn verify_subscription(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<SubscriptionClaims, TokenError> {
        let c: SubscriptionClaims = self.decode(token)?;
        if c.channel.is_empty() {
            return Err(TokenError::Invalid(
                "subscription token without channel".into(),
            ));
        }
        check_times(c.exp, c.nbf, now)?;
        Ok(c)
    }
}

fn check_times(exp: Option<f64>, nbf: Option<f64>, now: Timestamp) -> Result<(), TokenError> {
    if let Some(nbf) = nbf {
        if now < secs(nbf) {
            return Err(TokenError::Invalid("token not valid yet (nbf)".into()));
        }
    }
    if let Some(exp) = exp {
        if now >= secs(exp) {
            return Err(TokenError::Expired);
        }
    }
    Ok(())
}

/// Claims for [`mint_hs256`]: what `pushwire token` puts in a development token.
#[derive(Debug, Default, Clone, Serialize)]
#[non_exhaustive]
pub struct MintClaims {
    /// User id.
    pub sub: String,
    /// Expiry (Unix seconds); omitted when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// For a subscription token: the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// For a connection token: server-side channels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Connection or channel info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

impl MintClaims {
    /// Claims for user `sub`.
    pub fn new(sub: impl Into<String>) -> Self {
        MintClaims {
            sub: sub.into(),
            ..Default::default()
        }
    }
}

/// Mints an HS256 token (for `pushwire token` and tests).
///
/// ```
/// use pushwire_hub::jwt::{mint_hs256, MintClaims, TokenVerifier};
/// use pushwire_hub::{config::TokenConfig, Timestamp};
/// let mut claims = MintClaims::new("42");
/// claims.exp = Some(2_000);
/// let t = mint_hs256(b"secret", &claims).unwrap();
/// let mut cfg = TokenConfig::default();
/// cfg.hmac_secret_key = "secret".into();
/// let v = TokenVerifier::new(&cfg).unwrap();
/// assert_eq!(v.verify_connection(&t, Timestamp::from_secs(1_000)).unwrap().sub, "42");
/// assert!(v.verify_connection(&t, Timestamp::from_secs(2_000)).is_err());
/// ```
pub fn mint_hs256(secret: &[u8], claims: &impl Serialize) -> Result<String, String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| e.to_string())
}
