//! Waiting for the writer: spin, then park on the header's futex word, across processes.
//!
//! Protocol (SYNC(N1)): the writer stores `head` (Release), then bumps `notify` and calls
//! `FUTEX_WAKE` on it. A reader that wants seq `n` loads `notify` (Acquire) into `v`, then
//! re-checks `head`; only if `head < n` does it call `FUTEX_WAIT(notify, v)`. The kernel
//! compares `notify` with `v` atomically with going to sleep, so a bump that lands after the
//! reader's load makes the wait return at once: if the reader's `head` load missed the new head,
//! its `notify` load came before the writer's bump (the bump is sequenced after the head store
//! and read-from with Acquire would have made the head visible), so the wait sees `v` changed
//! or is woken by the `FUTEX_WAKE` that follows the bump. Lost wake-ups are impossible, and
//! readers need no write access to the file (they map it read-only). Every wait also has a
//! timeout as a safety net.
//!
//! The futex is a shared one (no `FUTEX_PRIVATE_FLAG`): the kernel keys it by inode and offset,
//! so waiters in other processes that map the same file are woken.

use std::time::Duration;

use crate::sync::atomic::{AtomicU32, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

/// How a reader waits for new records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin on the head forever: lowest latency, burns a core. For dedicated cores.
    Spin,
    /// Spin `spins` times, then park on the futex until woken or timed out.
    SpinThenPark {
        /// Spin iterations before parking (each one a head load and a pause hint).
        spins: u32,
    },
}

impl Default for WaitStrategy {
    /// Spin about 10 µs on a modern core, then park: low latency under load, no CPU when idle.
    fn default() -> Self {
        Self::SpinThenPark { spins: 2_000 }
    }
}

/// The writer's side: bump the futex word and wake every parked reader.
pub(crate) fn notify_all(word: &AtomicU32) {
    // SYNC(N1): Release so that a reader whose Acquire load reads this value also sees the head
    // stored before it. Single writer, so load + store needs no read-modify-write.
    word.store(word.load(Relaxed).wrapping_add(1), Release);
    futex_wake(word);
}

/// The reader's side, step 1: the value to pass to [`park`], loaded before re-checking head.
pub(crate) fn notify_value(word: &AtomicU32) -> u32 {
    // SYNC(N1): pairs with the Release store in `notify_all`.
    word.load(Acquire)
}

/// The reader's side, step 2: sleep while `word == seen`, for at most `timeout`.
pub(crate) fn park(word: &AtomicU32, seen: u32, timeout: Duration) {
    futex_wait(word, seen, timeout);
}

#[cfg(all(target_os = "linux", not(shm_loom)))]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word.as_ptr()` points to a live, aligned u32 inside a mapping that outlives this
    // call (the caller borrows it). FUTEX_WAKE only uses the address as a key; it does not
    // write memory. The extra arguments are ignored for FUTEX_WAKE.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            0,
            0,
            0,
        );
    }
}

#[cfg(all(target_os = "linux", not(shm_loom)))]
fn futex_wait(word: &AtomicU32, seen: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos().min(999_999_999) as i32),
    };
    // SAFETY: `word.as_ptr()` points to a live, aligned u32 inside a mapping that outlives this
    // call; FUTEX_WAIT only reads it (read-only mappings are fine). `ts` is a valid timespec on
    // our stack for the duration of the call (a relative timeout). The result is ignored on
    // purpose: EAGAIN (value changed), EINTR and ETIMEDOUT all mean "re-check the head".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            &raw const ts,
            0,
            0,
        );
    }
}

#[cfg(any(not(target_os = "linux"), shm_loom))]
fn futex_wake(_word: &AtomicU32) {}

#[cfg(any(not(target_os = "linux"), shm_loom))]
fn futex_wait(word: &AtomicU32, seen: u32, timeout: Duration) {
    // No futex here: poll with short sleeps (loom: yield).
    #[cfg(shm_loom)]
    {
        let _ = (seen, timeout, word);
        loom::thread::yield_now();
    }
    #[cfg(not(shm_loom))]
    if word.load(Relaxed) == seen {
        std::thread::sleep(timeout.min(Duration::from_micros(50)));
    }
}
