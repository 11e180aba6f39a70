//! CORS: which browser origins may call the endpoint. Wallet extensions
//! (`chrome-extension://`, `moz-extension://`) are allowed by default because MetaMask
//! cannot save a network whose RPC refuses its origin (jsonrpc.md, MetaMask section);
//! further origins come from the config. Requests without an `Origin` header (curl, SDKs,
//! other servers) are not affected by CORS at all.

use std::time::Duration;

use http::{HeaderValue, Method, request::Parts};
use tower_http::cors::{AllowHeaders, AllowOrigin, AllowPrivateNetwork, CorsLayer};

use crate::config::{CorsPolicy, OriginRule, WalletExtensions};

/// Browsers cache a preflight answer this long (Chrome caps it at 2 hours).
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3_600);

/// Origin schemes of browser wallet extensions.
const EXTENSION_SCHEMES: [&str; 2] = ["chrome-extension://", "moz-extension://"];

/// Whether `origin` is allowed by `policy`.
pub fn origin_allowed(policy: &CorsPolicy, origin: &HeaderValue) -> bool {
    if policy.wallet_extensions == WalletExtensions::Allow {
        let bytes = origin.as_bytes();
        if EXTENSION_SCHEMES.iter().any(|scheme| {
            bytes.len() > scheme.len() && bytes[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        }) {
            return true;
        }
    }
    policy.origins.iter().any(|rule| match rule {
        OriginRule::Any => true,
        OriginRule::Exact(allowed) => allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()),
    })
}

/// The CORS layer for a policy: POST and GET (WebSocket upgrade). Request headers are
/// mirrored: wallets and SDKs add their own (`authorization`, tracing or client-name
/// headers), and the origin check is what protects the endpoint, not a header list.
/// Chrome's Private Network Access preflight (a public page calling a private address) is
/// answered for allowed origins too.
pub fn layer(policy: &CorsPolicy) -> CorsLayer {
    let for_origin = policy.clone();
    let for_private_network = policy.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _: &Parts| {
            origin_allowed(&for_origin, origin)
        }))
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .allow_private_network(AllowPrivateNetwork::predicate(move |origin, _| {
            origin_allowed(&for_private_network, origin)
        }))
        .max_age(PREFLIGHT_MAX_AGE)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy(ext: WalletExtensions, origins: Vec<OriginRule>) -> CorsPolicy {
        CorsPolicy { wallet_extensions: ext, origins }
    }

    #[test]
    fn extensions_allowed_by_default_only() {
        let chrome = HeaderValue::from_static("chrome-extension://nkbihfbeogaeaoehlefnkodbefgpgknn");
        let firefox = HeaderValue::from_static("moz-extension://0e3e3e3e-1111-2222-3333-444455556666");
        let site = HeaderValue::from_static("https://evil.example");
        let allow = policy(WalletExtensions::Allow, vec![]);
        assert!(origin_allowed(&allow, &chrome));
        assert!(origin_allowed(&allow, &firefox));
        assert!(!origin_allowed(&allow, &site));
        assert!(!origin_allowed(&allow, &HeaderValue::from_static("chrome-extension://")));
        let deny = policy(WalletExtensions::Deny, vec![]);
        assert!(!origin_allowed(&deny, &chrome));
    }

    #[test]
    fn configured_origins() {
        let app = HeaderValue::from_static("https://app.example.com");
        let exact = policy(WalletExtensions::Deny, vec![OriginRule::Exact(app.clone())]);
        assert!(origin_allowed(&exact, &app));
        assert!(origin_allowed(&exact, &HeaderValue::from_static("HTTPS://APP.EXAMPLE.COM")));
        assert!(!origin_allowed(&exact, &HeaderValue::from_static("https://app.example.com.evil")));
        let any = policy(WalletExtensions::Deny, vec![OriginRule::Any]);
        assert!(origin_allowed(&any, &HeaderValue::from_static("https://anything")));
    }
}
