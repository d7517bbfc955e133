//! A bounded pool for CPU-heavy work (password hashing, image decoding).
//!
//! The work runs on tokio's blocking threads, never on the async workers, and at
//! most one job per core runs at a time: a burst of sign-ins or uploads queues
//! here instead of starving message traffic.

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

pub struct CpuPool {
    permits: Semaphore,
}

impl Default for CpuPool {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Semaphore::new(cores),
        }
    }
}

/// Argon2 works in a 19 MiB buffer. glibc raises its mmap threshold after the
/// first such buffer is freed, so later ones come from the heap of whichever
/// blocking thread ran the hash and stay there: after a burst of sign-ins the
/// process kept hundreds of MiB. A fixed threshold keeps large buffers on mmap,
/// returned to the system as soon as they are freed.
pub fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; called once at start-up.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

impl CpuPool {
    pub async fn run<T, F>(&self, job: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(tokio::task::spawn_blocking(job).await?)
    }
}
