//! The session store's C face: `mqe_set_store` and `mqe_store_erase` over a flash table in
//! RAM (NOR semantics): arguments, state, refused regions left untouched, the restore event;
//! `mqe_rx_done`'s statuses (its behaviour on the wire: tests/store_rx_done.rs).

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;

use mqtt_engine::ffi::*;

mod idle_port;

const SECTOR: usize = 1024;
const SECTORS: usize = 4;

thread_local! {
    static FLASH: RefCell<Vec<u8>> = RefCell::new(vec![0xFF; SECTOR * SECTORS]);
    static EVENTS: RefCell<Vec<(mqe_event_kind_t, u32, u32)>> = const { RefCell::new(Vec::new()) };
}

unsafe extern "C" fn f_read(_: *mut c_void, offset: u32, buf: *mut u8, len: u32) -> i32 {
    FLASH.with(|f| {
        let f = f.borrow();
        let Some(src) = f.get(offset as usize..(offset + len) as usize) else {
            return -1;
        };
        // SAFETY: the store hands a buffer of `len` bytes.
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), buf, len as usize) };
        0
    })
}

unsafe extern "C" fn f_program(_: *mut c_void, offset: u32, data: *const u8, len: u32) -> i32 {
    FLASH.with(|f| {
        let mut f = f.borrow_mut();
        // SAFETY: the store hands `len` bytes.
        let data = unsafe { std::slice::from_raw_parts(data, len as usize) };
        let Some(dst) = f.get_mut(offset as usize..(offset + len) as usize) else {
            return -1;
        };
        for (d, s) in dst.iter_mut().zip(data) {
            *d &= s;
        }
        0
    })
}

unsafe extern "C" fn f_erase(_: *mut c_void, sector: u32) -> i32 {
    FLASH.with(|f| {
        let mut f = f.borrow_mut();
        let start = sector as usize * SECTOR;
        match f.get_mut(start..start + SECTOR) {
            Some(s) => {
                s.fill(0xFF);
                0
            }
            None => -1,
        }
    })
}

fn table() -> mqe_flash_t {
    mqe_flash_t {
        ctx: ptr::null_mut(),
        read: Some(f_read),
        program: Some(f_program),
        erase: Some(f_erase),
        sector_size: SECTOR as u32,
        sector_count: SECTORS as u32,
        write_size: 4,
        batch: 0,
    }
}

unsafe extern "C" fn on_event(_: *mut c_void, e: *const mqe_event_t) {
    // SAFETY: valid during the callback.
    let e = unsafe { &*e };
    EVENTS.with(|v| {
        v.borrow_mut()
            .push((e.kind, e.restored_outgoing, e.dropped))
    });
}

/// A client (leaked: it lives for the test) with a store buffer for QoS 1/2.
fn client() -> *mut mqe_client_t {
    client_with(false)
}

/// `client()`, with `rx_qos2_manual_ack` as given.
fn client_with(manual_ack: bool) -> *mut mqe_client_t {
    let bufs: &'static mut [u8] = Box::leak(vec![0u8; 3 * 1024].into_boxed_slice());
    let mut o = mqe_options_default();
    o.host = c"127.0.0.1".as_ptr();
    o.client_id = c"store".as_ptr();
    o.clean_session = false;
    o.rx_buf = bufs.as_mut_ptr();
    o.rx_buf_len = 1024;
    // SAFETY: within `bufs`.
    unsafe {
        o.tx_buf = bufs.as_mut_ptr().add(1024);
        o.store_buf = bufs.as_mut_ptr().add(2048);
    }
    o.tx_buf_len = 1024;
    o.store_buf_len = 1024;
    o.rx_qos2_manual_ack = manual_ack;
    let t = idle_port::transport();
    let p = idle_port::platform();
    let c: &'static mut mqe_client_t = Box::leak(Box::new(mqe_client_t::zeroed()));
    // SAFETY: valid pointers; the options' buffers are leaked.
    unsafe {
        assert_eq!(mqe_init(c, &o, &t, &p), MQE_OK);
        assert_eq!(
            mqe_set_event_handler(c, Some(on_event), ptr::null_mut()),
            MQE_OK
        );
    }
    c
}

fn store() -> *mut mqe_store_t {
    Box::leak(Box::new(mqe_store_t::zeroed()))
}

#[test]
fn set_store_checks_its_arguments_and_state() {
    let c = client();
    let s = store();
    let flash = table();
    let mut no_erase = table();
    no_erase.erase = None;
    let bad_geometry = mqe_flash_t {
        sector_count: 2,
        ..table()
    };
    // SAFETY: valid or NULL pointers, as each case says.
    unsafe {
        assert_eq!(mqe_set_store(c, ptr::null_mut(), &flash), MQE_ERR_NULL);
        assert_eq!(mqe_set_store(c, s, ptr::null()), MQE_ERR_NULL);
        assert_eq!(mqe_set_store(c, s, &no_erase), MQE_ERR_NULL);
        assert_eq!(mqe_set_store(ptr::null_mut(), s, &flash), MQE_ERR_NULL);
        assert_eq!(mqe_set_store(c, s, &bad_geometry), MQE_ERR_STORE_GEOMETRY);
        assert_eq!(mqe_set_store(c, s, &flash), MQE_OK);
        // A second store would overwrite the one in use.
        assert_eq!(mqe_set_store(c, s, &flash), MQE_ERR_STATE);
    }
}

#[test]
fn a_refused_region_is_left_as_it_is_until_erased() {
    FLASH.with(|f| {
        let mut f = f.borrow_mut();
        for (i, b) in f.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
    });
    let before = FLASH.with(|f| f.borrow().clone());
    let c = client();
    let flash = table();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(mqe_set_store(c, store(), &flash), MQE_ERR_STORE_CORRUPT);
        assert_eq!(FLASH.with(|f| f.borrow().clone()), before);
        assert_eq!(mqe_store_erase(&flash), MQE_OK);
        assert!(FLASH.with(|f| f.borrow().iter().all(|&b| b == 0xFF)));
        assert_eq!(mqe_set_store(c, store(), &flash), MQE_OK);
    }
}

#[test]
fn a_new_client_over_the_same_region_restores_what_was_accepted() {
    let flash = table();
    // SAFETY: valid pointers.
    unsafe {
        let c = client();
        assert_eq!(mqe_set_store(c, store(), &flash), MQE_OK);
        let mut id = 0u16;
        let topic = c"t".as_ptr();
        assert_eq!(
            mqe_publish(c, topic, b"a".as_ptr().cast(), 1, 1, false, &mut id),
            MQE_OK
        );
        assert_eq!(
            mqe_publish(c, topic, b"b".as_ptr().cast(), 1, 2, false, &mut id),
            MQE_OK
        );
        // The reset: a new client (new RAM) over the same flash.
        let c = client();
        EVENTS.with(|v| v.borrow_mut().clear());
        assert_eq!(mqe_set_store(c, store(), &flash), MQE_OK);
        mqe_poll(c);
        let events = EVENTS.with(|v| v.borrow().clone());
        assert_eq!(
            events,
            [(MQE_EVENT_RESTORED, 2, 0)],
            "one RESTORED, nothing else"
        );
    }
}

/// A torn record (the last one, as a power cut leaves it) is skipped and reported.
#[test]
fn a_torn_record_is_skipped_and_reported() {
    let flash = table();
    // SAFETY: valid pointers.
    unsafe {
        let c = client();
        assert_eq!(mqe_set_store(c, store(), &flash), MQE_OK);
        let topic = c"t".as_ptr();
        let mut id = 0u16;
        assert_eq!(
            mqe_publish(c, topic, b"a".as_ptr().cast(), 1, 1, false, &mut id),
            MQE_OK
        );
        assert_eq!(
            mqe_publish(c, topic, b"b".as_ptr().cast(), 1, 1, false, &mut id),
            MQE_OK
        );
        // Tear the newest record: clear a bit of its CRC, as a half-programmed word would.
        FLASH.with(|f| {
            let mut f = f.borrow_mut();
            let last = f[..SECTOR].iter().rposition(|&b| b != 0xFF).unwrap();
            let bit = (0..8).find(|b| f[last] & (1 << b) != 0).unwrap();
            f[last] &= !(1 << bit);
        });
        let c = client();
        EVENTS.with(|v| v.borrow_mut().clear());
        assert_eq!(mqe_set_store(c, store(), &flash), MQE_OK);
        mqe_poll(c);
        let events = EVENTS.with(|v| v.borrow().clone());
        // The first message is back; the torn one is not trusted.
        assert_eq!(
            events,
            [(MQE_EVENT_RESTORED, 1, 1)],
            "one RESTORED, nothing else"
        );
    }
}

#[test]
fn rx_done_needs_the_option_and_an_awaiting_id() {
    assert!(!mqe_options_default().rx_qos2_manual_ack);
    // SAFETY: valid or NULL pointers.
    unsafe {
        assert_eq!(mqe_rx_done(ptr::null_mut(), 1), MQE_ERR_NULL);
        let off = client();
        assert_eq!(mqe_rx_done(off, 1), MQE_ERR_STATE);
        let on = client_with(true);
        assert_eq!(mqe_set_store(on, store(), &table()), MQE_OK);
        assert_eq!(mqe_rx_done(on, 1), MQE_ERR_ARG);
    }
}
