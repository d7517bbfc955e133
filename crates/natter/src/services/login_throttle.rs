//! Failed sign-ins, counted per (client address, username) in a fixed window:
//! after `MAX_FAILURES` the pair gets 429 with `Retry-After` until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Username;
use crate::error::{AppError, AppResult};

const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Past this many keys, expired ones are dropped before a new one is added.
const MAX_KEYS: usize = 100_000;

type Key = (IpAddr, Username);

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
}

impl LoginThrottle {
    pub fn check(&self, client: IpAddr, username: &Username) -> AppResult<()> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((count, since)) = failures.get(&(client, username.clone())) {
            let elapsed = since.elapsed();
            if *count >= MAX_FAILURES && elapsed < FAILURE_WINDOW {
                let retry_after_secs = (FAILURE_WINDOW - elapsed).as_secs().max(1);
                return Err(AppError::TooManyRequests { retry_after_secs });
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, client: IpAddr, username: &Username) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > MAX_KEYS {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures
            .entry((client, username.clone()))
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn clear(&self, client: IpAddr, username: &Username) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(client, username.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_a_window_is_refused() {
        let throttle = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let ann = Username::parse("ann").unwrap();
        for _ in 0..MAX_FAILURES {
            throttle.check(ip, &ann).unwrap();
            throttle.record_failure(ip, &ann);
        }
        assert_eq!(
            throttle.check(ip, &ann).unwrap_err().code(),
            "too_many_requests"
        );
        let bob = Username::parse("bob").unwrap();
        throttle.check(ip, &bob).unwrap();
        throttle.clear(ip, &ann);
        throttle.check(ip, &ann).unwrap();
    }
}
