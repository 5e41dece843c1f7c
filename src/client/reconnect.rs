//! Automatic reconnect: the backoff policy, its jitter, and the broker endpoints tried in
//! order (failover).

use embedded_nal::{Dns, TcpClientStack};
use heapless::Vec;

use super::{Client, Endpoint};
#[cfg(feature = "reconnect")]
use super::{Dispatch, Phase};
use crate::time::Instant;
use crate::Error;

/// Automatic reconnect: after a connection ends for any reason but `disconnect`, attempt `n`
/// waits a delay drawn uniformly from `[0, min(max_ms, min_ms * 2^(n-1))]`: "full jitter", as
/// FreeRTOS's backoffAlgorithm and AWS's "Exponential Backoff and Jitter" do. Devices that lost
/// the same cell then spread their attempts over the whole window instead of arriving together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    pub enabled: bool,
    pub min_ms: u32,
    pub max_ms: u32,
}

impl ReconnectPolicy {
    pub const OFF: ReconnectPolicy = ReconnectPolicy {
        enabled: false,
        min_ms: 0,
        max_ms: 0,
    };

    /// The ceiling of attempt `attempt`'s delay (1 = the first retry): `min_ms * 2^(attempt-1)`,
    /// capped at `max_ms` (or `min_ms` if that is larger).
    pub fn ceiling_ms(&self, attempt: u32) -> u32 {
        let max_ms = self.max_ms.max(self.min_ms);
        let doublings = attempt.saturating_sub(1).min(31);
        self.min_ms.saturating_mul(1u32 << doublings).min(max_ms)
    }

    /// The wait before attempt `attempt`: `random` reduced into `[0, ceiling_ms(attempt)]`.
    pub fn delay_ms(&self, attempt: u32, random: u32) -> u32 {
        let span = self.ceiling_ms(attempt).saturating_add(1);
        // `span` is at least 1, so the remainder always exists.
        random.checked_rem(span).unwrap_or(0)
    }
}

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    /// Replaces the broker endpoints, tried in this order (failover). `InvalidArgument` when
    /// empty, `TooLarge` beyond `MAX_ENDPOINTS`.
    pub fn set_endpoints(&mut self, endpoints: &[Endpoint<'b>]) -> Result<(), Error> {
        if endpoints.is_empty() {
            return Err(Error::InvalidArgument);
        }
        self.endpoints = Vec::from_slice(endpoints).map_err(|_| Error::TooLarge)?;
        #[cfg(feature = "reconnect")]
        {
            self.endpoint_index = 0;
        }
        Ok(())
    }

    /// Without the `reconnect` feature the client never reconnects: the policy is not kept.
    pub fn set_reconnect(&mut self, policy: ReconnectPolicy) {
        #[cfg(feature = "reconnect")]
        {
            self.reconnect = policy;
        }
        #[cfg(not(feature = "reconnect"))]
        let _ = policy;
    }

    /// Stirs randomness (e.g. the platform's `random`) into the backoff jitter (kept only
    /// with the `reconnect` feature, the jitter's one user).
    pub fn mix_entropy(&mut self, random: u32) {
        #[cfg(feature = "reconnect")]
        {
            self.jitter = (self.jitter ^ random).rotate_left(7) | 1;
        }
        #[cfg(not(feature = "reconnect"))]
        let _ = random;
    }

    /// Failed attempts since the last accepted CONNACK (counted only where reconnect or the
    /// link rules read them).
    pub(super) fn failed_attempts(&self) -> u32 {
        #[cfg(any(feature = "reconnect", feature = "link"))]
        return self.attempt;
        #[cfg(not(any(feature = "reconnect", feature = "link")))]
        0
    }

    /// The index of the endpoint in use, or tried next (without `reconnect`: the one, 0).
    pub fn endpoint_index(&self) -> usize {
        #[cfg(feature = "reconnect")]
        return self.endpoint_index;
        #[cfg(not(feature = "reconnect"))]
        0
    }

    pub(super) fn endpoint(&self) -> Endpoint<'b> {
        let first = Endpoint { host: "", port: 0 };
        let fallback = self.endpoints.first().copied().unwrap_or(first);
        self.endpoints
            .get(self.endpoint_index())
            .copied()
            .unwrap_or(fallback)
    }

    /// After a lost connection: wait out the backoff, then try again. A connection that
    /// reached CONNACK is retried at the same endpoint; a failed attempt moves to the next.
    pub(super) fn schedule_reconnect(&mut self, now: Instant) {
        self.close_if_engine_disconnected();
        // Without the `reconnect` feature the client never reconnects.
        #[cfg(feature = "reconnect")]
        self.start_backoff(now);
        #[cfg(not(feature = "reconnect"))]
        let _ = now;
    }

    #[cfg(feature = "reconnect")]
    fn start_backoff(&mut self, now: Instant) {
        if !self.want_connection
            || !self.reconnect.enabled
            || self.phase != Phase::Idle
            || self.link_blocks_attempt()
        {
            return;
        }
        if !self.connected_on_attempt {
            let next = self.endpoint_index.saturating_add(1);
            self.endpoint_index = if next < self.endpoints.len() { next } else { 0 };
        }
        self.connected_on_attempt = false;
        self.attempt = self.attempt.saturating_add(1);
        let random = self.next_random();
        let delay_ms = self.reconnect.delay_ms(self.attempt, random);
        self.phase = Phase::Backoff(now.add_ms(delay_ms));
        self.push_own(Dispatch::Reconnecting {
            attempt: self.attempt,
            delay_ms,
            endpoint: self.endpoint_index,
        });
    }

    #[cfg(feature = "reconnect")]
    fn next_random(&mut self) -> u32 {
        // xorshift32: enough to spread the retries of many devices.
        let mut x = self.jitter | 1;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.jitter = x;
        x
    }
}
