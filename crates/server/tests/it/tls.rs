//! TLS with a self-signed certificate: ALPN picks `h2` (WebSocket by
//! extended CONNECT) or `http/1.1` (WebSocket by Upgrade) on one port.

use std::sync::Arc;

use pushwire::{ClientBuilder, Tls};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::common::http1::read_head;
use crate::common::http2::{h2_client, h2_get, h2_websocket};
use crate::common::ws::round_trip;
use crate::common::TestServer;

async fn tls_connect(server: &TestServer, tls: &Tls, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = tls.certificate_pem().unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn alpn_h2_carries_websockets_by_extended_connect() {
    let tls = Tls::self_signed(["localhost", "127.0.0.1"]).unwrap();
    let server = TestServer::start({
        let tls = tls.clone();
        |s| s.tls(tls)
    })
    .await;
    let stream = tls_connect(&server, &tls, &[b"h2", b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut client = h2_client(stream).await;
    assert!(client.is_extended_connect_protocol_enabled());
    assert_eq!(
        h2_get(&mut client, "/info").await,
        (200, "HTTP/2.0 Some(\"h2\")".to_string())
    );
    let mut ws = h2_websocket(&mut client, "/echo").await;
    round_trip(&mut ws, "wss over h2").await;
    ws.close(None).await.unwrap();
    assert_eq!(server.stats.snapshot().extended_connects, 1);
}

#[tokio::test]
async fn alpn_http1_serves_pages_and_upgrades() {
    let tls = Tls::self_signed(["localhost"]).unwrap();
    let server = TestServer::start({
        let tls = tls.clone();
        |s| s.tls(tls)
    })
    .await;
    let mut stream = tls_connect(&server, &tls, &[b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    stream
        .write_all(b"GET /info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    assert_eq!(body, "HTTP/1.1 Some(\"http/1.1\")");

    // The pushwire client (ALPN http/1.1) trusting the written certificate.
    let path = std::env::temp_dir().join(format!("pushwire-test-{}.pem", std::process::id()));
    tls.write_certificate(&path).unwrap();
    let url = format!("wss://localhost:{}/echo", server.addr.port());
    let mut ws = ClientBuilder::new(url)
        .protocol("chat")
        .ca_file(&path)
        .connect()
        .await
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(ws.protocol(), Some("chat"));
    round_trip(&mut ws, "wss over http/1.1").await;
    ws.close(None).await.unwrap();
    let stats = server.stats.snapshot();
    assert_eq!((stats.h1_upgrades, stats.extended_connects), (1, 0));
}

#[tokio::test]
async fn certificate_files_and_failed_handshakes() {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("pushwire-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let tls = Tls::from_pem_files(&cert, &key).unwrap();
    assert!(
        Tls::from_pem_files(&key, &key).is_err(),
        "a key is no certificate"
    );
    assert!(
        Tls::from_pem_files(&cert, &cert).is_err(),
        "a certificate is no key"
    );
    assert!(Tls::from_pem_files(dir.join("missing"), &key).is_err());
    let _ = std::fs::remove_dir_all(&dir);

    let server = TestServer::start({
        let tls = tls.clone();
        |s| s.tls(tls)
    })
    .await;
    // A client speaking plain HTTP to the TLS port fails the handshake,
    // and the server carries on.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest).await;
    server
        .wait_for("the failed handshake", |s| s.tls_handshake_failures == 1)
        .await;
    let mut client = h2_client(tls_connect(&server, &tls, &[b"h2"]).await).await;
    assert_eq!(h2_get(&mut client, "/healthz").await.0, 200);
}

/// Errors say what failed: a certificate file that is not there is a TLS
/// error, a URL that is not `ws://` or `wss://` a URL error.
#[tokio::test]
async fn errors_tell_tls_from_url_failures() {
    let missing = Tls::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
    let Err(e) = missing else {
        panic!("no such files")
    };
    assert!(e.is_tls() && !e.is_url() && !e.is_io(), "{e}");
    let Err(e) = ClientBuilder::new("http://127.0.0.1:1/").connect().await else {
        panic!("not a WebSocket URL")
    };
    assert!(e.is_url() && !e.is_tls(), "{e}");
}
