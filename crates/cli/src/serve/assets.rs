//! Static files built into the `pushwire` binary: `/pushwire.js`, the
//! hub's browser client (`clients/js/pushwire.js`, an ES module, and the
//! modules it imports, `/pushwire/*.js`), its type declarations at `/pushwire.d.ts`, and the apps built on it: the
//! chat rooms at `/chat` (`web/chat/index.html`), the customer-service desk
//! (`web/support/`: the visitor's page at `/support`, the agent console at
//! `/support/agent`, and their shared modules and style under `/support/`),
//! and the admin page at `/admin` (`web/admin/index.html`).
//!
//! Each answers `GET` and `HEAD` with its content type, `Cache-Control:
//! no-cache` and an `ETag` (a matching `If-None-Match` gets `304`), and
//! `Access-Control-Allow-Origin: *`: they are public and carry no
//! credentials, and a page on another origin may import the module from
//! the hub. Other methods get `405`.

use std::sync::OnceLock;

use hyper::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CACHE_CONTROL, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};
use pushwire::Body;

/// One file served from the binary.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every built-in file, by path.
const ASSETS: &[Asset] = &[
    module(
        "/pushwire.js",
        include_str!("../../../../clients/js/pushwire.js"),
    ),
    module(
        "/pushwire/emitter.js",
        include_str!("../../../../clients/js/pushwire/emitter.js"),
    ),
    module(
        "/pushwire/protocol.js",
        include_str!("../../../../clients/js/pushwire/protocol.js"),
    ),
    module(
        "/pushwire/subscription.js",
        include_str!("../../../../clients/js/pushwire/subscription.js"),
    ),
    module(
        "/pushwire/transports.js",
        include_str!("../../../../clients/js/pushwire/transports.js"),
    ),
    Asset {
        path: "/pushwire.d.ts",
        content_type: "application/typescript; charset=utf-8",
        body: include_str!("../../../../clients/js/pushwire.d.ts"),
    },
    Asset {
        path: "/chat",
        content_type: "text/html; charset=utf-8",
        body: CHAT,
    },
    Asset {
        path: "/chat/",
        content_type: "text/html; charset=utf-8",
        body: CHAT,
    },
    page("/support", SUPPORT_VISITOR),
    page("/support/", SUPPORT_VISITOR),
    page("/support/agent", SUPPORT_AGENT),
    page("/support/agent/", SUPPORT_AGENT),
    module(
        "/support/queue.js",
        include_str!("../../../../web/support/queue.js"),
    ),
    module(
        "/support/follow.js",
        include_str!("../../../../web/support/follow.js"),
    ),
    module(
        "/support/transcript.js",
        include_str!("../../../../web/support/transcript.js"),
    ),
    Asset {
        path: "/support/support.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../../../web/support/support.css"),
    },
    page("/admin", ADMIN),
    page("/admin/", ADMIN),
];

/// An HTML page.
const fn page(path: &'static str, body: &'static str) -> Asset {
    Asset {
        path,
        content_type: "text/html; charset=utf-8",
        body,
    }
}

/// A JavaScript module of the client.
const fn module(path: &'static str, body: &'static str) -> Asset {
    Asset {
        path,
        content_type: "text/javascript; charset=utf-8",
        body,
    }
}

/// The chat rooms: a page that uses only `/pushwire.js`.
const CHAT: &str = include_str!("../../../../web/chat/index.html");

/// The customer-service visitor's page: open a conversation, talk to an agent.
const SUPPORT_VISITOR: &str = include_str!("../../../../web/support/index.html");

/// The customer-service agent console: the queue, taking conversations, answering.
const SUPPORT_AGENT: &str = include_str!("../../../../web/support/agent.html");

/// The admin page: the server's own `/metrics`, read every second.
const ADMIN: &str = include_str!("../../../../web/admin/index.html");

/// The answer for a built-in file, or `None` when `req`'s path is not one.
pub fn route<B>(req: &Request<B>) -> Option<Response<Body>> {
    let index = ASSETS.iter().position(|a| a.path == req.uri().path())?;
    let asset = &ASSETS[index];
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut response = super::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(response);
    }
    let etag = &etags()[index];
    let fresh = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag.to_str().unwrap_or_default()
        });
    let mut response = if fresh {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(asset.body));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(ETAG, etag.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Some(response)
}

/// Each asset's `ETag`: the FNV-1a hash of its bytes, computed once.
fn etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let hash = a.body.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
                });
                HeaderValue::from_str(&format!("\"{hash:016x}\"")).expect("hex is a valid header")
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, etag: Option<&str>) -> Option<Response<Body>> {
        let mut req = Request::get(path);
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        route(&req.body(()).unwrap())
    }

    #[test]
    fn pushwire_js_is_javascript_with_an_etag() {
        let response = get("/pushwire.js", None).expect("served");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let etag = response.headers()[ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");

        let again = get("/pushwire.js", Some(&etag)).expect("served");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let other = get("/pushwire.js", Some("\"0000000000000000\"")).expect("served");
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn the_modules_pushwire_js_imports_are_served() {
        let entry = ASSETS[0].body;
        let mut imported = 0;
        for line in entry.lines() {
            let Some(rest) = line.split(" from './").nth(1) else {
                continue;
            };
            let path = format!("/{}", rest.trim_end_matches("';"));
            let response = get(&path, None).unwrap_or_else(|| panic!("{path} is not served"));
            assert_eq!(
                response.headers()[CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            imported += 1;
        }
        assert!(imported >= 4, "pushwire.js imports its modules: {imported}");
    }

    #[test]
    fn the_chat_is_html() {
        for path in ["/chat", "/chat/"] {
            let response = get(path, None).expect("served");
            assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        }
    }

    #[test]
    fn the_support_pages_and_the_admin_page_are_html_and_their_parts_are_served() {
        for path in [
            "/support",
            "/support/",
            "/support/agent",
            "/support/agent/",
            "/admin",
            "/admin/",
        ] {
            let response = get(path, None).unwrap_or_else(|| panic!("{path} is not served"));
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        }
        // Every module and style sheet the support pages name is served, with its type.
        for page in [SUPPORT_VISITOR, SUPPORT_AGENT] {
            let mut named = 0;
            for line in page.lines() {
                let Some(path) = line
                    .split(['\'', '"'])
                    .find(|part| part.starts_with("/support/") && part.contains('.'))
                else {
                    continue;
                };
                let response = get(path, None).unwrap_or_else(|| panic!("{path} is not served"));
                let wanted = if path.ends_with(".css") {
                    "text/css; charset=utf-8"
                } else {
                    "text/javascript; charset=utf-8"
                };
                assert_eq!(response.headers()[CONTENT_TYPE], wanted, "{path}");
                named += 1;
            }
            assert!(named >= 4, "the page links its style and modules: {named}");
        }
    }

    #[test]
    fn other_paths_are_not_assets_and_other_methods_get_405() {
        assert!(get("/pushwire.jsx", None).is_none());
        assert!(get("/", None).is_none());
        assert!(get("/chat/x", None).is_none());
        assert!(get("/support/nothing.js", None).is_none());
        assert!(get("/admin/x", None).is_none());
        let post = route(&Request::post("/pushwire.js").body(()).unwrap()).expect("answered");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
    }
}
