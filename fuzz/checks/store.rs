//! The restore target: arbitrary flash contents through `Store::open` and `replay`, then
//! the restored session through an engine. Checks: no panic; a region is either refused with
//! a status or opens; an opened region replays, takes new records and opens again with what
//! it took.

use mqtt_engine::engine::{Config, Engine};
use mqtt_engine::store::sim::SimFlash;
use mqtt_engine::store::{Geometry, Image, Journal, Record, Store};
use mqtt_engine::wire::QoS;

type Flash = SimFlash<4, 256>;
const SECTORS: usize = 4;

struct Nothing;

impl Image for Nothing {
    fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
        f(Record::NextId(1))
    }
}

fn leak(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; len].into_boxed_slice())
}

pub fn run(data: &[u8]) {
    let mut flash = Flash::new(SECTORS);
    // The input is the region's bytes, repeated to fill it (a short input still covers every
    // sector), with its first byte choosing the write size the store is told.
    let granule = [1u32, 4, 8, 32][usize::from(data.first().copied().unwrap_or(0) & 3)];
    if !data.is_empty() {
        for (i, b) in flash.bytes.iter_mut().enumerate() {
            *b = data[i % data.len()];
        }
    }
    let geometry = Geometry {
        sector_size: 256,
        sector_count: SECTORS as u32,
        granule: granule.max(4),
    };
    let Ok((mut store, _)) = Store::open(flash, geometry) else {
        return; // refused with a status: fine
    };
    let mut records = 0u32;
    store
        .replay(&mut [0u8; 256], &mut |_| records += 1)
        .expect("an opened region replays");
    // It takes a new record, and opens again.
    let packet = [0x32, 6, 0, 1, b't', 0x7F, 0x7E, b'x'];
    let record = Record::Publish {
        packet_id: 0x7F7E,
        packet: &packet,
    };
    if store.fits(record, &Nothing) {
        store
            .append(record, &Nothing)
            .expect("an append that fits succeeds");
    }
    let flash = store.into_flash();
    let (store, _) = Store::open(flash, geometry).expect("a region the store wrote opens again");
    // The restored session goes into an engine, which must not panic on it either.
    let store: &'static mut Store<Flash> = Box::leak(Box::new(store));
    let config = Config {
        inflight_window: 8,
        connect_timeout_ms: 0,
        ack_timeout_ms: 0,
        ping_timeout_ms: 0,
        max_rx_packet: 256,
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
    };
    let mut engine = Engine::new(leak(256), leak(1024), config);
    if engine.attach_store(store).is_ok() {
        let _ = engine.publish(
            mqtt_engine::time::Instant(0),
            "t",
            b"x",
            QoS::ExactlyOnce,
            false,
        );
        while engine.poll_event().is_some() {}
    }
}
