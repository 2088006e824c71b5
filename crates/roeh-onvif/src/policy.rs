//! The camera side of the egress policy: which networks cameras may live on (networks are
//! `roeh-egress`'s [`Cidr`], the same type webhooks and MQTT use), and the size and time limits
//! of a request.
//!
//! Invariants:
//! - an address is allowed only if some [`Cidr`] in the list contains it; an empty list allows
//!   nothing; IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are checked as the IPv4 address;
//! - a host name is resolved exactly once per use and *every* address it resolves to must be
//!   allowed; the caller then uses the pinned first address, never the name again;
//! - IPv6 zone ids never reach this module (`url` refuses them), and decimal or octal IPv4 forms
//!   are normalised by `url` for `http(s)` and by the resolver otherwise, so the check always sees
//!   the real address.

use crate::{Error, Result};
use roeh_domain::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use roeh_egress::Cidr;
pub(crate) use roeh_egress::canonical;

/// Where cameras may be, and how much a single request may cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetPolicy {
    /// Camera networks. Devices, XAddrs and returned URIs must resolve into these.
    pub allowed: Vec<Cidr>,
    /// Limit on establishing a TCP connection.
    pub connect_timeout: Duration,
    /// Limit on a whole request: connect, send, and reading the full reply.
    pub timeout: Duration,
    /// Largest reply body accepted, in bytes.
    pub max_reply_bytes: usize,
}

impl NetPolicy {
    /// Default largest reply: 1 MiB, far above any real ONVIF reply.
    pub const DEFAULT_MAX_REPLY_BYTES: usize = 1024 * 1024;

    /// A policy allowing `allowed`, with a 3 s connect timeout, a 10 s total timeout and a 1 MiB
    /// reply cap.
    pub fn new(allowed: Vec<Cidr>) -> Self {
        NetPolicy {
            allowed,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            max_reply_bytes: Self::DEFAULT_MAX_REPLY_BYTES,
        }
    }

    /// Whether `ip` is inside the camera networks (never an unspecified, broadcast or
    /// multicast address, whatever the list says: the egress policy's "never" ranges).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if roeh_egress::special_range(ip).is_some_and(|s| s.never) {
            return false;
        }
        self.allowed.iter().any(|c| c.contains(ip))
    }

    /// Errors unless `ip` is allowed. `what` names the thing being checked (never a secret).
    pub(crate) fn check_ip(&self, ip: IpAddr, what: &str) -> Result<()> {
        if self.allows(ip) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{what} address {ip} is outside the allowed camera networks"),
            ))
        }
    }

    /// Resolves a URL's host once and returns the pinned address to use. IP literals are checked
    /// directly; a name must resolve only to allowed addresses.
    pub(crate) async fn resolve_pinned(&self, url: &url::Url, what: &str) -> Result<SocketAddr> {
        let port = url.port_or_known_default().or(match url.scheme() {
            "rtsp" => Some(554),
            "rtsps" => Some(322),
            _ => None,
        });
        let Some(port) = port else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{what} URL has no port"),
            ));
        };
        match url.host() {
            Some(url::Host::Ipv4(a)) => {
                self.check_ip(IpAddr::V4(a), what)?;
                Ok(SocketAddr::new(IpAddr::V4(a), port))
            }
            Some(url::Host::Ipv6(a)) => {
                self.check_ip(IpAddr::V6(a), what)?;
                Ok(SocketAddr::new(canonical(IpAddr::V6(a)), port))
            }
            Some(url::Host::Domain(name)) => {
                if name.is_empty() || name.len() > 253 {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("{what} URL has an invalid host name"),
                    ));
                }
                use roeh_egress::LookupError;
                let addrs = roeh_egress::lookup(name, port, self.connect_timeout)
                    .await
                    .map_err(|e| match e {
                        LookupError::TimedOut => Error::new(
                            ErrorKind::DeadlineExceeded,
                            format!("resolving the {what} host timed out"),
                        ),
                        LookupError::Failed(e) => Error::with_source(
                            ErrorKind::Unavailable,
                            format!("resolving the {what} host failed"),
                            e,
                        ),
                        LookupError::NoAddress => Error::new(
                            ErrorKind::Unavailable,
                            format!("the {what} host resolved to no address"),
                        ),
                    })?;
                let Some(first) = addrs.first().copied() else {
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("the {what} host resolved to no address"),
                    ));
                };
                for a in &addrs {
                    self.check_ip(a.ip(), what)?;
                }
                Ok(SocketAddr::new(canonical(first.ip()), first.port()))
            }
            None => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{what} URL has no host"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_contains() {
        let c = Cidr::parse("10.20.0.0/16").unwrap();
        assert!(c.contains(ip("10.20.3.4")));
        assert!(!c.contains(ip("10.21.0.1")));
        assert!(c.contains(ip("::ffff:10.20.0.9")));
        let h = Cidr::parse("192.0.2.7").unwrap();
        assert!(h.contains(ip("192.0.2.7")) && !h.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn cidr_rejects_garbage() {
        for s in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+1",
            "fe80::1%eth0/64",
            "x/8",
        ] {
            assert!(Cidr::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn policy_refuses_outside_and_special() {
        let p = NetPolicy::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
        assert!(p.allows(ip("10.1.1.1")));
        assert!(!p.allows(ip("169.254.169.254")));
        assert!(!p.allows(ip("127.0.0.1")));
        assert!(!p.allows(ip("::ffff:127.0.0.1")));
        let all = NetPolicy::new(vec![Cidr::parse("0.0.0.0/0").unwrap()]);
        assert!(!all.allows(ip("0.0.0.0")));
        assert!(!all.allows(ip("239.255.255.250")));
        assert!(!all.allows(ip("255.255.255.255")));
        assert!(!NetPolicy::new(vec![]).allows(ip("10.0.0.1")));
    }

    #[tokio::test]
    async fn resolve_checks_literal_and_decimal_forms() {
        let p = NetPolicy::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
        for u in [
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://169.254.169.254/latest",
            "http://[::1]:8080/",
        ] {
            let url = url::Url::parse(u).unwrap();
            let e = p.resolve_pinned(&url, "device").await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{u}");
        }
        let ok = url::Url::parse("http://10.2.3.4/onvif/device_service").unwrap();
        assert_eq!(
            p.resolve_pinned(&ok, "device").await.unwrap(),
            "10.2.3.4:80".parse().unwrap()
        );
    }
}
