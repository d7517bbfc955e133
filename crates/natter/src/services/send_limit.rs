//! The send rate limit: a token bucket per user (`NATTER_SEND_RATE` messages a
//! second, `NATTER_SEND_BURST` at once), shared by every send path (HTTP and
//! Socket.IO), so one account cannot flood its conversations or the lobby.
//!
//! Buckets live in memory, one per user who sent lately: the session pruner
//! drops the full ones ([`SendLimiter::forget_idle`]), so memory follows the
//! active senders. Each node counts for itself.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::UserId;
use crate::error::{AppError, AppResult};

pub struct SendLimiter {
    /// `None` when the limit is off (`NATTER_SEND_RATE=0`).
    limiter: Option<DefaultKeyedRateLimiter<UserId>>,
    clock: DefaultClock,
}

impl SendLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token from the user's bucket, or refuses with `rate_limited`
    /// and the whole seconds until the next token.
    pub fn check(&self, user: &UserId) -> AppResult<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }

    /// Drops the buckets that are full again (their users sent nothing lately).
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_sends_are_refused_with_a_wait() {
        let limiter = SendLimiter::new(1, 3);
        let (ann, bob) = (UserId::generate(), UserId::generate());
        for _ in 0..3 {
            limiter.check(&ann).unwrap();
        }
        match limiter.check(&ann) {
            Err(AppError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected rate_limited, got {other:?}"),
        }
        limiter.check(&bob).expect("buckets are per user");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = SendLimiter::new(0, 0);
        let ann = UserId::generate();
        for _ in 0..10_000 {
            limiter.check(&ann).unwrap();
        }
        limiter.forget_idle();
    }
}
