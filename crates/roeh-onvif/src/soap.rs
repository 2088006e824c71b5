//! SOAP 1.2 envelopes: building requests and reading the `Body` (or `Fault`) of replies.
//!
//! Invariant: every value interpolated into a request is XML-escaped here; request bodies are
//! otherwise fixed templates.

use crate::xml::Element;
use crate::{Error, Result, sanitize};
use roeh_domain::ErrorKind;

/// ONVIF device service namespace.
pub(crate) const NS_DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
/// ONVIF media (ver10) service namespace.
pub(crate) const NS_MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
/// ONVIF PTZ (ver20) service namespace.
pub(crate) const NS_PTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";
/// ONVIF schema namespace.
pub(crate) const NS_SCHEMA: &str = "http://www.onvif.org/ver10/schema";

/// Escapes text for element content or a double-quoted attribute.
pub(crate) use roeh_domain::text::xml_escape as escape;

/// A SOAP 1.2 envelope with an optional security header and `body` inside `s:Body`.
pub(crate) fn envelope(security: Option<&str>, body: &str) -> String {
    let header = security.map_or_else(String::new, |h| format!("<s:Header>{h}</s:Header>"));
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
            r#"xmlns:tds="{dev}" xmlns:trt="{media}" xmlns:tptz="{ptz}" xmlns:tt="{schema}">"#,
            "{header}<s:Body>{body}</s:Body></s:Envelope>"
        ),
        dev = NS_DEVICE,
        media = NS_MEDIA,
        ptz = NS_PTZ,
        schema = NS_SCHEMA,
        header = header,
        body = body,
    )
}

/// A SOAP fault, as far as it matters to a caller.
#[derive(Debug)]
pub(crate) struct Fault {
    /// Cleaned reason text.
    pub reason: String,
    /// Whether any fault code or subcode says the sender is not authorised.
    pub not_authorized: bool,
}

/// Finds a `Fault` in a parsed envelope.
pub(crate) fn fault(root: &Element) -> Option<Fault> {
    let body = root.child("Body")?;
    let f = body.child("Fault")?;
    let reason = f
        .find("Text")
        .or_else(|| f.find("faultstring"))
        .map(|t| sanitize::device_string(&t.text))
        .unwrap_or_default();
    let codes = f.find_all("Value");
    let not_authorized = codes.iter().any(|v| {
        let t = v.text.trim();
        let l = t.rsplit_once(':').map_or(t, |(_, l)| l);
        l.eq_ignore_ascii_case("NotAuthorized")
    }) || reason.to_ascii_lowercase().contains("not authorized");
    Some(Fault {
        reason,
        not_authorized,
    })
}

/// The first child of `Body` named `response`, or an error if the body holds a fault or lacks it.
pub(crate) fn response<'a>(root: &'a Element, response: &str) -> Result<&'a Element> {
    if root.name != "Envelope" {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "device reply is not a SOAP envelope",
        ));
    }
    if let Some(f) = fault(root) {
        let kind = if f.not_authorized {
            ErrorKind::PermissionDenied
        } else {
            ErrorKind::Unavailable
        };
        return Err(Error::new(
            kind,
            format!("device answered {response} with a SOAP fault: {}", f.reason),
        ));
    }
    root.child("Body")
        .and_then(|b| b.child(response))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("device reply has no {response}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{0}\r\ny"), "xy");
    }

    #[test]
    fn fault_detected() {
        let x = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not Authorized</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
        let root = crate::xml::parse(x).unwrap();
        let e = response(&root, "GetProfilesResponse").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("Sender not Authorized"));
    }
}
