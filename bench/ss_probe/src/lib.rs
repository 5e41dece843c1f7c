#![no_std]
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use embedded_storage_async::nor_flash::{ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use sequential_storage::cache::Cache;
use sequential_storage::queue::{QueueConfig, QueueStorage};

extern "C" {
    fn fl_read(off: u32, buf: *mut u8, len: usize) -> i32;
    fn fl_prog(off: u32, buf: *const u8, len: usize) -> i32;
    fn fl_erase(from: u32, to: u32) -> i32;
}
#[derive(Debug)]
pub struct E;
impl NorFlashError for E { fn kind(&self) -> NorFlashErrorKind { NorFlashErrorKind::Other } }
pub struct F;
impl ErrorType for F { type Error = E; }
impl ReadNorFlash for F {
    const READ_SIZE: usize = 1;
    async fn read(&mut self, off: u32, b: &mut [u8]) -> Result<(), E> { if unsafe { fl_read(off, b.as_mut_ptr(), b.len()) } == 0 { Ok(()) } else { Err(E) } }
    fn capacity(&self) -> usize { 16384 }
}
impl NorFlash for F {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    async fn erase(&mut self, a: u32, b: u32) -> Result<(), E> { if unsafe { fl_erase(a, b) } == 0 { Ok(()) } else { Err(E) } }
    async fn write(&mut self, off: u32, b: &[u8]) -> Result<(), E> { if unsafe { fl_prog(off, b.as_ptr(), b.len()) } == 0 { Ok(()) } else { Err(E) } }
}
impl MultiwriteNorFlash for F {}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker { RawWaker::new(p, &VT) }
    static VT: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    let waker = unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VT)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
}

#[no_mangle]
pub extern "C" fn probe_push(p: *const u8, n: usize) -> i32 {
    let data = unsafe { core::slice::from_raw_parts(p, n) };
    let mut q = QueueStorage::new(F, QueueConfig::new(0..16384), Cache::new_uncached());
    match block_on(q.push(data, false)) { Ok(()) => 0, Err(_) => -1 }
}
#[no_mangle]
pub extern "C" fn probe_restore(buf: *mut u8, n: usize, drop_id: u16) -> i32 {
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, n) };
    let mut q = QueueStorage::new(F, QueueConfig::new(0..16384), Cache::new_uncached());
    block_on(async {
        let mut count = 0;
        let Ok(mut it) = q.iter().await else { return -1 };
        while let Ok(Some(e)) = it.next(buf).await {
            let first = e.first().copied().unwrap_or(0) as u16;
            if first == drop_id { let _ = e.pop().await; } else { count += 1; }
        }
        count
    })
}
#[panic_handler]
fn ph(_: &core::panic::PanicInfo) -> ! { loop {} }
