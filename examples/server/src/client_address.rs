//! The client's address, for the login throttle: the TCP peer's, or, when the peer is one of the
//! trusted reverse proxies (`TRUSTED_PROXIES`), the address they forwarded.
//!
//! Behind proxies, the header the proxies write (`FORWARDED_HEADER`: `X-Forwarded-For`, the
//! default, or RFC 7239's `Forwarded`; the other is ignored, since a proxy passes on a header it
//! does not write as the client sent it) is read from the right, all its lines and comma lists
//! as one list: each proxy appends the address it saw, so the right-most address that is not a
//! trusted proxy is the one the last trusted proxy saw, and what lies left of it is the client's
//! to write. Trusted addresses are skipped; if every one is trusted, the left-most counts.
//!
//! An entry that names no address (malformed, not UTF-8, `unknown`, an obfuscated `_id`, an
//! element without `for=`) ends the walk: the client is then the last trusted hop (the proxy
//! that wrote that entry, or the peer), so a proxy that hides its client shares one count among
//! its clients, as if there were no forwarded header. Elements are split at every comma (no
//! address holds one), so a client's unbalanced quote cannot swallow the entry its proxy
//! appended. Nothing here panics, and no client chooses its address: a client that is not a
//! trusted proxy is counted by its own, whatever it sends.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;
use axum::http::header::FORWARDED;
use ipnet::IpNet;

/// The header trusted proxies write the client's address in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239: `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl ForwardedHeader {
    /// `x-forwarded-for` or `forwarded`, in any case.
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.eq_ignore_ascii_case("x-forwarded-for") {
            Ok(Self::XForwardedFor)
        } else if name.eq_ignore_ascii_case("forwarded") {
            Ok(Self::Forwarded)
        } else {
            Err(format!(
                "FORWARDED_HEADER must be x-forwarded-for or forwarded, not {name:?}"
            ))
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "X-Forwarded-For",
            Self::Forwarded => FORWARDED.as_str(),
        }
    }

    /// The address of one comma-separated element; `None` when it names none.
    fn address(self, element: &str) -> Option<IpAddr> {
        match self {
            Self::XForwardedFor => node_address(element),
            Self::Forwarded => forwarded_for(element),
        }
    }
}

/// The reverse proxies whose forwarded header is believed. Empty (the default): none, and the
/// client is the TCP peer.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    ranges: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// `list`: addresses or CIDR ranges separated by commas (`127.0.0.1, 10.0.0.0/8, ::1`).
    pub fn parse(list: &str, header: ForwardedHeader) -> Result<Self, String> {
        let ranges = list
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "TRUSTED_PROXIES must be IP addresses or CIDR ranges separated by \
                             commas (for example 127.0.0.1,10.0.0.0/8), not {item:?}"
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { ranges, header })
    }

    pub fn describe(&self) -> String {
        if self.ranges.is_empty() {
            return "the TCP peer's (TRUSTED_PROXIES unset: forwarded headers are ignored)"
                .to_owned();
        }
        let ranges: Vec<String> = self.ranges.iter().map(ToString::to_string).collect();
        format!(
            "from {} when the TCP peer is a trusted proxy ({})",
            self.header.name(),
            ranges.join(", ")
        )
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(&address))
    }

    /// The client of a request from `peer` with `headers` (see the module's docs).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut nearest = peer;
        let lines = headers.get_all(self.header.name()).iter().rev();
        for element in lines.flat_map(|line| line.as_bytes().rsplit(|&b| b == b',')) {
            let address = std::str::from_utf8(element)
                .ok()
                .and_then(|element| self.header.address(element.trim()));
            match address.map(|address| address.to_canonical()) {
                Some(address) if self.trusts(address) => nearest = address,
                Some(address) => return address,
                None => return nearest,
            }
        }
        nearest
    }
}

/// The address of a node: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, with or without a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`, or an obfuscated `:_port`).
fn node_address(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    let (host, _port) = node.split_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The address in a `Forwarded` element's one `for=` parameter (RFC 7239 sections 4 and 6), its
/// value a token or a quoted string; `None` for `unknown`, an obfuscated identifier, or no (or
/// more than one) `for=`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut values = element.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim())
    });
    let (value, None) = (values.next()?, values.next()) else {
        return None;
    };
    let node = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?.replace('\\', ""),
        None => value.to_owned(),
    };
    if node.eq_ignore_ascii_case("unknown") || node.starts_with('_') {
        return None;
    }
    node_address(&node)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    struct Case {
        name: &'static str,
        header: ForwardedHeader,
        peer: &'static str,
        lines: &'static [&'static [u8]],
        want: &'static str,
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FWD: ForwardedHeader = ForwardedHeader::Forwarded;
    const PROXY: &str = "10.0.0.5";

    #[test]
    fn the_client_is_the_right_most_address_that_is_not_a_trusted_proxy() {
        let cases = [
            Case {
                name: "an untrusted peer is the client, whatever it sends",
                header: XFF,
                peer: "203.0.113.9",
                lines: &[b"198.51.100.1"],
                want: "203.0.113.9",
            },
            Case {
                name: "a trusted peer without the header",
                header: XFF,
                peer: PROXY,
                lines: &[],
                want: PROXY,
            },
            Case {
                name: "the address the proxy appended",
                header: XFF,
                peer: PROXY,
                lines: &[b"198.51.100.1"],
                want: "198.51.100.1",
            },
            Case {
                name: "what the client wrote left of it is ignored",
                header: XFF,
                peer: PROXY,
                lines: &[b"1.1.1.1, 198.51.100.1"],
                want: "198.51.100.1",
            },
            Case {
                name: "trusted hops are skipped, over several lines",
                header: XFF,
                peer: PROXY,
                lines: &[b"1.1.1.1, 198.51.100.1", b"10.0.1.3 ,10.0.0.6"],
                want: "198.51.100.1",
            },
            Case {
                name: "every hop trusted: the left-most",
                header: XFF,
                peer: PROXY,
                lines: &[b"10.0.9.9, 10.0.0.6"],
                want: "10.0.9.9",
            },
            Case {
                name: "ports and brackets",
                header: XFF,
                peer: PROXY,
                lines: &[b"[2001:db8::1]:4711, 10.0.0.6:80"],
                want: "2001:db8::1",
            },
            Case {
                name: "an IPv4-mapped address is its IPv4 address",
                header: XFF,
                peer: "::ffff:10.0.0.5",
                lines: &[b"::ffff:198.51.100.1"],
                want: "198.51.100.1",
            },
            Case {
                name: "garbage from a trusted hop: that hop",
                header: XFF,
                peer: PROXY,
                lines: &[b"198.51.100.1, not-an-address, 10.0.0.6"],
                want: "10.0.0.6",
            },
            Case {
                name: "an empty element: the peer",
                header: XFF,
                peer: PROXY,
                lines: &[b"198.51.100.1,"],
                want: PROXY,
            },
            Case {
                name: "bytes that are not UTF-8 left of the client's entry change nothing",
                header: XFF,
                peer: PROXY,
                lines: &[b"\xff\xfe, 198.51.100.1"],
                want: "198.51.100.1",
            },
            Case {
                name: "bytes that are not UTF-8 from the proxy: the peer",
                header: XFF,
                peer: PROXY,
                lines: &[b"198.51.100.1 \xff"],
                want: PROXY,
            },
            Case {
                name: "Forwarded: for= among other parameters, any case",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=1.1.1.1, proto=https;For=198.51.100.1;by=10.0.0.5"],
                want: "198.51.100.1",
            },
            Case {
                name: "Forwarded: a quoted IPv6 address with a port",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=\"[2001:db8:cafe::17]:4711\""],
                want: "2001:db8:cafe::17",
            },
            Case {
                name: "Forwarded: trusted hops skipped",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=198.51.100.1", b"for=\"10.0.0.6:8080\""],
                want: "198.51.100.1",
            },
            Case {
                name: "Forwarded: unknown stops at the hop that wrote it",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=198.51.100.1, for=unknown, for=10.0.0.6"],
                want: "10.0.0.6",
            },
            Case {
                name: "Forwarded: an obfuscated identifier stops",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=198.51.100.1, for=_hidden"],
                want: PROXY,
            },
            Case {
                name: "Forwarded: an element without for= stops",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=198.51.100.1, proto=https"],
                want: PROXY,
            },
            Case {
                name: "Forwarded: two for= in one element stop",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=198.51.100.1;for=198.51.100.2"],
                want: PROXY,
            },
            Case {
                name: "Forwarded: a client's unbalanced quote cannot swallow its proxy's entry",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=\"1.1.1.1, for=198.51.100.1"],
                want: "198.51.100.1",
            },
            Case {
                name: "Forwarded: an unterminated quote from the proxy",
                header: FWD,
                peer: PROXY,
                lines: &[b"for=\"198.51.100.1"],
                want: PROXY,
            },
        ];
        let proxies = |header| TrustedProxies::parse("10.0.0.0/16, ::1", header).unwrap();
        for case in cases {
            let mut headers = HeaderMap::new();
            for line in case.lines {
                let value = HeaderValue::from_bytes(line).unwrap();
                headers.append(case.header.name(), value);
            }
            let peer = case.peer.parse().unwrap();
            let got = proxies(case.header).client_address(peer, &headers);
            assert_eq!(got, case.want.parse::<IpAddr>().unwrap(), "{}", case.name);
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "198.51.100.1".parse().unwrap());
        headers.append(FORWARDED, "for=198.51.100.1".parse().unwrap());
        let peer = "127.0.0.1".parse().unwrap();
        let none = TrustedProxies::parse("", XFF).unwrap();
        assert_eq!(none.client_address(peer, &headers), peer);
        assert_eq!(
            TrustedProxies::default().client_address(peer, &headers),
            peer
        );
    }

    /// Only the header the proxies write is read: the other passes through them as the client
    /// sent it.
    #[test]
    fn the_other_header_is_not_read() {
        let peer = PROXY.parse().unwrap();
        for (header, other, value) in [
            (XFF, FORWARDED.as_str(), "for=198.51.100.1"),
            (FWD, "x-forwarded-for", "198.51.100.1"),
        ] {
            let mut headers = HeaderMap::new();
            headers.append(other, value.parse().unwrap());
            let proxies = TrustedProxies::parse(PROXY, header).unwrap();
            assert_eq!(proxies.client_address(peer, &headers), peer, "{header:?}");
        }
    }

    #[test]
    fn the_list_is_addresses_and_ranges() {
        let proxies = TrustedProxies::parse(" 127.0.0.1 ,10.1.2.3/8,::1,", XFF).unwrap();
        assert_eq!(proxies.ranges.len(), 3);
        assert!(proxies.trusts("10.200.0.1".parse().unwrap()));
        assert!(!proxies.trusts("11.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.1-10.0.0.9", "*"] {
            let error = TrustedProxies::parse(bad, XFF).unwrap_err();
            assert!(error.ends_with(&format!("not {bad:?}")), "{error}");
        }
        assert_eq!(ForwardedHeader::parse("Forwarded"), Ok(FWD));
        assert!(ForwardedHeader::parse("x-real-ip").is_err());
    }
}
