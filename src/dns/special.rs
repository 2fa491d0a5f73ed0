//! The IANA special-purpose address registries (IPv4 and IPv6, RFC 6890 and its updates), in
//! full, with their "Globally Reachable" column: which block a nameserver address falls in.
//! Multicast (its own registries) is added, since no nameserver belongs there either.

use std::net::IpAddr;

/// An entry of the IANA special-purpose address registries: block, name, and the registry's
/// "Globally Reachable" column.
struct Block<T> {
    base: T,
    bits: u8,
    name: &'static str,
    global: bool,
}

const fn v4(base: [u8; 4], bits: u8, name: &'static str, global: bool) -> Block<u32> {
    Block { base: u32::from_be_bytes(base), bits, name, global }
}

const fn v6(base: u128, bits: u8, name: &'static str, global: bool) -> Block<u128> {
    Block { base, bits, name, global }
}

/// The IANA IPv4 Special-Purpose Address Registry in full (as of 2025; RFC 6890 and its
/// updates), plus multicast (224.0.0.0/4, its own registry). Most specific blocks first, so
/// that 192.0.0.9/32 (globally reachable) wins over 192.0.0.0/24.
#[rustfmt::skip]
const SPECIAL_V4: &[Block<u32>] = &[
    v4([0, 0, 0, 0], 32, "0.0.0.0/32 (this host on this network)", false),
    v4([192, 0, 0, 8], 32, "192.0.0.8/32 (IPv4 dummy address)", false),
    v4([192, 0, 0, 9], 32, "192.0.0.9/32 (Port Control Protocol anycast)", true),
    v4([192, 0, 0, 10], 32, "192.0.0.10/32 (TURN anycast)", true),
    v4([192, 0, 0, 170], 32, "192.0.0.170/32 (NAT64/DNS64 discovery)", false),
    v4([192, 0, 0, 171], 32, "192.0.0.171/32 (NAT64/DNS64 discovery)", false),
    v4([255, 255, 255, 255], 32, "255.255.255.255/32 (limited broadcast)", false),
    v4([192, 0, 0, 0], 29, "192.0.0.0/29 (IPv4 service continuity prefix)", false),
    v4([192, 0, 0, 0], 24, "192.0.0.0/24 (IETF protocol assignments)", false),
    v4([192, 0, 2, 0], 24, "192.0.2.0/24 (documentation)", false),
    v4([192, 31, 196, 0], 24, "192.31.196.0/24 (AS112-v4)", true),
    v4([192, 52, 193, 0], 24, "192.52.193.0/24 (AMT)", true),
    v4([192, 88, 99, 0], 24, "192.88.99.0/24 (deprecated 6to4 relay anycast)", false),
    v4([192, 175, 48, 0], 24, "192.175.48.0/24 (direct delegation AS112 service)", true),
    v4([198, 51, 100, 0], 24, "198.51.100.0/24 (documentation)", false),
    v4([203, 0, 113, 0], 24, "203.0.113.0/24 (documentation)", false),
    v4([169, 254, 0, 0], 16, "169.254.0.0/16 (link local)", false),
    v4([192, 168, 0, 0], 16, "192.168.0.0/16 (private)", false),
    v4([198, 18, 0, 0], 15, "198.18.0.0/15 (benchmarking)", false),
    v4([172, 16, 0, 0], 12, "172.16.0.0/12 (private)", false),
    v4([100, 64, 0, 0], 10, "100.64.0.0/10 (shared address space)", false),
    v4([0, 0, 0, 0], 8, "0.0.0.0/8 (this network)", false),
    v4([10, 0, 0, 0], 8, "10.0.0.0/8 (private)", false),
    v4([127, 0, 0, 0], 8, "127.0.0.0/8 (loopback)", false),
    v4([224, 0, 0, 0], 4, "224.0.0.0/4 (multicast)", false),
    v4([240, 0, 0, 0], 4, "240.0.0.0/4 (reserved)", false),
];

/// The IANA IPv6 Special-Purpose Address Registry in full (as of 2025), plus multicast
/// (ff00::/8). Most specific blocks first.
#[rustfmt::skip]
const SPECIAL_V6: &[Block<u128>] = &[
    v6(1, 128, "::1/128 (loopback)", false),
    v6(0, 128, "::/128 (unspecified)", false),
    v6(0x2001_0001 << 96 | 1, 128, "2001:1::1/128 (Port Control Protocol anycast)", true),
    v6(0x2001_0001 << 96 | 2, 128, "2001:1::2/128 (TURN anycast)", true),
    v6(0x2001_0001 << 96 | 3, 128, "2001:1::3/128 (DNS-SD service registration protocol anycast)", true),
    v6(0xffff_0000_0000, 96, "::ffff:0:0/96 (IPv4-mapped)", false),
    v6(0x0064_ff9b << 96, 96, "64:ff9b::/96 (IPv4-IPv6 translation)", true),
    v6(0x0100 << 112, 64, "100::/64 (discard-only)", false),
    v6(0x0100_0000_0000_0001 << 64, 64, "100:0:0:1::/64 (dummy IPv6 prefix)", false),
    v6(0x0064_ff9b_0001 << 80, 48, "64:ff9b:1::/48 (local-use IPv4-IPv6 translation)", false),
    v6(0x2001_0002 << 96, 48, "2001:2::/48 (benchmarking)", false),
    v6(0x2001_0004_0112 << 80, 48, "2001:4:112::/48 (AS112-v6)", true),
    v6(0x2620_004f_8000 << 80, 48, "2620:4f:8000::/48 (direct delegation AS112 service)", true),
    v6(0x2001 << 112, 32, "2001::/32 (Teredo)", false),
    v6(0x2001_0003 << 96, 32, "2001:3::/32 (AMT)", true),
    v6(0x2001_0db8 << 96, 32, "2001:db8::/32 (documentation)", false),
    v6(0x2001_0010 << 96, 28, "2001:10::/28 (deprecated ORCHID)", false),
    v6(0x2001_0020 << 96, 28, "2001:20::/28 (ORCHIDv2)", true),
    v6(0x2001_0030 << 96, 28, "2001:30::/28 (drone remote ID entity tags)", true),
    v6(0x2001 << 112, 23, "2001::/23 (IETF protocol assignments)", false),
    v6(0x3fff << 112, 20, "3fff::/20 (documentation)", false),
    v6(0x2002 << 112, 16, "2002::/16 (6to4)", false),
    v6(0x5f00 << 112, 16, "5f00::/16 (segment routing SIDs)", false),
    v6(0xfe80 << 112, 10, "fe80::/10 (link local)", false),
    v6(0xff << 120, 8, "ff00::/8 (multicast)", false),
    v6(0xfc << 120, 7, "fc00::/7 (unique local)", false),
];

fn in_block<T>(value: T, block: &Block<T>, width: u32) -> bool
where
    T: Copy
        + PartialEq
        + std::ops::Shl<u32, Output = T>
        + std::ops::BitAnd<Output = T>
        + std::ops::Not<Output = T>
        + From<u8>,
{
    if block.bits == 0 {
        return false;
    }
    let mask = !T::from(0u8) << (width - block.bits as u32);
    value & mask == block.base
}

/// The IANA special-purpose block an address falls in, and whether the registry marks it
/// globally reachable.
pub fn special_range(ip: IpAddr) -> Option<(&'static str, bool)> {
    match ip {
        IpAddr::V4(address) => {
            let value = u32::from(address);
            SPECIAL_V4.iter().find(|block| in_block(value, block, 32)).map(|block| (block.name, block.global))
        }
        IpAddr::V6(address) => {
            let value = u128::from(address);
            SPECIAL_V6.iter().find(|block| in_block(value, block, 128)).map(|block| (block.name, block.global))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_purpose_ranges() {
        let range = |s: &str| special_range(s.parse().unwrap()).map(|(name, _)| name);
        let global = |s: &str| special_range(s.parse().unwrap()).map(|(_, global)| global);
        assert_eq!(range("127.0.20.1"), Some("127.0.0.0/8 (loopback)"));
        assert_eq!(range("172.31.255.255"), Some("172.16.0.0/12 (private)"));
        assert_eq!(range("172.32.0.1"), None);
        assert_eq!(range("8.8.8.8"), None);
        assert_eq!(range("2001:db8::53"), Some("2001:db8::/32 (documentation)"));
        assert_eq!(range("fd00::1"), Some("fc00::/7 (unique local)"));
        assert_eq!(range("2001:503:ba3e::2:30"), None);
        // The blocks the first table missed (issue 16).
        assert_eq!(range("2001:2::53"), Some("2001:2::/48 (benchmarking)"));
        assert_eq!(range("3fff:0fff::1"), Some("3fff::/20 (documentation)"));
        assert_eq!(range("3fff:1000::1"), None);
        assert_eq!(range("240.1.2.3"), Some("240.0.0.0/4 (reserved)"));
        assert_eq!(range("255.255.255.255"), Some("255.255.255.255/32 (limited broadcast)"));
        assert_eq!(range("0.0.0.0"), Some("0.0.0.0/32 (this host on this network)"));
        assert_eq!(range("2001:0:1::1"), Some("2001::/32 (Teredo)"));
        assert_eq!(range("2001:100::1"), Some("2001::/23 (IETF protocol assignments)"));
        assert_eq!(range("2001:200::1"), None);
        // Globally reachable blocks are named, and marked so.
        assert_eq!(range("192.0.0.9"), Some("192.0.0.9/32 (Port Control Protocol anycast)"));
        assert_eq!(global("192.0.0.9"), Some(true));
        assert_eq!(global("192.0.0.1"), Some(false));
        assert_eq!(global("192.175.48.1"), Some(true));
        assert_eq!(global("2620:4f:8000::42"), Some(true));
        assert_eq!(global("2001:4:112::1"), Some(true));
        assert_eq!(global("2001:1::1"), Some(true));
        assert_eq!(global("2001:1::4"), Some(false));
        assert_eq!(global("::"), Some(false));
        assert_eq!(global("1.1.1.1"), None);
    }
}
