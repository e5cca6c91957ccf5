//! SETTINGS parameters (RFC 9113 section 6.5.2, RFC 8441 section 3).

use bytes::BufMut;

use super::frame::{self, FrameError, DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};
use super::ErrorCode;

/// Parameter identifiers.
mod id {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

/// The parameters one SETTINGS frame carries; `None` for those it
/// leaves as they were. Identifiers this side does not know are
/// ignored, as section 6.5.2 requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `SETTINGS_HEADER_TABLE_SIZE`: the most the sender's HPACK
    /// decoder lets the dynamic table hold.
    pub header_table_size: Option<u32>,
    /// `SETTINGS_ENABLE_PUSH`.
    pub enable_push: Option<bool>,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`: how many streams the sender
    /// lets the receiver open at once.
    pub max_concurrent_streams: Option<u32>,
    /// `SETTINGS_INITIAL_WINDOW_SIZE`: the sender's receive window of
    /// every stream, to start with.
    pub initial_window_size: Option<u32>,
    /// `SETTINGS_MAX_FRAME_SIZE`: the longest frame payload the sender
    /// accepts.
    pub max_frame_size: Option<u32>,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`: the largest field section the
    /// sender accepts.
    pub max_header_list_size: Option<u32>,
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441): the sender
    /// accepts extended CONNECT, such as WebSocket over HTTP/2.
    pub enable_connect_protocol: Option<bool>,
}

impl Settings {
    /// Reads a SETTINGS frame's payload, checking each value's range.
    pub fn parse(payload: &[u8]) -> Result<Settings, FrameError> {
        use ErrorCode as E;
        if payload.len() % 6 != 0 {
            return Err(FrameError::connection(
                E::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6",
            ));
        }
        let flag = |value: u32, what| match value {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(FrameError::connection(E::PROTOCOL_ERROR, what)),
        };
        let mut settings = Settings::default();
        for pair in payload.chunks_exact(6) {
            let value = u32::from_be_bytes([pair[2], pair[3], pair[4], pair[5]]);
            match u16::from_be_bytes([pair[0], pair[1]]) {
                id::HEADER_TABLE_SIZE => settings.header_table_size = Some(value),
                id::ENABLE_PUSH => {
                    settings.enable_push = Some(flag(value, "SETTINGS_ENABLE_PUSH not 0 or 1")?)
                }
                id::MAX_CONCURRENT_STREAMS => settings.max_concurrent_streams = Some(value),
                id::INITIAL_WINDOW_SIZE => {
                    if value > MAX_WINDOW_SIZE {
                        return Err(FrameError::connection(
                            E::FLOW_CONTROL_ERROR,
                            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                        ));
                    }
                    settings.initial_window_size = Some(value);
                }
                id::MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                        return Err(FrameError::connection(
                            E::PROTOCOL_ERROR,
                            "SETTINGS_MAX_FRAME_SIZE out of range",
                        ));
                    }
                    settings.max_frame_size = Some(value);
                }
                id::MAX_HEADER_LIST_SIZE => settings.max_header_list_size = Some(value),
                id::ENABLE_CONNECT_PROTOCOL => {
                    settings.enable_connect_protocol =
                        Some(flag(value, "SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1")?)
                }
                _ => {}
            }
        }
        Ok(settings)
    }

    /// Appends these settings as a SETTINGS frame.
    pub fn put(&self, dst: &mut impl BufMut) {
        let pairs = [
            (id::HEADER_TABLE_SIZE, self.header_table_size),
            (id::ENABLE_PUSH, self.enable_push.map(u32::from)),
            (id::MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (id::INITIAL_WINDOW_SIZE, self.initial_window_size),
            (id::MAX_FRAME_SIZE, self.max_frame_size),
            (id::MAX_HEADER_LIST_SIZE, self.max_header_list_size),
            (
                id::ENABLE_CONNECT_PROTOCOL,
                self.enable_connect_protocol.map(u32::from),
            ),
        ];
        let set = pairs.iter().filter_map(|&(id, value)| Some((id, value?)));
        frame::put_header(dst, frame::kind::SETTINGS, 0, 0, 6 * set.clone().count());
        for (id, value) in set {
            dst.put_slice(&id.to_be_bytes());
            dst.put_slice(&value.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::frame::{Frame, FrameHeader, HEADER_LEN};

    #[test]
    fn settings_round_trip_through_a_frame() {
        let settings = Settings {
            max_concurrent_streams: Some(100),
            initial_window_size: Some(1 << 20),
            max_frame_size: Some(1 << 16),
            enable_connect_protocol: Some(true),
            ..Settings::default()
        };
        let mut wire = Vec::new();
        settings.put(&mut wire);
        assert_eq!(wire.len(), HEADER_LEN + 4 * 6);
        let header = FrameHeader::parse(wire[..HEADER_LEN].try_into().unwrap());
        let frame = Frame::decode(header, wire.split_off(HEADER_LEN).into());
        assert_eq!(frame, Ok(Frame::Settings(settings)));
    }

    #[test]
    fn out_of_range_values_are_refused_and_unknown_ones_ignored() {
        let pair = |id: u16, value: u32| {
            let mut p = id.to_be_bytes().to_vec();
            p.extend_from_slice(&value.to_be_bytes());
            p
        };
        let refused = [
            (pair(0x2, 2), ErrorCode::PROTOCOL_ERROR),
            (pair(0x4, 1 << 31), ErrorCode::FLOW_CONTROL_ERROR),
            (pair(0x5, (1 << 14) - 1), ErrorCode::PROTOCOL_ERROR),
            (pair(0x5, 1 << 24), ErrorCode::PROTOCOL_ERROR),
            (pair(0x8, 7), ErrorCode::PROTOCOL_ERROR),
            (vec![0; 5], ErrorCode::FRAME_SIZE_ERROR),
        ];
        for (payload, code) in refused {
            assert_eq!(
                Settings::parse(&payload).unwrap_err().code,
                code,
                "{payload:?}"
            );
        }
        let mut payload = pair(0xabc, 99);
        payload.extend(pair(0x1, 0));
        let settings = Settings::parse(&payload).unwrap();
        assert_eq!(
            settings,
            Settings {
                header_table_size: Some(0),
                ..Settings::default()
            }
        );
    }
}
