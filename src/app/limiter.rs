//! `RateLimiter`: a token bucket per key (a token, or a client address for failed guesses).
//!
//! What must stay true: no flood of new keys wipes a bucket that holds information. A bucket
//! that has refilled completely says nothing a fresh one would not, so it may go; when memory
//! must be bounded beyond that, the longest-idle buckets go first, and an exhausted bucket never
//! goes (each one costs its owner a minute's worth of requests, so there can be only so many).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Keys held before idle buckets are evicted.
pub const MAX_KEYS: usize = 100_000;

/// One key's bucket: tokens left at the last request, and when that was.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Buckets {
    map: HashMap<String, Bucket>,
    /// The size at which the next eviction runs (at least `MAX_KEYS`; higher while exhausted
    /// buckets alone fill the map, so eviction never runs on every request).
    evict_at: usize,
}

/// A token bucket per key: `per_minute` requests a minute, bursts up to the same number.
pub struct RateLimiter {
    per_minute: f64,
    max_keys: usize,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self::with_max_keys(per_minute, MAX_KEYS)
    }

    fn with_max_keys(per_minute: u32, max_keys: usize) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            max_keys: max_keys.max(4),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                evict_at: max_keys.max(4),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        // Nothing panics while holding the lock; if something ever did, the buckets are still
        // whole numbers and times, so keep limiting rather than letting everyone through.
        match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn rate(&self) -> f64 {
        self.per_minute / 60.0
    }

    /// The tokens `bucket` holds at `now`.
    fn tokens_at(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.rate()).min(self.per_minute)
    }

    fn wait_secs(&self, tokens: f64) -> u64 {
        ((1.0 - tokens) / self.rate()).ceil().max(1.0) as u64
    }

    /// Seconds until `key`'s bucket has a request again, without taking one; None when it has.
    pub fn exhausted(&self, key: &str) -> Option<u64> {
        self.exhausted_at(key, Instant::now())
    }

    fn exhausted_at(&self, key: &str, now: Instant) -> Option<u64> {
        let buckets = self.lock();
        let tokens = self.tokens_at(buckets.map.get(key)?, now);
        (tokens < 1.0).then(|| self.wait_secs(tokens))
    }

    /// Takes one request from `key`'s bucket; Err(seconds to wait) when empty.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = self.lock();
        if !buckets.map.contains_key(key) && buckets.map.len() >= buckets.evict_at {
            self.evict(&mut buckets, now);
        }
        let full = Bucket {
            tokens: self.per_minute,
            at: now,
        };
        let bucket = buckets.map.entry(key.to_string()).or_insert(full);
        let tokens = self.tokens_at(bucket, now);
        bucket.at = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(self.wait_secs(tokens))
        }
    }

    /// Drops every bucket that has refilled; then, while more than three quarters of
    /// `max_keys` remain, the longest-idle ones that are not exhausted. Linear in the number of
    /// keys, and the next run waits for a quarter more keys, so the cost per request stays
    /// constant.
    fn evict(&self, buckets: &mut Buckets, now: Instant) {
        buckets
            .map
            .retain(|_, b| self.tokens_at(b, now) < self.per_minute);
        let target = self.max_keys / 4 * 3;
        if buckets.map.len() > target {
            let mut idle: Vec<(Instant, String)> = buckets
                .map
                .iter()
                .filter(|(_, b)| self.tokens_at(b, now) >= 1.0)
                .map(|(k, b)| (b.at, k.clone()))
                .collect();
            let excess = (buckets.map.len() - target).min(idle.len());
            if excess > 0 {
                if excess < idle.len() {
                    idle.select_nth_unstable(excess - 1);
                }
                for (_, key) in idle.drain(..excess) {
                    buckets.map.remove(&key);
                }
            }
        }
        let len = buckets.map.len();
        buckets.evict_at = self.max_keys.max(len + (len / 4).max(self.max_keys / 4));
        if buckets.map.len() > target {
            tracing::warn!(
                keys = buckets.map.len(),
                "rate limits: many clients are exhausted at once; their buckets are kept until they refill"
            );
        }
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_empties_and_says_when_to_retry() {
        let l = RateLimiter::new(2);
        assert!(l.take("a").is_ok());
        assert!(l.take("a").is_ok());
        let wait = l.take("a").unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(l.take("b").is_ok());
        assert!(l.exhausted("b").is_none());
        assert!((1..=30).contains(&l.exhausted("a").unwrap()));
        assert!(l.exhausted("never-seen").is_none());
    }

    /// 200,000 failed guesses from distinct addresses do not reset an address that used up its
    /// attempts, and memory stays bounded.
    #[test]
    fn a_flood_of_new_keys_does_not_wipe_an_exhausted_bucket() {
        let l = RateLimiter::new(60);
        let start = Instant::now();
        for _ in 0..60 {
            l.take_at("guess:192.0.2.1", start).unwrap();
        }
        assert!(l.take_at("guess:192.0.2.1", start).is_err());
        for i in 0..200_000u32 {
            // Every new address fails once, a microsecond apart.
            let now = start + Duration::from_micros(u64::from(i) + 1);
            let _ = l.take_at(
                &format!("guess:10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                now,
            );
        }
        let now = start + Duration::from_millis(300);
        assert!(
            l.exhausted_at("guess:192.0.2.1", now).is_some(),
            "the exhausted address got its attempts back"
        );
        assert!(l.take_at("guess:192.0.2.1", now).is_err());
        assert!(l.len() <= MAX_KEYS, "{} keys held", l.len());
    }

    #[test]
    fn buckets_that_refilled_go_first_then_the_longest_idle() {
        let l = RateLimiter::with_max_keys(60, 8);
        let t0 = Instant::now();
        l.take_at("refilled", t0).unwrap();
        for _ in 0..60 {
            l.take_at("exhausted", t0).unwrap();
        }
        // Thirty seconds later "exhausted" has 30 tokens again: it uses them up at once.
        let t1 = t0 + Duration::from_secs(30);
        for _ in 0..30 {
            l.take_at("exhausted", t1).unwrap();
        }
        for (i, k) in ["old", "b", "c", "d", "e"].into_iter().enumerate() {
            l.take_at(k, t1 + Duration::from_millis(i as u64)).unwrap();
        }
        let t2 = t1 + Duration::from_millis(500);
        l.take_at("recent", t2).unwrap();
        assert_eq!(l.len(), 8);
        // The ninth key: "refilled" is full again and goes; then "old", idle longest, goes
        // before "exhausted", which is idle longer still but exhausted.
        assert!(l.exhausted_at("exhausted", t2).is_some());
        l.take_at("new", t2).unwrap();
        let held: Vec<&str> = ["refilled", "exhausted", "old", "b", "recent", "new"]
            .into_iter()
            .filter(|k| l.lock().map.contains_key(*k))
            .collect();
        assert_eq!(held, ["exhausted", "b", "recent", "new"]);
        assert_eq!(l.len(), 7);
    }

    #[test]
    fn exhausted_buckets_are_kept_even_beyond_the_bound() {
        let l = RateLimiter::with_max_keys(1, 8);
        let t0 = Instant::now();
        for i in 0..20 {
            l.take_at(&format!("k{i}"), t0).unwrap();
        }
        // With one request a minute, every one of them is exhausted: none may go.
        assert_eq!(l.len(), 20);
        for i in 0..20 {
            assert!(l.exhausted_at(&format!("k{i}"), t0).is_some(), "k{i}");
        }
        // Once they refill they go.
        let later = t0 + Duration::from_secs(61);
        for i in 0..30 {
            l.take_at(&format!("n{i}"), later).unwrap();
        }
        assert!(l.len() <= 30, "{}", l.len());
        assert!(!l.lock().map.contains_key("k0"));
    }
}
