//! Login rate limiting per username and per source address, with exponential lockout.
//!
//! Invariants:
//! - each key (a username as presented, or a source address; IPv6 grouped by /64, IPv4-mapped
//!   IPv6 as IPv4) keeps the times of its failures within the sliding window, at most
//!   `max_failures` of them;
//! - an attempt on a key that already has `max_failures` failures in the window is refused and
//!   locks the key for `base_lockout · 2^(n−1)` (capped at `max_lockout`), where `n` counts the
//!   key's lockouts since it was last quiet for a whole window; refused attempts check no
//!   password and count nothing;
//! - [`LoginLimiter::attempt`] checks and counts in one step under one lock, so concurrent
//!   guesses cannot all slip past the check; a successful login refunds its attempt;
//! - the limiter does not know which users exist: unknown usernames are limited exactly like
//!   known ones, so it is no enumeration oracle;
//! - memory is bounded: at most `max_entries` keys per table; when full, quiet keys are dropped
//!   first, then the unlocked key seen longest ago, locked keys last;
//! - time comes only from the `now` arguments.
//!
//! A deliberate trade-off: anyone can lock a username out for a while by failing on it. The
//! lockout is short at first, and the per-address limit bounds how fast one address can do it.

use roeh_domain::WallTime;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Longest username kept as a key, in bytes; longer names are cut (at a character boundary).
const MAX_USER_KEY: usize = 128;

/// Limits of a [`LoginLimiter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Failures per username within the window before it locks.
    pub user_max_failures: u32,
    /// Failures per source address within the window before it locks.
    pub ip_max_failures: u32,
    /// The sliding window.
    pub window: Duration,
    /// First lockout; each further one doubles.
    pub base_lockout: Duration,
    /// Longest lockout.
    pub max_lockout: Duration,
    /// Most keys kept per table (usernames, addresses).
    pub max_entries: usize,
}

impl Default for LimiterConfig {
    /// 5 failures per username and 20 per address within 15 minutes; lockouts of 1 minute
    /// doubling up to 1 hour; 10,000 keys per table.
    fn default() -> Self {
        LimiterConfig {
            user_max_failures: 5,
            ip_max_failures: 20,
            window: Duration::from_secs(15 * 60),
            base_lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
            max_entries: 10_000,
        }
    }
}

/// How long to wait before trying again (the `Retry-After` header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up, at least 1.
    pub fn secs(self) -> u64 {
        let s = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        s.max(1)
    }
}

#[derive(Debug)]
struct Entry {
    failures: VecDeque<WallTime>,
    locked_until: Option<WallTime>,
    lockouts: u32,
    last_seen: WallTime,
}

impl Entry {
    fn new(now: WallTime) -> Entry {
        Entry {
            failures: VecDeque::new(),
            locked_until: None,
            lockouts: 0,
            last_seen: now,
        }
    }

    fn prune(&mut self, now: WallTime, window: Duration) {
        while self.failures.front().is_some_and(|t| t.plus(window) <= now) {
            self.failures.pop_front();
        }
    }

    fn live_failures(&self, now: WallTime, window: Duration) -> usize {
        self.failures
            .iter()
            .filter(|t| t.plus(window) > now)
            .count()
    }

    fn locked_for(&self, now: WallTime) -> Option<Duration> {
        self.locked_until
            .filter(|u| *u > now)
            .map(|u| u.duration_since(now))
    }

    /// Not locked, no failure in the window, and any lock ended a window ago or more.
    fn is_quiet(&self, now: WallTime, window: Duration) -> bool {
        self.live_failures(now, window) == 0
            && self.locked_until.is_none_or(|u| u.plus(window) <= now)
    }
}

fn lockout(cfg: &LimiterConfig, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
    cfg.base_lockout
        .checked_mul(factor)
        .unwrap_or(cfg.max_lockout)
        .min(cfg.max_lockout)
}

/// What one table says about an attempt.
enum Verdict {
    Allow,
    Locked(Duration),
    /// The key is at its failure limit: this attempt locks it (number of the lockout).
    LocksNow(u32),
}

#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entry>,
    max_failures: usize,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(max_failures: u32) -> Table<K> {
        Table {
            map: HashMap::new(),
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
        }
    }

    fn verdict(&self, key: &K, now: WallTime, cfg: &LimiterConfig) -> Verdict {
        let Some(e) = self.map.get(key) else {
            return Verdict::Allow;
        };
        if let Some(d) = e.locked_for(now) {
            return Verdict::Locked(d);
        }
        let lockouts = if e.is_quiet(now, cfg.window) {
            0
        } else {
            e.lockouts
        };
        if e.live_failures(now, cfg.window) >= self.max_failures {
            Verdict::LocksNow(lockouts.saturating_add(1))
        } else {
            Verdict::Allow
        }
    }

    /// Applies a `LocksNow` verdict.
    fn lock(&mut self, key: &K, n: u32, now: WallTime, cfg: &LimiterConfig) -> Duration {
        let d = lockout(cfg, n);
        if let Some(e) = self.map.get_mut(key) {
            e.lockouts = n;
            e.locked_until = Some(now.plus(d));
            e.failures.clear();
            e.last_seen = now;
        }
        d
    }

    fn record(&mut self, key: &K, now: WallTime, cfg: &LimiterConfig) {
        if !self.map.contains_key(key) {
            self.make_room(now, cfg);
        }
        let max = self.max_failures;
        let e = self
            .map
            .entry(key.clone())
            .or_insert_with(|| Entry::new(now));
        if e.is_quiet(now, cfg.window) {
            e.lockouts = 0;
        }
        e.prune(now, cfg.window);
        e.failures.push_back(now);
        while e.failures.len() > max {
            e.failures.pop_front();
        }
        e.last_seen = now;
    }

    /// Takes back the latest failure of `key` (a refunded attempt).
    fn refund(&mut self, key: &K) {
        if let Some(e) = self.map.get_mut(key) {
            e.failures.pop_back();
        }
    }

    fn make_room(&mut self, now: WallTime, cfg: &LimiterConfig) {
        if self.map.len() < cfg.max_entries {
            return;
        }
        self.map.retain(|_, e| !e.is_quiet(now, cfg.window));
        while self.map.len() >= cfg.max_entries.max(1) {
            // Unlocked keys go before locked ones, each oldest first.
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, e)| (e.locked_for(now).is_some(), e.last_seen))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.map.remove(&k);
                }
                None => break,
            }
        }
    }
}

#[derive(Debug)]
struct Tables {
    users: Table<String>,
    ips: Table<IpAddr>,
}

/// Login rate limiter; share it behind an `Arc`. All methods take `&self`.
#[derive(Debug)]
pub struct LoginLimiter {
    cfg: LimiterConfig,
    tables: Mutex<Tables>,
}

fn user_key(user: &str) -> String {
    let mut end = user.len().min(MAX_USER_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    user[..end].to_lowercase()
}

/// IPv4-mapped IPv6 as IPv4; other IPv6 addresses cut to their /64, which one host usually owns.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

impl LoginLimiter {
    /// A limiter with these limits.
    pub fn new(cfg: LimiterConfig) -> LoginLimiter {
        LoginLimiter {
            cfg,
            tables: Mutex::new(Tables {
                users: Table::new(cfg.user_max_failures),
                ips: Table::new(cfg.ip_max_failures),
            }),
        }
    }

    /// The limits.
    pub fn config(&self) -> &LimiterConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // The tables stay consistent even if a holder panicked: every update is a single step.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a login attempt: refuses it if the username or the address is locked or at its
    /// limit (locking it), and otherwise counts it as a failure right away. Call
    /// [`LoginLimiter::record_success`] if the password turns out right; a wrong password needs
    /// no further call.
    pub fn attempt(&self, user: &str, ip: IpAddr, now: WallTime) -> Result<(), RetryAfter> {
        let (uk, ik) = (user_key(user), ip_key(ip));
        let cfg = self.cfg;
        let mut t = self.lock();
        let mut wait = Duration::ZERO;
        match t.users.verdict(&uk, now, &cfg) {
            Verdict::Allow => {}
            Verdict::Locked(d) => wait = wait.max(d),
            Verdict::LocksNow(n) => wait = wait.max(t.users.lock(&uk, n, now, &cfg)),
        }
        match t.ips.verdict(&ik, now, &cfg) {
            Verdict::Allow => {}
            Verdict::Locked(d) => wait = wait.max(d),
            Verdict::LocksNow(n) => wait = wait.max(t.ips.lock(&ik, n, now, &cfg)),
        }
        if wait > Duration::ZERO {
            return Err(RetryAfter(wait));
        }
        t.users.record(&uk, now, &cfg);
        t.ips.record(&ik, now, &cfg);
        Ok(())
    }

    /// Whether an attempt would be allowed now, changing nothing. A key at its limit answers
    /// with the lockout the next attempt would impose.
    pub fn check(&self, user: &str, ip: IpAddr, now: WallTime) -> Result<(), RetryAfter> {
        let (uk, ik) = (user_key(user), ip_key(ip));
        let cfg = self.cfg;
        let t = self.lock();
        let wait_of = |v: Verdict| match v {
            Verdict::Allow => Duration::ZERO,
            Verdict::Locked(d) => d,
            Verdict::LocksNow(n) => lockout(&cfg, n),
        };
        let wait =
            wait_of(t.users.verdict(&uk, now, &cfg)).max(wait_of(t.ips.verdict(&ik, now, &cfg)));
        if wait > Duration::ZERO {
            Err(RetryAfter(wait))
        } else {
            Ok(())
        }
    }

    /// Counts a failure that did not go through [`LoginLimiter::attempt`] (for example a wrong
    /// setup token).
    pub fn record_failure(&self, user: &str, ip: IpAddr, now: WallTime) {
        let (uk, ik) = (user_key(user), ip_key(ip));
        let cfg = self.cfg;
        let mut t = self.lock();
        t.users.record(&uk, now, &cfg);
        t.ips.record(&ik, now, &cfg);
    }

    /// A login after [`LoginLimiter::attempt`] succeeded: forgets the username's failures and
    /// lockout history, and refunds the attempt to the address (whose other failures stay, so a
    /// valid account does not reset an address's guessing budget).
    pub fn record_success(&self, user: &str, ip: IpAddr, _now: WallTime) {
        let (uk, ik) = (user_key(user), ip_key(ip));
        let mut t = self.lock();
        t.users.map.remove(&uk);
        t.ips.refund(&ik);
    }

    /// How many usernames and addresses are tracked (for metrics and tests).
    pub fn tracked(&self) -> (usize, usize) {
        let t = self.lock();
        (t.users.map.len(), t.ips.map.len())
    }
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LimiterConfig::default())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const MIN: i64 = 60;

    fn at(secs: i64) -> WallTime {
        WallTime::from_secs(1_700_000_000 + secs)
    }
    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }
    fn fail(l: &LoginLimiter, user: &str, addr: IpAddr, now: WallTime) {
        l.attempt(user, addr, now).unwrap();
    }

    #[test]
    fn five_failures_lock_the_username_then_lockouts_double() {
        let l = LoginLimiter::default();
        for i in 0..5 {
            fail(&l, "olga", ip(1), at(i));
        }
        // Sixth attempt, even from another address: locked for one minute.
        assert_eq!(
            l.attempt("olga", ip(2), at(10)),
            Err(RetryAfter(Duration::from_secs(60)))
        );
        assert_eq!(
            l.attempt("OLGA", ip(3), at(40)),
            Err(RetryAfter(Duration::from_secs(30)))
        );
        // Other usernames are unaffected.
        assert!(l.attempt("piet", ip(1), at(40)).is_ok());
        // After the lockout, five more failures lock for two minutes, then four.
        for i in 0..5 {
            fail(&l, "olga", ip(1), at(70 + i));
        }
        assert_eq!(
            l.attempt("olga", ip(1), at(80)),
            Err(RetryAfter(Duration::from_secs(120)))
        );
        for i in 0..5 {
            fail(&l, "olga", ip(4), at(200 + i));
        }
        assert_eq!(l.attempt("olga", ip(4), at(210)).unwrap_err().secs(), 240);
    }

    #[test]
    fn lockouts_are_capped() {
        let cfg = LimiterConfig {
            user_max_failures: 1,
            base_lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(300),
            ..LimiterConfig::default()
        };
        let l = LoginLimiter::new(cfg);
        let mut t = 0;
        let mut seen = Vec::new();
        for _ in 0..6 {
            fail(&l, "olga", ip(1), at(t));
            let w = l.attempt("olga", ip(1), at(t + 1)).unwrap_err();
            seen.push(w.secs());
            t += 1 + i64::try_from(w.secs()).unwrap();
        }
        assert_eq!(seen, vec![60, 120, 240, 300, 300, 300]);
        assert_eq!(lockout(&cfg, u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn the_window_slides() {
        let l = LoginLimiter::default();
        for i in 0..4 {
            fail(&l, "olga", ip(1), at(i));
        }
        // 15 minutes later the first four have expired: four more do not lock.
        for i in 0..4 {
            fail(&l, "olga", ip(1), at(15 * MIN + i));
        }
        assert!(l.check("olga", ip(1), at(15 * MIN + 10)).is_ok());
        // A fifth within the window does, at the next attempt.
        fail(&l, "olga", ip(1), at(15 * MIN + 11));
        assert!(l.attempt("olga", ip(1), at(15 * MIN + 12)).is_err());
    }

    #[test]
    fn a_quiet_window_resets_the_lockout_history() {
        let l = LoginLimiter::default();
        for i in 0..5 {
            fail(&l, "olga", ip(1), at(i));
        }
        assert_eq!(l.attempt("olga", ip(1), at(5)).unwrap_err().secs(), 60);
        // The lock ends at 65 s; a window after that the username is quiet again.
        let later = 65 + 15 * MIN;
        for i in 0..5 {
            fail(&l, "olga", ip(1), at(later + i));
        }
        assert_eq!(
            l.attempt("olga", ip(1), at(later + 5)).unwrap_err().secs(),
            60
        );
    }

    #[test]
    fn success_refunds_and_resets_the_username() {
        let l = LoginLimiter::default();
        for i in 0..4 {
            fail(&l, "olga", ip(1), at(i));
        }
        l.attempt("olga", ip(1), at(4)).unwrap();
        l.record_success("olga", ip(1), at(4));
        // Username history is gone: five more attempts are allowed.
        for i in 0..5 {
            fail(&l, "olga", ip(2), at(10 + i));
        }
        assert!(l.attempt("olga", ip(2), at(20)).is_err());
    }

    #[test]
    fn the_address_limit_spans_usernames() {
        let l = LoginLimiter::default();
        for i in 0..20u8 {
            fail(&l, &format!("user{i}"), ip(9), at(i64::from(i)));
        }
        let w = l.attempt("fresh", ip(9), at(30)).unwrap_err();
        assert_eq!(w.secs(), 60);
        // Another address may still try.
        assert!(l.attempt("fresh", ip(8), at(30)).is_ok());
        // A success from the address refunds only its own attempt.
        let l = LoginLimiter::default();
        for i in 0..19u8 {
            fail(&l, &format!("user{i}"), ip(9), at(i64::from(i)));
        }
        l.attempt("olga", ip(9), at(20)).unwrap();
        l.record_success("olga", ip(9), at(20));
        fail(&l, "x", ip(9), at(21));
        assert!(l.attempt("y", ip(9), at(22)).is_err());
    }

    #[test]
    fn ipv6_hosts_share_their_64_and_mapped_ipv4_is_ipv4() {
        let cfg = LimiterConfig {
            ip_max_failures: 2,
            ..LimiterConfig::default()
        };
        let l = LoginLimiter::new(cfg);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        fail(&l, "u1", a, at(0));
        fail(&l, "u2", b, at(1));
        assert!(l.attempt("u3", a, at(2)).is_err());
        assert!(l.attempt("u3", c, at(2)).is_ok());
        let v4 = ip(7);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        fail(&l, "u4", v4, at(3));
        fail(&l, "u5", mapped, at(4));
        assert!(l.attempt("u6", v4, at(5)).is_err());
    }

    #[test]
    fn check_changes_nothing() {
        let l = LoginLimiter::default();
        for i in 0..50 {
            assert!(l.check("olga", ip(1), at(i)).is_ok());
        }
        assert_eq!(l.tracked(), (0, 0));
        for i in 0..5 {
            l.record_failure("olga", ip(1), at(i));
        }
        assert_eq!(l.check("olga", ip(1), at(6)).unwrap_err().secs(), 60);
        assert_eq!(l.check("olga", ip(1), at(7)).unwrap_err().secs(), 60);
        // check did not start the lockout: the attempt does.
        assert_eq!(l.attempt("olga", ip(1), at(30)).unwrap_err().secs(), 60);
        assert_eq!(l.check("olga", ip(1), at(60)).unwrap_err().secs(), 30);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_goes_first() {
        let cfg = LimiterConfig {
            max_entries: 3,
            ..LimiterConfig::default()
        };
        let l = LoginLimiter::new(cfg);
        for i in 0..5 {
            l.record_failure("victim", ip(1), at(i));
        }
        assert!(l.check("victim", ip(1), at(6)).is_err());
        for i in 0..3u8 {
            l.record_failure(&format!("spray{i}"), ip(10 + i), at(10 + i64::from(i)));
        }
        let (users, ips) = l.tracked();
        assert!(users <= 3 && ips <= 3, "{users} {ips}");
        // "victim" was seen longest ago and was evicted with its failures.
        assert!(l.check("victim", ip(99), at(20)).is_ok());
        // Quiet entries are dropped before active ones, and the cap always holds.
        for i in 0..10u8 {
            l.record_failure(&format!("late{i}"), ip(50 + i), at(20 * MIN + i64::from(i)));
            let (users, ips) = l.tracked();
            assert!(users <= 3 && ips <= 3);
        }
        // Long usernames are cut, so their keys are bounded too.
        l.record_failure(&"é".repeat(10_000), ip(1), at(30 * MIN));
        assert!(l.tracked().0 <= 3);
    }

    #[test]
    fn locked_keys_are_evicted_last() {
        let cfg = LimiterConfig {
            max_entries: 3,
            ..LimiterConfig::default()
        };
        let l = LoginLimiter::new(cfg);
        for i in 0..5 {
            fail(&l, "victim", ip(1), at(i));
        }
        assert!(l.attempt("victim", ip(1), at(5)).is_err());
        for i in 0..5u8 {
            l.record_failure(&format!("spray{i}"), ip(10 + i), at(10 + i64::from(i)));
            assert!(l.tracked().0 <= 3);
        }
        // Still locked although it is the oldest entry.
        assert!(l.attempt("victim", ip(2), at(20)).is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).secs(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1500)).secs(), 2);
        assert_eq!(RetryAfter(Duration::from_secs(60)).secs(), 60);
        assert_eq!(RetryAfter(Duration::ZERO).secs(), 1);
    }
}
