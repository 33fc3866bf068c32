//! Who the client is, by address: the socket's peer, or — only when that
//! peer is one of the reverse proxies named in `AFTERCARE_TRUSTED_PROXIES` —
//! the address the proxy wrote in `X-Forwarded-For`. Behind a proxy every
//! socket peer is the proxy, so without this the whole clinic would share one
//! address (and one log-in throttle); trusting the header from anyone else
//! would let a stranger pick the address they are throttled as.
//!
//! Only the right-hand end of `X-Forwarded-For` is the proxy's own writing
//! (nginx's `$proxy_add_x_forwarded_for` appends the peer it saw to whatever
//! the client sent), so the chain is read from the right, past our own
//! proxies, and the first address that is not one of ours is the client.
//! Anything to its left was written by the client and is never read. The
//! standard `Forwarded` header is ignored: nginx and Caddy pass a client's
//! own one through untouched. A chain whose proxy-written end cannot be read
//! makes the client [`ClientAddr::Unknown`]: its own throttle bucket and
//! "unknown" in the audit log, never the proxy's address.

use std::fmt;
use std::net::IpAddr;

pub use crate::config::AddrRange;

/// Where a request came from, as far as we can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddr {
    Known(IpAddr),
    /// Behind a trusted proxy whose header we could not read.
    Unknown,
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Known(ip) => ip.fmt(f),
            ClientAddr::Unknown => f.write_str("unknown"),
        }
    }
}

/// One hop as nginx writes it: a bare address (IPv4 or IPv6), or, from some
/// proxies, `[2001:db8::1]:4711` or `192.0.2.60:8080`.
fn parse_hop(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse()
        .ok()
        .or_else(|| node.rsplit_once(':')?.0.parse().ok())
}

/// The client's address: `peer` itself unless it is a trusted proxy; then
/// the right-most hop of `X-Forwarded-For` that is not a trusted proxy. With
/// no header at all, the trusted host itself is the client (a request made on
/// the proxy's machine, not through the proxy).
pub fn client_address(peer: IpAddr, trusted: &[AddrRange], x_forwarded_for: &[&str]) -> ClientAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return ClientAddr::Known(peer);
    }
    if x_forwarded_for.is_empty() {
        return ClientAddr::Known(peer);
    }
    // Several header lines are one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = x_forwarded_for.iter().flat_map(|h| h.split(',')).collect();
    let mut farthest_ours = None;
    for hop in hops.into_iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => farthest_ours = Some(ip),
            Some(ip) => return ClientAddr::Known(ip),
            None => return ClientAddr::Unknown,
        }
    }
    // Every hop is one of ours: the client is a trusted host itself.
    farthest_ours.map_or(ClientAddr::Unknown, ClientAddr::Known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Vec<AddrRange> {
        ["10.0.0.0/8", "::1"]
            .iter()
            .map(|r| AddrRange::parse(r).unwrap())
            .collect()
    }

    #[test]
    fn ranges_parse_and_match() {
        let r = AddrRange::parse("192.168.1.0/24").unwrap();
        assert!(r.contains(ip("192.168.1.77")) && !r.contains(ip("192.168.2.1")));
        assert!(r.contains(ip("::ffff:192.168.1.5")), "IPv4-mapped IPv6");
        assert!(AddrRange::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0/8", ""] {
            assert_eq!(AddrRange::parse(bad), None, "{bad:?}");
        }
    }

    fn known(s: &str) -> ClientAddr {
        ClientAddr::Known(ip(s))
    }

    #[test]
    fn a_stranger_cannot_choose_their_address() {
        let client = client_address(ip("203.0.113.9"), &proxies(), &["198.51.100.1"]);
        assert_eq!(client, known("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_counts() {
        // The client forged the first entry; the proxy appended the real one.
        let xff = ["198.51.100.1, 203.0.113.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &xff),
            known("203.0.113.9")
        );
        // Two proxies of ours in a row.
        let xff = ["203.0.113.9, 10.9.9.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &xff),
            known("203.0.113.9")
        );
        // A forged header line before the proxy's own.
        let xff = ["198.51.100.1", "203.0.113.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &xff),
            known("203.0.113.9")
        );
        let xff = ["[2001:db8:cafe::17]:4711"];
        assert_eq!(
            client_address(ip("::1"), &proxies(), &xff),
            known("2001:db8:cafe::17")
        );
    }

    #[test]
    fn garbage_left_of_the_proxys_hop_is_never_read() {
        let xff = ["garbage, for=x, 203.0.113.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &xff),
            known("203.0.113.9")
        );
    }

    #[test]
    fn an_unreadable_chain_is_unknown_not_the_proxy() {
        for xff in ["unknown", "203.0.113.9, garbage", "", "203.0.113.9,"] {
            let client = client_address(ip("10.1.2.3"), &proxies(), &[xff]);
            assert_eq!(client, ClientAddr::Unknown, "{xff:?}");
            assert_eq!(client.to_string(), "unknown");
        }
    }

    #[test]
    fn without_the_header_the_trusted_host_itself_is_the_client() {
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &[]),
            known("10.1.2.3")
        );
        // Every hop one of ours: the farthest is the client.
        let xff = ["10.0.0.7, 10.9.9.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &xff),
            known("10.0.0.7")
        );
    }
}
