//! *everywhere*: a tower [`Layer`] that makes every route of a service
//! upgradable, after dwebsocket's middleware with `WEBSOCKET_ACCEPT_ALL`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_layer::Layer;

use super::options::AcceptOptions;
use super::{OriginPolicy, Upgrade, UpgradedStream};
use crate::http::body::{Body, BoxError};
use crate::ws::{WebSocket, WebSocketConfig};

/// A boxed, `Send` future, as [`WebSocketService`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A tower [`Layer`] that answers a WebSocket request to *any* route by
/// upgrading it and running one handler, and passes every other request
/// to the inner service untouched.
///
/// The handler gets the WebSocket and the original request without its
/// body (method, path, headers, and extensions such as the
/// [`ConnectionInfo`](crate::ConnectionInfo)), so it can route on them.
/// Both HTTP/1.1 upgrades and HTTP/2 extended CONNECT (RFC 8441) are
/// taken; subprotocol and permessage-deflate are negotiated as with
/// [`Upgrade`]. A faulty WebSocket request (wrong version, missing key)
/// is answered with its [`UpgradeRejection`](super::UpgradeRejection)
/// and never reaches the inner service.
///
/// The wrapped [`WebSocketService`] is a hyper `Service` when the inner
/// one is (so it can be given to [`Server`](crate::Server) directly), and
/// a tower `Service` when the inner one is (axum's `Router`, tower
/// stacks).
///
/// ```no_run
/// use std::convert::Infallible;
/// use hyper::{service::service_fn, Request, Response};
/// use pushwire::{Body, Message, RequestBody, Server, WebSocketLayer};
/// use tower_layer::Layer;
///
/// # async fn demo() -> std::io::Result<()> {
/// let pages = service_fn(|req: Request<RequestBody>| async move {
///     Ok::<_, Infallible>(Response::new(Body::from(format!("page {}", req.uri().path()))))
/// });
/// let app = WebSocketLayer::new(|mut ws, req: Request<()>| async move {
///     let _ = ws.send(Message::text(format!("hello from {}", req.uri().path()))).await;
/// })
/// .layer(pages);
/// Server::bind("127.0.0.1:8080").await?.serve(app).await
/// # }
/// ```
pub struct WebSocketLayer<H> {
    handler: H,
    /// Shared by the services and connections the layer makes; each
    /// WebSocket request's [`Upgrade`] takes a copy.
    options: Arc<AcceptOptions>,
}

impl<H: Clone> Clone for WebSocketLayer<H> {
    fn clone(&self) -> Self {
        WebSocketLayer {
            handler: self.handler.clone(),
            options: self.options.clone(),
        }
    }
}

impl<H> fmt::Debug for WebSocketLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketLayer")
            .field("protocols", &self.options.protocols)
            .field("config", &self.options.config)
            .field("origins", &self.options.origins)
            .finish_non_exhaustive()
    }
}

impl<H, Fut> WebSocketLayer<H>
where
    H: Fn(WebSocket<UpgradedStream>, Request<()>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// A layer running `handler` on every WebSocket, with no subprotocol
    /// and [`WebSocketConfig::default`].
    pub fn new(handler: H) -> Self {
        WebSocketLayer {
            handler,
            options: Arc::default(),
        }
    }
}

impl<H> WebSocketLayer<H> {
    /// The subprotocols spoken, most preferred first; see
    /// [`Upgrade::protocols`]. Default: none.
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Arc::make_mut(&mut self.options).set_protocols(protocols);
        self
    }

    /// The connections' settings; see [`Upgrade::config`].
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        Arc::make_mut(&mut self.options).config = config;
        self
    }

    /// Which pages may open WebSockets; see [`Upgrade::origins`].
    /// Default: [`OriginPolicy::SameOrigin`].
    pub fn origins(mut self, origins: OriginPolicy) -> Self {
        Arc::make_mut(&mut self.options).origins = origins;
        self
    }
}

impl<S, H: Clone> Layer<S> for WebSocketLayer<H> {
    type Service = WebSocketService<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        WebSocketService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`WebSocketLayer`]: WebSocket requests go to the
/// handler, the rest to the inner service.
pub struct WebSocketService<S, H> {
    inner: S,
    layer: WebSocketLayer<H>,
}

impl<S: Clone, H: Clone> Clone for WebSocketService<S, H> {
    fn clone(&self) -> Self {
        WebSocketService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for WebSocketService<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, H> WebSocketService<S, H> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<H> WebSocketLayer<H> {
    /// The answer to `req`: the layer's to a WebSocket request (upgraded,
    /// or rejected), the inner service's, which `call_inner` calls, to
    /// any other. The request is moved straight into the inner service.
    fn respond<B, Fut, F, ResBody, E>(
        &self,
        mut req: Request<B>,
        call_inner: impl FnOnce(Request<B>) -> F,
    ) -> BoxFuture<Result<Response<Body>, E>>
    where
        H: Fn(WebSocket<UpgradedStream>, Request<()>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: Future<Output = Result<Response<ResBody>, E>> + Send + 'static,
        E: Send + 'static,
        ResBody: http_body::Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        let response = match Upgrade::from_request(&mut req) {
            Ok(None) => {
                let future = call_inner(req);
                return Box::pin(async move { Ok(future.await?.map(Body::new)) });
            }
            Err(rejection) => rejection.into_response(),
            Ok(Some(upgrade)) => {
                let (parts, _body) = req.into_parts();
                let request = Request::from_parts(parts, ());
                let handler = self.handler.clone();
                let options = AcceptOptions::clone(&self.options);
                upgrade
                    .with_options(options)
                    .on_upgrade(move |ws| handler(ws, request))
            }
        };
        Box::pin(std::future::ready(Ok(response)))
    }
}

impl<S, H, Fut, B, ResBody> tower_service::Service<Request<B>> for WebSocketService<S, H>
where
    S: tower_service::Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
    H: Fn(WebSocket<UpgradedStream>, Request<()>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = &mut self.inner;
        self.layer.respond(req, |req| inner.call(req))
    }
}

/// The same service over a hyper service, so that the layer over one can
/// be given to a [`Server`](crate::Server) (and to hyper's servers)
/// without hyper-util's `TowerToHyperService` around it.
impl<S, H, Fut, B, ResBody> hyper::service::Service<Request<B>> for WebSocketService<S, H>
where
    S: hyper::service::Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
    H: Fn(WebSocket<UpgradedStream>, Request<()>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        self.layer.respond(req, |req| self.inner.call(req))
    }
}
