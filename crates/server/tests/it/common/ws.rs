//! WebSocket helpers: an echo handler and a round trip of messages.

use pushwire::{Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use super::LIMIT;

/// Echoes data messages until the peer closes or the connection fails.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// Sends each message and expects it back: a short text, and a binary
/// message that does not compress, so that it spans many reads (over
/// HTTP/2, many DATA frames) even with permessage-deflate.
pub async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>, tag: &str) {
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..70_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let messages = [
        Message::text(format!("hello from {tag}")),
        Message::binary(noise),
    ];
    for message in messages {
        ws.send(message.clone()).await.unwrap();
        let echoed = tokio::time::timeout(LIMIT, ws.recv())
            .await
            .expect("echo in time")
            .expect("a message")
            .expect("no error");
        assert_eq!(echoed, message, "{tag}");
    }
}
