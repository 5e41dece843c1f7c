//! Engine events translated into `mqe_event_t`, logged on the way.

use core::ptr;

use super::cell::{Callback, ClientCell};
use super::log::{MQE_LOG_DEBUG, MQE_LOG_ERROR, MQE_LOG_INFO, MQE_LOG_WARN};
use super::status::{io_error_status, is_protocol_error, refused_status, status_of, MQE_OK};
use super::types::*;
use crate::engine::Event;
use crate::Error;

impl ClientCell {
    pub(crate) fn event_callback(&self, event: mqe_event_t) -> Callback {
        match self.event_handler {
            Some(handler) => Callback::Event(handler, self.event_user, event),
            None => Callback::None,
        }
    }

    /// Converts an engine event, noting why a connection ended.
    pub(super) fn c_event_for(
        &mut self,
        engine_event: Event,
        ended: &mut Option<mqe_status_t>,
    ) -> mqe_event_t {
        match engine_event {
            Event::Connected { session_present } => {
                self.last_reason = None;
                let mut event = blank_event(MQE_EVENT_CONNECTED);
                event.session_present = session_present;
                event.endpoint = u32::try_from(self.client.endpoint_index()).unwrap_or(u32::MAX);
                self.log(
                    MQE_LOG_INFO,
                    b"connected, session present \x01, endpoint \x02",
                    [session_present.into(), event.endpoint, 0],
                );
                event
            }
            Event::ConnectRefused { code } => {
                self.last_reason = Some(Error::Refused(code));
                let mut event = blank_event(MQE_EVENT_CONNECT_REFUSED);
                event.return_code = code;
                event.reason = refused_status(code);
                self.log(
                    MQE_LOG_ERROR,
                    b"CONNACK \x01: \x12",
                    [code.into(), event.reason as u32, 0],
                );
                *ended = Some(event.reason);
                event
            }
            Event::Disconnected { reason } => {
                // A refusal already recorded its reason; the engine may follow it with this.
                if reason.is_some() || !matches!(self.last_reason, Some(Error::Refused(_))) {
                    self.last_reason = reason;
                }
                let mut event = blank_event(MQE_EVENT_DISCONNECTED);
                event.reason = reason.map_or(MQE_OK, |error| self.status_of_end(error));
                self.log_disconnected(event.reason);
                *ended = Some(event.reason);
                event
            }
            Event::PublishComplete { packet_id } => {
                let mut event = blank_event(MQE_EVENT_PUBLISH_COMPLETE);
                event.packet_id = packet_id;
                event
            }
            Event::PublishAbandoned { packet_id } => {
                self.log(
                    MQE_LOG_WARN,
                    b"PUBREL id \x01 unanswered on \x02 connections: completed without PUBCOMP",
                    [
                        packet_id.into(),
                        self.client.engine().config().pubrel_max_connections.into(),
                        0,
                    ],
                );
                let mut event = blank_event(MQE_EVENT_PUBLISH_COMPLETE);
                event.packet_id = packet_id;
                event.abandoned = true;
                event
            }
            Event::Unsubscribed { packet_id } => {
                self.log(MQE_LOG_DEBUG, b"UNSUBACK id \x01", [packet_id.into(), 0, 0]);
                let mut event = blank_event(MQE_EVENT_UNSUBSCRIBED);
                event.packet_id = packet_id;
                event
            }
            Event::SessionLost => {
                self.log(MQE_LOG_WARN, b"session lost", [0; 3]);
                blank_event(MQE_EVENT_SESSION_LOST)
            }
            Event::RxQos2Evicted { first, count } => {
                self.log(
                    MQE_LOG_WARN,
                    b"incoming QoS 2 table full: forgot \x01 ids from id \x02",
                    [count.into(), first.into(), 0],
                );
                let mut event = blank_event(MQE_EVENT_RX_QOS2_EVICTED);
                event.packet_id = first;
                event.dropped = count.into();
                event
            }
            #[cfg(feature = "store")]
            Event::Restored {
                outgoing,
                rx_qos2,
                corrupt,
            } => {
                self.log(
                    if corrupt > 0 { MQE_LOG_WARN } else { MQE_LOG_INFO },
                    b"restored from flash: \x01 outgoing, \x02 incoming QoS 2 ids, \x03 bad records skipped",
                    [outgoing.into(), rx_qos2.into(), corrupt.into()],
                );
                let mut event = blank_event(MQE_EVENT_RESTORED);
                event.restored_outgoing = outgoing.into();
                event.restored_rx_qos2 = rx_qos2.into();
                event.dropped = corrupt.into();
                event
            }
            Event::PingResponse => {
                self.log(MQE_LOG_DEBUG, b"PINGRESP", [0; 3]);
                self.ping_responses = self.ping_responses.wrapping_add(1);
                blank_event(MQE_EVENT_PING_RESPONSE)
            }
        }
    }

    /// The status for why a connection ended: a transport or DNS failure is named by the
    /// `MQE_IO_ERR_*` code the transport returned, when it gave one.
    fn status_of_end(&self, error: Error) -> mqe_status_t {
        let named = match error {
            Error::Transport | Error::Dns => io_error_status(self.client.stack().last_error()),
            _ => None,
        };
        named.unwrap_or_else(|| status_of(error))
    }

    /// A clean disconnect is news; a lost connection a warning; a broker breaking the
    /// protocol an error.
    fn log_disconnected(&self, reason: mqe_status_t) {
        let (level, template): (_, &'static [u8]) = match reason {
            MQE_OK => (MQE_LOG_INFO, b"disconnected"),
            r if is_protocol_error(r) => (MQE_LOG_ERROR, b"protocol error: \x11"),
            _ => (MQE_LOG_WARN, b"disconnected: \x11"),
        };
        self.log(level, template, [reason as u32, 0, 0]);
    }
}

pub(crate) fn blank_event(kind: mqe_event_kind_t) -> mqe_event_t {
    mqe_event_t {
        kind,
        session_present: false,
        return_code: 0,
        packet_id: 0,
        reason: MQE_OK,
        granted: ptr::null(),
        granted_count: 0,
        attempt: 0,
        delay_ms: 0,
        endpoint: 0,
        dropped: 0,
        abandoned: false,
        qos: 0,
        topic: ptr::null(),
        topic_len: 0,
        size: 0,
        restored_outgoing: 0,
        restored_rx_qos2: 0,
    }
}
