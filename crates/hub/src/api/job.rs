//! Server API answers assembled from pieces, some of which may wait for a
//! remote engine's replies.

use super::{error_obj, error_response, history_obj, obj, position_obj, presence_obj, stats_obj};
use super::{ApiError, ApiResponse};
use crate::engine::state::Render;
use crate::engine::{BrokerReply, BrokerTicket};
use crate::protocol::ErrorCode;

/// Names a server API call whose answer comes later, from
/// [`Hub::poll_api`](crate::Hub::poll_api).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiTicket(pub(crate) u64);

/// What [`Hub::api_request`](crate::Hub::api_request) gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOutcome {
    /// The answer.
    Done(ApiResponse),
    /// The answer waits for the engine; it comes out of
    /// [`Hub::poll_api`](crate::Hub::poll_api) with this ticket.
    Pending(ApiTicket),
}

/// The result object of one method, or its error.
pub(crate) type PieceResult = Result<Vec<u8>, ApiError>;

/// One method's result, now or after a reply.
pub(crate) enum Piece {
    Ready(PieceResult),
    Wait(BrokerTicket, Render),
}

/// One command of a batch: its method and parameters (`None`: the
/// command object was empty).
#[derive(Debug)]
pub(crate) struct BatchCommand(pub Option<(String, crate::protocol::RawJson)>);

impl BatchCommand {
    /// Whether the command is a `publish`.
    pub(crate) fn is_publish(&self) -> bool {
        matches!(&self.0, Some((method, _)) if method == "publish")
    }
}

impl From<std::collections::BTreeMap<String, crate::protocol::RawJson>> for BatchCommand {
    fn from(cmd: std::collections::BTreeMap<String, crate::protocol::RawJson>) -> Self {
        BatchCommand(cmd.into_iter().next())
    }
}

/// How pieces combine into the answer.
#[derive(Debug)]
pub(crate) enum Shape {
    /// One method: one piece.
    One,
    /// `broadcast`: one piece per channel.
    Broadcast(usize),
    /// `batch`: each command's method name and shape, in order.
    Batch(Vec<(String, Shape)>),
}

/// The answer for `results`, one per piece in order.
pub(crate) fn response(shape: &Shape, results: Vec<PieceResult>) -> ApiResponse {
    let mut it = results.into_iter();
    let batch = matches!(shape, Shape::Batch(_));
    match combine(shape, &mut it) {
        Ok(body) if batch => ApiResponse {
            status: 200,
            body: body.into(),
        },
        Ok(result) => {
            let mut b = Vec::with_capacity(result.len() + 11);
            b.extend_from_slice(b"{\"result\":");
            b.extend_from_slice(&result);
            b.push(b'}');
            ApiResponse {
                status: 200,
                body: b.into(),
            }
        }
        Err(e) => error_response(e),
    }
}

fn combine(shape: &Shape, it: &mut impl Iterator<Item = PieceResult>) -> PieceResult {
    match shape {
        Shape::One => it
            .next()
            .unwrap_or(Err(ApiError::Code(ErrorCode::INTERNAL))),
        Shape::Broadcast(n) => {
            let responses: Vec<Vec<u8>> = it
                .take(*n)
                .map(|r| {
                    let mut item = Vec::new();
                    match r {
                        Ok(p) => {
                            item.extend_from_slice(b"{\"result\":");
                            item.extend_from_slice(&p);
                        }
                        Err(e) => {
                            item.extend_from_slice(b"{\"error\":");
                            item.extend_from_slice(&error_obj(&e.code()));
                        }
                    }
                    item.push(b'}');
                    item
                })
                .collect();
            Ok(obj(|w| {
                w.raw_array("responses", responses.iter().map(|r| &r[..]));
            }))
        }
        Shape::Batch(items) => {
            let replies: Vec<Vec<u8>> = items
                .iter()
                .map(|(method, shape)| {
                    let mut item = vec![b'{'];
                    match combine(shape, it) {
                        Ok(result) => {
                            crate::protocol::json::write_str(&mut item, method);
                            item.push(b':');
                            item.extend_from_slice(&result);
                        }
                        Err(e) => {
                            item.extend_from_slice(b"\"error\":");
                            item.extend_from_slice(&error_obj(&e.code()));
                        }
                    }
                    item.push(b'}');
                    item
                })
                .collect();
            Ok(obj(|w| {
                w.raw_array("replies", replies.iter().map(|r| &r[..]));
            }))
        }
    }
}

/// A method's result object from the engine's reply.
pub(crate) fn render(render: Render, reply: BrokerReply) -> PieceResult {
    let mismatch = || Err(ApiError::Code(ErrorCode::INTERNAL));
    match (render, reply) {
        (Render::Publish, BrokerReply::Published(r)) => Ok(position_obj(r?.position.as_ref())),
        (Render::History, BrokerReply::History(r)) => Ok(history_obj(&r?)),
        (Render::Presence, BrokerReply::Presence(r)) => Ok(presence_obj(&r?)),
        (Render::PresenceStats, BrokerReply::PresenceStats(r)) => Ok(stats_obj(r?)),
        (Render::Empty, BrokerReply::Done(r)) => r.map(|()| b"{}".to_vec()).map_err(Into::into),
        _ => mismatch(),
    }
}
