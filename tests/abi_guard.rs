//! The ABI guard of `mqe_init_abi` (what the header's `mqe_init` macro calls): a header built
//! with other capacities or features, and misaligned storage, are refused before anything is
//! written. `make abi-test` does the same from C with a library built with other capacities.

use std::ffi::CStr;
use std::ptr;

use mqtt_engine::ffi::*;

mod idle_port;

/// The client followed by a canary, as `tests/c/abi/abi_guard.c` lays it out.
#[repr(C, align(8))]
struct Guarded {
    client: mqe_client_t,
    canary: [u8; 4096],
}

const CLIENT_FILL: u8 = 0x5A;
const CANARY_FILL: u8 = 0xA5;

impl Guarded {
    fn new() -> Box<Guarded> {
        let mut guarded = Box::new(Guarded {
            client: mqe_client_t::zeroed(),
            canary: [CANARY_FILL; 4096],
        });
        // SAFETY: the client is plain bytes; filling it makes any write visible.
        unsafe {
            ptr::write_bytes(
                ptr::addr_of_mut!(guarded.client).cast::<u8>(),
                CLIENT_FILL,
                MQE_CLIENT_SIZE,
            )
        };
        guarded
    }

    /// Every byte, client and canary.
    fn bytes(&self) -> &[u8] {
        // SAFETY: repr(C) plain data of this size, no padding (8-aligned sizes).
        unsafe {
            std::slice::from_raw_parts(
                (self as *const Guarded).cast::<u8>(),
                std::mem::size_of::<Guarded>(),
            )
        }
    }

    fn untouched(&self) -> bool {
        let (client, canary) = self.bytes().split_at(MQE_CLIENT_SIZE);
        client.iter().all(|&b| b == CLIENT_FILL) && canary.iter().all(|&b| b == CANARY_FILL)
    }
}

/// Valid init arguments; the buffers live in the returned Vec.
fn args() -> (mqe_options_t, mqe_transport_t, mqe_platform_t, Vec<u8>) {
    let mut bufs = vec![0u8; 2 * 256];
    let mut o = mqe_options_default();
    o.host = c"127.0.0.1".as_ptr();
    o.client_id = c"abi".as_ptr();
    o.rx_buf = bufs.as_mut_ptr();
    o.rx_buf_len = 256;
    // SAFETY: within `bufs`.
    o.tx_buf = unsafe { bufs.as_mut_ptr().add(256) };
    o.tx_buf_len = 256;
    let t = idle_port::transport();
    let p = idle_port::platform();
    (o, t, p, bufs)
}

#[test]
fn another_size_or_tag_is_refused_and_writes_nothing() {
    let (o, t, p, _bufs) = args();
    let mut g = Guarded::new();
    let c = ptr::addr_of_mut!(g.client);
    let size = std::mem::size_of::<mqe_client_t>();
    let wrong = [
        (size - 8, MQE_ABI_TAG),
        (size + 8, MQE_ABI_TAG),
        (size + 1568, MQE_ABI_TAG),
        (size, MQE_ABI_TAG ^ 1),
        (size, !MQE_ABI_TAG),
        (0, 0),
    ];
    for (client_size, tag) in wrong {
        let status = unsafe { mqe_init_abi(c, &o, &t, &p, client_size, tag) };
        assert_eq!(
            status, MQE_ERR_ABI_MISMATCH,
            "size {client_size} tag {tag:#x}"
        );
        assert!(g.untouched(), "size {client_size} tag {tag:#x} wrote");
    }
    // Checked before any pointer: a mismatched caller's structs cannot be trusted either.
    let status = unsafe {
        mqe_init_abi(
            c,
            ptr::null(),
            ptr::null(),
            ptr::null(),
            size,
            MQE_ABI_TAG ^ 1,
        )
    };
    assert_eq!(status, MQE_ERR_ABI_MISMATCH);
    // The refused storage is no client: every call says so and nothing is written.
    assert_eq!(unsafe { mqe_state(c) }, MQE_ERR_NOT_INIT);
    assert_eq!(unsafe { mqe_connect(c) }, MQE_ERR_NOT_INIT);
    assert!(g.untouched());
}

#[test]
fn misaligned_storage_is_refused_and_never_reads_as_a_client() {
    let (o, t, p, _bufs) = args();
    let mut g = Guarded::new();
    for offset in [1, 2, 4] {
        // SAFETY: inside `g`; the storage then ends within the canary.
        let c =
            unsafe { ptr::addr_of_mut!(g.client).cast::<u8>().add(offset) }.cast::<mqe_client_t>();
        assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_ERR_ALIGNMENT);
        assert!(g.untouched(), "offset {offset} wrote");
        assert_eq!(unsafe { mqe_state(c) }, MQE_ERR_NOT_INIT);
        assert_eq!(unsafe { mqe_next_deadline_ms(c) }, u32::MAX);
    }
    // The ABI check comes first: a mismatched header is reported as such, not as alignment.
    // SAFETY: as above.
    let c = unsafe { ptr::addr_of_mut!(g.client).cast::<u8>().add(4) }.cast::<mqe_client_t>();
    let status = unsafe { mqe_init_abi(c, &o, &t, &p, 8, MQE_ABI_TAG) };
    assert_eq!(status, MQE_ERR_ABI_MISMATCH);
    assert!(g.untouched());
}

#[test]
fn the_matching_size_and_tag_initialise_within_the_storage() {
    let (o, t, p, _bufs) = args();
    let mut g = Guarded::new();
    let c = ptr::addr_of_mut!(g.client);
    let size = std::mem::size_of::<mqe_client_t>();
    assert_eq!(
        unsafe { mqe_init_abi(c, &o, &t, &p, size, MQE_ABI_TAG) },
        MQE_OK
    );
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    let (client, canary) = g.bytes().split_at(MQE_CLIENT_SIZE);
    assert!(client.iter().any(|&b| b != CLIENT_FILL), "nothing set up");
    assert!(
        canary.iter().all(|&b| b == CANARY_FILL),
        "wrote past the client"
    );
    // A later mismatched call on the live client changes nothing either.
    let before = g.bytes().to_vec();
    let status = unsafe { mqe_init_abi(c, &o, &t, &p, size, MQE_ABI_TAG ^ 1) };
    assert_eq!(status, MQE_ERR_ABI_MISMATCH);
    assert_eq!(g.bytes(), &before[..]);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
}

#[test]
fn the_new_codes_have_their_numbers_and_texts() {
    assert_eq!(MQE_ERR_ABI_MISMATCH, -9);
    assert_eq!(MQE_ERR_ALIGNMENT, -10);
    let text = |code| {
        unsafe { CStr::from_ptr(mqe_strerror(code)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(
        text(MQE_ERR_ABI_MISMATCH),
        "header and library were built with different capacities or features"
    );
    assert_eq!(
        text(MQE_ERR_ALIGNMENT),
        "client storage not aligned to MQE_CLIENT_ALIGN"
    );
}

// include/mqtt_engine.h is the full profile's header.
/// The committed header carries this library's tag for this pointer width (its first
/// `MQE_ABI_TAG` is the 64-bit one, the second the 32-bit one). This build links std and the
/// header was generated with `header`: both features stay out of the tag, so they agree.
/// Another feature set (lite, or full with the store) has another tag: `make test-lite` and
/// the store's tests check their own generated headers instead.
#[test]
#[cfg_attr(
    any(not(feature = "full"), feature = "store"),
    ignore = "the committed header is the default (full) build's"
)]
fn the_header_carries_the_librarys_tag() {
    assert_eq!(MQE_ABI_TAG, mqtt_engine::config::ABI_TAG);
    let header = include_str!("../include/mqtt_engine.h");
    let tags: Vec<u32> = header
        .lines()
        .filter_map(|line| line.strip_prefix("#define MQE_ABI_TAG 0x"))
        .map(|hex| u32::from_str_radix(hex.trim_end_matches('u'), 16).unwrap())
        .collect();
    assert_eq!(tags.len(), 2, "one tag per pointer width");
    let ours = if cfg!(target_pointer_width = "64") {
        tags[0]
    } else {
        tags[1]
    };
    assert_ne!(tags[0], tags[1]);
    assert_eq!(
        ours, MQE_ABI_TAG,
        "include/mqtt_engine.h is stale for this build (make header; or unset MQE_* capacities)"
    );
}

/// A tripwire for `ABI_LAYOUT_VERSION` (build.rs): the capacities and features are hashed into
/// the tag by themselves, but a changed public struct is only caught if the version is bumped.
/// When this fails, bump `ABI_LAYOUT_VERSION` and record the new layouts here.
#[cfg(target_pointer_width = "64")]
#[test]
fn a_changed_public_struct_bumps_the_layout_version() {
    use std::mem::{align_of, size_of};
    let layouts = [
        (
            "mqe_endpoint_t",
            size_of::<mqe_endpoint_t>(),
            align_of::<mqe_endpoint_t>(),
        ),
        (
            "mqe_sockaddr_t",
            size_of::<mqe_sockaddr_t>(),
            align_of::<mqe_sockaddr_t>(),
        ),
        (
            "mqe_transport_t",
            size_of::<mqe_transport_t>(),
            align_of::<mqe_transport_t>(),
        ),
        (
            "mqe_platform_t",
            size_of::<mqe_platform_t>(),
            align_of::<mqe_platform_t>(),
        ),
        (
            "mqe_options_t",
            size_of::<mqe_options_t>(),
            align_of::<mqe_options_t>(),
        ),
        (
            "mqe_event_t",
            size_of::<mqe_event_t>(),
            align_of::<mqe_event_t>(),
        ),
        (
            "mqe_message_t",
            size_of::<mqe_message_t>(),
            align_of::<mqe_message_t>(),
        ),
        (
            "mqe_subscription_t",
            size_of::<mqe_subscription_t>(),
            align_of::<mqe_subscription_t>(),
        ),
    ];
    let recorded = [
        ("mqe_endpoint_t", 16, 8),
        ("mqe_sockaddr_t", 20, 2),
        ("mqe_transport_t", 56, 8),
        ("mqe_platform_t", 40, 8),
        // 192 without the `link` and `pending` options (nat_timeout_s, reconnect_stable_ms,
        // auth_retry_limit, idle_event); rx_qos2_manual_ack fits the padding. The features are
        // in the ABI tag too.
        (
            "mqe_options_t",
            if cfg!(feature = "link") { 200 } else { 192 },
            8,
        ),
        ("mqe_event_t", 88, 8),
        ("mqe_message_t", 40, 8),
        ("mqe_subscription_t", 16, 8),
    ];
    assert_eq!(
        (mqtt_engine::config::ABI_LAYOUT_VERSION, layouts),
        (6, recorded),
        "a public struct changed: bump ABI_LAYOUT_VERSION in build.rs and record it here"
    );
}
