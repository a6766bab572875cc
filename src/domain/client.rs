//! The client a request comes from, as the per-client limits count it.

use std::net::{IpAddr, Ipv6Addr};

/// One client for rate limits and fair queues: an IPv4 address, or an IPv6 /64 (a single
/// host controls a whole /64, so counting its addresses apart would multiply its budget).
/// Requests with no known address (tools, tests without a socket) share one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key of a client address (`None`: unknown).
    pub fn of(ip: Option<IpAddr>) -> Self {
        Self(match ip.map(|ip| ip.to_canonical()) {
            None => "unknown".to_owned(),
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::ClientKey;

    fn key(ip: &str) -> String {
        ClientKey::of(Some(ip.parse().unwrap())).as_str().to_owned()
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_client() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(ClientKey::of(None).as_str(), "unknown");
    }
}
