//! `RateLimiter`: a token bucket per key (a token, or a client address for failed guesses).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket per key: `per_minute` requests a minute, bursts up to the same number.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key`'s bucket has a request again, without taking one; None when it has.
    pub fn exhausted(&self, key: &str) -> Option<u64> {
        let buckets = self.buckets.lock().ok()?;
        let (tokens, at) = buckets.get(key)?;
        let rate = self.per_minute / 60.0;
        let tokens = (tokens + at.elapsed().as_secs_f64() * rate).min(self.per_minute);
        (tokens < 1.0).then(|| ((1.0 - tokens) / rate).ceil().max(1.0) as u64)
    }

    /// Takes one request from `key`'s bucket; Err(seconds to wait) when empty.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            buckets.clear();
        }
        let now = Instant::now();
        let rate = self.per_minute / 60.0;
        let entry = buckets
            .entry(key.to_string())
            .or_insert((self.per_minute, now));
        let refill = now.duration_since(entry.1).as_secs_f64() * rate;
        entry.0 = (entry.0 + refill).min(self.per_minute);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - entry.0) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
