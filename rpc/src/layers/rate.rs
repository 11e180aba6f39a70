//! Per-caller rate limiting, after authentication so limits follow identities rather than
//! IP addresses. The limiter is a trait object: [`Unlimited`] when nothing is configured,
//! [`TokenBuckets`] for `rpc.rate_limit`, or the node's own. A refusal is HTTP 429 with
//! `Retry-After` and JSON-RPC code -32005.
//!
//! The unit is one HTTP request (a whole batch) or one WebSocket upgrade; messages inside
//! an open WebSocket are not counted here (a per-call limiter would be an RPC middleware).

use std::{
    collections::HashMap,
    fmt,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use http::{HeaderValue, StatusCode, header};
use jsonrpsee::{server::HttpBody, types::ErrorObjectOwned};

use super::{
    auth::{Caller, Principal},
    gate::{Gate, GateLayer},
    identity::TlsPeer,
    json_rpc_error,
};
use crate::{config::CallerRateLimit, error::LIMIT_EXCEEDED_CODE};

/// Callers tracked at once. Beyond it, idle (full) buckets are dropped; if every bucket is
/// busy, new callers are refused until some refill: memory stays bounded under a flood of
/// addresses, and callers already tracked keep their normal service.
pub const TRACKED_CALLERS_MAX: usize = 65_536;

/// A request refused by the rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit exceeded, retry in {}s", retry_after.as_secs().max(1))]
pub struct RateLimited {
    /// When the caller may try again.
    pub retry_after: Duration,
}

/// Decides whether a caller may make one more request now.
pub trait RateLimiter: Send + Sync + 'static {
    /// `caller` is `None` only if the authentication layer was left out of the stack.
    fn check(&self, caller: Option<&Caller>, peer: Option<&TlsPeer>) -> Result<(), RateLimited>;
}

/// No limit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

impl RateLimiter for Unlimited {
    fn check(&self, _: Option<&Caller>, _: Option<&TlsPeer>) -> Result<(), RateLimited> {
        Ok(())
    }
}

/// Whose bucket a request draws from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BucketKey {
    Principal(Principal),
    Address(IpAddr),
    /// Neither is known (the identity layer was left out); all such requests share one.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// One token bucket per caller.
#[derive(Debug)]
pub struct TokenBuckets {
    per_second: f64,
    burst: f64,
    tracked_max: usize,
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl TokenBuckets {
    /// Buckets of `limit.burst` tokens refilled at `limit.requests_per_second`.
    pub fn new(limit: CallerRateLimit) -> Self {
        Self::with_capacity(limit, TRACKED_CALLERS_MAX)
    }

    fn with_capacity(limit: CallerRateLimit, tracked_max: usize) -> Self {
        Self {
            per_second: f64::from(limit.requests_per_second.get()),
            burst: f64::from(limit.burst.get()),
            tracked_max,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn key(caller: Option<&Caller>, peer: Option<&TlsPeer>) -> BucketKey {
        match (caller.map(|c| &c.principal), peer) {
            (Some(Principal::Anonymous) | None, Some(peer)) => BucketKey::Address(peer.remote_addr.ip()),
            (Some(Principal::Anonymous) | None, None) => BucketKey::Unknown,
            (Some(principal), _) => BucketKey::Principal(principal.clone()),
        }
    }

    /// Takes one token for `key` at `now`.
    fn take(&self, key: BucketKey, now: Instant) -> Result<(), RateLimited> {
        // A poisoned lock only means another request panicked mid-update; the buckets are
        // plain numbers and stay usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let refill = |bucket: &Bucket| {
            let elapsed = now.saturating_duration_since(bucket.refilled_at).as_secs_f64();
            (bucket.tokens + elapsed * self.per_second).min(self.burst)
        };
        if !buckets.contains_key(&key) && buckets.len() >= self.tracked_max {
            buckets.retain(|_, bucket| refill(bucket) < self.burst);
            if buckets.len() >= self.tracked_max {
                return Err(RateLimited { retry_after: Duration::from_secs(1) });
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.burst, refilled_at: now });
        bucket.tokens = refill(bucket);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(RateLimited { retry_after: Duration::from_secs_f64(wait) })
        }
    }
}

impl RateLimiter for TokenBuckets {
    fn check(&self, caller: Option<&Caller>, peer: Option<&TlsPeer>) -> Result<(), RateLimited> {
        self.take(Self::key(caller, peer), Instant::now())
    }
}

/// The rate-limit gate: answers a request over its caller's limit with HTTP 429,
/// `Retry-After` and JSON-RPC code -32005.
#[derive(Clone)]
pub struct Limit(Arc<dyn RateLimiter>);

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limit").finish_non_exhaustive()
    }
}

impl Gate for Limit {
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), http::Response<HttpBody>> {
        let caller = request.extensions().get::<Arc<Caller>>();
        let peer = request.extensions().get::<Arc<TlsPeer>>();
        self.0.check(caller.map(AsRef::as_ref), peer.map(AsRef::as_ref)).map_err(|limited| {
            let error = ErrorObjectOwned::owned::<()>(LIMIT_EXCEEDED_CODE, limited.to_string(), None);
            let mut response = json_rpc_error(StatusCode::TOO_MANY_REQUESTS, &error);
            let secs = limited.retry_after.as_secs().max(1);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            response
        })
    }
}

/// Layer applying a [`RateLimiter`] to each HTTP request (and WebSocket upgrade).
pub type RateLimitLayer = GateLayer<Limit>;

impl RateLimitLayer {
    /// A layer using `limiter`.
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        GateLayer::with_gate(Limit(limiter))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn limit(per_second: u32, burst: u32) -> CallerRateLimit {
        CallerRateLimit {
            requests_per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    fn ip(last: u8) -> BucketKey {
        BucketKey::Address(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn burst_then_refill() {
        let buckets = TokenBuckets::new(limit(2, 3));
        let t0 = Instant::now();
        for _ in 0..3 {
            buckets.take(ip(1), t0).unwrap();
        }
        let refused = buckets.take(ip(1), t0).unwrap_err();
        assert!((refused.retry_after.as_secs_f64() - 0.5).abs() < 1e-9, "{refused:?}");
        // Another caller has its own bucket.
        buckets.take(ip(2), t0).unwrap();
        // Half a second later at 2/s, one token is back, not two.
        let t1 = t0 + Duration::from_millis(500);
        buckets.take(ip(1), t1).unwrap();
        assert!(buckets.take(ip(1), t1).is_err());
        // Long idle never exceeds the burst.
        let t2 = t1 + Duration::from_secs(3_600);
        for _ in 0..3 {
            buckets.take(ip(1), t2).unwrap();
        }
        assert!(buckets.take(ip(1), t2).is_err());
    }

    #[test]
    fn tracked_callers_are_bounded() {
        let buckets = TokenBuckets::with_capacity(limit(1, 1), 2);
        let t0 = Instant::now();
        buckets.take(ip(1), t0).unwrap();
        buckets.take(ip(2), t0).unwrap();
        // Both buckets are busy (empty): a third caller is refused, not tracked.
        assert!(buckets.take(ip(3), t0).is_err());
        // Once one has refilled it is dropped and the newcomer gets a bucket.
        let t1 = t0 + Duration::from_secs(2);
        buckets.take(ip(3), t1).unwrap();
        assert!(buckets.buckets.lock().unwrap().len() <= 2);
    }

    #[test]
    fn keys_follow_identity_then_address() {
        let peer = TlsPeer {
            remote_addr: "10.0.0.9:5000".parse().unwrap(),
            certificates: None,
            protocol_version: None,
            alpn: None,
        };
        let anonymous = Caller { principal: Principal::Anonymous, scopes: Default::default() };
        let token = Caller { principal: Principal::Token { id: "ci".into() }, scopes: Default::default() };
        assert_eq!(TokenBuckets::key(Some(&anonymous), Some(&peer)), ip(9));
        assert_eq!(
            TokenBuckets::key(Some(&token), Some(&peer)),
            BucketKey::Principal(Principal::Token { id: "ci".into() })
        );
        assert_eq!(TokenBuckets::key(None, None), BucketKey::Unknown);
    }
}
