//! `pushwire token` mints what `pushwire serve` accepts: a connection
//! token signed with the configured secret connects, one signed with
//! another secret is closed with 3500 (invalid token).

mod common;

use std::process::Command;
use std::time::Duration;

use pushwire::{ClientBuilder, Message};

const LIMIT: Duration = Duration::from_secs(10);

/// `pushwire token ARGS`: its stdout, trimmed.
fn token(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .arg("token")
        .args(args)
        .env_remove("PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY")
        .output()
        .expect("the pushwire binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

type Client = pushwire::WebSocket<pushwire::ws::ClientStream>;

/// Sends `command` and returns the next message back.
async fn call(ws: &mut Client, command: String) -> Message {
    ws.send(Message::text(command)).await.unwrap();
    tokio::time::timeout(LIMIT, ws.recv())
        .await
        .expect("a reply in time")
        .expect("a message")
        .unwrap()
}

/// Sends a connect command with `token`: the connection and the first
/// message back.
async fn connect(addr: &str, token: &str) -> (Client, Message) {
    let mut ws = ClientBuilder::new(format!("ws://{addr}/connection/websocket"))
        .connect()
        .await
        .unwrap();
    let command = format!(r#"{{"id":1,"connect":{{"token":"{token}"}}}}"#);
    let reply = call(&mut ws, command).await;
    (ws, reply)
}

fn json(message: &Message) -> serde_json::Value {
    let Message::Text(text) = message else {
        panic!("expected a reply, got {message:?}");
    };
    serde_json::from_str(text.as_str()).unwrap()
}

#[tokio::test]
async fn minted_tokens_connect_and_foreign_ones_get_3500() {
    let dir = std::env::temp_dir().join(format!("pushwire-token-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("hub.json");
    std::fs::write(
        &config,
        r#"{"client":{"token":{"hmac_secret_key":"it-secret"}},"http_api":{"key":"it-api-key"}}"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();

    // The secret read from the same file the server runs with.
    let good = token(&["--user", "ada", "--ttl", "1h", "--config", config]);
    assert_eq!(good.split('.').count(), 3, "{good}");
    // Or given directly: the same signature.
    let same = token(&["--user", "ada", "--ttl", "1h", "--secret", "it-secret"]);
    assert_eq!(same.split('.').count(), 3, "{same}");
    let foreign = token(&["--user", "ada", "--secret", "another-secret"]);

    let serve = common::serve(&["--config", config]);
    for good in [&good, &same] {
        let (_ws, reply) = connect(&serve.addr, good).await;
        let reply = json(&reply);
        assert_eq!(reply["id"], 1, "{reply}");
        assert!(reply["connect"]["client"].is_string(), "{reply}");
    }

    // A subscription token lets the user into a channel that clients may
    // not subscribe to by themselves.
    let (mut ws, _) = connect(&serve.addr, &good).await;
    let refused = json(&call(&mut ws, r#"{"id":2,"subscribe":{"channel":"news"}}"#.into()).await);
    assert_eq!(refused["error"]["code"], 103, "{refused}");
    let channel_token = token(&["--user", "ada", "--channel", "news", "--config", config]);
    let command =
        format!(r#"{{"id":3,"subscribe":{{"channel":"news","token":"{channel_token}"}}}}"#);
    let subscribed = json(&call(&mut ws, command).await);
    assert_eq!(subscribed["id"], 3, "{subscribed}");
    assert!(subscribed["subscribe"].is_object(), "{subscribed}");

    match connect(&serve.addr, &foreign).await.1 {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code.0, 3500, "{frame:?}")
        }
        other => panic!("expected close 3500, got {other:?}"),
    }
    drop(serve);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_a_secret_the_error_says_how_to_give_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(["token", "--user", "ada"])
        .env_remove("PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--secret") && stderr.contains("--config"),
        "{stderr}"
    );
}
