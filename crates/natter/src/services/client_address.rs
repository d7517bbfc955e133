//! Who the client is, for every per-address limit: the TCP peer, or, when the
//! peer is a trusted reverse proxy (`NATTER_TRUSTED_PROXIES`), the right-most
//! `X-Forwarded-For` entry that is not itself a trusted proxy. Entries to the
//! left of that one were written by the client and prove nothing.
//!
//! Limits key IPv6 clients by their /64, since one host usually holds a whole
//! /64 and could otherwise take a fresh address for every attempt.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// An address block, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a
/// block of one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u32::from(net).into(), self.prefix, 32)
                    == mask(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), self.prefix, 128) == mask(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn mask(bits: u128, prefix: u8, width: u8) -> u128 {
    match width - prefix {
        0 => bits,
        n if n >= 128 => 0,
        n => bits >> n << n,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
        let network = canonical(
            addr.parse::<IpAddr>()
                .map_err(|_| format!("{s:?} is not an address or CIDR block"))?,
        );
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            width
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0-{width}"))?
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address as seen through the trusted proxies.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|cidr| cidr.contains(ip));
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
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop a trusted proxy wrote that is not an address ends the walk: the
        // last trusted proxy is the best we know.
        let Ok(ip) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// The key per-address limits count by: the address, or its /64 for IPv6.
pub fn group(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(mask(u128::from(v6), 64, 128))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn blocks_parse_and_contain() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("2001:db8::1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy".parse::<Cidr>().is_err());
        assert_eq!(
            format!("{:?}", "2001:db8::/32".parse::<Cidr>().unwrap()),
            "2001:db8::/32"
        );
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_peer() {
        let trusted: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let headers = forwarded("1.1.1.1, 2.2.2.2, 10.0.0.7");
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("2.2.2.2"));
        assert_eq!(resolve(ip("3.3.3.3"), &headers, &trusted), ip("3.3.3.3"));
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &[]), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.1"),
                &forwarded("1.1.1.1, junk, 10.0.0.9"),
                &trusted
            ),
            ip("10.0.0.9")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &forwarded("10.0.0.3, 10.0.0.2"), &trusted),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn ipv6_groups_by_64() {
        assert_eq!(group(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(group(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_ne!(group(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(group(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(group(ip("1.2.3.4")), ip("1.2.3.4"));
    }
}
