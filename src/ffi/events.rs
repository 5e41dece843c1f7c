//! Each client notice (an engine event, or one of the client's own) written once into the
//! `mqe_event_t` the event handler gets, logged on the way.

use core::ffi::c_char;

use super::cell::{ClientCell, Handoff};
use super::log::{MQE_LOG_DEBUG, MQE_LOG_ERROR, MQE_LOG_INFO, MQE_LOG_WARN};
use super::status::{io_error_status, is_protocol_error, refused_status, status_of, MQE_OK};
#[cfg(feature = "topic-handlers")]
use super::topic_handlers::free_refused_handlers;
use super::types::*;
use crate::client::Dispatch;
use crate::engine::Event;
use crate::Error;

impl ClientCell {
    /// Writes `dispatch` (anything but a message) into `event`, which is blank
    /// (`blank_event`), noting why a connection ended
    /// (`mqe_poll` returns the `reason` of `MQE_EVENT_CONNECT_REFUSED` and `_DISCONNECTED`).
    pub(super) fn event_for(&mut self, dispatch: &Dispatch, event: &mut mqe_event_t) -> Handoff {
        event.kind = match *dispatch {
            Dispatch::Event(Event::Connected { session_present }) => {
                self.last_reason = None;
                event.session_present = session_present;
                event.endpoint = u32::try_from(self.client.endpoint_index()).unwrap_or(u32::MAX);
                self.log(
                    MQE_LOG_INFO,
                    b"connected, session present \x01, endpoint \x02",
                    [session_present.into(), event.endpoint, 0],
                );
                MQE_EVENT_CONNECTED
            }
            Dispatch::Event(Event::ConnectRefused { code }) => {
                self.last_reason = Some(Error::Refused(code));
                event.return_code = code;
                event.reason = refused_status(code);
                self.log(
                    MQE_LOG_ERROR,
                    b"CONNACK \x01: \x12",
                    [code.into(), event.reason as u32, 0],
                );
                MQE_EVENT_CONNECT_REFUSED
            }
            Dispatch::Event(Event::Disconnected { reason }) => {
                // A refusal already recorded its reason; the engine may follow it with this.
                if reason.is_some() || !matches!(self.last_reason, Some(Error::Refused(_))) {
                    self.last_reason = reason;
                }
                event.reason = reason.map_or(MQE_OK, |error| self.status_of_end(error));
                self.log_disconnected(event.reason);
                MQE_EVENT_DISCONNECTED
            }
            Dispatch::Event(Event::PublishComplete { packet_id }) => {
                event.packet_id = packet_id;
                MQE_EVENT_PUBLISH_COMPLETE
            }
            Dispatch::Event(Event::PublishAbandoned { packet_id }) => {
                self.log(
                    MQE_LOG_WARN,
                    b"PUBREL id \x01 unanswered on \x02 connections: completed without PUBCOMP",
                    [
                        packet_id.into(),
                        self.client.engine().config().pubrel_max_connections.into(),
                        0,
                    ],
                );
                event.packet_id = packet_id;
                event.abandoned = true;
                MQE_EVENT_PUBLISH_COMPLETE
            }
            Dispatch::Event(Event::Unsubscribed { packet_id }) => {
                self.log(MQE_LOG_DEBUG, b"UNSUBACK id \x01", [packet_id.into(), 0, 0]);
                event.packet_id = packet_id;
                MQE_EVENT_UNSUBSCRIBED
            }
            Dispatch::Event(Event::SessionLost) => {
                self.log(MQE_LOG_WARN, b"session lost", [0; 3]);
                MQE_EVENT_SESSION_LOST
            }
            Dispatch::Event(Event::RxQos2Evicted { first, count }) => {
                self.log(
                    MQE_LOG_WARN,
                    b"incoming QoS 2 table full: forgot \x01 ids from id \x02",
                    [count.into(), first.into(), 0],
                );
                event.packet_id = first;
                event.dropped = count.into();
                MQE_EVENT_RX_QOS2_EVICTED
            }
            #[cfg(feature = "store")]
            Dispatch::Event(Event::Restored {
                outgoing,
                rx_qos2,
                corrupt,
            }) => {
                self.log(
                    if corrupt > 0 { MQE_LOG_WARN } else { MQE_LOG_INFO },
                    b"restored from flash: \x01 outgoing, \x02 incoming QoS 2 ids, \x03 bad records skipped",
                    [outgoing.into(), rx_qos2.into(), corrupt.into()],
                );
                event.restored_outgoing = outgoing.into();
                event.restored_rx_qos2 = rx_qos2.into();
                event.dropped = corrupt.into();
                MQE_EVENT_RESTORED
            }
            Dispatch::Event(Event::PingResponse) => {
                self.log(MQE_LOG_DEBUG, b"PINGRESP", [0; 3]);
                self.ping_responses = self.ping_responses.wrapping_add(1);
                MQE_EVENT_PING_RESPONSE
            }
            Dispatch::Subscribed {
                packet_id,
                ref granted,
            } => {
                let granted = self.client.rx_window().get(granted.clone()).unwrap_or(&[]);
                self.log(MQE_LOG_DEBUG, b"SUBACK id \x01", [packet_id.into(), 0, 0]);
                #[cfg(feature = "topic-handlers")]
                {
                    let engine = self.client.engine();
                    free_refused_handlers(&mut self.topic_handlers, granted, |filter| {
                        engine.subscriptions().any(|(f, _)| f.as_bytes() == filter)
                    });
                }
                event.packet_id = packet_id;
                event.granted = granted.as_ptr();
                event.granted_count = granted.len();
                MQE_EVENT_SUBSCRIBED
            }
            // The client schedules no reconnect without the feature.
            #[cfg(not(feature = "reconnect"))]
            Dispatch::Reconnecting { .. } => return Handoff::Skip,
            #[cfg(feature = "reconnect")]
            Dispatch::Reconnecting {
                attempt,
                delay_ms,
                endpoint,
            } => {
                // Fresh randomness for the next backoff.
                if let Some(random) = self.platform.random {
                    // SAFETY: set by the application at mqe_init; it keeps it and ctx valid.
                    self.client
                        .mix_entropy(unsafe { random(self.platform.ctx) });
                }
                let endpoint = u32::try_from(endpoint).unwrap_or(u32::MAX);
                self.log(
                    MQE_LOG_INFO,
                    b"reconnect attempt \x01 in \x02 ms, endpoint \x03",
                    [attempt, delay_ms, endpoint],
                );
                event.attempt = attempt;
                event.delay_ms = delay_ms;
                event.endpoint = endpoint;
                MQE_EVENT_RECONNECTING
            }
            Dispatch::CredentialsNeeded { refused } => {
                #[cfg(feature = "credentials-cb")]
                if let Some(hook) = self.credentials {
                    // C is about to write the buffers the client's credentials point into.
                    self.client.set_credentials(None, None);
                    return Handoff::Credentials(hook, refused);
                }
                let _ = refused;
                return Handoff::Skip;
            }
            #[cfg(feature = "link")]
            Dispatch::Link { up: true } => {
                self.log(MQE_LOG_INFO, b"link up", [0; 3]);
                super::MQE_EVENT_LINK_UP
            }
            #[cfg(feature = "link")]
            Dispatch::Link { up: false } => {
                self.log(MQE_LOG_WARN, b"link down", [0; 3]);
                super::MQE_EVENT_LINK_DOWN
            }
            #[cfg(feature = "link")]
            Dispatch::ReconnectStopped { code } => {
                event.return_code = code;
                event.reason = refused_status(code);
                self.log(
                    MQE_LOG_WARN,
                    b"reconnect stopped: \x11",
                    [event.reason as u32, 0, 0],
                );
                super::MQE_EVENT_RECONNECT_STOPPED
            }
            #[cfg(feature = "pending")]
            Dispatch::Idle => super::MQE_EVENT_IDLE,
            Dispatch::Oversized {
                ref topic,
                size,
                qos,
                packet_id,
            } => {
                let window = self.client.rx_window();
                let topic = topic.clone().and_then(|t| window.get(t)).unwrap_or(&[]);
                let size = u32::try_from(size).unwrap_or(u32::MAX);
                self.log(
                    MQE_LOG_WARN,
                    b"message of \x01 bytes larger than rx_buf dropped, QoS \x02 id \x03",
                    [size, u32::from(qos as u8), packet_id.into()],
                );
                if !topic.is_empty() {
                    event.topic = topic.as_ptr().cast::<c_char>();
                    event.topic_len = topic.len();
                }
                event.size = size;
                event.qos = qos as u8;
                event.packet_id = packet_id;
                MQE_EVENT_MESSAGE_TOO_LARGE
            }
            Dispatch::Qos0Dropped { count } => {
                self.log(
                    MQE_LOG_WARN,
                    b"QoS 0 queue full, dropped \x01",
                    [count, 0, 0],
                );
                event.dropped = count;
                MQE_EVENT_QOS0_DROPPED
            }
            // `message_for` writes messages.
            Dispatch::Message(_) => return Handoff::Skip,
        };
        Handoff::Event
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

/// A blank event: every field zero, that is kind 0, no flags, NULL pointers, `MQE_OK`.
pub(crate) fn blank_event() -> mqe_event_t {
    const _: () = assert!(MQE_OK == 0);
    // SAFETY: all-zero bytes are a valid mqe_event_t: its fields are integers, bools and raw
    // pointers.
    unsafe { core::mem::zeroed() }
}
