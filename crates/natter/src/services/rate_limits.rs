//! Rate limits: a token bucket per user for every write (sends, read marks,
//! profile changes), per client address before sign-in (sign-ups, sign-ins),
//! and the `typing` coalescer. One call checks one: [`RateLimits::check`] for a
//! signed-in user's [`Action`], [`RateLimits::check_address`] for a [`Gate`].
//! A new kind of write (edits, reactions) is one more `Action` and its quota.
//!
//! Buckets are governor's keyed GCRA cells, in memory, one per key that acted
//! lately: the session pruner drops the full ones ([`RateLimits::forget_idle`]),
//! so memory follows the active users. Each node counts for itself. A quota of
//! `0` turns its limit off; `NATTER_RATE_LIMITS=off` turns every bucket off.

use std::collections::HashSet;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_address;
use crate::config::{Config, Switch};
use crate::domain::{ConversationId, UserId};
use crate::error::{AppError, AppResult};

/// What a signed-in user does that costs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A message, over HTTP or Socket.IO.
    Send,
    /// A read mark.
    Read,
    /// A display name or status, a picture, a password, a block.
    Profile,
}

/// What a client address does before it is signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    SignUp,
    SignIn,
}

pub struct RateLimits {
    send: Bucket<UserId>,
    read: Bucket<UserId>,
    profile: Bucket<UserId>,
    sign_up: Bucket<IpAddr>,
    sign_in: Bucket<IpAddr>,
    typing: Bucket<(UserId, ConversationId)>,
    /// The `typing`s waiting for their interval to end: at most one per key,
    /// each for at most one interval.
    typing_held: Mutex<HashSet<(UserId, ConversationId)>>,
}

/// What becomes of one `typing` ([`RateLimits::typing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    Now,
    After(Duration),
    Drop,
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        let on = config.rate_limits == Switch::On;
        let quota =
            |n: u32, per: fn(NonZeroU32) -> Quota| NonZeroU32::new(n).filter(|_| on).map(per);
        let send = quota(config.send_rate, Quota::per_second)
            .map(|q| q.allow_burst(NonZeroU32::new(config.send_burst).unwrap_or(q.burst_size())));
        let typing = Duration::from_millis(config.typing_interval_ms);
        Self {
            send: Bucket::new(send),
            read: Bucket::new(quota(config.read_per_minute, Quota::per_minute)),
            profile: Bucket::new(quota(config.profile_per_minute, Quota::per_minute)),
            sign_up: Bucket::new(quota(config.signup_per_hour, Quota::per_hour)),
            sign_in: Bucket::new(quota(config.signin_per_minute, Quota::per_minute)),
            typing: Bucket::new(Quota::with_period(typing)),
            typing_held: Mutex::default(),
        }
    }

    /// Takes one token from the user's bucket for `action`, or refuses with
    /// `rate_limited` and the time until the next token.
    pub fn check(&self, action: Action, user: &UserId) -> AppResult<()> {
        match action {
            Action::Send => self.send.check(user),
            Action::Read => self.read.check(user),
            Action::Profile => self.profile.check(user),
        }
    }

    /// Takes one token from the client address's bucket (its /64 for IPv6).
    pub fn check_address(&self, gate: Gate, client: IpAddr) -> AppResult<()> {
        let key = client_address::group(client);
        match gate {
            Gate::SignUp => self.sign_up.check(&key),
            Gate::SignIn => self.sign_in.check(&key),
        }
    }

    /// What becomes of this `typing`: one per user and conversation reaches
    /// the others per `NATTER_TYPING_INTERVAL_MS`. One that comes too soon is
    /// held back until the interval ends (a new burst of typing right after a
    /// send must still show), and any more in the meantime are dropped.
    pub fn typing(&self, user: &UserId, conversation: &ConversationId) -> Typing {
        let key = (user.clone(), conversation.clone());
        match self.typing.check(&key) {
            Ok(()) => Typing::Now,
            Err(AppError::RateLimited { retry_after }) => {
                let mut held = self.typing_held.lock().unwrap_or_else(|e| e.into_inner());
                if held.insert(key) {
                    Typing::After(retry_after)
                } else {
                    Typing::Drop
                }
            }
            Err(_) => Typing::Drop,
        }
    }

    /// A held-back `typing` goes out now: it takes the interval's token.
    pub fn typing_released(&self, user: &UserId, conversation: &ConversationId) {
        let key = (user.clone(), conversation.clone());
        let _ = self.typing.check(&key);
        self.typing_held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    /// Drops the buckets that are full again (their keys did nothing lately).
    pub fn forget_idle(&self) {
        self.send.forget_idle();
        self.read.forget_idle();
        self.profile.forget_idle();
        self.sign_up.forget_idle();
        self.sign_in.forget_idle();
        self.typing.forget_idle();
    }
}

/// One keyed limiter; `None` when its limit is off.
struct Bucket<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Bucket<K> {
    fn new(quota: Option<Quota>) -> Self {
        Self {
            limiter: quota.map(RateLimiter::keyed),
            clock: DefaultClock::default(),
        }
    }

    fn check(&self, key: &K) -> AppResult<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(key)
            .map_err(|not_until| AppError::RateLimited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn limits(configure: impl FnOnce(&mut Config)) -> RateLimits {
        let mut config = Config::parse_from(["natter"]);
        configure(&mut config);
        RateLimits::new(&config)
    }

    #[test]
    fn a_burst_passes_then_sends_are_refused_with_a_wait() {
        let limits = limits(|c| {
            c.send_rate = 1;
            c.send_burst = 3;
        });
        let (ann, bob) = (UserId::generate(), UserId::generate());
        for _ in 0..3 {
            limits.check(Action::Send, &ann).unwrap();
        }
        match limits.check(Action::Send, &ann) {
            Err(AppError::RateLimited { retry_after }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
            }
            other => panic!("expected rate_limited, got {other:?}"),
        }
        limits
            .check(Action::Send, &bob)
            .expect("buckets are per user");
        limits
            .check(Action::Read, &ann)
            .expect("buckets are per action");
    }

    #[test]
    fn zero_turns_one_limit_off_and_off_turns_all() {
        let ann = UserId::generate();
        let one_off = limits(|c| c.profile_per_minute = 0);
        let all_off = limits(|c| c.rate_limits = Switch::Off);
        for _ in 0..1_000 {
            one_off.check(Action::Profile, &ann).unwrap();
            all_off.check(Action::Send, &ann).unwrap();
            all_off.check(Action::Profile, &ann).unwrap();
            all_off
                .check_address(Gate::SignUp, "10.0.0.1".parse().unwrap())
                .unwrap();
        }
        assert!((0..1_000).any(|_| one_off.check(Action::Read, &ann).is_err()));
        one_off.forget_idle();
    }

    #[test]
    fn addresses_count_by_their_64() {
        let limits = limits(|c| c.signup_per_hour = 2);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        limits.check_address(Gate::SignUp, a).unwrap();
        limits.check_address(Gate::SignUp, b).unwrap();
        assert!(limits.check_address(Gate::SignUp, a).is_err());
        let other: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        limits.check_address(Gate::SignUp, other).unwrap();
    }

    #[test]
    fn typing_passes_once_per_interval_and_holds_one_back() {
        let coalesced = limits(|_| {});
        let (ann, lobby) = (UserId::generate(), ConversationId::lobby());
        assert_eq!(coalesced.typing(&ann, &lobby), Typing::Now);
        assert!(
            matches!(coalesced.typing(&ann, &lobby), Typing::After(wait) if wait <= Duration::from_millis(2500))
        );
        assert_eq!(
            coalesced.typing(&ann, &lobby),
            Typing::Drop,
            "one held back at a time"
        );
        coalesced.typing_released(&ann, &lobby);
        assert!(
            matches!(coalesced.typing(&ann, &lobby), Typing::After(_)),
            "the release took the interval's token"
        );
        assert_eq!(coalesced.typing(&UserId::generate(), &lobby), Typing::Now);
        let every = limits(|c| c.typing_interval_ms = 0);
        assert!((0..10).all(|_| every.typing(&ann, &lobby) == Typing::Now));
    }
}
