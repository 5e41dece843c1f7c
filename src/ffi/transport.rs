//! The C transport vtable as an `embedded_nal` TCP stack and resolver.

use core::ffi::{c_char, c_void};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};

use super::types::{mqe_sockaddr_t, mqe_transport_t, MQE_IO_WOULD_BLOCK};
use crate::config::MAX_ENDPOINTS;

/// `last_error` when no transport call has failed since the last `open`.
pub(crate) const NO_IO_ERROR: i32 = 0;

/// A transport function failed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CTransportError(TcpErrorKind);

impl TcpError for CTransportError {
    fn kind(&self) -> TcpErrorKind {
        self.0
    }
}

const OTHER: CTransportError = CTransportError(TcpErrorKind::Other);

/// `mqe_transport_t` checked by `mqe_init`: the required functions are plain function pointers,
/// so no call checks them again.
#[derive(Clone, Copy)]
pub(crate) struct CTransport {
    ctx: *mut c_void,
    open: unsafe extern "C" fn(ctx: *mut c_void) -> i32,
    connect: unsafe extern "C" fn(ctx: *mut c_void, sock: i32, addr: *const mqe_sockaddr_t) -> i32,
    send: unsafe extern "C" fn(ctx: *mut c_void, sock: i32, buf: *const u8, len: usize) -> i32,
    recv: unsafe extern "C" fn(ctx: *mut c_void, sock: i32, buf: *mut u8, len: usize) -> i32,
    close: unsafe extern "C" fn(ctx: *mut c_void, sock: i32),
    resolve: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            host: *const c_char,
            out: *mut mqe_sockaddr_t,
        ) -> i32,
    >,
    /// What the last failed call returned (`NO_IO_ERROR`: none since `open`). The client
    /// reports a failure as `Error::Transport` or `Error::Dns`; the ffi layer reads this to
    /// name it (`MQE_IO_ERR_*` codes).
    last_error: i32,
    /// The endpoints' C host strings (NULL: unused), handed to `resolve` as they are: the
    /// client's hosts point into them, so no NUL-terminated copy is made on the stack.
    hosts: [*const c_char; MAX_ENDPOINTS],
}

impl CTransport {
    /// `None` unless open, connect, send, recv and close are all present.
    #[inline]
    pub(crate) fn new(vtable: &mqe_transport_t) -> Option<Self> {
        Some(CTransport {
            ctx: vtable.ctx,
            open: vtable.open?,
            connect: vtable.connect?,
            send: vtable.send?,
            recv: vtable.recv?,
            close: vtable.close?,
            resolve: vtable.resolve,
            last_error: NO_IO_ERROR,
            hosts: [core::ptr::null(); MAX_ENDPOINTS],
        })
    }

    /// Keeps endpoint `index`'s C host string, for `resolve` (an index past `MAX_ENDPOINTS`
    /// is ignored).
    ///
    /// # Safety
    /// `host` is the raw pointer the application gave (not one derived from a `&str`): a
    /// NUL-terminated string, valid and unchanged while the client is used.
    pub(crate) unsafe fn keep_host(&mut self, index: usize, host: *const c_char) {
        if let Some(slot) = self.hosts.get_mut(index) {
            *slot = host;
        }
    }

    /// The kept C string `hostname` is, byte for byte up to its NUL; `None` for any other string.
    fn c_host(&self, hostname: &str) -> Option<*const c_char> {
        let bytes = hostname.as_bytes();
        // A plain loop: `contains` would pull core's memchr (338 B) into the lite image.
        // Without a NUL in `hostname`, a C string starting where it starts cannot end inside
        // it, so the byte after it is within the C string (the read below stays in bounds).
        if !bytes.iter().all(|&b| b != 0) {
            return None;
        }
        let start = bytes.as_ptr().cast::<c_char>();
        // The kept pointer, not `start`: the read below needs the C string's provenance, which
        // reaches its NUL (a str's covers its bytes only). A str's pointer is never NULL, so
        // unused slots never match.
        let host = self.hosts.iter().copied().find(|&host| host == start)?;
        // SAFETY: `host` is a NUL-terminated C string, valid and unchanged while the client is
        // used (`keep_hosts`); `hostname` starts at it and holds no NUL, so index
        // `bytes.len()` is at most the C string's NUL's index: within it.
        let end = unsafe { host.add(bytes.len()).read() };
        (end == 0).then_some(host)
    }

    /// The code the last failed transport call returned since the last `open`.
    pub(crate) fn last_error(&self) -> i32 {
        self.last_error
    }

    /// Remembers a failed call's code; returns the error to hand to the client.
    fn failed(&mut self, code: i32) -> CTransportError {
        self.last_error = code;
        OTHER
    }

    /// Maps a C I/O result: >= 0 is a byte count, WOULD_BLOCK retries, anything else fails.
    fn io_result(&mut self, result: i32, limit: usize) -> nb::Result<usize, CTransportError> {
        match result {
            MQE_IO_WOULD_BLOCK => Err(nb::Error::WouldBlock),
            // A transport claiming more than it was given moved at most what it was given.
            n if n >= 0 => Ok(usize::try_from(n).unwrap_or(0).min(limit)),
            code => Err(nb::Error::Other(self.failed(code))),
        }
    }
}

/// C lengths are reported back as i32, so one call never moves more than i32::MAX bytes.
fn clamp_len(len: usize) -> usize {
    len.min(i32::MAX as usize)
}

fn to_c_addr(addr: SocketAddr) -> mqe_sockaddr_t {
    let mut c_addr = mqe_sockaddr_t {
        family: 4,
        addr: [0; 16],
        port: addr.port(),
    };
    match addr {
        SocketAddr::V4(v4) => {
            if let Some((head, _)) = c_addr.addr.split_first_chunk_mut::<4>() {
                *head = v4.ip().octets();
            }
        }
        SocketAddr::V6(v6) => {
            c_addr.family = 6;
            c_addr.addr = v6.ip().octets();
        }
    }
    c_addr
}

fn from_c_addr(c_addr: &mqe_sockaddr_t) -> Option<IpAddr> {
    match c_addr.family {
        4 => {
            let [a, b, c, d, ..] = c_addr.addr;
            Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
        }
        6 => Some(IpAddr::V6(Ipv6Addr::from(c_addr.addr))),
        _ => None,
    }
}

impl TcpClientStack for CTransport {
    type TcpSocket = i32;
    type Error = CTransportError;

    fn socket(&mut self) -> Result<i32, CTransportError> {
        // SAFETY: `open` was given to mqe_init; the caller keeps it and ctx valid while the
        // client is used (documented on mqe_transport_t).
        let handle = unsafe { (self.open)(self.ctx) };
        self.last_error = NO_IO_ERROR;
        if handle >= 0 {
            Ok(handle)
        } else {
            Err(self.failed(handle))
        }
    }

    fn connect(&mut self, socket: &mut i32, remote: SocketAddr) -> nb::Result<(), CTransportError> {
        let c_addr = to_c_addr(remote);
        // SAFETY: as in `socket`; `c_addr` outlives the call.
        let result = unsafe { (self.connect)(self.ctx, *socket, &c_addr) };
        match result {
            0 => Ok(()),
            MQE_IO_WOULD_BLOCK => Err(nb::Error::WouldBlock),
            code => Err(nb::Error::Other(self.failed(code))),
        }
    }

    fn send(&mut self, socket: &mut i32, buffer: &[u8]) -> nb::Result<usize, CTransportError> {
        let len = clamp_len(buffer.len());
        // SAFETY: as in `socket`; `buffer` is valid for `len` <= buffer.len() bytes for the call.
        let result = unsafe { (self.send)(self.ctx, *socket, buffer.as_ptr(), len) };
        self.io_result(result, len)
    }

    fn receive(
        &mut self,
        socket: &mut i32,
        buffer: &mut [u8],
    ) -> nb::Result<usize, CTransportError> {
        let len = clamp_len(buffer.len());
        // SAFETY: as in `socket`; `buffer` is writable for `len` <= buffer.len() bytes.
        let result = unsafe { (self.recv)(self.ctx, *socket, buffer.as_mut_ptr(), len) };
        match self.io_result(result, len) {
            Ok(0) if len > 0 => Err(nb::Error::Other(CTransportError(TcpErrorKind::PipeClosed))),
            other => other,
        }
    }

    // Out of line: inlined, it made the client's close path small enough to be copied into
    // each of its callers (260 B more in the full image).
    #[inline(never)]
    fn close(&mut self, socket: i32) -> Result<(), CTransportError> {
        // SAFETY: as in `socket`; `socket` came from `open` and is closed once (the client
        // drops its handle when closing).
        unsafe { (self.close)(self.ctx, socket) };
        Ok(())
    }
}

impl Dns for CTransport {
    type Error = CTransportError;

    fn get_host_by_name(
        &mut self,
        hostname: &str,
        _addr_type: AddrType,
    ) -> nb::Result<IpAddr, CTransportError> {
        // The first call of an attempt with a host name: older failures are not its own.
        self.last_error = NO_IO_ERROR;
        let Some(resolve) = self.resolve else {
            return Err(nb::Error::Other(OTHER));
        };
        // C wants a NUL-terminated string: the one `hostname` came from (no stack copy).
        let Some(host) = self.c_host(hostname) else {
            return Err(nb::Error::Other(OTHER));
        };
        let mut out = mqe_sockaddr_t {
            family: 0,
            addr: [0; 16],
            port: 0,
        };
        // SAFETY: as in `socket`; `host` is a NUL-terminated C string valid while the client is
        // used (`c_host`) and `out` is writable; both outlive the call.
        let result = unsafe { resolve(self.ctx, host, &mut out) };
        match result {
            0 => from_c_addr(&out).ok_or(nb::Error::Other(OTHER)),
            MQE_IO_WOULD_BLOCK => Err(nb::Error::WouldBlock),
            code => Err(nb::Error::Other(self.failed(code))),
        }
    }

    fn get_host_by_address(
        &mut self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> nb::Result<usize, CTransportError> {
        Err(nb::Error::Other(OTHER))
    }
}
