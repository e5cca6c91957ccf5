//! `pushwire connect`: an interactive WebSocket client.

use std::path::PathBuf;

use pushwire::{ClientBuilder, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Arguments of `pushwire connect`.
#[derive(clap::Args)]
pub struct ConnectArgs {
    /// The ws:// or wss:// URL.
    url: String,
    /// Subprotocols to offer.
    #[arg(long = "protocol")]
    protocols: Vec<String>,
    /// Extra request headers, as `Name: value`.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Trust the CA certificates in this PEM file.
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

pub async fn run(args: ConnectArgs) -> Result<(), pushwire::Error> {
    let mut builder = ClientBuilder::new(args.url);
    for protocol in args.protocols {
        builder = builder.protocol(protocol);
    }
    for header in args.headers {
        let (name, value) = header.split_once(':').unwrap_or((header.as_str(), ""));
        builder = builder.header(name.trim(), value.trim());
    }
    if let Some(ca) = args.ca_file {
        builder = builder.ca_file(ca);
    }
    let ws = builder.connect().await?;
    eprintln!("connected; type lines to send, ctrl-d to close");
    let (mut reader, mut writer) = ws.split();
    let printer = tokio::spawn(async move {
        while let Some(message) = reader.recv().await {
            match message {
                Ok(Message::Text(text)) => println!("{text}"),
                Ok(Message::Binary(bytes)) => println!("<{} binary bytes>", bytes.len()),
                Ok(Message::Close(frame)) => eprintln!("closed: {frame:?}"),
                Ok(_) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    break;
                }
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        writer.send(Message::text(line)).await?;
    }
    writer.close(None).await?;
    let _ = printer.await;
    Ok(())
}
