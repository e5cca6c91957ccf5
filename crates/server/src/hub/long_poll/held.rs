//! A poll that has to wait is answered at once: its response head goes
//! out, and its body is one chunk, the batch, yielded when the wait ends
//! (empty when the hold times out or a newer poll takes over).
//!
//! So the request is done as soon as it is read: what served it (the
//! HTTP/1 head, the service, the hub's route) is freed, and the
//! connection waits as it does under an event stream, with no buffers,
//! holding only this body, the session it waits on, its timer and the
//! server's shutdown signal. The response is still one complete batch;
//! on HTTP/1.1 it is chunked (its length is not known when the head
//! goes).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::http::body::Body;

pin_project! {
    /// A response body of at most one chunk: what `answer` resolves to
    /// (no chunk when that is empty).
    pub(super) struct Deferred<F> {
        #[pin]
        answer: F,
        done: bool,
    }
}

impl<F: Future<Output = Bytes>> Deferred<F> {
    /// The body `answer` will fill.
    pub(super) fn new(answer: F) -> Self {
        Deferred {
            answer,
            done: false,
        }
    }
}

impl<F: Future<Output = Bytes> + Send + 'static> From<Deferred<F>> for Body {
    fn from(body: Deferred<F>) -> Self {
        Body::new(body)
    }
}

impl<F: Future<Output = Bytes>> http_body::Body for Deferred<F> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let body = ready!(this.answer.poll(cx));
        *this.done = true;
        Poll::Ready((!body.is_empty()).then(|| Ok(Frame::data(body))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::Waker;

    use http_body::Body as _;

    use super::*;

    #[test]
    fn yields_the_answer_once_then_ends() {
        let mut cx = Context::from_waker(Waker::noop());
        let (tx, rx) = tokio::sync::oneshot::channel::<Bytes>();
        let mut body = pin!(Deferred::new(async move { rx.await.unwrap_or_default() }));
        assert!(!body.is_end_stream());
        assert!(body.as_mut().poll_frame(&mut cx).is_pending());
        tx.send(Bytes::from_static(b"batch\n")).unwrap();
        let Poll::Ready(Some(Ok(frame))) = body.as_mut().poll_frame(&mut cx) else {
            panic!("the batch")
        };
        assert_eq!(frame.into_data().unwrap(), "batch\n");
        assert!(body.is_end_stream());
        assert!(matches!(
            body.as_mut().poll_frame(&mut cx),
            Poll::Ready(None)
        ));
    }

    #[test]
    fn an_empty_answer_is_an_empty_body() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut body = pin!(Deferred::new(async { Bytes::new() }));
        assert!(matches!(
            body.as_mut().poll_frame(&mut cx),
            Poll::Ready(None)
        ));
        assert!(body.is_end_stream());
    }
}
