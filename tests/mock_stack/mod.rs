//! A scripted `TcpClientStack + Dns` standing in for the network and the broker: the test
//! queues what the broker sends, shapes how the stack moves bytes (WouldBlock, partial
//! writes, split reads, errors), and reads back exactly what the broker received.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MockError(pub TcpErrorKind);

impl TcpError for MockError {
    fn kind(&self) -> TcpErrorKind {
        self.0
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct MockSocket(pub u32);

/// How one `send` call behaves.
#[derive(Clone, Copy, Debug)]
pub enum SendStep {
    /// Accept at most this many bytes.
    Accept(usize),
    WouldBlock,
}

/// How one `receive` call behaves.
#[derive(Clone, Copy, Debug)]
pub enum RecvStep {
    /// Hand over at most this many of the queued inbound bytes.
    Give(usize),
    WouldBlock,
}

/// How one DNS or TCP connect call behaves.
#[derive(Clone, Copy, Debug)]
pub enum Answer<T> {
    Ready(T),
    WouldBlock,
    Fail,
}

#[derive(Default)]
pub struct MockStack {
    // --- script ---
    /// Bytes the broker has sent and the stack holds for `receive`.
    pub inbound: VecDeque<u8>,
    /// Per-call receive behaviour, consumed in order; when empty, hand over everything.
    pub recv_plan: VecDeque<RecvStep>,
    /// Cycled per send call; empty = accept everything. Set with `set_send_pattern`.
    send_pattern: Vec<SendStep>,
    send_calls: usize,
    /// Consumed per call; when empty, connect succeeds.
    pub connect_plan: VecDeque<Answer<()>>,
    /// Consumed per call; when empty, resolution fails.
    pub dns_plan: VecDeque<Answer<IpAddr>>,
    /// Once inbound is empty, `receive` reports the peer closed (Ok(0)).
    pub peer_closed: bool,
    pub recv_error: Option<TcpErrorKind>,
    pub send_error: Option<TcpErrorKind>,
    pub socket_error: bool,

    // --- observations ---
    /// Every byte the broker received, across connections.
    pub sent: Vec<u8>,
    pub dns_queries: Vec<String>,
    pub connect_calls: Vec<SocketAddr>,
    pub opened: Vec<u32>,
    pub closed: Vec<u32>,
    pub send_calls_total: usize,
    pub recv_calls: usize,
}

impl MockStack {
    pub fn new() -> Self {
        Self::default()
    }

    /// Send calls from now on cycle through `pattern`, from its start.
    pub fn set_send_pattern(&mut self, pattern: &[SendStep]) {
        self.send_pattern = pattern.to_vec();
        self.send_calls = 0;
    }

    pub fn broker_sends(&mut self, bytes: &[u8]) {
        self.inbound.extend(bytes.iter().copied());
    }

    /// What the broker received since the last call.
    pub fn take_sent(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sent)
    }

    pub fn open_sockets(&self) -> usize {
        self.opened.len() - self.closed.len()
    }
}

impl TcpClientStack for MockStack {
    type TcpSocket = MockSocket;
    type Error = MockError;

    fn socket(&mut self) -> Result<MockSocket, MockError> {
        if self.socket_error {
            return Err(MockError(TcpErrorKind::Other));
        }
        let id = self.opened.len() as u32 + 1;
        self.opened.push(id);
        Ok(MockSocket(id))
    }

    fn connect(
        &mut self,
        socket: &mut MockSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), MockError> {
        assert!(
            !self.closed.contains(&socket.0),
            "connect on a closed socket"
        );
        self.connect_calls.push(remote);
        match self.connect_plan.pop_front().unwrap_or(Answer::Ready(())) {
            Answer::Ready(()) => Ok(()),
            Answer::WouldBlock => Err(nb::Error::WouldBlock),
            Answer::Fail => Err(nb::Error::Other(MockError(TcpErrorKind::Other))),
        }
    }

    fn send(&mut self, socket: &mut MockSocket, buffer: &[u8]) -> nb::Result<usize, MockError> {
        assert!(!self.closed.contains(&socket.0), "send on a closed socket");
        assert!(!buffer.is_empty(), "send of nothing");
        self.send_calls_total += 1;
        if let Some(kind) = self.send_error {
            return Err(nb::Error::Other(MockError(kind)));
        }
        let step = if self.send_pattern.is_empty() {
            SendStep::Accept(usize::MAX)
        } else {
            let step = self.send_pattern[self.send_calls % self.send_pattern.len()];
            self.send_calls += 1;
            step
        };
        match step {
            SendStep::WouldBlock => Err(nb::Error::WouldBlock),
            SendStep::Accept(max) => {
                let n = max.min(buffer.len());
                self.sent.extend_from_slice(&buffer[..n]);
                Ok(n)
            }
        }
    }

    fn receive(
        &mut self,
        socket: &mut MockSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, MockError> {
        assert!(
            !self.closed.contains(&socket.0),
            "receive on a closed socket"
        );
        assert!(!buffer.is_empty(), "receive into nothing");
        self.recv_calls += 1;
        if let Some(kind) = self.recv_error {
            return Err(nb::Error::Other(MockError(kind)));
        }
        if self.inbound.is_empty() {
            return if self.peer_closed {
                Ok(0)
            } else {
                Err(nb::Error::WouldBlock)
            };
        }
        let max = match self.recv_plan.pop_front() {
            Some(RecvStep::WouldBlock) => return Err(nb::Error::WouldBlock),
            Some(RecvStep::Give(max)) => max,
            None => usize::MAX,
        };
        let n = max.min(buffer.len()).min(self.inbound.len());
        for (slot, byte) in buffer.iter_mut().zip(self.inbound.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn close(&mut self, socket: MockSocket) -> Result<(), MockError> {
        assert!(!self.closed.contains(&socket.0), "double close");
        self.closed.push(socket.0);
        Ok(())
    }
}

impl Dns for MockStack {
    type Error = MockError;

    fn get_host_by_name(&mut self, hostname: &str, _t: AddrType) -> nb::Result<IpAddr, MockError> {
        self.dns_queries.push(hostname.to_owned());
        match self.dns_plan.pop_front().unwrap_or(Answer::Fail) {
            Answer::Ready(ip) => Ok(ip),
            Answer::WouldBlock => Err(nb::Error::WouldBlock),
            Answer::Fail => Err(nb::Error::Other(MockError(TcpErrorKind::Other))),
        }
    }

    fn get_host_by_address(&mut self, _a: IpAddr, _r: &mut [u8]) -> nb::Result<usize, MockError> {
        Err(nb::Error::Other(MockError(TcpErrorKind::Other)))
    }
}
