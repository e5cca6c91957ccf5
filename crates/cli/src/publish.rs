//! `pushwire publish` and `pushwire history`: the hub's server API
//! (`POST /api/publish`, `POST /api/history`) with the API key from
//! `--api-key`, else `PUSHWIRE_HTTP_API_KEY` (the variable that sets
//! `http_api.key` for `pushwire serve`).

use std::path::PathBuf;

use pushwire::hub::client::ApiClient;

use crate::subscribe::{client_error, json_line};

/// The variable the API key defaults to.
const API_KEY_VAR: &str = "PUSHWIRE_HTTP_API_KEY";

/// Arguments of `pushwire publish`.
#[derive(clap::Args)]
pub struct PublishArgs {
    /// The server's base URL, `http://host:port` (or `https://`).
    url: String,
    /// The channel.
    channel: String,
    /// The data: JSON (`{"text":"hi"}`, `42`, `"quoted"`); anything that
    /// is not valid JSON is sent as a JSON string (`hello` → `"hello"`).
    data: String,
    #[command(flatten)]
    api: ApiArgs,
}

/// Arguments of `pushwire history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// The server's base URL, `http://host:port` (or `https://`).
    url: String,
    /// The channel.
    channel: String,
    /// Only the last N publications (default: all the hub keeps).
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    #[command(flatten)]
    api: ApiArgs,
}

/// How to reach the server API.
#[derive(clap::Args)]
struct ApiArgs {
    /// The server API key (`http_api.key`); default: PUSHWIRE_HTTP_API_KEY.
    #[arg(long, value_name = "K")]
    api_key: Option<String>,
    /// Trust the CA certificates in this PEM file (for https://).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

impl ApiArgs {
    fn client(self, url: &str) -> Result<ApiClient, pushwire::Error> {
        let key = self.api_key.or_else(|| std::env::var(API_KEY_VAR).ok());
        let mut client = ApiClient::new(url, key).map_err(client_error)?;
        if let Some(ca) = self.ca_file {
            client = client.ca_file(ca);
        }
        Ok(client)
    }
}

/// The data argument as JSON: itself if it parses, else as a string.
fn data(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

/// Publishes and prints the API's result (`{"offset":…,"epoch":…}` for
/// channels with history, else `{}`).
pub async fn publish(args: PublishArgs) -> Result<(), pushwire::Error> {
    let client = args.api.client(&args.url)?;
    let result = client
        .publish(&args.channel, data(&args.data))
        .await
        .map_err(client_error)?;
    println!("{result}");
    Ok(())
}

/// Prints the channel's history, oldest first, one JSON line each (as
/// `pushwire subscribe` prints publications).
pub async fn history(args: HistoryArgs) -> Result<(), pushwire::Error> {
    let client = args.api.client(&args.url)?;
    let limit = args.limit.map_or(-1, i64::from);
    let history = client
        .history(&args.channel, limit)
        .await
        .map_err(client_error)?;
    for publication in &history.publications {
        println!("{}", json_line(publication));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_json_or_else_a_string() {
        assert_eq!(data(r#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(data("42"), serde_json::json!(42));
        assert_eq!(data(r#""quoted""#), serde_json::json!("quoted"));
        assert_eq!(data("hello world"), serde_json::json!("hello world"));
        assert_eq!(data("{broken"), serde_json::json!("{broken"));
    }
}
