//! `pushwire echo --broadcast`: every message any client sends goes to
//! every connected client, the fan-out endpoint of the benchmarks.
//!
//! A publication is one [`Message`] whose payload is shared by reference,
//! so it is encoded once and only framed per connection (with
//! permessage-deflate each connection still compresses its own copy).
//! Each connection drains what is waiting for it and writes it as one
//! batch. A subscriber that falls more than [`BACKLOG`] publications
//! behind, or does not take a write within [`SEND_DEADLINE`], is
//! disconnected (close code 1008), so it never holds up the others or
//! grows the server's memory.

use std::time::Duration;

use pushwire::{CloseCode, CloseFrame, Message, WebSocketConfig};
use tokio::net::TcpStream;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

/// How many publications a subscriber may fall behind before it is
/// disconnected.
pub const BACKLOG: usize = 8192;
/// How long a subscriber may leave a write pending.
pub const SEND_DEADLINE: Duration = Duration::from_secs(5);

/// The publications every connection receives.
#[derive(Clone)]
pub struct Room {
    publications: broadcast::Sender<Message>,
}

impl Default for Room {
    fn default() -> Self {
        Room {
            publications: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Room {
    /// Serves one client: what it sends is published to all, what is
    /// published is sent to it.
    pub async fn serve(
        &self,
        tcp: TcpStream,
        config: &WebSocketConfig,
    ) -> Result<(), pushwire::Error> {
        tcp.set_nodelay(true)?;
        // Subscribed before the handshake is answered, so a client that
        // has its `101` receives everything published from then on.
        let mut subscription = self.publications.subscribe();
        let (mut ws, _) = pushwire::accept(tcp, config, &[]).await?;
        loop {
            let first = tokio::select! {
                incoming = ws.recv() => match incoming {
                    Some(Ok(message)) => {
                        if message.is_data() {
                            // No subscriber at all is not an error.
                            let _ = self.publications.send(message);
                        }
                        continue;
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                published = subscription.recv() => published,
            };
            let missed = match first {
                Ok(message) => {
                    let batch = async {
                        ws.feed(message).await?;
                        loop {
                            match subscription.try_recv() {
                                Ok(message) => ws.feed(message).await?,
                                Err(TryRecvError::Lagged(missed)) => return Ok(Some(missed)),
                                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                            }
                        }
                        ws.flush().await.map(|()| None)
                    };
                    match tokio::time::timeout(SEND_DEADLINE, batch).await {
                        Ok(Ok(None)) => continue,
                        Ok(Ok(Some(missed))) => missed,
                        Ok(Err(e)) => return Err(e),
                        Err(_) => {
                            tracing::debug!(
                                "subscriber dropped: no write progress in {SEND_DEADLINE:?}"
                            );
                            return Ok(());
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => missed,
                Err(RecvError::Closed) => return Ok(()),
            };
            tracing::debug!("subscriber dropped: {missed} publications behind");
            let reason =
                CloseFrame::new(CloseCode::POLICY_VIOLATION, "too slow: publications missed");
            let _ = tokio::time::timeout(SEND_DEADLINE, ws.close(Some(reason))).await;
            return Ok(());
        }
    }
}
