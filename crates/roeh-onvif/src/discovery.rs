//! WS-Discovery (SOAP over UDP) Probe for ONVIF `NetworkVideoTransmitter`s.
//!
//! Invariants:
//! - results are **candidates** for an operator to approve; nothing here onboards a device;
//! - only replies whose `RelatesTo` equals this probe's fresh `urn:uuid` MessageID count;
//! - the sender address and every kept XAddr must be inside the allow-list; XAddrs with host names
//!   are dropped (no DNS during discovery), and a device left with no XAddr is dropped;
//! - bounded: datagrams larger than [`DiscoveryOptions::max_datagram_bytes`] are dropped unread,
//!   at most [`DiscoveryOptions::max_devices`] devices and [`MAX_DATAGRAMS`] datagrams are
//!   handled, and collection stops at the deadline;
//! - results are deduplicated by endpoint reference; the first reply wins (a later spoofed reply
//!   cannot add XAddrs to a device already seen);
//! - probes go only to the ONVIF multicast group on the chosen interface and to configured
//!   unicast targets that are themselves inside the allow-list.

use crate::policy::NetPolicy;
use crate::xml::{self, Element};
use crate::{Error, Result, sanitize};
use roeh_domain::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::UdpSocket;

/// The WS-Discovery multicast group and port.
pub const MULTICAST_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702);
/// Most datagrams examined in one discovery run (flood bound).
pub const MAX_DATAGRAMS: usize = 4096;
/// Most XAddrs kept per device.
pub const MAX_XADDRS: usize = 8;
/// Most scopes kept per device.
pub const MAX_SCOPES: usize = 32;

/// How to discover.
#[derive(Clone, Debug)]
pub struct DiscoveryOptions {
    /// Send the multicast probe out of the interface with this IPv4 address. `None`: no
    /// multicast probe.
    pub multicast_interface: Option<Ipv4Addr>,
    /// Also probe these addresses by unicast (e.g. `127.0.0.1:3702` or a known camera).
    pub unicast_targets: Vec<SocketAddr>,
    /// Collect replies for this long.
    pub timeout: Duration,
    /// Stop after this many distinct devices.
    pub max_devices: usize,
    /// Largest datagram accepted.
    pub max_datagram_bytes: usize,
    /// Camera networks: senders, unicast targets and XAddrs must be inside.
    pub policy: NetPolicy,
}

impl DiscoveryOptions {
    /// Options with a 3 s window, 256 devices, 64 KiB datagrams and nothing to probe yet.
    pub fn new(policy: NetPolicy) -> Self {
        DiscoveryOptions {
            multicast_interface: None,
            unicast_targets: Vec::new(),
            timeout: Duration::from_secs(3),
            max_devices: 256,
            max_datagram_bytes: 64 * 1024,
            policy,
        }
    }
}

/// Scopes a device advertises, with the well-known ONVIF ones pulled out (all cleaned).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoveryScopes {
    /// `onvif://www.onvif.org/name/…`, percent-decoded.
    pub name: Option<String>,
    /// `onvif://www.onvif.org/hardware/…`, percent-decoded.
    pub hardware: Option<String>,
    /// `onvif://www.onvif.org/location/…`, percent-decoded.
    pub location: Option<String>,
    /// Every scope as sent (cleaned, at most [`MAX_SCOPES`]).
    pub all: Vec<String>,
}

/// A device that answered the probe: a candidate, not an approved camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredDevice {
    /// Endpoint reference address (usually `urn:uuid:…`), cleaned.
    pub endpoint_ref: String,
    /// Device service URLs inside the allow-list.
    pub xaddrs: Vec<url::Url>,
    /// Advertised scopes.
    pub scopes: DiscoveryScopes,
    /// Advertised types (e.g. `dn:NetworkVideoTransmitter`), cleaned.
    pub types: Vec<String>,
    /// Where the reply came from.
    pub from: SocketAddr,
}

/// Builds the Probe message for `message_id` (`urn:uuid:…`).
pub(crate) fn probe_message(message_id: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
            r#"xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" "#,
            r#"xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" "#,
            r#"xmlns:dn="http://www.onvif.org/ver10/network/wsdl">"#,
            "<s:Header>",
            r#"<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"#,
            "<a:MessageID>{id}</a:MessageID>",
            "<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>",
            r#"<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"#,
            "</s:Header>",
            "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>",
            "</s:Envelope>"
        ),
        id = message_id
    )
}

/// Sends the probe(s) and collects matching replies until the deadline.
pub async fn discover(opts: &DiscoveryOptions) -> Result<Vec<DiscoveredDevice>> {
    if opts.multicast_interface.is_none() && opts.unicast_targets.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "discovery needs a multicast interface or a unicast target",
        ));
    }
    for t in &opts.unicast_targets {
        opts.policy.check_ip(t.ip(), "discovery target")?;
    }
    let sock = bind(opts)?;
    let message_id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let probe = probe_message(&message_id);
    let net = |e: std::io::Error| {
        Error::with_source(
            ErrorKind::Unavailable,
            "sending the discovery probe failed",
            e,
        )
    };
    if opts.multicast_interface.is_some() {
        sock.send_to(probe.as_bytes(), SocketAddr::V4(MULTICAST_ADDR))
            .await
            .map_err(net)?;
    }
    for t in &opts.unicast_targets {
        sock.send_to(probe.as_bytes(), t).await.map_err(net)?;
    }

    let mut found: Vec<DiscoveredDevice> = Vec::new();
    // One extra byte tells an oversized (truncated) datagram apart from one that fits exactly.
    let mut buf = vec![0u8; opts.max_datagram_bytes.saturating_add(1)];
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let mut seen = 0usize;
    while found.len() < opts.max_devices && seen < MAX_DATAGRAMS {
        let recv = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
        let (n, from) = match recv {
            Err(_) => break,
            Ok(Ok(r)) => r,
            // ICMP errors from a unicast target surface here; keep listening.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "discovery receive error");
                continue;
            }
        };
        seen += 1;
        if n > opts.max_datagram_bytes {
            tracing::debug!(%from, "discovery reply too large; dropped");
            continue;
        }
        if !opts.policy.allows(from.ip()) {
            tracing::debug!(%from, "discovery reply from outside the camera networks; dropped");
            continue;
        }
        let Some(data) = buf.get(..n) else { continue };
        let matches = match parse_reply(data, &message_id, from, &opts.policy) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(%from, error = %e, "discovery reply refused");
                continue;
            }
        };
        for d in matches {
            if found.len() >= opts.max_devices {
                break;
            }
            if !found.iter().any(|f| f.endpoint_ref == d.endpoint_ref) {
                found.push(d);
            }
        }
    }
    Ok(found)
}

fn bind(opts: &DiscoveryOptions) -> Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let io = |e: std::io::Error| {
        Error::with_source(
            ErrorKind::Unavailable,
            "opening the discovery socket failed",
            e,
        )
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(io)?;
    let local = match opts.multicast_interface {
        Some(iface) => {
            s.set_multicast_if_v4(&iface).map_err(io)?;
            s.set_multicast_ttl_v4(1).map_err(io)?;
            s.set_multicast_loop_v4(true).map_err(io)?;
            iface
        }
        None => Ipv4Addr::UNSPECIFIED,
    };
    s.bind(&SocketAddr::new(IpAddr::V4(local), 0).into())
        .map_err(io)?;
    s.set_nonblocking(true).map_err(io)?;
    UdpSocket::from_std(s.into()).map_err(io)
}

/// Parses one datagram; returns the ProbeMatches it holds if it answers `message_id`.
pub(crate) fn parse_reply(
    data: &[u8],
    message_id: &str,
    from: SocketAddr,
    policy: &NetPolicy,
) -> Result<Vec<DiscoveredDevice>> {
    let root = xml::parse(data)?;
    if root.name != "Envelope" {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "not a SOAP envelope",
        ));
    }
    let relates = root.path(&["Header", "RelatesTo"]).map(|e| e.text.trim());
    if relates != Some(message_id) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "reply does not relate to our probe",
        ));
    }
    let body = root
        .child("Body")
        .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "reply has no body"))?;
    let mut out = Vec::new();
    for m in body.find_all("ProbeMatch").into_iter().take(16) {
        if let Some(d) = parse_match(m, from, policy) {
            out.push(d);
        }
    }
    Ok(out)
}

fn parse_match(m: &Element, from: SocketAddr, policy: &NetPolicy) -> Option<DiscoveredDevice> {
    let endpoint_ref = sanitize::device_string(m.text_at(&["EndpointReference", "Address"])?);
    if endpoint_ref.is_empty() {
        return None;
    }
    let mut xaddrs = Vec::new();
    for x in m
        .text_at(&["XAddrs"])
        .unwrap_or_default()
        .split_ascii_whitespace()
    {
        if xaddrs.len() >= MAX_XADDRS {
            break;
        }
        let Ok(url) = url::Url::parse(x) else {
            continue;
        };
        let Ok(url) = crate::http::check_service_url(&url, "device") else {
            continue;
        };
        let ip: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(a)) => Some(a.into()),
            Some(url::Host::Ipv6(a)) => Some(a.into()),
            _ => None,
        };
        if ip.is_some_and(|ip| policy.allows(ip)) && !xaddrs.contains(&url) {
            xaddrs.push(url);
        } else {
            tracing::debug!(%from, "discovery XAddr outside the camera networks; dropped");
        }
    }
    if xaddrs.is_empty() {
        return None;
    }
    let types = m
        .text_at(&["Types"])
        .unwrap_or_default()
        .split_ascii_whitespace()
        .take(MAX_SCOPES)
        .map(sanitize::device_string)
        .collect();
    let mut scopes = DiscoveryScopes::default();
    for s in m
        .text_at(&["Scopes"])
        .unwrap_or_default()
        .split_ascii_whitespace()
        .take(MAX_SCOPES)
    {
        let decoded = |rest: &str| {
            let d: String =
                url::form_urlencoded::parse(format!("x={}", rest.replace('+', "%2B")).as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .next()
                    .unwrap_or_default();
            sanitize::device_string(&d)
        };
        if let Some(r) = s.strip_prefix("onvif://www.onvif.org/name/") {
            scopes.name.get_or_insert_with(|| decoded(r));
        } else if let Some(r) = s.strip_prefix("onvif://www.onvif.org/hardware/") {
            scopes.hardware.get_or_insert_with(|| decoded(r));
        } else if let Some(r) = s.strip_prefix("onvif://www.onvif.org/location/") {
            scopes.location.get_or_insert_with(|| decoded(r));
        }
        scopes.all.push(sanitize::device_string(s));
    }
    Some(DiscoveredDevice {
        endpoint_ref,
        xaddrs,
        scopes,
        types,
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Cidr;

    fn reply(relates: &str, xaddrs: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><SOAP-ENV:Header><wsa:MessageID>urn:uuid:1</wsa:MessageID><wsa:RelatesTo>{relates}</wsa:RelatesTo></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:dev-1</wsa:Address></wsa:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>onvif://www.onvif.org/name/Gate%203 onvif://www.onvif.org/hardware/IPC-X onvif://www.onvif.org/location/city/north%0A</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
        )
    }

    #[test]
    fn parses_matching_reply_and_filters_xaddrs() {
        let p = NetPolicy::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
        let from: SocketAddr = "10.0.0.5:3702".parse().unwrap();
        let x = reply(
            "urn:uuid:abc",
            "http://10.0.0.5/onvif/device_service http://169.254.169.254/latest http://cam.example/onvif https://10.0.0.5/x",
        );
        let d = parse_reply(x.as_bytes(), "urn:uuid:abc", from, &p).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].endpoint_ref, "urn:uuid:dev-1");
        assert_eq!(d[0].xaddrs.len(), 1);
        assert_eq!(
            d[0].xaddrs[0].as_str(),
            "http://10.0.0.5/onvif/device_service"
        );
        assert_eq!(d[0].scopes.name.as_deref(), Some("Gate 3"));
        assert_eq!(d[0].scopes.hardware.as_deref(), Some("IPC-X"));
        assert_eq!(d[0].scopes.location.as_deref(), Some("city/north"));
        assert_eq!(d[0].types, vec!["dn:NetworkVideoTransmitter", "tds:Device"]);

        assert!(parse_reply(x.as_bytes(), "urn:uuid:other", from, &p).is_err());
        let only_bad = reply("urn:uuid:abc", "http://169.254.169.254/");
        assert!(
            parse_reply(only_bad.as_bytes(), "urn:uuid:abc", from, &p)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn probe_has_types_and_id() {
        let m = probe_message("urn:uuid:1234");
        let root = xml::parse(m.as_bytes()).unwrap();
        assert_eq!(
            root.text_at(&["Header", "MessageID"]),
            Some("urn:uuid:1234")
        );
        assert_eq!(
            root.text_at(&["Body", "Probe", "Types"]),
            Some("dn:NetworkVideoTransmitter")
        );
    }
}
