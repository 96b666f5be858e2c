//! Which addresses a plugin may reach only when its allow-list names the host literally: those
//! of the host's own machine and networks. A wildcard entry (`https://*`, `https://*.io`) must
//! not let a plugin probe the metadata service, the loopback interface or the office LAN.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public, for the log line; `None` for a public address.
pub(crate) fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4 inside IPv6 reaches the IPv4 address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            non_public_v6(v6)
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private (RFC 1918)")
    } else if ip.is_link_local() {
        Some("link-local (169.254.0.0/16, where cloud metadata services live)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (100.64.0.0/10, carrier-grade NAT)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking (198.18.0.0/15)")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("IETF protocol assignments (192.0.0.0/24)")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else if ip.is_documentation() {
        Some("documentation (TEST-NET)")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified (::)")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local (fe80::/10)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique local (fc00::/7, private)")
    } else if first & 0xffc0 == 0xfec0 {
        Some("site-local (fec0::/10, private)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("documentation (2001:db8::/32)")
    } else if ip.segments()[..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated) addresses: treat like the IPv4 address they embed.
        non_public_v4(last_32_bits(ip)).or(Some("IPv4-compatible (deprecated)"))
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64 (64:ff9b::/96): the IPv4 address it embeds decides.
        non_public_v4(last_32_bits(ip))
    } else {
        None
    }
}

/// The IPv4 address in the last 32 bits of `ip`, where IPv4-compatible and NAT64 addresses
/// carry it.
fn last_32_bits(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<&'static str> {
        non_public(text.parse().unwrap())
    }

    #[test]
    fn the_machine_and_its_networks_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.8.9.1",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(check(ip).is_some(), "{ip} must not count as public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(check(ip), None, "{ip} is public");
        }
    }
}
