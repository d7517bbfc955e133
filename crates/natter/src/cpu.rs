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
