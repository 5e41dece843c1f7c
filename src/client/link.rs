//! The data link as the firmware sees it (feature `link`): the modem's data call (PDP context,
//! bearer) going down and up, and the backoff rules that keep a fleet from storming a broker:
//! - while the link is down no attempt is made; link-up starts one at once;
//! - a connection lost soon after its CONNACK (a broker kicking a duplicate client id, a cloud
//!   dropping a policy violation) counts as a failed attempt, so the backoff keeps growing;
//! - CONNACK 4 and 5 (bad credentials, not authorised) stop automatic reconnect after a few
//!   tries, unless the credentials are refreshed before every CONNECT.
//!
//! Without the feature the hooks below are empty and the client behaves as before.

use embedded_nal::{Dns, TcpClientStack};

use super::Client;
use crate::time::Instant;

/// The link's rules (feature `link`). `Default` is all off, the behaviour without the feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkPolicy {
    /// A connection lost within this many ms of its CONNACK counts as a failed attempt: the
    /// backoff goes on growing from where it was (0: off).
    pub stable_ms: u32,
    /// After this many CONNACK 4 or 5 refusals in a row automatic reconnect stops, with
    /// [`super::Dispatch::ReconnectStopped`] (0: never stop).
    pub auth_retry_limit: u8,
}

/// The largest keep-alive, in seconds, that keeps a NAT entry with an idle timeout of
/// `nat_timeout_s` open: below two thirds of it, so that even a PINGREQ sent late, within the
/// broker's 1.5 x keep-alive grace, crosses the NAT before the entry expires. 0 (unknown NAT)
/// leaves `keep_alive_s` as it is; a keep-alive of 0 (off) is turned on.
pub fn nat_keep_alive(keep_alive_s: u16, nat_timeout_s: u32) -> u16 {
    if nat_timeout_s == 0 {
        return keep_alive_s;
    }
    // Strictly below 2/3: (2 * nat - 1) / 3, at least 1 s.
    let limit = nat_timeout_s.saturating_mul(2).saturating_sub(1) / 3;
    let limit = u16::try_from(limit.max(1)).unwrap_or(u16::MAX);
    match keep_alive_s {
        0 => limit,
        ka => ka.min(limit),
    }
}

#[cfg(feature = "link")]
#[derive(Clone, Copy, Debug)]
pub(super) struct Link {
    down: bool,
    policy: LinkPolicy,
    credentials_refreshable: bool,
    /// CONNACK 4/5 refusals since the last accepted CONNACK.
    auth_refusals: u8,
    /// When the current connection's CONNACK arrived, and the failed attempts before it.
    connected_at: Option<(Instant, u32)>,
}

#[cfg(not(feature = "link"))]
#[derive(Clone, Copy, Debug)]
pub(super) struct Link;

impl Link {
    #[cfg(feature = "link")]
    pub(super) const NEW: Link = Link {
        down: false,
        policy: LinkPolicy {
            stable_ms: 0,
            auth_retry_limit: 0,
        },
        credentials_refreshable: false,
        auth_refusals: 0,
        connected_at: None,
    };
    #[cfg(not(feature = "link"))]
    pub(super) const NEW: Link = Link;
}

#[cfg(feature = "link")]
impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    /// The firmware's data link went down (the modem's data-call callback). The connection, or
    /// the attempt under way, ends at once with `Error::LinkDown`; no attempt is made until
    /// [`Client::link_up`]. Publishing keeps its offline behaviour. Reported by
    /// [`super::Dispatch::Link`] `{ up: false }` (once per change).
    pub fn link_down(&mut self, now: Instant) {
        if self.link.down {
            return;
        }
        self.link.down = true;
        self.push_own(super::Dispatch::Link { up: false });
        match self.phase {
            super::Phase::Idle => {}
            super::Phase::Backoff(_) => self.phase = super::Phase::Idle,
            super::Phase::Resolving | super::Phase::TcpConnecting(_) => {
                self.fail_setup(crate::Error::LinkDown);
            }
            super::Phase::Mqtt => {
                if self.engine.state() != crate::engine::State::Disconnected {
                    self.engine.connection_lost(now, crate::Error::LinkDown);
                }
                self.close_if_engine_disconnected();
            }
        }
    }

    /// The data link is up again. When a connection is wanted, the attempt starts now, without
    /// waiting out the backoff (also when the link was never reported down and a backoff runs).
    pub fn link_up(&mut self, now: Instant) {
        if core::mem::replace(&mut self.link.down, false) {
            self.push_own(super::Dispatch::Link { up: true });
        }
        let waiting = match self.phase {
            super::Phase::Backoff(_) => true,
            super::Phase::Idle => {
                self.close_if_engine_disconnected();
                self.want_connection && self.engine.state() == crate::engine::State::Disconnected
            }
            _ => false,
        };
        if waiting {
            self.stats.reconnect();
            self.start_attempt(now);
        }
    }

    /// False between `link_down` and `link_up`.
    pub fn link_is_up(&self) -> bool {
        !self.link.down
    }

    pub fn set_link_policy(&mut self, policy: LinkPolicy) {
        self.link.policy = policy;
    }

    /// Set when the credentials are renewed before every CONNECT (a credentials callback): a
    /// CONNACK 4 or 5 then never stops automatic reconnect, since the next attempt carries new
    /// credentials.
    pub fn set_credentials_refreshable(&mut self, refreshable: bool) {
        self.link.credentials_refreshable = refreshable;
    }

    pub(super) fn link_blocks_attempt(&self) -> bool {
        self.link.down
    }

    pub(super) fn link_on_connected(&mut self, now: Instant, failed_before: u32) {
        self.link.auth_refusals = 0;
        self.link.connected_at = Some((now, failed_before));
    }

    /// A connection that lived less than `stable_ms` after its CONNACK: the attempts before it
    /// still count, and this one failed too.
    pub(super) fn link_on_lost(&mut self, now: Instant) {
        if let Some((at, failed_before)) = self.link.connected_at.take() {
            let stable_ms = self.link.policy.stable_ms;
            if stable_ms > 0 && !now.reached(at.add_ms(stable_ms)) {
                self.attempt = failed_before;
            }
        }
    }

    /// True when this refusal stops automatic reconnect.
    pub(super) fn link_on_refused(&mut self, code: u8) -> bool {
        self.link.connected_at = None;
        if !matches!(code, 4 | 5) || self.link.credentials_refreshable {
            return false;
        }
        self.link.auth_refusals = self.link.auth_refusals.saturating_add(1);
        let limit = self.link.policy.auth_retry_limit;
        if limit == 0 || self.link.auth_refusals < limit {
            return false;
        }
        self.link.auth_refusals = 0;
        self.want_connection = false;
        self.push_own(super::Dispatch::ReconnectStopped { code });
        true
    }
}

#[cfg(not(feature = "link"))]
impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    /// Without `link` a refusal never stops reconnecting, so there is nothing to exempt.
    pub fn set_credentials_refreshable(&mut self, _refreshable: bool) {}

    pub(super) fn link_blocks_attempt(&self) -> bool {
        false
    }

    pub(super) fn link_on_connected(&mut self, _now: Instant, _failed_before: u32) {}

    pub(super) fn link_on_lost(&mut self, _now: Instant) {}

    pub(super) fn link_on_refused(&mut self, _code: u8) -> bool {
        false
    }
}
