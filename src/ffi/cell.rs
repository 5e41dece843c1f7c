//! What lives inside `mqe_client_t`, how a C pointer becomes access to it, and how one client
//! step becomes one message (here) or event (`events`) for C, with its per-topic handlers
//! (`topic_handlers`).
//!
//! Callbacks may call back into the library (publish, subscribe, ...), so no `&mut ClientCell`
//! is ever alive while C code runs: each step borrows, writes the message or event, and ends
//! the borrow before `mqe_poll` runs the handler.

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr;

use super::init::ClientSetup;
#[cfg(feature = "log")]
use super::log::{self, LogFilter};
use super::log::{mqe_log_level_t, Args};
#[cfg(feature = "outbox")]
use super::outbox::{self, Outbox};
use super::status::{MQE_ERR_NOT_INIT, MQE_ERR_NULL};
use super::topic_handlers::Targets;
#[cfg(feature = "topic-handlers")]
use super::topic_handlers::TopicHandler;
use super::transport::CTransport;
use super::types::*;
use crate::client::{Client, ClientState, Dispatch, MessageRef};
#[cfg(feature = "topic-handlers")]
use crate::config::MAX_TOPIC_HANDLERS;
use crate::time::Instant;
use crate::Error;

/// Marks initialised storage; zeroed storage (a C `static`) never matches.
const MAGIC: u64 = 0x6d71_655f_636c_6e74; // "mqe_clnt"

/// What lives in `mqe_client_t`. `repr(C)` keeps `magic` at offset 0 so it can be read before
/// the rest is known to be initialised.
///
/// SAFETY (the layout is the soundness argument): the owner task holds `&mut ClientCell` inside
/// `mqe_poll` and every other call, while other tasks and ISRs write `outbox` through
/// `mqe_post_publish` at the same time. So `outbox` is a sibling of `cell`, never inside it:
/// every access goes through raw-pointer field projections (`ptr::addr_of_mut!`) from the
/// storage pointer, no reference ever covers the whole storage, and the only references into
/// the outbox are the owner's shared borrows of the one slot producers do not write.
#[repr(C)]
pub(crate) struct ClientStorage {
    magic: u64,
    #[cfg(feature = "outbox")]
    outbox: Outbox,
    cell: ClientCell,
}

/// The owner task's part of the client (see `ClientStorage`).
pub(crate) struct ClientCell {
    /// Set while `mqe_poll` runs; guards against poll/connect/init from a callback.
    pub(crate) dispatching: bool,
    /// Why the last connection ended (`None`: clean disconnect or never connected).
    pub(crate) last_reason: Option<Error>,
    pub(crate) platform: mqe_platform_t,
    #[cfg(feature = "log")]
    pub(crate) log_filter: LogFilter,
    pub(crate) message_handler: mqe_message_handler_t,
    pub(crate) message_user: *mut c_void,
    pub(crate) event_handler: mqe_event_handler_t,
    pub(crate) event_user: *mut c_void,
    /// Per-topic handlers (`handler: None` = free).
    #[cfg(feature = "topic-handlers")]
    pub(crate) topic_handlers: [TopicHandler; MAX_TOPIC_HANDLERS],
    /// Messages dispatched and PINGRESPs seen since mqe_init (the blocking helpers wait on them).
    pub(crate) messages_seen: u32,
    pub(crate) ping_responses: u32,
    /// The cloud profile (`MQE_CLOUD_*`) publish and subscribe are checked against.
    #[cfg(feature = "cloud-profiles")]
    pub(crate) cloud: u8,
    /// The credentials callback and its buffers (`mqe_set_credentials_handler`).
    #[cfg(feature = "credentials-cb")]
    pub(crate) credentials: Option<super::cloud::Credentials>,
    pub(crate) client: Client<'static, CTransport>,
}

const _: () = assert!(
    size_of::<ClientStorage>() <= MQE_CLIENT_SIZE,
    "MQE_CLIENT_SIZE underestimates the client: raise the formula in build.rs"
);
const _: () = assert!(align_of::<ClientStorage>() <= align_of::<mqe_client_t>());
const _: () = assert!(MQE_CLIENT_SIZE.is_multiple_of(8));

/// Bytes the client really uses of `MQE_CLIENT_SIZE` (tests check the formula's margin).
#[cfg(feature = "std")]
pub fn client_bytes_used() -> usize {
    size_of::<ClientStorage>()
}

/// Sets up the storage behind `c` in place: the cell (with the client `setup` describes), an
/// empty outbox, then the magic. Nothing the size of the cell or the client is built on the
/// stack first.
///
/// # Safety
/// `c` is valid, writable client storage that no other task uses during the call, any
/// client there before holds nothing needing a drop, and `setup` has built no client before.
pub(crate) unsafe fn init_storage(
    c: *mut mqe_client_t,
    platform: mqe_platform_t,
    setup: &mut ClientSetup<'_>,
    jitter_seed: u32,
) {
    let storage = c.cast::<ClientStorage>();
    // SAFETY: the storage is large and aligned enough (static asserts above) and exclusively
    // ours per the contract. Fields are written through raw projections, so no reference
    // covers the storage or the outbox; the references made cover the client's slot, then the
    // written cell, never more. The magic is cleared first and set last: the storage is not a
    // client until every field below is written (`ClientCell`'s field list stops compiling
    // when a field is added and not written here). `setup` builds its one client here.
    unsafe {
        ptr::addr_of_mut!((*storage).magic).write(0);
        let cell = ptr::addr_of_mut!((*storage).cell);
        ptr::addr_of_mut!((*cell).dispatching).write(false);
        ptr::addr_of_mut!((*cell).last_reason).write(None);
        ptr::addr_of_mut!((*cell).platform).write(platform);
        #[cfg(feature = "log")]
        ptr::addr_of_mut!((*cell).log_filter).write(LogFilter::DEFAULT);
        ptr::addr_of_mut!((*cell).message_handler).write(None);
        ptr::addr_of_mut!((*cell).message_user).write(ptr::null_mut());
        ptr::addr_of_mut!((*cell).event_handler).write(None);
        ptr::addr_of_mut!((*cell).event_user).write(ptr::null_mut());
        #[cfg(feature = "topic-handlers")]
        {
            let handlers = ptr::addr_of_mut!((*cell).topic_handlers).cast::<TopicHandler>();
            for index in 0..MAX_TOPIC_HANDLERS {
                handlers.add(index).write(TopicHandler::EMPTY);
            }
        }
        ptr::addr_of_mut!((*cell).messages_seen).write(0);
        ptr::addr_of_mut!((*cell).ping_responses).write(0);
        #[cfg(feature = "cloud-profiles")]
        ptr::addr_of_mut!((*cell).cloud).write(setup.cloud());
        #[cfg(feature = "credentials-cb")]
        ptr::addr_of_mut!((*cell).credentials).write(None);
        let client = &mut *ptr::addr_of_mut!((*cell).client).cast::<MaybeUninit<_>>();
        setup.build_in(client, jitter_seed);
        let ClientCell {
            dispatching: _,
            last_reason: _,
            platform: _,
            #[cfg(feature = "log")]
                log_filter: _,
            message_handler: _,
            message_user: _,
            event_handler: _,
            event_user: _,
            #[cfg(feature = "topic-handlers")]
                topic_handlers: _,
            messages_seen: _,
            ping_responses: _,
            #[cfg(feature = "cloud-profiles")]
                cloud: _,
            #[cfg(feature = "credentials-cb")]
                credentials: _,
            client: _,
        } = &*cell;
        #[cfg(feature = "outbox")]
        outbox::reset(ptr::addr_of_mut!((*storage).outbox));
        ptr::addr_of_mut!((*storage).magic).write(MAGIC);
    }
}

impl ClientCell {
    /// Logs `template` (see `log::ARG`) with `args` through the platform's hook, formatted
    /// only when the line will be delivered. The hook runs while the client is borrowed: like
    /// the transport, it must not call the library.
    /// Without the `log` feature nothing is formatted: the templates and the strerror texts
    /// drop out of the image. Out of line with it: each of the many call sites is then just
    /// its arguments (none is on the message path).
    #[cfg_attr(feature = "log", inline(never))]
    #[cfg_attr(not(feature = "log"), inline)]
    pub(crate) fn log(&self, level: mqe_log_level_t, template: &'static [u8], args: Args) {
        #[cfg(feature = "log")]
        if self.log_filter.enabled(&self.platform, level) {
            log::emit(&self.platform, level, template, &args);
        }
        #[cfg(not(feature = "log"))]
        let _ = (level, template, args);
    }

    pub(crate) fn now(&self) -> Instant {
        match self.platform.now_ms {
            // SAFETY: checked non-NULL at mqe_init; the caller keeps it and ctx valid.
            Some(now_ms) => Instant(unsafe { now_ms(self.platform.ctx) }),
            None => Instant(0),
        }
    }

    /// umqtt's get_mqttsta(): 0 connected, 1 connecting, 2 closed by the server, -1 otherwise.
    pub(crate) fn mqttsta(&self) -> i32 {
        match self.client.state() {
            ClientState::Connected => 0,
            ClientState::Connecting | ClientState::Reconnecting => 1,
            ClientState::Disconnected if self.last_reason == Some(Error::PeerClosed) => 2,
            ClientState::Disconnected | ClientState::Disconnecting => -1,
            #[cfg(feature = "link")]
            ClientState::LinkDown => -1,
        }
    }

    /// One bounded step of the client; `None` when nothing more is due now. Only the notice
    /// lives in the caller's frame while the client runs: the message or event C gets is built
    /// afterwards (`message_for`, `event_for`), in a frame of its own (`poll::deliver`).
    pub(crate) fn step(&mut self) -> Option<Dispatch> {
        let now = self.now();
        self.client.poll_once(now)
    }

    /// The message C gets for `m`, with its handlers in `targets` (in registration order);
    /// `None` when its ranges do not lie in the rx window. Its pointers stay valid until the
    /// next call on the client.
    pub(crate) fn message_for(
        &mut self,
        m: &MessageRef,
        targets: &mut Targets,
    ) -> Option<mqe_message_t> {
        let window = self.client.rx_window();
        let topic = window.get(m.topic.clone())?;
        let payload = window.get(m.payload.clone())?;
        self.messages_seen = self.messages_seen.wrapping_add(1);
        self.fill_targets(topic, targets);
        Some(mqe_message_t {
            topic: topic.as_ptr().cast::<c_char>(),
            topic_len: topic.len(),
            payload: payload.as_ptr(),
            payload_len: payload.len(),
            qos: m.qos as u8,
            retain: m.retain,
            dup: m.dup,
            packet_id: m.packet_id,
        })
    }
}

/// Which handler runs on the event `event_for` wrote.
pub(crate) enum Handoff {
    /// None: a notice C does not see.
    Skip,
    /// The event handler, on the event.
    Event,
    /// The credentials callback (`refused`: the last CONNACK refusal); run by `mqe_poll`
    /// through `cloud::run_credentials`, which needs the cell afterwards.
    #[cfg(feature = "credentials-cb")]
    Credentials(super::cloud::Credentials, u8),
}

/// The cell behind an initialised `mqe_client_t`: `MQE_ERR_NULL` for NULL, `MQE_ERR_NOT_INIT`
/// when the storage was never set up by `mqe_init`.
///
/// # Safety
/// `c` is NULL or points to an `mqe_client_t` the caller owns.
pub(crate) unsafe fn cell_ptr(c: *const mqe_client_t) -> Result<*mut ClientCell, mqe_status_t> {
    // SAFETY: forwarded contract.
    let storage = unsafe { storage_ptr(c) }?;
    // SAFETY: initialised storage; a projection, so no reference covers the outbox.
    Ok(unsafe { ptr::addr_of_mut!((*storage).cell) })
}

#[cfg(feature = "outbox")]
/// The outbox behind an initialised `mqe_client_t` (see `cell_ptr`). Any task may use it
/// through the functions of `outbox`.
///
/// # Safety
/// As `cell_ptr`.
pub(crate) unsafe fn outbox_ptr(c: *const mqe_client_t) -> Result<*mut Outbox, mqe_status_t> {
    // SAFETY: forwarded contract.
    let storage = unsafe { storage_ptr(c) }?;
    // SAFETY: initialised storage; a projection, so no reference covers the cell.
    Ok(unsafe { ptr::addr_of_mut!((*storage).outbox) })
}

/// # Safety
/// As `cell_ptr`.
unsafe fn storage_ptr(c: *const mqe_client_t) -> Result<*mut ClientStorage, mqe_status_t> {
    if c.is_null() {
        return Err(MQE_ERR_NULL);
    }
    // mqe_init refuses misaligned storage, so it was never set up (and must not be read as u64).
    if !c.is_aligned() {
        return Err(MQE_ERR_NOT_INIT);
    }
    let storage = c.cast_mut().cast::<ClientStorage>();
    // SAFETY: `c` is valid storage of MQE_CLIENT_SIZE >= 8 bytes, 8-aligned; `magic` is the
    // u64 at offset 0 of the repr(C) storage, so this reads within it.
    let magic = unsafe { ptr::addr_of!((*storage).magic).read() };
    if magic == MAGIC {
        Ok(storage)
    } else {
        Err(MQE_ERR_NOT_INIT)
    }
}
