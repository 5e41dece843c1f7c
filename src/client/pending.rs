//! What the client still has to do (feature `pending`), for applications that sleep: a
//! PSM/eDRX device may power the modem down only when nothing waits to be sent and nothing is
//! awaited from the broker. Without the feature the hooks are empty.

#[cfg(feature = "pending")]
use embedded_nal::{Dns, TcpClientStack};

#[cfg(feature = "pending")]
use super::{Client, ClientState, Dispatch};

/// A snapshot of the work in hand (feature `pending`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Outgoing QoS 1/2 messages not yet complete (PUBACK or PUBCOMP not received).
    pub inflight: usize,
    /// QoS 0 messages in the offline queue.
    pub qos0_queued: usize,
    /// SUBSCRIBE and UNSUBSCRIBE packets awaiting SUBACK or UNSUBACK.
    pub subs_awaiting: usize,
    /// Bytes queued for the socket and not yet accepted by it.
    pub tx_bytes: usize,
    /// Incoming QoS 2 messages awaiting the broker's PUBREL.
    pub rx_qos2_open: u32,
    /// A PINGREQ is queued or awaits its PINGRESP.
    pub ping_outstanding: bool,
    /// Connected, and every count above is 0 and no received byte is unprocessed.
    pub idle: bool,
}

#[cfg(feature = "pending")]
#[derive(Clone, Copy, Debug)]
pub(super) struct IdleWatch {
    enabled: bool,
    reported: bool,
}

#[cfg(not(feature = "pending"))]
#[derive(Clone, Copy, Debug)]
pub(super) struct IdleWatch;

impl IdleWatch {
    #[cfg(feature = "pending")]
    pub(super) const NEW: IdleWatch = IdleWatch {
        enabled: false,
        reported: false,
    };
    #[cfg(not(feature = "pending"))]
    pub(super) const NEW: IdleWatch = IdleWatch;
}

#[cfg(feature = "pending")]
impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    pub fn pending(&self) -> Pending {
        let engine = &self.engine;
        let mut pending = Pending {
            inflight: engine.inflight(),
            qos0_queued: self.qos0_queue.len(),
            subs_awaiting: engine.awaiting_subacks(),
            tx_bytes: engine.pending_transmit().len(),
            rx_qos2_open: engine.rx_qos2_stats().open_ids,
            ping_outstanding: engine.ping_outstanding(),
            idle: false,
        };
        pending.idle = self.state() == ClientState::Connected
            && pending
                == Pending {
                    idle: false,
                    ..Pending::default()
                }
            && !engine.has_unsent()
            && self.rx_start >= self.rx_end;
        pending
    }

    /// Report [`Dispatch::Idle`] each time the client becomes idle (off by default).
    pub fn set_idle_events(&mut self, enabled: bool) {
        self.idle.enabled = enabled;
    }

    /// `Dispatch::Idle` once per change from busy to idle.
    pub(super) fn idle_notice(&mut self) -> Option<Dispatch> {
        if !self.idle.enabled {
            return None;
        }
        let idle = self.pending().idle;
        let report = idle && !self.idle.reported;
        self.idle.reported = idle;
        report.then_some(Dispatch::Idle)
    }

    pub(super) fn idle_unreported(&self) -> bool {
        self.idle.enabled && !self.idle.reported && self.pending().idle
    }
}

#[cfg(not(feature = "pending"))]
impl<'b, S: embedded_nal::TcpClientStack + embedded_nal::Dns> super::Client<'b, S> {
    pub(super) fn idle_notice(&mut self) -> Option<super::Dispatch> {
        None
    }

    pub(super) fn idle_unreported(&self) -> bool {
        false
    }
}
