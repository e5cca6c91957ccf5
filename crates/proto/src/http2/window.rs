//! Flow-control windows (RFC 9113 section 6.9).

use super::frame::MAX_WINDOW_SIZE;

/// How many bytes of DATA one direction of a stream, or of the whole
/// connection, may still carry.
///
/// A window can be negative: when `SETTINGS_INITIAL_WINDOW_SIZE`
/// shrinks, every stream's window shrinks by as much, even below zero
/// (section 6.9.2), and nothing may be sent until WINDOW_UPDATEs raise
/// it above zero again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(i64);

/// Flow control broken: data beyond what a window allowed, or a window
/// grown past 2^31-1 bytes. Answered with `FLOW_CONTROL_ERROR`, of the
/// stream, or of the connection for the connection's window and for a
/// change of the initial window size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOverflow;

impl std::fmt::Display for WindowOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("flow-control window exceeded")
    }
}

impl std::error::Error for WindowOverflow {}

impl Window {
    /// A window of `size` bytes.
    pub fn new(size: u32) -> Self {
        Window(size.min(MAX_WINDOW_SIZE).into())
    }

    /// The bytes that may be sent now: 0 while the window is negative.
    pub fn available(&self) -> u32 {
        self.0.clamp(0, MAX_WINDOW_SIZE.into()) as u32
    }

    /// Takes `len` bytes that were sent, or that arrived. Arriving data
    /// beyond the window is the sender's fault (`FLOW_CONTROL_ERROR`):
    /// the window is left as it was.
    pub fn take(&mut self, len: u32) -> Result<(), WindowOverflow> {
        if i64::from(len) > self.0 {
            return Err(WindowOverflow);
        }
        self.0 -= i64::from(len);
        Ok(())
    }

    /// Grows the window by a WINDOW_UPDATE's `increment`.
    pub fn grow(&mut self, increment: u32) -> Result<(), WindowOverflow> {
        self.shift(increment.into())
    }

    /// Moves the window by the change of `SETTINGS_INITIAL_WINDOW_SIZE`
    /// from `old` to `new`.
    pub fn resize(&mut self, old: u32, new: u32) -> Result<(), WindowOverflow> {
        self.shift(i64::from(new) - i64::from(old))
    }

    fn shift(&mut self, delta: i64) -> Result<(), WindowOverflow> {
        let moved = self.0 + delta;
        if moved > MAX_WINDOW_SIZE.into() {
            return Err(WindowOverflow);
        }
        self.0 = moved;
        Ok(())
    }
}

/// The receiving side of a window: what the peer may send, and when to
/// tell it that it may send more.
///
/// Consumed bytes are announced back in one WINDOW_UPDATE once they
/// reach half the window's size, not one update per DATA frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvWindow {
    window: Window,
    size: u32,
    /// Consumed, not yet announced.
    unannounced: u32,
}

impl RecvWindow {
    /// A window of `size` bytes, as this side's SETTINGS (or, for the
    /// connection, its WINDOW_UPDATE after the preface) announced.
    pub fn new(size: u32) -> Self {
        RecvWindow {
            window: Window::new(size),
            size,
            unannounced: 0,
        }
    }

    /// DATA of `flow_len` bytes (padding included) arrived; refused if
    /// the peer sent more than it was allowed.
    pub fn receive(&mut self, flow_len: u32) -> Result<(), WindowOverflow> {
        self.window.take(flow_len)
    }

    /// `len` received bytes were consumed (or dropped): returns the
    /// WINDOW_UPDATE increment to send, if one is due.
    pub fn release(&mut self, len: u32) -> Option<u32> {
        self.unannounced = self.unannounced.saturating_add(len);
        if self.unannounced < self.size / 2 {
            return None;
        }
        let increment = std::mem::take(&mut self.unannounced);
        // Never past the maximum, even if a caller released more than
        // arrived.
        self.window.grow(increment).ok().map(|()| increment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sending_waits_on_a_negative_window_until_updates_raise_it() {
        let mut window = Window::new(65_535);
        window.take(60_000).unwrap();
        // The peer's initial window drops from 65,535 to 1,000.
        window.resize(65_535, 1_000).unwrap();
        assert_eq!(window, Window(1_000 - 60_000));
        assert_eq!(window.available(), 0);
        window.grow(59_500).unwrap();
        assert_eq!(window.available(), 500);
    }

    #[test]
    fn a_window_never_exceeds_two_to_the_31() {
        let mut window = Window::new(MAX_WINDOW_SIZE);
        assert_eq!(window.grow(1), Err(WindowOverflow));
        assert_eq!(window.available(), MAX_WINDOW_SIZE, "unchanged");
        let mut small = Window::new(10);
        assert_eq!(small.resize(0, MAX_WINDOW_SIZE), Err(WindowOverflow));
    }

    #[test]
    fn data_beyond_the_window_is_refused() {
        let mut recv = RecvWindow::new(100);
        recv.receive(60).unwrap();
        assert_eq!(recv.receive(41), Err(WindowOverflow));
        recv.receive(40).unwrap();
        assert_eq!(recv.receive(1), Err(WindowOverflow));
    }

    #[test]
    fn consumed_bytes_are_announced_in_batches_of_half_the_window() {
        let mut recv = RecvWindow::new(100);
        recv.receive(100).unwrap();
        assert_eq!(recv.release(30), None);
        assert_eq!(recv.release(20), Some(50));
        assert_eq!(recv.release(49), None);
        assert_eq!(recv.release(1), Some(50));
        recv.receive(100).unwrap();
        assert_eq!(recv.receive(1), Err(WindowOverflow));
    }
}
