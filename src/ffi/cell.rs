//! What lives inside `mqe_client_t`, how a C pointer becomes access to it, and how one dispatch
//! becomes one C callback (engine events are translated in `events`, the per-topic handlers
//! kept in `topic_handlers`).
//!
//! Callbacks may call back into the library (publish, subscribe, ...), so no `&mut ClientCell`
//! is ever alive while C code runs: each step borrows, prepares a [`Callback`], and ends the
//! borrow before the callback is invoked.

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr;

use super::init::ClientSetup;
#[cfg(feature = "log")]
use super::log::{self, LogFilter};
use super::log::{mqe_log_level_t, Args, MQE_LOG_DEBUG, MQE_LOG_INFO, MQE_LOG_WARN};
#[cfg(feature = "outbox")]
use super::outbox::{self, Outbox};
use super::status::{MQE_ERR_NOT_INIT, MQE_ERR_NULL};
use super::topic_handlers::Targets;
#[cfg(feature = "topic-handlers")]
use super::topic_handlers::{free_refused_handlers, TopicHandler};
use super::transport::CTransport;
use super::types::*;
use crate::client::{Client, ClientState, Dispatch};
#[cfg(feature = "topic-handlers")]
use crate::config::MAX_TOPIC_HANDLERS;
use crate::time::Instant;
use crate::Error;

pub(crate) use super::events::blank_event;

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
    /// drop out of the image.
    #[inline]
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

    /// One bounded step of the client. `None` when nothing more is due now; otherwise the
    /// callback to run (after this borrow ends) and, if the connection ended, the status why.
    pub(crate) fn step(&mut self) -> Option<(Callback, Option<mqe_status_t>)> {
        let now = self.now();
        let dispatch = self.client.poll_once(now)?;
        let window = self.client.rx_window();
        let mut ended = None;
        let callback = match dispatch {
            Dispatch::Message(m) => {
                let (Some(topic), Some(payload)) =
                    (window.get(m.topic.clone()), window.get(m.payload.clone()))
                else {
                    return Some((Callback::None, None));
                };
                let message = mqe_message_t {
                    topic: topic.as_ptr().cast::<c_char>(),
                    topic_len: topic.len(),
                    payload: payload.as_ptr(),
                    payload_len: payload.len(),
                    qos: m.qos as u8,
                    retain: m.retain,
                    dup: m.dup,
                    packet_id: m.packet_id,
                };
                self.messages_seen = self.messages_seen.wrapping_add(1);
                Callback::Message(self.targets_for(topic), message)
            }
            Dispatch::Subscribed { packet_id, granted } => {
                let granted = window.get(granted).unwrap_or(&[]);
                self.log(MQE_LOG_DEBUG, b"SUBACK id \x01", [packet_id.into(), 0, 0]);
                #[cfg(feature = "topic-handlers")]
                let engine = self.client.engine();
                #[cfg(feature = "topic-handlers")]
                free_refused_handlers(&mut self.topic_handlers, granted, |filter| {
                    engine.subscriptions().any(|(f, _)| f.as_bytes() == filter)
                });
                let mut event = blank_event(MQE_EVENT_SUBSCRIBED);
                event.packet_id = packet_id;
                event.granted = granted.as_ptr();
                event.granted_count = granted.len();
                self.event_callback(event)
            }
            Dispatch::Event(engine_event) => {
                let event = self.c_event_for(engine_event, &mut ended);
                self.event_callback(event)
            }
            Dispatch::Reconnecting {
                attempt,
                delay_ms,
                endpoint,
            } => {
                // Fresh randomness for the next backoff.
                if let Some(random) = self.platform.random {
                    // SAFETY: set by the application at mqe_init; it keeps it and ctx valid.
                    self.client
                        .mix_entropy(unsafe { random(self.platform.ctx) });
                }
                let endpoint = u32::try_from(endpoint).unwrap_or(u32::MAX);
                self.log(
                    MQE_LOG_INFO,
                    b"reconnect attempt \x01 in \x02 ms, endpoint \x03",
                    [attempt, delay_ms, endpoint],
                );
                let mut event = blank_event(MQE_EVENT_RECONNECTING);
                event.attempt = attempt;
                event.delay_ms = delay_ms;
                event.endpoint = endpoint;
                self.event_callback(event)
            }
            Dispatch::CredentialsNeeded { refused } => {
                #[cfg(feature = "credentials-cb")]
                if let Some(hook) = self.credentials {
                    // C is about to write the buffers the client's credentials point into.
                    self.client.set_credentials(None, None);
                    return Some((Callback::Credentials(hook, refused), None));
                }
                let _ = refused;
                Callback::None
            }
            #[cfg(feature = "link")]
            Dispatch::Link { up } => self.link_event(up),
            #[cfg(feature = "link")]
            Dispatch::ReconnectStopped { code } => self.reconnect_stopped_event(code),
            #[cfg(feature = "pending")]
            Dispatch::Idle => self.event_callback(blank_event(super::MQE_EVENT_IDLE)),
            Dispatch::Oversized {
                topic,
                size,
                qos,
                packet_id,
            } => {
                let topic = topic.and_then(|t| window.get(t)).unwrap_or(&[]);
                let size = u32::try_from(size).unwrap_or(u32::MAX);
                self.log(
                    MQE_LOG_WARN,
                    b"message of \x01 bytes larger than rx_buf dropped, QoS \x02 id \x03",
                    [size, u32::from(qos as u8), packet_id.into()],
                );
                let mut event = blank_event(MQE_EVENT_MESSAGE_TOO_LARGE);
                if !topic.is_empty() {
                    event.topic = topic.as_ptr().cast::<c_char>();
                    event.topic_len = topic.len();
                }
                event.size = size;
                event.qos = qos as u8;
                event.packet_id = packet_id;
                self.event_callback(event)
            }
            Dispatch::Qos0Dropped { count } => {
                self.log(
                    MQE_LOG_WARN,
                    b"QoS 0 queue full, dropped \x01",
                    [count, 0, 0],
                );
                let mut event = blank_event(MQE_EVENT_QOS0_DROPPED);
                event.dropped = count;
                self.event_callback(event)
            }
        };
        Some((callback, ended))
    }
}

/// A C callback prepared while the client was borrowed, run after the borrow ended.
pub(crate) enum Callback {
    None,
    /// Every matching handler, in registration order.
    Message(Targets, mqe_message_t),
    Event(
        unsafe extern "C" fn(*mut c_void, *const mqe_event_t),
        *mut c_void,
        mqe_event_t,
    ),
    /// Ask the credentials callback (`refused`: the last CONNACK refusal); run by `mqe_poll`
    /// through `cloud::run_credentials`, which needs the cell afterwards.
    #[cfg(feature = "credentials-cb")]
    Credentials(super::cloud::Credentials, u8),
}

impl Callback {
    /// # Safety
    /// The pointers inside the message or event must still be valid (no call on the client
    /// since they were taken), and no Rust borrow of the client may be alive.
    pub(crate) unsafe fn invoke(&self) {
        match self {
            Callback::None => {}
            // SAFETY: the handler and user pointer were given by the application; `message`
            // points into the rx window, unchanged since `step` (per this fn's contract).
            Callback::Message(targets, message) => {
                for (handler, user) in targets {
                    // SAFETY: as above, for each handler the application registered.
                    unsafe { handler(*user, message) }
                }
            }
            // SAFETY: as above, for the event and its granted codes.
            Callback::Event(handler, user, event) => unsafe { handler(*user, event) },
            // Needs the cell: mqe_poll runs it (cloud::run_credentials).
            #[cfg(feature = "credentials-cb")]
            Callback::Credentials(..) => {}
        }
    }
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
