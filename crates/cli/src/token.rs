//! `pushwire token`: mints an HS256 token for development — a connection
//! token (`sub`, `exp`, optional `info`) or, with `--channel`, a
//! subscription token (`sub`, `channel`, `exp`).
//!
//! The secret is `--secret`, else `client.token.hmac_secret_key` of
//! `--config` as `pushwire serve` reads it (file, then the `PUSHWIRE_…`
//! environment overrides), else `PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pushwire_hub::jwt::{mint_hs256, MintClaims};

use crate::hub_config;

/// The variable that sets `client.token.hmac_secret_key`.
const SECRET_VAR: &str = "PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY";

/// Arguments of `pushwire token`.
#[derive(clap::Args)]
pub struct TokenArgs {
    /// The user id (`sub`); an empty string is anonymous.
    #[arg(long)]
    user: String,
    /// Mint a subscription token for this channel instead of a connection
    /// token.
    #[arg(long)]
    channel: Option<String>,
    /// How long the token is valid (`exp`): `30s`, `15m`, `1h`, `720h`;
    /// `0` for a token that never expires.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The hub's configuration (as for `pushwire serve --config`): the
    /// secret is its `client.token.hmac_secret_key`, environment
    /// overrides included.
    #[arg(long, value_name = "FILE", conflicts_with = "secret")]
    config: Option<PathBuf>,
    /// The HMAC secret (`client.token.hmac_secret_key` of the hub).
    #[arg(long, value_name = "S")]
    secret: Option<String>,
    /// The `info` claim, as JSON (e.g. `{"name":"Ada"}`): connection info,
    /// or channel info in a subscription token.
    #[arg(long, value_name = "JSON", value_parser = parse_info)]
    info: Option<serde_json::Value>,
}

fn parse_ttl(value: &str) -> Result<Duration, String> {
    pushwire_hub::parse_duration(value)
        .ok_or_else(|| format!("`{value}` is not a duration: use e.g. 30s, 15m, 1h, 720h"))
}

fn parse_info(value: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(value).map_err(|e| format!("not JSON: {e}"))
}

/// Prints the token on stdout.
pub fn run(args: TokenArgs) -> Result<(), pushwire::Error> {
    let secret = secret(&args, std::env::vars()).map_err(invalid)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let token = mint(&args, &secret, now).map_err(invalid)?;
    println!("{token}");
    Ok(())
}

/// The token's claims, signed with `secret`, issued at `now` (Unix seconds).
fn mint(args: &TokenArgs, secret: &str, now: u64) -> Result<String, String> {
    let mut claims = MintClaims::new(args.user.clone());
    claims.iat = Some(now);
    if !args.ttl.is_zero() {
        // A part of a second still counts: `--ttl 1ms` is not "never".
        claims.exp = Some(now + args.ttl.as_secs() + u64::from(args.ttl.subsec_nanos() > 0));
    }
    claims.channel = args.channel.clone();
    claims.info = args.info.clone();
    mint_hs256(secret.as_bytes(), &claims).map_err(|e| format!("cannot sign the token: {e}"))
}

/// Where the secret comes from: `--secret`, `--config` (with the
/// environment), the environment alone.
fn secret(args: &TokenArgs, env: impl Iterator<Item = (String, String)>) -> Result<String, String> {
    if let Some(secret) = &args.secret {
        if secret.is_empty() {
            return Err("--secret is empty".into());
        }
        return Ok(secret.clone());
    }
    if let Some(path) = &args.config {
        let loaded = hub_config::load(Some(path), env)?;
        let origin = path.display().to_string();
        let config = hub_config::typed(&loaded.tree, &origin)?;
        let secret = config.hub.client.token.hmac_secret_key;
        if secret.is_empty() {
            return Err(format!(
                "{origin} has no `client.token.hmac_secret_key` (nor is {SECRET_VAR} set): \
                 HS256 tokens need it"
            ));
        }
        return Ok(secret);
    }
    // Without a file, `pushwire serve` takes the secret from the
    // environment too; its development defaults generate a fresh one at
    // each start, which no token can be minted for.
    if let Some((_, secret)) = env.into_iter().find(|(name, _)| name == SECRET_VAR) {
        if !secret.is_empty() {
            return Ok(secret);
        }
    }
    Err(format!(
        "no secret to sign with: pass --secret S, or --config FILE with \
         client.token.hmac_secret_key (as `pushwire serve --config FILE` uses), \
         or set {SECRET_VAR}"
    ))
}

fn invalid(why: String) -> pushwire::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, why).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TokenArgs,
    }

    fn args(list: &[&str]) -> TokenArgs {
        let mut all = vec!["token"];
        all.extend_from_slice(list);
        Cli::try_parse_from(all).unwrap().args
    }

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// The claims of a token, without checking its signature.
    fn claims(token: &str) -> serde_json::Value {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn connection_and_subscription_tokens() {
        let a = args(&[
            "--user",
            "42",
            "--ttl",
            "15m",
            "--info",
            r#"{"name":"Ada"}"#,
        ]);
        let t = claims(&mint(&a, "s", 1_000).unwrap());
        assert_eq!(
            t,
            serde_json::json!({"sub":"42","iat":1000,"exp":1900,"info":{"name":"Ada"}})
        );
        let a = args(&["--user", "42", "--channel", "$private", "--ttl", "720h"]);
        let t = claims(&mint(&a, "s", 1_000).unwrap());
        assert_eq!(
            t,
            serde_json::json!({"sub":"42","iat":1000,"exp":1000 + 720 * 3600,"channel":"$private"})
        );
        let a = args(&["--user", "", "--ttl", "0"]);
        assert_eq!(
            claims(&mint(&a, "s", 1_000).unwrap()),
            serde_json::json!({"sub":"","iat":1000})
        );
    }

    #[test]
    fn bad_durations_and_info_are_refused() {
        let parse = |list: &[&str]| {
            let mut all = vec!["token", "--user", "1"];
            all.extend_from_slice(list);
            Cli::try_parse_from(all).map(|_| ())
        };
        assert!(parse(&["--ttl", "soon"]).is_err());
        assert!(parse(&["--info", "{nope"]).is_err());
        assert!(parse(&["--secret", "a", "--config", "b.json"]).is_err());
        assert!(parse(&["--ttl", "30s"]).is_ok());
    }

    #[test]
    fn the_secret_comes_from_the_flag_the_file_or_the_environment() {
        let flag = args(&["--user", "1", "--secret", "flag"]);
        assert_eq!(secret(&flag, env(&[(SECRET_VAR, "env")])).unwrap(), "flag");

        let dir = std::env::temp_dir().join(format!("pushwire-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.json");
        std::fs::write(&file, r#"{"client":{"token":{"hmac_secret_key":"file"}}}"#).unwrap();
        let path = file.to_str().unwrap();
        let from_file = args(&["--user", "1", "--config", path]);
        assert_eq!(secret(&from_file, env(&[])).unwrap(), "file");
        // The environment overrides the file, as for `pushwire serve`.
        assert_eq!(
            secret(&from_file, env(&[(SECRET_VAR, "env")])).unwrap(),
            "env"
        );
        let empty = dir.join("empty.json");
        std::fs::write(&empty, "{}").unwrap();
        let e = secret(
            &args(&["--user", "1", "--config", empty.to_str().unwrap()]),
            env(&[]),
        )
        .unwrap_err();
        assert!(e.contains("hmac_secret_key"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();

        let none = args(&["--user", "1"]);
        assert_eq!(secret(&none, env(&[(SECRET_VAR, "env")])).unwrap(), "env");
        let e = secret(&none, env(&[])).unwrap_err();
        assert!(e.contains("--secret") && e.contains("--config"), "{e}");
    }
}
