//! Connection limits: a connection over the server's limit, or over its
//! address's limit, gets 503 or 429 on HTTP/1.1 and HTTP/2 and is closed,
//! while the connections already held and other addresses are served.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::http1::{raw_request, read_head};
use crate::common::http2::{h2_get, h2_handshake};
use crate::common::{TestServer, LIMIT};

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// A keep-alive connection that has been served once, so the server holds it.
async fn held_connection(addr: SocketAddr, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    tcp.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let mut body = [0u8; 2];
    tcp.read_exact(&mut body).await.unwrap();
    tcp
}

/// An HTTP/1.1 request on a new connection that is refused: the head,
/// and the connection closes after the body.
async fn refused_h1(addr: SocketAddr) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    let mut rest = Vec::new();
    tokio::time::timeout(LIMIT, tcp.read_to_end(&mut rest))
        .await
        .expect("the refused connection is closed")
        .unwrap();
    head
}

/// The status of a GET over a new HTTP/2 connection.
async fn h2_status(addr: SocketAddr) -> u16 {
    let mut client = h2_handshake(TcpStream::connect(addr).await.unwrap()).await;
    h2_get(&mut client, "/healthz").await.0
}

#[tokio::test]
async fn connections_over_the_server_limit_get_503() {
    let server = TestServer::start(|s| s.max_connections(Some(2))).await;
    let first = held_connection(server.addr, [127, 0, 0, 1]).await;
    let _second = held_connection(server.addr, [127, 0, 0, 1]).await;

    let head = refused_h1(server.addr).await;
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert_eq!(h2_status(server.addr).await, 503);
    assert_eq!(server.stats.snapshot().refused_connections, 2);

    // The held connections are still served.
    let mut first = first;
    first.write_all(HEALTHZ.as_bytes()).await.unwrap();
    assert!(read_head(&mut first).await.starts_with("HTTP/1.1 200 "));

    // Once one closes, a new connection takes its place.
    drop(first);
    server
        .wait_for("a place freed", |s| s.open_connections == 1)
        .await;
    let head = raw_request(server.addr, HEALTHZ).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
}

#[tokio::test]
async fn connections_over_an_address_limit_get_429_and_others_are_served() {
    let server = TestServer::start(|s| s.max_connections_per_ip(Some(1))).await;
    let _held = held_connection(server.addr, [127, 0, 0, 1]).await;

    let head = refused_h1(server.addr).await;
    assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
    assert_eq!(h2_status(server.addr).await, 429);

    // Another client address is not affected.
    let _other = held_connection(server.addr, [127, 0, 0, 2]).await;
    assert_eq!(server.stats.snapshot().refused_connections, 2);
}
