//! Presence, join and leave.

mod support;

use serde_json::json;
use support::*;

#[test]
fn presence_join_leave() {
    let mut d = Driver::new();
    let t = d.token(json!({"sub": "42", "info": {"name": "Ann"}}));
    let a = d.open();
    d.send(a, &format!(r#"{{"id":1,"connect":{{"token":"{t}"}}}}"#));
    d.drain(a);
    let b = d.connect("43");
    let ida = d.client_id(a);
    let idb = d.client_id(b);

    d.send(
        a,
        r#"{"id":2,"subscribe":{"channel":"chat:p","join_leave":true}}"#,
    );
    let out = d.drain(a);
    assert!(out[0].starts_with(r#"{"id":2,"subscribe":{"recoverable":true,"epoch":"#));
    // Its own join comes after the reply.
    assert_eq!(
        out[1],
        r#"{"push":{"channel":"chat:p","join":{"info":{"user":"42","client":"CID","conn_info":{"name":"Ann"}}}}}"#
    );

    // B subscribes without join_leave: A sees B's join, B sees none.
    d.send(b, r#"{"id":2,"subscribe":{"channel":"chat:p"}}"#);
    assert_eq!(d.drain(b).len(), 1);
    let out = d.drain(a);
    assert_eq!(
        out,
        [format!(
            r#"{{"push":{{"channel":"chat:p","join":{{"info":{{"user":"43","client":"{idb}"}}}}}}}}"#
        )]
    );

    d.send(b, r#"{"id":3,"presence":{"channel":"chat:p"}}"#);
    let v = json(&d.drain(b)[0]);
    assert_eq!(
        v,
        json!({"id":3,"presence":{"presence":{
            ida.clone(): {"user":"42","client":ida,"conn_info":{"name":"Ann"}},
            "CID": {"user":"43","client":"CID"}
        }}})
    );
    d.send(b, r#"{"id":4,"presence_stats":{"channel":"chat:p"}}"#);
    assert_eq!(
        d.drain(b),
        [r#"{"id":4,"presence_stats":{"num_clients":2,"num_users":2}}"#]
    );

    // B leaves: A gets the leave.
    d.send(b, r#"{"id":5,"unsubscribe":{"channel":"chat:p"}}"#);
    assert_eq!(
        d.drain(a),
        [format!(
            r#"{{"push":{{"channel":"chat:p","leave":{{"info":{{"user":"43","client":"{idb}"}}}}}}}}"#
        )]
    );
    // Not subscribed any more: presence is refused.
    d.drain(b);
    d.send(b, r#"{"id":6,"presence_stats":{"channel":"chat:p"}}"#);
    assert_eq!(
        d.drain(b),
        [r#"{"id":6,"error":{"code":103,"message":"permission denied"}}"#]
    );

    // A second connection of user 42 counts as one user.
    let a2 = d.open();
    d.send(a2, &format!(r#"{{"id":1,"connect":{{"token":"{t}"}}}}"#));
    d.send(a2, r#"{"id":2,"subscribe":{"channel":"chat:p"}}"#);
    d.send(a2, r#"{"id":3,"presence_stats":{"channel":"chat:p"}}"#);
    assert_eq!(
        d.drain(a2)[2],
        r#"{"id":3,"presence_stats":{"num_clients":2,"num_users":1}}"#
    );

    // The transport closes: the others see the leave and presence drops it.
    d.drain(a);
    d.hub.close(d.now, a2);
    assert_eq!(d.drain(a).len(), 1);
    let (_, body) = d.api("presence_stats", r#"{"channel":"chat:p"}"#);
    assert_eq!(body, r#"{"result":{"num_clients":1,"num_users":1}}"#);
}

#[test]
fn presence_off_is_108() {
    let mut d = Driver::new();
    let c = d.connect("1");
    d.send(c, r#"{"id":2,"presence":{"channel":"room"}}"#);
    assert_eq!(
        d.drain(c),
        [r#"{"id":2,"error":{"code":108,"message":"not available"}}"#]
    );
    assert_eq!(
        d.api("presence", r#"{"channel":"room"}"#).1,
        r#"{"error":{"code":108,"message":"not available"}}"#
    );
}

#[test]
fn force_push_join_leave_reaches_everyone() {
    let mut cfg = config_json();
    cfg["channel"]["namespaces"][0]["force_push_join_leave"] = true.into();
    let mut d = Driver::with_config(cfg);
    let a = d.connect("1");
    d.send(a, r#"{"id":2,"subscribe":{"channel":"chat:f"}}"#);
    assert_eq!(d.drain(a).len(), 2, "reply and own join");
    let b = d.connect("2");
    d.send(b, r#"{"id":2,"subscribe":{"channel":"chat:f"}}"#);
    assert_eq!(d.drain(a).len(), 1);
}
