//! `pushwire subscribe`, `publish` and `history` against `pushwire
//! serve`: the subscriber prints, as JSON lines, what `publish` made,
//! across a reconnect (the missed publications recovered, once each and
//! in order); `history` prints the same lines; a wrong API key is a clear
//! error and a failing exit.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{serve, Running};

const LIMIT: Duration = Duration::from_secs(10);

/// The development API key `pushwire serve` printed at start.
fn api_key(serve: &Running) -> String {
    serve
        .log
        .iter()
        .find_map(|line| line.split("X-API-Key: ").nth(1))
        .map(|rest| rest.trim_end_matches(')').trim().to_owned())
        .expect("the development key in the log")
}

/// `pushwire ARGS` run to its end, within the limit.
fn pushwire(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushwire"));
    command
        .args(args)
        .env_remove("PUSHWIRE_HTTP_API_KEY")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("the pushwire binary runs");
    wait_with_output(child)
}

/// Waits for `child` to exit by itself, within the limit.
fn wait_with_output(mut child: Child) -> Output {
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pushwire did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `POST /api/batch` with `commands`, on a fresh connection.
fn batch(addr: &str, key: &str, commands: &serde_json::Value) {
    let body = serde_json::json!({ "commands": commands }).to_string();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        tcp,
        "POST /api/batch HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {key}\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(!response.contains("\"error\""), "{response}");
}

#[test]
fn subscribe_prints_what_publish_made_across_a_reconnect_and_history_agrees() {
    let serve = serve(&[]);
    let key = api_key(&serve);
    let url = format!("http://{}", serve.addr);

    let mut subscriber = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(["subscribe", &url, "chat:cli", "--count", "6"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pushwire binary runs");
    let (status_lines, status) = mpsc::channel();
    let stderr = subscriber.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = status_lines.send(line.unwrap());
        }
    });
    let line = status.recv_timeout(LIMIT).expect("a status line");
    assert_eq!(line, "pushwire: subscribed to chat:cli");

    // Three publications: JSON, a number, and a plain string (sent as a
    // JSON string). --api-key, then the variable.
    let args = |data: &'static str| ["publish", &url, "chat:cli", data];
    let output = pushwire(
        &[&args(r#"{"text":"one"}"#)[..], &["--api-key", &key]].concat(),
        &[],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["offset"], 1, "{result}");
    let env = [("PUSHWIRE_HTTP_API_KEY", key.as_str())];
    for data in ["2", "plain words"] {
        let output = pushwire(&args(data), &env);
        assert!(output.status.success(), "{}", text(&output.stderr));
    }

    // The hub drops the subscriber (3011, reconnect) and three more are
    // published before it can be back: it recovers them.
    let mut commands = vec![
        serde_json::json!({"disconnect": {"user": "", "disconnect": {"code": 3011, "reason": "test"}}}),
    ];
    for n in 4..=6 {
        commands.push(serde_json::json!({"publish": {"channel": "chat:cli", "data": {"n": n}}}));
    }
    batch(&serve.addr, &key, &serde_json::Value::from(commands));

    let output = wait_with_output(subscriber);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let expected = [
        r#"{"channel":"chat:cli","offset":1,"data":{"text":"one"}}"#,
        r#"{"channel":"chat:cli","offset":2,"data":2}"#,
        r#"{"channel":"chat:cli","offset":3,"data":"plain words"}"#,
        r#"{"channel":"chat:cli","offset":4,"data":{"n":4}}"#,
        r#"{"channel":"chat:cli","offset":5,"data":{"n":5}}"#,
        r#"{"channel":"chat:cli","offset":6,"data":{"n":6}}"#,
    ];
    assert_eq!(text(&output.stdout).lines().collect::<Vec<_>>(), expected);
    let line = status.recv_timeout(LIMIT).expect("a status line");
    assert_eq!(
        line,
        "pushwire: chat:cli: reconnected, missed publications recovered"
    );

    let output = pushwire(&["history", &url, "chat:cli"], &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).lines().collect::<Vec<_>>(), expected);
    let output = pushwire(&["history", &url, "chat:cli", "--limit", "2"], &env);
    assert_eq!(
        text(&output.stdout).lines().collect::<Vec<_>>(),
        expected[4..]
    );
}

#[test]
fn a_wrong_api_key_is_a_clear_error() {
    let serve = serve(&[]);
    let url = format!("http://{}", serve.addr);
    for args in [
        &["publish", &url, "chat:cli", "hi", "--api-key", "wrong"][..],
        &["history", &url, "chat:cli", "--api-key", "wrong"],
        &["publish", &url, "chat:cli", "hi"],
    ] {
        let output = pushwire(args, &[]);
        assert!(!output.status.success(), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("refused the key (HTTP 401)") && stderr.contains("--api-key"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn an_unknown_channel_and_an_unreachable_server_are_clear_errors() {
    let serve = serve(&[]);
    let key = api_key(&serve);
    let url = format!("http://{}", serve.addr);
    let output = pushwire(
        &["publish", &url, "nowhere:1", "hi", "--api-key", &key],
        &[],
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("error 102: unknown channel"), "{stderr}");
    let output = pushwire(&["subscribe", &url, "nowhere:1"], &[]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("error 102"), "{stderr}");
    drop(serve);
    let output = pushwire(&["subscribe", &url, "chat:cli"], &[]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("cannot connect"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn subscribe_says_on_stderr_when_a_restarted_server_lost_what_it_missed() {
    let first = serve(&[]);
    let addr = first.addr.clone();
    let url = format!("http://{addr}");
    let mut subscriber = Command::new(env!("CARGO_BIN_EXE_pushwire"))
        .args(["subscribe", &url, "chat:restart", "--count", "2"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pushwire binary runs");
    let (status_lines, status) = mpsc::channel();
    let stderr = subscriber.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = status_lines.send(line.unwrap());
        }
    });
    assert_eq!(
        status.recv_timeout(LIMIT).unwrap(),
        "pushwire: subscribed to chat:restart"
    );
    let publish = |key: &str, data: &str| {
        let output = pushwire(
            &["publish", &url, "chat:restart", data, "--api-key", key],
            &[],
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
    };
    publish(&api_key(&first), "before");

    // The server goes away with its memory history, and another starts
    // on the same address: the subscriber comes back, cannot recover
    // (a new epoch), and says so.
    drop(first);
    let second = common::start(&["serve", "--listen", &addr], "serving http://");
    assert_eq!(
        status.recv_timeout(LIMIT).unwrap(),
        "pushwire: chat:restart: reconnected, but recovery failed: publications made while disconnected are lost"
    );
    publish(&api_key(&second), "after");
    let output = wait_with_output(subscriber);
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout).lines().collect::<Vec<_>>(),
        [
            r#"{"channel":"chat:restart","offset":1,"data":"before"}"#,
            r#"{"channel":"chat:restart","offset":1,"data":"after"}"#,
        ]
    );
}
