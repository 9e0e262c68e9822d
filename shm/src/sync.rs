//! The only module that names atomic types: std's, or loom's under `--cfg shm_loom`.
//!
//! Run the models with
//! `RUSTFLAGS="--cfg shm_loom" cargo test -p tickd-shm --profile loom --lib loom`.

#[cfg(not(shm_loom))]
pub(crate) use std::sync::atomic;

#[cfg(shm_loom)]
pub(crate) use loom::sync::atomic;

/// Busy-wait hint for spin loops (loom: yield so the model can schedule the other thread).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(shm_loom))]
    std::hint::spin_loop();
    #[cfg(shm_loom)]
    loom::thread::yield_now();
}
