//! [`HttpService`]: what a [`Server`](crate::Server) serves, named once
//! rather than spelled out as a block of bounds at every function that
//! passes a service on.

use std::future::Future;

use http::{Request, Response};
use hyper::service::Service;

use super::body::BoxError;
use super::request_body::RequestBody;

/// A hyper [`Service`] a [`Server`](crate::Server) can run: it takes a
/// `Request<`[`RequestBody`]`>` and answers, from a `Send + 'static`
/// future, a `Response` whose body is `Send + 'static` with `Send` chunks;
/// its errors, and its body's, convert into a [`BoxError`].
///
/// This trait is *sealed*: it cannot be implemented directly. Every
/// hyper [`Service`] that fits has it; implement [`Service`] (or use
/// [`hyper::service::service_fn`]) instead. A tower service is served
/// through hyper-util's `TowerToHyperService`.
pub trait HttpService: sealed::Sealed {
    /// The body of the service's responses.
    type ResBody: http_body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static;
    /// What the service fails with: the connection answers `500` (HTTP/1.1)
    /// or resets the stream (HTTP/2).
    type Error: Into<BoxError>;
    /// The service's answer to one request.
    type Future: Future<Output = Result<Response<Self::ResBody>, Self::Error>> + Send + 'static;

    /// Answers one request ([`Service::call`]).
    #[doc(hidden)]
    fn call(&self, req: Request<RequestBody>) -> Self::Future;
}

impl<S, B> HttpService for S
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: Request<RequestBody>) -> Self::Future {
        Service::call(self, req)
    }
}

mod sealed {
    use super::{Request, RequestBody, Response, Service};

    pub trait Sealed {}

    impl<S, B> Sealed for S where S: Service<Request<RequestBody>, Response = Response<B>> {}
}
