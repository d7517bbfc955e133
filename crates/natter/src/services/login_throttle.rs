//! Failed sign-ins, counted per account (from any address) and per client
//! address (an IPv6 /64), each in a fixed 15-minute window: past its limit an
//! account or an address gets 429 `too_many_requests` with `Retry-After` until
//! the window ends. A wrong current password on a password change counts too.
//!
//! Both maps are bounded: past `MAX_KEYS` the expired windows are dropped, and
//! if none has expired a new key is not counted (those already counted stay
//! locked), so a flood of usernames or addresses cannot grow memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client_address;
use crate::config::Config;
use crate::error::{AppError, AppResult};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 100_000;

pub struct LoginThrottle {
    accounts: Failures<String>,
    addresses: Failures<IpAddr>,
}

impl LoginThrottle {
    pub fn new(config: &Config) -> Self {
        Self {
            accounts: Failures::new(config.login_failures_per_account),
            addresses: Failures::new(config.login_failures_per_address),
        }
    }

    /// Refuses while the address or the account is locked; `None` for a
    /// username that cannot exist, which only its address answers for.
    pub fn check(&self, client: IpAddr, account: Option<&str>) -> AppResult<()> {
        self.addresses.check(&client_address::group(client))?;
        account.map_or(Ok(()), |account| self.accounts.check(&account.to_owned()))
    }

    pub fn record_failure(&self, client: IpAddr, account: Option<&str>) {
        self.addresses.record(client_address::group(client));
        if let Some(account) = account {
            self.accounts.record(account.to_owned());
        }
    }

    /// A successful sign-in clears its account's failures, not its address's:
    /// signing in to one's own account must not reset an address's count.
    pub fn succeeded(&self, account: &str) {
        self.accounts.clear(&account.to_owned());
    }

    /// Drops the windows that have ended.
    pub fn forget_expired(&self) {
        self.accounts.forget_expired();
        self.addresses.forget_expired();
    }
}

/// Failure counts per key in fixed windows; a limit of 0 counts nothing.
struct Failures<K> {
    limit: u32,
    counts: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq> Failures<K> {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            counts: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (u32, Instant)>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self, key: &K) -> AppResult<()> {
        if self.limit == 0 {
            return Ok(());
        }
        match self.lock().get(key) {
            Some((count, since)) if *count >= self.limit && since.elapsed() < WINDOW => {
                let retry_after_secs = (WINDOW - since.elapsed()).as_secs().max(1);
                Err(AppError::TooManyRequests { retry_after_secs })
            }
            _ => Ok(()),
        }
    }

    fn record(&self, key: K) {
        if self.limit == 0 {
            return;
        }
        let mut counts = self.lock();
        if counts.len() >= MAX_KEYS && !counts.contains_key(&key) {
            counts.retain(|_, (_, since)| since.elapsed() < WINDOW);
            if counts.len() >= MAX_KEYS {
                return;
            }
        }
        let entry = counts.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn clear(&self, key: &K) {
        self.lock().remove(key);
    }

    fn forget_expired(&self) {
        let mut counts = self.lock();
        counts.retain(|_, (_, since)| since.elapsed() < WINDOW);
        counts.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn throttle(per_account: u32, per_address: u32) -> LoginThrottle {
        let mut config = Config::parse_from(["natter"]);
        config.login_failures_per_account = per_account;
        config.login_failures_per_address = per_address;
        LoginThrottle::new(&config)
    }

    #[test]
    fn an_account_locks_across_addresses() {
        let throttle = throttle(3, 100);
        for i in 0..3 {
            let ip: IpAddr = format!("10.0.0.{i}").parse().unwrap();
            throttle.check(ip, Some("ann")).unwrap();
            throttle.record_failure(ip, Some("ann"));
        }
        let fresh: IpAddr = "10.9.9.9".parse().unwrap();
        let refused = throttle.check(fresh, Some("ann")).unwrap_err();
        assert_eq!(refused.code(), "too_many_requests");
        throttle.check(fresh, Some("bob")).unwrap();
        throttle.check(fresh, None).unwrap();
        throttle.succeeded("ann");
        throttle.check(fresh, Some("ann")).unwrap();
    }

    #[test]
    fn an_address_locks_across_accounts_by_its_64() {
        let throttle = throttle(100, 2);
        throttle.record_failure("2001:db8::1".parse().unwrap(), Some("ann"));
        throttle.record_failure("2001:db8::2".parse().unwrap(), None);
        let neighbour: IpAddr = "2001:db8::3".parse().unwrap();
        assert!(throttle.check(neighbour, Some("cat")).is_err());
        throttle.succeeded("cat");
        assert!(
            throttle.check(neighbour, None).is_err(),
            "success keeps the address count"
        );
        throttle
            .check("2001:db8:0:1::1".parse().unwrap(), Some("cat"))
            .unwrap();
        throttle.forget_expired();
        assert!(throttle.check(neighbour, Some("cat")).is_err());
    }

    #[test]
    fn zero_counts_nothing() {
        let throttle = throttle(0, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..100 {
            throttle.record_failure(ip, Some("ann"));
        }
        throttle.check(ip, Some("ann")).unwrap();
    }
}
