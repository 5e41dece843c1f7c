//! The record log on its own, over the simulated NOR flash: round trips, rotation and wear,
//! power cuts at every programmed word, corrupted regions.

use mqtt_engine::store::sim::SimFlash;
use mqtt_engine::store::{Geometry, Image, Journal, Record, Store, StoreError};

type Flash = SimFlash<4, 512>;

/// A test-side session: what the records describe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model {
    next_id: u16,
    /// (id, Some(packet) while waiting for PUBACK/PUBREC, None while waiting for PUBCOMP).
    outgoing: Vec<(u16, Option<Vec<u8>>)>,
    rx: Vec<u16>,
}

impl Model {
    fn apply(&mut self, r: Record<'_>) {
        match r {
            Record::NextId(id) => self.next_id = id,
            Record::Publish { packet_id, packet } => {
                if !self.outgoing.iter().any(|(id, _)| *id == packet_id) {
                    self.outgoing.push((packet_id, Some(packet.to_vec())));
                }
            }
            Record::Pubrel(id) => match self.outgoing.iter_mut().find(|(i, _)| *i == id) {
                Some(entry) => entry.1 = None,
                None => self.outgoing.push((id, None)),
            },
            Record::Done(id) => self.outgoing.retain(|(i, _)| *i != id),
            Record::DoneBatch { ids } => {
                for pair in ids.chunks(2) {
                    let id = u16::from_le_bytes([pair[0], pair[1]]);
                    self.outgoing.retain(|(i, _)| *i != id);
                }
            }
            Record::RxQos2 { id, .. } => {
                if !self.rx.contains(&id) {
                    self.rx.push(id)
                }
            }
            Record::RxRun { .. } | Record::Subscribe { .. } | Record::Unsubscribe { .. } => {}
            Record::RxRelease(id) => self.rx.retain(|i| *i != id),
            Record::RxClear => self.rx.clear(),
            Record::SnapBegin { .. } | Record::SnapEnd { .. } => {}
        }
    }
}

impl Image for Model {
    fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
        if !f(Record::NextId(self.next_id)) {
            return false;
        }
        for (id, packet) in &self.outgoing {
            let r = match packet {
                Some(p) => Record::Publish {
                    packet_id: *id,
                    packet: p,
                },
                None => Record::Pubrel(*id),
            };
            if !f(r) {
                return false;
            }
        }
        self.rx
            .iter()
            .all(|id| f(Record::RxQos2 { id: *id, hash: 7 }))
    }
}

fn geometry() -> Geometry {
    Geometry {
        sector_size: 512,
        sector_count: 4,
        granule: 4,
    }
}

fn geometry_for(granule: usize) -> Geometry {
    Geometry {
        granule: granule as u32,
        ..geometry()
    }
}

fn restore<const W: usize>(
    flash: SimFlash<W, 512>,
) -> Result<(Model, Store<SimFlash<W, 512>>), StoreError> {
    let (mut store, _) = Store::open(flash, geometry_for(W))?;
    let mut model = Model::default();
    let mut scratch = [0u8; 512];
    store.replay(&mut scratch, &mut |r| model.apply(r))?;
    Ok((model, store))
}

fn packet(id: u16, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8) ^ (id as u8)).collect()
}

/// Applies a change to the model, then journals it (as the session does).
fn step<const W: usize>(
    store: &mut Store<SimFlash<W, 512>>,
    model: &mut Model,
    r: Record<'_>,
) -> Result<(), StoreError> {
    model.apply(r);
    store.append(r, model)
}

/// A store on a blank flash, an empty model at next_id 1, and whether open formatted the flash.
fn blank() -> (Store<Flash>, Model, bool) {
    let (store, opened) = Store::open(Flash::new(4), geometry()).unwrap();
    let model = Model {
        next_id: 1,
        ..Model::default()
    };
    (store, model, opened.formatted)
}

/// Appends a PUBLISH of `len` bytes as packet `id` and applies it to the model.
fn publish(
    store: &mut Store<Flash>,
    model: &mut Model,
    id: u16,
    len: usize,
) -> Result<(), StoreError> {
    let p = packet(id, len);
    step(
        store,
        model,
        Record::Publish {
            packet_id: id,
            packet: &p,
        },
    )
}

#[test]
fn blank_region_is_formatted_and_round_trips() {
    let (mut store, mut model, formatted) = blank();
    assert!(formatted);
    publish(&mut store, &mut model, 1, 40).unwrap();
    step(&mut store, &mut model, Record::NextId(2)).unwrap();
    step(&mut store, &mut model, Record::RxQos2 { id: 9, hash: 7 }).unwrap();
    step(&mut store, &mut model, Record::Pubrel(1)).unwrap();
    let (restored, _) = restore(store.into_flash()).unwrap();
    assert_eq!(restored, model);
    assert_eq!(restored.outgoing, vec![(1, None)]);
}

#[test]
fn a_long_run_rotates_and_spreads_wear() {
    let (mut store, mut model, _) = blank();
    for id in 1..=2000u16 {
        let p = packet(id, 30);
        assert!(store.fits(
            Record::Publish {
                packet_id: id,
                packet: &p
            },
            &model
        ));
        step(
            &mut store,
            &mut model,
            Record::Publish {
                packet_id: id,
                packet: &p,
            },
        )
        .unwrap();
        step(&mut store, &mut model, Record::NextId(id + 1)).unwrap();
        if id > 3 {
            step(&mut store, &mut model, Record::Done(id - 3)).unwrap();
        }
    }
    let erases = store.flash().erases.clone();
    let (restored, _) = restore(store.into_flash()).unwrap();
    assert_eq!(restored, model);
    assert_eq!(restored.outgoing.len(), 3);
    let (min, max) = (erases.iter().min().unwrap(), erases.iter().max().unwrap());
    assert!(*min > 0 && max - min <= 1, "erases per sector {erases:?}");
}

#[test]
fn a_full_snapshot_is_back_pressure() {
    let (mut store, mut model, _) = blank();
    let mut accepted = 0;
    for id in 1..=100u16 {
        let p = packet(id, 60);
        let r = Record::Publish {
            packet_id: id,
            packet: &p,
        };
        if !store.fits(r, &model) {
            break;
        }
        step(&mut store, &mut model, r).unwrap();
        accepted += 1;
    }
    // 4 sectors of 512 B keep one in reserve for the snapshot: about 6 records of 72 B.
    assert!((4..=7).contains(&accepted), "{accepted}");
    let (restored, _) = restore(store.into_flash()).unwrap();
    assert_eq!(restored.outgoing.len(), accepted);
}

/// One scripted run with the power cut at operation `cut` (None: never). Returns the model
/// of what was acknowledged by the store, and of what was attempted, before the cut.
fn run_with_cut<const W: usize>(cut: Option<u64>) -> (SimFlash<W, 512>, Vec<Model>, bool) {
    let (store, _) = Store::open(SimFlash::<W, 512>::new(4), geometry_for(W)).unwrap();
    let mut flash = store.into_flash();
    flash.ops = 0;
    flash.cut_at = cut;
    let (mut store, _) = Store::open(flash, geometry_for(W)).unwrap();
    let mut model = Model {
        next_id: 1,
        ..Model::default()
    };
    // Every state the store may legally restore: the committed one, or the one being
    // committed when the cut hit.
    let mut states = vec![model.clone()];
    for round in 0..60u16 {
        let id = 1 + round;
        let rx = 100 + round;
        let p = packet(id, 20 + usize::from(round % 5) * 7);
        let mut changes: Vec<Record<'_>> = vec![Record::Publish {
            packet_id: id,
            packet: &p,
        }];
        changes.push(Record::NextId(id + 1));
        if round % 3 == 0 {
            changes.push(Record::RxQos2 { id: rx, hash: 7 });
        }
        if round > 2 {
            if id.is_multiple_of(2) {
                changes.push(Record::Pubrel(id - 2));
            }
            changes.push(Record::Done(id - 3));
            changes.push(Record::RxRelease(rx - 3));
        }
        for r in changes {
            let mut next = model.clone();
            next.apply(r);
            states.push(next.clone());
            if store.append(r, &next).is_err() {
                return (store.into_flash(), states, true);
            }
            model = next;
            states = vec![model.clone()];
        }
    }
    (store.into_flash(), states, false)
}

#[test]
fn power_cut_at_every_programmed_word_restores_a_committed_state() {
    power_cut_everywhere::<4>(500);
}

/// Write granularity 1 (byte-programmable NOR) and 32 (internal flash with ECC): records are
/// padded, each word programmed once.
#[test]
fn power_cut_everywhere_at_write_sizes_1_and_32() {
    power_cut_everywhere::<1>(2000);
    power_cut_everywhere::<32>(100);
}

fn power_cut_everywhere<const W: usize>(min_ops: u64) {
    let (full, _, cut) = run_with_cut::<W>(None);
    assert!(!cut);
    let total = full.ops;
    assert!(total > min_ops, "{total} operations");
    for at in 1..=total {
        let (mut flash, states, was_cut) = run_with_cut::<W>(Some(at));
        assert!(was_cut, "cut {at}");
        flash.reboot();
        let (restored, mut store) =
            restore(flash).unwrap_or_else(|e| panic!("cut at {at}: restore failed: {e:?}"));
        // The last committed state, or the one whose record was being written.
        assert!(
            states.contains(&restored),
            "cut at {at}: restored {restored:?}, allowed {states:?}"
        );
        // The log goes on working after the restore.
        let mut model = restored.clone();
        for id in 1000..1030u16 {
            let p = packet(id, 25);
            step(
                &mut store,
                &mut model,
                Record::Publish {
                    packet_id: id,
                    packet: &p,
                },
            )
            .unwrap();
            step(&mut store, &mut model, Record::Done(id)).unwrap();
        }
        let (again, _) = restore(store.into_flash()).unwrap();
        assert_eq!(again, model, "cut at {at}: after more work");
    }
}

#[test]
fn corrupted_regions_are_refused_never_read() {
    // Random bytes.
    let mut flash = Flash::new(4);
    let mut x = 0x1234_5678u32;
    for b in flash.bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    assert_eq!(
        Store::open(flash, geometry()).err(),
        Some(StoreError::Corrupt)
    );

    // Another layout version.
    let (store, _) = Store::open(Flash::new(4), geometry()).unwrap();
    let mut flash = store.into_flash();
    flash.bytes[4] = 2;
    let crc = crc32(&flash.bytes[..12]);
    flash.bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        Store::open(flash, geometry()).err(),
        Some(StoreError::Version(2))
    );

    // A half-erased sector holding the only snapshot: its header and first record are gone.
    let (store, _) = Store::open(Flash::new(4), geometry()).unwrap();
    let mut flash = store.into_flash();
    flash.bytes[..32].fill(0xFF);
    assert_eq!(
        Store::open(flash, geometry()).err(),
        Some(StoreError::Corrupt)
    );

    // A record flipped in the middle of the log: skipped and counted, the rest restores.
    let (mut store, mut model, _) = blank();
    publish(&mut store, &mut model, 1, 40).unwrap();
    let mut flash = store.into_flash();
    let at = flash.bytes[..512].iter().rposition(|b| *b != 0xFF).unwrap();
    flash.bytes[at - 10] ^= 0x01;
    let (mut store, opened) = Store::open(flash, geometry()).unwrap();
    assert_eq!(opened.corrupt_records, 1);
    let mut restored = Model::default();
    store
        .replay(&mut [0u8; 512], &mut |r| restored.apply(r))
        .unwrap();
    assert!(restored.outgoing.is_empty());

    // Bad geometry.
    let bad = Geometry {
        sector_count: 2,
        ..geometry()
    };
    assert_eq!(
        Store::open(Flash::new(4), bad).err(),
        Some(StoreError::Geometry)
    );
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
