//! `pushwire subscribe`: prints the publications of hub channels as JSON
//! lines, `{"channel":…,"offset":…,"data":…}` (no `offset` for channels
//! without history), on stdout.
//!
//! It reconnects when the connection is lost and recovers what was
//! published meanwhile; when it cannot (the gap is longer than the
//! channel's history), it says so on stderr: the lines printed then miss
//! publications. Status lines (subscribed, recovered, ended) go to
//! stderr, so that stdout holds publications only.
//!
//! `--transport sse` subscribes over Server-Sent Events (with `POST
//! /emulation` for the commands), for networks that block WebSockets;
//! `--transport websocket,sse` tries them in that order. `--http2`
//! speaks HTTP/2: the WebSocket by an extended CONNECT (ALPN `h2` over
//! TLS, prior knowledge in clear text).

use std::path::PathBuf;

use pushwire::hub::client::{
    Client, ClientError, ClientOptions, Publication, Subscription, SubscriptionEvent, Transport,
};
use tokio::sync::mpsc;

/// The variable `--token` defaults to.
const TOKEN_VAR: &str = "PUSHWIRE_TOKEN";

/// Arguments of `pushwire subscribe`.
#[derive(clap::Args)]
pub struct SubscribeArgs {
    /// The server: `http://host:port` (or `https://`), or the hub's
    /// WebSocket URL (`ws://host:port/connection/websocket`, `wss://`).
    url: String,
    /// The channels.
    #[arg(required = true)]
    channels: Vec<String>,
    /// The connection token (a JWT, e.g. from `pushwire token`); default:
    /// PUSHWIRE_TOKEN, else anonymous.
    #[arg(long, value_name = "T")]
    token: Option<String>,
    /// Trust the CA certificates in this PEM file (for wss://).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Exit after this many publications.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// The transport: websocket or sse; several, comma-separated, are
    /// tried in that order until one connects.
    #[arg(long, value_name = "websocket|sse", value_delimiter = ',')]
    transport: Vec<Transport>,
    /// Speak HTTP/2 (a WebSocket over an extended CONNECT; h2c in clear
    /// text, ALPN h2 over TLS).
    #[arg(long)]
    http2: bool,
}

/// One publication as a JSON line, its members in this order:
/// `{"channel":…,"offset":…,"data":…}`.
pub fn json_line(publication: &Publication) -> String {
    let channel = serde_json::Value::from(publication.channel.as_str());
    let offset = publication
        .offset
        .map(|offset| format!("\"offset\":{offset},"))
        .unwrap_or_default();
    format!(
        "{{\"channel\":{channel},{offset}\"data\":{}}}",
        publication.data
    )
}

/// A client error as the command's error.
pub fn client_error(error: ClientError) -> pushwire::Error {
    std::io::Error::other(error.to_string()).into()
}

/// Prints publications until ctrl-c, `--count`, or the end of every
/// subscription (an error if the hub ended them).
pub async fn run(args: SubscribeArgs) -> Result<(), pushwire::Error> {
    let mut options = ClientOptions::new().name("pushwire-cli");
    if let Some(token) = args.token.or_else(|| std::env::var(TOKEN_VAR).ok()) {
        options = options.token(token);
    }
    if let Some(ca) = args.ca_file {
        options = options.ca_file(ca);
    }
    options = options.transports(args.transport).http2(args.http2);
    let client = Client::connect(&args.url, options)
        .await
        .map_err(client_error)?;
    let (events, mut received) = mpsc::channel(1024);
    for channel in &args.channels {
        let subscription = client.subscribe(channel).await.map_err(client_error)?;
        tokio::spawn(forward(subscription, events.clone()));
    }
    drop(events);
    let mut printed = 0u64;
    let mut ended = None;
    loop {
        if args.count.is_some_and(|count| printed >= count) {
            break;
        }
        let (channel, event) = tokio::select! {
            event = received.recv() => match event {
                Some(event) => event,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        match event {
            SubscriptionEvent::Publication(publication) => {
                println!("{}", json_line(&publication));
                printed += 1;
            }
            SubscriptionEvent::Subscribed {
                was_recovering: false,
                ..
            } => eprintln!("pushwire: subscribed to {channel}"),
            SubscriptionEvent::Subscribed {
                recovered: true, ..
            } => eprintln!("pushwire: {channel}: reconnected, missed publications recovered"),
            SubscriptionEvent::Subscribed {
                recovered: false, ..
            } => eprintln!(
                "pushwire: {channel}: reconnected, but recovery failed: publications made while disconnected are lost"
            ),
            SubscriptionEvent::Join(_) | SubscriptionEvent::Leave(_) => {}
            SubscriptionEvent::Unsubscribed { code, reason } => {
                eprintln!("pushwire: {channel}: subscription ended ({code} {reason})");
                ended = Some(format!("{channel}: subscription ended ({code} {reason})"));
            }
        }
    }
    client.close().await;
    match ended {
        Some(why) if !matches!(args.count, Some(count) if printed >= count) => {
            Err(std::io::Error::other(why).into())
        }
        _ => Ok(()),
    }
}

/// Passes a subscription's events on, with its channel.
async fn forward(
    mut subscription: Subscription,
    events: mpsc::Sender<(String, SubscriptionEvent)>,
) {
    while let Some(event) = subscription.next().await {
        let channel = subscription.channel().to_string();
        if events.send((channel, event)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_line_names_channel_offset_and_data_in_order() {
        let mut publication = Publication {
            channel: "chat:\"1\"".into(),
            offset: Some(7),
            data: serde_json::json!({"text": "hi"}),
            info: None,
            tags: Default::default(),
        };
        assert_eq!(
            json_line(&publication),
            r#"{"channel":"chat:\"1\"","offset":7,"data":{"text":"hi"}}"#
        );
        publication.offset = None;
        assert_eq!(
            json_line(&publication),
            r#"{"channel":"chat:\"1\"","data":{"text":"hi"}}"#
        );
    }
}
