//! Where the app listens and how it is reached: its address, its public
//! URL, the proxies whose forwarded addresses it believes, and the separate
//! address of `/metrics`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::read::Reader;

/// An address or a range of them, like `10.0.0.0/8` or `::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    addr: IpAddr,
    prefix: u8,
}

impl AddrRange {
    pub fn parse(text: &str) -> Option<AddrRange> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(AddrRange { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let to_bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), 32),
                None => (u128::from(v6), 128),
            },
        };
        let ((mine, width), (theirs, their_width)) = (to_bits(self.addr), to_bits(ip));
        if width != their_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        mine & mask == theirs & mask
    }
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == bits {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// The server's settings, as [`super::Settings`] holds them.
pub(super) struct Server {
    pub(super) bind: SocketAddr,
    pub(super) base_url: String,
    pub(super) trusted_proxies: Vec<AddrRange>,
    pub(super) metrics_bind: Option<SocketAddr>,
}

/// `AFTERCARE_BIND`, `AFTERCARE_BASE_URL`, `AFTERCARE_TRUSTED_PROXIES` and
/// `AFTERCARE_METRICS_BIND`; `None` when the address or the URL is wrong (noted).
pub(super) fn read(r: &mut Reader) -> Option<Server> {
    let bind_text = r
        .var("AFTERCARE_BIND")
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let bind = bind_text
        .parse::<SocketAddr>()
        .map_err(|_| {
            r.error(format!(
                "AFTERCARE_BIND: {bind_text:?} is not an address like 127.0.0.1:8080"
            ))
        })
        .ok();
    let base_url = base_url(r, bind);
    let trusted_proxies = trusted_proxies(r);
    let metrics_bind = metrics_bind(r, bind);
    Some(Server {
        bind: bind?,
        base_url: base_url?,
        trusted_proxies,
        metrics_bind,
    })
}

/// The public address without a trailing slash; the bind address over
/// plain HTTP when unset.
fn base_url(r: &mut Reader, bind: Option<SocketAddr>) -> Option<String> {
    match r.var("AFTERCARE_BASE_URL") {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.trim_end_matches('/').to_string())
        }
        Some(url) => {
            r.error(format!(
                "AFTERCARE_BASE_URL: {url:?} must start with http:// or https://"
            ));
            None
        }
        None => bind.map(|b| format!("http://{b}")),
    }
}

/// A comma-separated list of addresses and ranges; none when unset.
fn trusted_proxies(r: &mut Reader) -> Vec<AddrRange> {
    let mut trusted = Vec::new();
    for item in r
        .var("AFTERCARE_TRUSTED_PROXIES")
        .unwrap_or_default()
        .split(',')
    {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match AddrRange::parse(item) {
            Some(range) => trusted.push(range),
            None => r.error(format!(
                "AFTERCARE_TRUSTED_PROXIES: {item:?} is not an address or range like 10.0.0.1 or 10.0.0.0/8"
            )),
        }
    }
    trusted
}

/// An address of its own for `/metrics`; none when unset.
fn metrics_bind(r: &mut Reader, bind: Option<SocketAddr>) -> Option<SocketAddr> {
    let text = r.var("AFTERCARE_METRICS_BIND")?;
    match text.trim().parse::<SocketAddr>() {
        Err(_) => r.error(format!(
            "AFTERCARE_METRICS_BIND: {text:?} is not an address like 127.0.0.1:9187"
        )),
        // Port 0 (any free port) twice is fine: tests use it.
        Ok(addr) if Some(addr) == bind && addr.port() != 0 => r.error(format!(
            "AFTERCARE_METRICS_BIND: {text:?} is the app's own address (AFTERCARE_BIND); \
             the metrics need a port of their own, like 127.0.0.1:9187"
        )),
        Ok(addr) => return Some(addr),
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::config::tests::settings;

    #[test]
    fn metrics_are_off_unless_given_an_address_of_their_own() {
        assert_eq!(settings(&[]).unwrap().metrics_bind, None);
        let on = settings(&[("AFTERCARE_METRICS_BIND", "127.0.0.1:9187")]).unwrap();
        assert_eq!(on.metrics_bind, Some("127.0.0.1:9187".parse().unwrap()));
        assert_eq!(
            settings(&[("AFTERCARE_METRICS_BIND", "9187")]).unwrap_err(),
            ["AFTERCARE_METRICS_BIND: \"9187\" is not an address like 127.0.0.1:9187"]
        );
        let same = settings(&[
            ("AFTERCARE_BIND", "127.0.0.1:8080"),
            ("AFTERCARE_METRICS_BIND", "127.0.0.1:8080"),
        ])
        .unwrap_err();
        assert_eq!(same.len(), 1, "{same:?}");
        assert!(same[0].contains("is the app's own address"), "{same:?}");
    }

    #[test]
    fn https_base_url_makes_cookies_secure() {
        let s = settings(&[("AFTERCARE_BASE_URL", "https://clinic.example/")]).unwrap();
        assert!(s.secure_cookies());
        assert_eq!(s.base_url, "https://clinic.example");
    }
}
