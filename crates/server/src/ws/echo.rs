//! The echo loop, written once: what the CLI's echo server, the examples
//! and the tests run on their WebSockets.

use std::future::Future;
use std::pin::pin;
use std::task::{ready, Context, Poll};

use pushwire_proto::CloseFrame;
use tokio::io::{AsyncRead, AsyncWrite};

use super::WebSocket;
use crate::error::Error;

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Sends every text and binary message back until the connection
    /// ends: `Ok(())` once the peer has closed it, or the error that ended
    /// it. The replies to what one wake-up reads leave in one write (see
    /// [`WebSocket::poll_recv`]).
    ///
    /// ```no_run
    /// # async fn demo(mut ws: pushwire::WebSocket<tokio::net::TcpStream>) {
    /// if let Err(e) = ws.echo().await {
    ///     eprintln!("echo ended: {e}");
    /// }
    /// # }
    /// ```
    pub async fn echo(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_echo(cx)).await
    }

    /// [`WebSocket::echo`] as a poll function, for a hand-written future.
    /// It keeps no state between calls: dropping it between two polls
    /// loses no message.
    pub fn poll_echo(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            ready!(self.poll_ready(cx))?;
            match ready!(self.poll_recv(cx)) {
                Some(Ok(message)) if message.is_data() => self.start_send(message)?,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// [`WebSocket::echo`] until `shutdown` resolves, then
    /// [`close`](WebSocket::close)s with the frame it resolved to: the
    /// echo route of a server that shuts down gracefully.
    ///
    /// ```no_run
    /// # async fn demo(mut ws: pushwire::WebSocket<pushwire::upgrade::UpgradedStream>, info: pushwire::ConnectionInfo) {
    /// // 1001 when the server stops, 1012 when it restarts.
    /// let shutdown = async {
    ///     info.shutting_down().await;
    ///     info.shutdown().unwrap_or_default().close_frame()
    /// };
    /// let _ = ws.echo_until(shutdown).await;
    /// # }
    /// ```
    pub async fn echo_until<F>(&mut self, shutdown: F) -> Result<(), Error>
    where
        F: Future<Output = CloseFrame>,
    {
        let mut shutdown = pin!(shutdown);
        let frame = std::future::poll_fn(|cx| {
            if let Poll::Ready(frame) = shutdown.as_mut().poll(cx) {
                return Poll::Ready(Ok(Some(frame)));
            }
            self.poll_echo(cx).map(|ended| ended.map(|()| None))
        });
        match frame.await {
            Ok(Some(frame)) => self.close(Some(frame)).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use pushwire_proto::{CloseCode, Message, Role};
    use tokio::io::DuplexStream;

    use crate::ws::{Negotiated, WebSocket, WebSocketConfig};

    fn pair() -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
        let (near, far) = tokio::io::duplex(1 << 16);
        let config = WebSocketConfig::default();
        let open = |io, role| {
            WebSocket::from_upgraded(io, role, &config, Negotiated::default(), BytesMut::new())
        };
        (open(near, Role::Server), open(far, Role::Client))
    }

    #[tokio::test]
    async fn echo_sends_data_back_until_the_peer_closes() {
        let (mut server, mut client) = pair();
        let echo = tokio::spawn(async move { server.echo().await });
        for message in [Message::text("one"), Message::binary(vec![2u8])] {
            client.send(message.clone()).await.unwrap();
            assert_eq!(client.recv().await.unwrap().unwrap(), message);
        }
        client.close(None).await.unwrap();
        assert!(echo.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn echo_until_closes_with_the_frame_shutdown_gives() {
        let (mut server, mut client) = pair();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let echo = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
                pushwire_proto::CloseFrame::new(CloseCode::GOING_AWAY, "bye")
            };
            server.echo_until(shutdown).await
        });
        client.send(Message::text("one")).await.unwrap();
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::text("one"));
        stop.send(()).unwrap();
        let Some(Ok(Message::Close(Some(frame)))) = client.recv().await else {
            panic!("no close frame");
        };
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
        assert!(client.recv().await.is_none());
        assert!(echo.await.unwrap().is_ok());
    }
}
