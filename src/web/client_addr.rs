//! Who the client is, by address: the socket's peer, or — only when that
//! peer is one of the reverse proxies named in `AFTERCARE_TRUSTED_PROXIES` —
//! the address the proxy says it forwarded for. Behind a proxy every socket
//! peer is the proxy, so without this the whole clinic would share one
//! address (and one log-in throttle); trusting the header from anyone else
//! would let a stranger pick the address they are throttled as.

use std::net::IpAddr;

pub use crate::config::AddrRange;

/// The addresses a proxy chain reports, nearest the client first: from the
/// standard `Forwarded` header (RFC 7239) if present, else `X-Forwarded-For`.
fn forwarded_chain(forwarded: &[&str], x_forwarded_for: &[&str]) -> Option<Vec<IpAddr>> {
    let parse = |node: &str| -> Option<IpAddr> {
        let node = node.trim().trim_matches('"');
        // "[2001:db8::1]:4711", "192.0.2.60:8080", or a bare address.
        if let Some(rest) = node.strip_prefix('[') {
            return rest.split(']').next()?.parse().ok();
        }
        node.parse()
            .ok()
            .or_else(|| node.rsplit_once(':')?.0.parse().ok())
    };
    if !forwarded.is_empty() {
        let mut chain = Vec::new();
        for element in forwarded.iter().flat_map(|h| h.split(',')) {
            let node = element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then_some(value)
            })?;
            chain.push(parse(node)?);
        }
        return Some(chain);
    }
    x_forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(parse)
        .collect()
}

/// The client's address: `peer` itself unless it is a trusted proxy; then
/// the nearest address in the forwarded chain that is not one of ours. A
/// chain that does not parse is not believed.
pub fn client_address(
    peer: IpAddr,
    trusted: &[AddrRange],
    forwarded: &[&str],
    x_forwarded_for: &[&str],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    match forwarded_chain(forwarded, x_forwarded_for) {
        Some(chain) => chain
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer),
        None => peer,
    }
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

    #[test]
    fn a_stranger_cannot_choose_their_address() {
        let client = client_address(ip("203.0.113.9"), &proxies(), &[], &["198.51.100.1"]);
        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_address_counts() {
        // The client forged the first entry; the proxy appended the real one.
        let xff = ["198.51.100.1, 203.0.113.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &[], &xff),
            ip("203.0.113.9")
        );
        // Two proxies of ours in a row.
        let xff = ["203.0.113.9, 10.9.9.9"];
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &[], &xff),
            ip("203.0.113.9")
        );
        let forwarded = ["for=198.51.100.1, for=\"[2001:db8:cafe::17]:4711\";proto=https"];
        assert_eq!(
            client_address(ip("::1"), &proxies(), &forwarded, &["192.0.2.1"]),
            ip("2001:db8:cafe::17")
        );
    }

    #[test]
    fn an_unreadable_chain_is_not_believed() {
        for xff in ["unknown", "203.0.113.9, garbage", ""] {
            assert_eq!(
                client_address(ip("10.1.2.3"), &proxies(), &[], &[xff]),
                ip("10.1.2.3"),
                "{xff:?}"
            );
        }
        assert_eq!(
            client_address(ip("10.1.2.3"), &proxies(), &[], &[]),
            ip("10.1.2.3")
        );
    }
}
