//! What the store tests share: a simulated NOR flash that outlives each boot of the device.
#![allow(dead_code)] // each test file uses its own part

use std::cell::RefCell;
use std::rc::Rc;

use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use mqtt_engine::engine::{
    Config, ConnectOptions, DEFAULT_OVERSIZED_LIMIT, DEFAULT_PUBREL_MAX_CONNECTIONS,
};
use mqtt_engine::store::sim::{SimError, SimFlash};

/// `SECTORS` sectors of `SECTOR` bytes, write size 4; clones share the same flash.
#[derive(Clone)]
pub struct Shared<const SECTORS: usize, const SECTOR: usize>(
    pub Rc<RefCell<SimFlash<SECTORS, SECTOR>>>,
);

impl<const SECTORS: usize, const SECTOR: usize> Shared<SECTORS, SECTOR> {
    /// A fresh, erased flash of `sectors` sectors.
    pub fn new(sectors: usize) -> Self {
        Shared(Rc::new(RefCell::new(SimFlash::new(sectors))))
    }
}

impl<const SECTORS: usize, const SECTOR: usize> ErrorType for Shared<SECTORS, SECTOR> {
    type Error = SimError;
}

impl<const SECTORS: usize, const SECTOR: usize> ReadNorFlash for Shared<SECTORS, SECTOR> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
        self.0.borrow_mut().read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.0.borrow().capacity()
    }
}

impl<const SECTORS: usize, const SECTOR: usize> NorFlash for Shared<SECTORS, SECTOR> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
        self.0.borrow_mut().erase(from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
        self.0.borrow_mut().write(offset, bytes)
    }
}

/// Storage that lives as long as the test: the engine borrows its buffers for `'static`.
pub fn leak(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; len].into_boxed_slice())
}

/// The engine's config for the store tests: no timers (the tests drive time and acks), the
/// window and packet limit each file needs.
pub fn config(inflight_window: u16, max_rx_packet: usize) -> Config {
    Config {
        inflight_window,
        connect_timeout_ms: 0,
        ack_timeout_ms: 0,
        ping_timeout_ms: 0,
        max_rx_packet,
        pubrel_max_connections: DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: DEFAULT_OVERSIZED_LIMIT,
    }
}

/// A persistent session (clean_session=0) as "dev", no keep-alive, credentials or will.
pub fn opts() -> ConnectOptions<'static> {
    ConnectOptions {
        client_id: "dev",
        keep_alive_s: 0,
        clean_session: false,
        username: None,
        password: None,
        will: None,
    }
}
