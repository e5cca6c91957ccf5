//! Runs every case of an Autobahn fuzzing server against the pushwire
//! client: `autobahn_client ws://127.0.0.1:9001 [agent]`.
//!
//! The client offers permessage-deflate with `client_no_context_takeover`:
//! the fuzzing server asks for no context takeover only from clients that
//! offer it (cases 13.2, 13.5, 13.6), and the other cases accept the offer.

use pushwire::proto::ws::deflate::DeflateConfig;
use pushwire::proto::Limits;
use pushwire::{connect, ClientBuilder, Message, WebSocketConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), pushwire::Error> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "pushwire".into());
    let count = case_count(&base).await?;
    eprintln!("running {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = echo_case(&url).await {
            eprintln!("case {case}: {e}");
        }
    }
    let mut ws = connect(&format!("{base}/updateReports?agent={agent}")).await?;
    ws.close(None).await?;
    Ok(())
}

async fn case_count(base: &str) -> Result<u32, pushwire::Error> {
    let mut ws = connect(&format!("{base}/getCaseCount")).await?;
    let mut count = 0;
    while let Some(message) = ws.recv().await {
        if let Message::Text(text) = message? {
            count = text.as_str().trim().parse().unwrap_or(0);
        }
    }
    Ok(count)
}

async fn echo_case(url: &str) -> Result<(), pushwire::Error> {
    // The 9.x cases send messages (and frames) of up to 16 MiB, where the
    // defaults stop at 1 MiB.
    let limits = Limits::default()
        .max_frame_size(16 << 20)
        .max_message_size(16 << 20);
    let config = WebSocketConfig::default().limits(limits).deflate(Some(
        DeflateConfig::default().client_no_context_takeover(true),
    ));
    let mut ws = ClientBuilder::new(url).config(config).connect().await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
