//! roeh's network egress policy, one for every connection roeh opens to a place someone
//! configured: cameras and ONVIF devices (an allow-list of camera networks), webhook receivers
//! and the MQTT broker (the public internet, plus networks and hosts the site lists).
//!
//! - [`Cidr`]: a network on [`ipnet`], parsed from `ADDR/PREFIX` or a bare address, that
//!   judges IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as the IPv4 address;
//! - [`special_range`]: what a non-public address is (loopback, private, link-local where cloud
//!   metadata services answer, carrier-grade NAT, documentation, reserved, multicast, …);
//!   addresses that embed an IPv4 address (mapped, NAT64, 6to4) are judged by it;
//! - [`OutboundPolicy`]: where an outbound integration may connect: public unicast addresses,
//!   addresses inside its allowed networks, and any unicast address of a host it names;
//!   unspecified, broadcast and multicast never. [`OutboundPolicy::resolve_checked`] resolves a
//!   host once and answers only if *every* address is permitted, so the caller connects to a
//!   checked address and a DNS answer that changed since (rebinding) cannot slip through.
//!
//! No secrets pass through here: errors name addresses and the configuration key, never a URL.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

roeh_domain::define_error!();

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

use roeh_domain::ErrorKind;

/// An IPv4 or IPv6 network in CIDR notation, e.g. `10.20.0.0/16` or `fd00::/8`; host bits are
/// cleared.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(ipnet::IpNet);

impl Cidr {
    /// A network from an address and prefix length.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self> {
        let net = ipnet::IpNet::new(addr, prefix).map_err(|_| {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            Error::new(
                ErrorKind::InvalidArgument,
                format!("CIDR prefix /{prefix} is longer than /{max}"),
            )
        })?;
        Ok(Cidr(net.trunc()))
    }

    /// Parses `ADDR/PREFIX`, or a bare address meaning a single host.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || {
            Error::new(
                ErrorKind::InvalidArgument,
                "not a CIDR network (ADDR/PREFIX)",
            )
        };
        if s.len() > 64 {
            return Err(bad());
        }
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(a).map_err(|_| bad())?;
        let prefix = match p {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        Cidr::new(addr, prefix)
    }

    /// Whether `ip` lies in this network (after unmapping IPv4-mapped IPv6).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }

    /// The network.
    pub fn net(&self) -> ipnet::IpNet {
        self.0
    }
}

impl FromStr for Cidr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Cidr::parse(s)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.network(), self.0.prefix_len())
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cidr({self})")
    }
}

/// IPv4-mapped IPv6 addresses become IPv4, so `::ffff:127.0.0.1` is judged as `127.0.0.1`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// What a non-public address is, and whether no configuration may make it a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Special {
    /// In words, e.g. "a loopback address".
    pub what: &'static str,
    /// Never a target (unspecified, broadcast, multicast), even for a listed host.
    pub never: bool,
}

const fn special(what: &'static str) -> Option<Special> {
    Some(Special { what, never: false })
}

const fn never(what: &'static str) -> Option<Special> {
    Some(Special { what, never: true })
}

fn special_v4(a: Ipv4Addr) -> Option<Special> {
    let n = u32::from(a);
    let within =
        |net: [u8; 4], prefix: u32| n >> (32 - prefix) == u32::from_be_bytes(net) >> (32 - prefix);
    if a.is_unspecified() {
        never("the unspecified address")
    } else if a.is_broadcast() {
        never("the broadcast address")
    } else if a.is_multicast() {
        never("a multicast address")
    } else if within([0, 0, 0, 0], 8) {
        special("a \"this network\" address")
    } else if a.is_loopback() {
        special("a loopback address")
    } else if a.is_link_local() {
        special("a link-local address (where cloud metadata services answer)")
    } else if a.is_private() {
        special("a private address")
    } else if within([100, 64, 0, 0], 10) {
        special("a shared (carrier-grade NAT) address")
    } else if within([192, 0, 0, 0], 24) {
        special("an IETF protocol address")
    } else if a.is_documentation() {
        special("a documentation address")
    } else if within([198, 18, 0, 0], 15) {
        special("a benchmarking address")
    } else if within([240, 0, 0, 0], 4) {
        special("a reserved address")
    } else {
        None
    }
}

fn special_v6(a: Ipv6Addr) -> Option<Special> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let n = u128::from(a);
    let within = |net: u128, prefix: u32| n >> (128 - prefix) == net >> (128 - prefix);
    if a.is_unspecified() {
        never("the unspecified address")
    } else if a.is_multicast() {
        never("a multicast address")
    } else if a.is_loopback() {
        special("a loopback address")
    } else if within(0x0064_ff9b << 96, 96) {
        // NAT64 (RFC 6052): the gateway connects to the embedded IPv4 address.
        special_v4(Ipv4Addr::from((n & 0xffff_ffff) as u32))
    } else if within(0x2002 << 112, 16) {
        // 6to4 (RFC 3056): the IPv4 address follows the prefix.
        special_v4(Ipv4Addr::from(((n >> 80) & 0xffff_ffff) as u32))
    } else if within(0xfe80 << 112, 10) {
        special("a link-local address")
    } else if within(0xfc00 << 112, 7) || within(0xfec0 << 112, 10) {
        special("a private (unique or site local) address")
    } else if within(0x0064_ff9b_0001 << 80, 48) {
        special("a local-use NAT64 address")
    } else if within(0x2001_0db8 << 96, 32) || within(0x3fff << 112, 20) {
        special("a documentation address")
    } else if within(0x2001 << 112, 23) {
        special("an IETF protocol address (Teredo, benchmarking and others)")
    } else if !within(0x2000 << 112, 3) {
        // Global unicast is 2000::/3; the rest is reserved, discard-only or deprecated.
        special("a reserved address")
    } else {
        None
    }
}

/// The special-purpose range `ip` lies in; `None` for a public unicast address.
pub fn special_range(ip: IpAddr) -> Option<Special> {
    match ip {
        IpAddr::V4(a) => special_v4(a),
        IpAddr::V6(a) => special_v6(a),
    }
}

/// Most addresses one lookup returns (the rest are not looked at).
pub const MAX_ADDRESSES: usize = 16;

/// How a lookup failed.
#[derive(Debug)]
pub enum LookupError {
    /// It did not answer within the time given.
    TimedOut,
    /// The resolver failed.
    Failed(std::io::Error),
    /// It answered with no address.
    NoAddress,
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::TimedOut => f.write_str("timed out"),
            LookupError::Failed(e) => write!(f, "{e}"),
            LookupError::NoAddress => f.write_str("no address"),
        }
    }
}

/// Resolves `host` once within `timeout`: its addresses with `port` (at most
/// [`MAX_ADDRESSES`]), never empty. Every egress check judges all of them, then connects to one
/// of exactly these, never resolving the name again.
pub async fn lookup(
    host: &str,
    port: u16,
    timeout: Duration,
) -> std::result::Result<Vec<SocketAddr>, LookupError> {
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| LookupError::TimedOut)?
        .map_err(LookupError::Failed)?;
    let addrs: Vec<SocketAddr> = found.take(MAX_ADDRESSES).collect();
    if addrs.is_empty() {
        return Err(LookupError::NoAddress);
    }
    Ok(addrs)
}

/// Why a target may not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The policy refuses it (the text says why).
    Blocked(String),
    /// The host name does not resolve (the text says why).
    Unresolved(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Blocked(why) => write!(f, "blocked: {why}; nothing was sent"),
            Refusal::Unresolved(why) => write!(f, "the host does not resolve: {why}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The host name as compared with [`OutboundPolicy::allowed_hosts`]: lower case, without a
/// trailing dot.
fn host_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Where an outbound integration (webhooks, MQTT) may connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// The configuration section that sets it (`webhooks`, `mqtt`), named in refusals.
    pub section: &'static str,
    /// What connects, in refusals ("a webhook", "the MQTT broker").
    pub target: &'static str,
    /// Networks receivers may live on besides the public internet (special-purpose addresses
    /// are refused unless listed here).
    pub allowed_networks: Vec<Cidr>,
    /// Host names trusted whatever unicast address they resolve to (exact names, compared
    /// without case and trailing dot). Address literals are judged by the networks only.
    pub allowed_hosts: Vec<String>,
}

impl OutboundPolicy {
    /// The strictest policy: public unicast addresses only.
    pub fn public_only(section: &'static str, target: &'static str) -> Self {
        OutboundPolicy {
            section,
            target,
            allowed_networks: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }

    /// Whether `ip` (of an address literal, or of a host not named in `allowed_hosts`) may be
    /// connected to; `Err` says what the address is and why it is refused.
    pub fn check_address(&self, ip: IpAddr) -> std::result::Result<(), String> {
        self.address_refusal(ip, false)
            .map_or(Ok(()), |why| Err(format!("{ip} is {why}")))
    }

    /// What `ip` is and why it is refused, `None` if permitted; `trusted`: the host is in
    /// `allowed_hosts`.
    pub fn address_refusal(&self, ip: IpAddr, trusted: bool) -> Option<String> {
        if self.allowed_networks.iter().any(|c| c.contains(ip)) {
            return None;
        }
        let s = special_range(ip)?;
        if s.never {
            Some(format!("{}, never {} target", s.what, self.target))
        } else if trusted {
            None
        } else {
            Some(format!(
                "{}, which {}.allowed_networks does not list",
                s.what, self.section
            ))
        }
    }

    /// Whether `host` is named in `allowed_hosts`.
    pub fn host_trusted(&self, host: &str) -> bool {
        let key = host_key(host);
        self.allowed_hosts.iter().any(|h| host_key(h) == key)
    }

    /// Checks an address literal; `Err` is [`Refusal::Blocked`].
    pub fn check_literal(&self, ip: IpAddr) -> std::result::Result<(), Refusal> {
        match self.address_refusal(ip, false) {
            None => Ok(()),
            Some(why) => Err(Refusal::Blocked(format!("the address {ip} is {why}"))),
        }
    }

    /// Resolves `host` once, within `timeout`, and checks every address it resolves to; all must
    /// be permitted. An address literal is checked without resolving.
    pub async fn resolve_checked(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> std::result::Result<Vec<SocketAddr>, Refusal> {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = IpAddr::from_str(literal) {
            self.check_literal(ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let trusted = self.host_trusted(host);
        let addrs = lookup(host, port, timeout)
            .await
            .map_err(|e| Refusal::Unresolved(e.to_string()))?;
        for a in &addrs {
            if let Some(why) = self.address_refusal(a.ip(), trusted) {
                return Err(Refusal::Blocked(format!(
                    "the host resolves to {}, {why}",
                    a.ip()
                )));
            }
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_clear_host_bits_and_unmap_ipv4() {
        let c = Cidr::parse("10.20.30.40/16").unwrap();
        assert_eq!(c.to_string(), "10.20.0.0/16");
        assert!(c.contains(ip("10.20.255.1")));
        assert!(!c.contains(ip("10.21.0.1")));
        assert!(c.contains(ip("::ffff:10.20.0.9")));
        let host = Cidr::parse("192.0.2.7").unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert_eq!(Cidr::parse("::/0").unwrap().to_string(), "::/0");
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08x",
            "a/8",
            "10.0.0.0/1000",
            "10.0.0.0/8/8",
        ] {
            let e = Cidr::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        assert!(Cidr::parse(&"1".repeat(65)).is_err());
    }

    #[test]
    fn special_ranges_name_what_an_address_is() {
        let what = |s: &str| special_range(ip(s)).map(|x| (x.what, x.never));
        assert_eq!(what("8.8.8.8"), None);
        assert_eq!(what("2606:4700::1111"), None);
        assert_eq!(what("127.0.0.1"), Some(("a loopback address", false)));
        assert!(what("169.254.169.254").unwrap().0.contains("metadata"));
        assert_eq!(what("10.1.2.3").unwrap().0, "a private address");
        assert_eq!(
            what("100.64.0.1").unwrap().0,
            "a shared (carrier-grade NAT) address"
        );
        assert_eq!(what("0.0.0.0"), Some(("the unspecified address", true)));
        assert!(what("255.255.255.255").unwrap().1);
        assert!(what("224.0.0.1").unwrap().1);
        assert_eq!(what("::1").unwrap().0, "a loopback address");
        assert_eq!(what("::ffff:127.0.0.1").unwrap().0, "a loopback address");
        // NAT64 and 6to4 embed the IPv4 address they reach.
        assert_eq!(what("64:ff9b::a9fe:a9fe"), what("169.254.169.254"));
        assert_eq!(what("2002:7f00:1::"), what("127.0.0.1"));
        assert_eq!(
            what("fc00::1").unwrap().0,
            "a private (unique or site local) address"
        );
        assert_eq!(what("2001:db8::1").unwrap().0, "a documentation address");
        assert_eq!(what("4000::1").unwrap().0, "a reserved address");
    }

    #[test]
    fn outbound_policy_lists_networks_and_trusts_named_hosts_but_never_multicast() {
        let mut p = OutboundPolicy::public_only("mqtt", "an MQTT broker");
        assert!(p.check_address(ip("1.1.1.1")).is_ok());
        let e = p.check_address(ip("127.0.0.1")).unwrap_err();
        assert_eq!(
            e,
            "127.0.0.1 is a loopback address, which mqtt.allowed_networks does not list"
        );
        p.allowed_networks.push(Cidr::parse("127.0.0.0/8").unwrap());
        assert!(p.check_address(ip("127.0.0.1")).is_ok());
        assert!(p.address_refusal(ip("10.0.0.1"), false).is_some());
        assert!(p.address_refusal(ip("10.0.0.1"), true).is_none());
        let m = p.address_refusal(ip("239.1.1.1"), true).unwrap();
        assert_eq!(m, "a multicast address, never an MQTT broker target");
        p.allowed_hosts.push("Broker.Example.".into());
        assert!(p.host_trusted("broker.example") && !p.host_trusted("other.example"));
    }

    #[tokio::test]
    async fn resolving_checks_every_address_and_literals_without_dns() {
        let p = OutboundPolicy::public_only("webhooks", "a webhook");
        let e = p
            .resolve_checked("localhost", 80, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Refusal::Blocked(w) if w.starts_with("the host resolves to ")
                && w.contains("loopback")),
            "{e}"
        );
        assert!(e.to_string().starts_with("blocked: "));
        let e = p
            .resolve_checked("[::1]", 80, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            Refusal::Blocked(
                "the address ::1 is a loopback address, which webhooks.allowed_networks does \
                 not list"
                    .into()
            )
        );
        let mut trusted = p.clone();
        trusted.allowed_hosts.push("localhost".into());
        let a = trusted
            .resolve_checked("localhost", 1883, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!a.is_empty() && a.iter().all(|s| s.port() == 1883 && s.ip().is_loopback()));
        let e = p
            .resolve_checked("no-such-host.invalid", 80, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, Refusal::Unresolved(_)), "{e}");
    }
}
