//! A server for a hub alone, as the hub's tests run it.

use std::convert::Infallible;

use http::{Response, StatusCode};
use hyper::service::service_fn;
use pushwire::hub::Hub;
use pushwire::Body;

use super::TestServer;

/// A server for `hub` alone: its paths, and 404 elsewhere.
pub async fn serve(hub: &Hub) -> TestServer<()> {
    let hub = hub.clone();
    let service = service_fn(move |req| {
        let hub = hub.clone();
        async move {
            Ok::<_, Infallible>(match hub.route(req).await {
                Ok(response) => response,
                Err(_) => {
                    let mut response = Response::new(Body::from("not found"));
                    *response.status_mut() = StatusCode::NOT_FOUND;
                    response
                }
            })
        }
    });
    TestServer::serve(|server| server, (), service).await
}
