//! Who is calling: the client address (trusting `X-Forwarded-For` only from configured
//! proxies), the user agent, and the bearer token.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::{
    domain::cidr::Cidr, graphql::context::Bearer, service::sessions::ClientInfo, state::AppState,
};

/// Longest user agent kept on a session.
const MAX_USER_AGENT: usize = 512;

/// The client's address: the socket peer, unless the peer is a trusted proxy, in which case
/// the nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // Walk from the proxy nearest to us outwards: each trusted proxy vouches for the hop
    // before it. The first untrusted hop is the client; a hop that is not an address
    // (anything a client made up) ends the walk at the last address we could believe.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client.to_canonical()
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?.trim();
    if ua.is_empty() {
        return None;
    }
    let mut end = ua.len().min(MAX_USER_AGENT);
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    Some(ua[..end].to_owned())
}

/// Where the request came from.
pub fn client_info(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: peer.map(|p| {
            client_ip(
                p.ip().to_canonical(),
                headers,
                &state.settings.http.trusted_proxies,
            )
        }),
        user_agent: user_agent(headers),
    }
}

/// The request's `Authorization` header, verified.
pub async fn bearer(state: &AppState, headers: &HeaderMap) -> Bearer {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Bearer::None;
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if !token.is_empty() => {
            match state.tokens.verify(token, state.clock.now()).await {
                Ok(claims) => {
                    tracing::Span::current().record("user_id", tracing::field::display(claims.sub));
                    Bearer::Valid(claims)
                }
                Err(_) => Bearer::Invalid,
            }
        }
        _ => Bearer::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let got = client_ip(ip("203.0.113.9"), &headers("1.2.3.4"), &[]);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_proxy_hands_over_the_nearest_untrusted_hop() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let got = client_ip(
            ip("10.0.0.2"),
            &headers("6.6.6.6, 198.51.100.7, 10.0.0.9"),
            &trusted,
        );
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn garbage_a_client_put_first_does_not_hide_the_address_the_proxy_added() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let got = client_ip(ip("10.0.0.2"), &headers("x, 198.51.100.7"), &trusted);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn a_forged_garbage_hop_stops_the_walk() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let got = client_ip(ip("10.0.0.2"), &headers("not-an-ip"), &trusted);
        assert_eq!(got, ip("10.0.0.2"));
    }

    #[test]
    fn long_user_agents_are_cut() {
        let mut h = HeaderMap::new();
        h.insert(header::USER_AGENT, "a".repeat(2000).parse().unwrap());
        assert_eq!(user_agent(&h).unwrap().len(), MAX_USER_AGENT);
    }
}
