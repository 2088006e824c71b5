//! Hardened XML reading: a `quick-xml` event stream folded into a small, bounded element tree.
//!
//! Invariants:
//! - any document type declaration (`<!DOCTYPE`, and with it every `<!ENTITY`) refuses the whole
//!   document, so there is no external entity (XXE) and no entity expansion (billion laughs);
//! - only the five predefined entities and numeric character references are expanded; any other
//!   `&name;` is an error;
//! - depth is at most [`MAX_DEPTH`] and the element count at most [`MAX_ELEMENTS`]; the input size
//!   is already bounded by the HTTP or UDP layer;
//! - names are kept as *local* names: namespace prefixes are dropped. ONVIF element names are
//!   unique enough within one reply for this, and it tolerates devices that mangle prefixes.

use crate::{Error, Result};
use quick_xml::Reader;
use quick_xml::events::Event;
use roeh_domain::ErrorKind;

/// Deepest nesting accepted.
pub(crate) const MAX_DEPTH: usize = 48;
/// Most elements accepted in one document.
pub(crate) const MAX_ELEMENTS: usize = 20_000;

/// One element: local name, attributes (local names) and text content, children in order.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

fn hostile(why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("refused XML reply: {why}"),
    )
}

fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l)
}

/// Parses `bytes` (UTF-8) into its root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element> {
    let text = std::str::from_utf8(bytes).map_err(|_| hostile("not UTF-8"))?;
    // Belt and braces: the event loop below refuses DOCTYPE too, but a declaration must never
    // reach the parser at all.
    if contains_ci(text, "<!doctype") || contains_ci(text, "<!entity") {
        return Err(hostile("document type declarations are not accepted"));
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    let mut root: Option<Element> = None;
    loop {
        let ev = reader.read_event().map_err(|e| {
            Error::with_source(ErrorKind::InvalidArgument, "malformed XML reply", e)
        })?;
        match ev {
            Event::DocType(_) => {
                return Err(hostile("document type declarations are not accepted"));
            }
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(hostile("content after the root element"));
            }
            Event::Start(ref s) | Event::Empty(ref s) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(hostile("too many elements"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(hostile("nested too deeply"));
                }
                let mut el = Element {
                    name: local(s.name().as_ref()).to_owned(),
                    ..Element::default()
                };
                for a in s.attributes() {
                    let a = a.map_err(|e| {
                        Error::with_source(ErrorKind::InvalidArgument, "malformed XML attribute", e)
                    })?;
                    let key = a.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let v = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| {
                            Error::with_source(
                                ErrorKind::InvalidArgument,
                                "bad XML attribute value",
                                e,
                            )
                        })?;
                    el.attrs.push((local(key).to_owned(), v.into_owned()));
                }
                if matches!(ev, Event::Empty(_)) {
                    close(&mut stack, &mut root, el);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(hostile("unbalanced end tag"));
                };
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                } else if !t.trim().is_empty() {
                    return Err(hostile("text outside the root element"));
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(hostile("undefined entity reference")),
                    },
                    Err(_) => return Err(hostile("invalid character reference")),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(hostile("truncated document"));
    }
    root.ok_or_else(|| hostile("no root element"))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

impl Element {
    /// The first direct child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All direct children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element named `name` in depth-first order (self included).
    pub fn find(&self, name: &str) -> Option<&Element> {
        let mut todo = vec![self];
        while let Some(e) = todo.pop() {
            if e.name == name {
                return Some(e);
            }
            todo.extend(e.children.iter().rev());
        }
        None
    }

    /// Every element named `name` in depth-first order (not descending into matches).
    pub fn find_all<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut todo = vec![self];
        while let Some(e) = todo.pop() {
            if e.name == name {
                out.push(e);
                continue;
            }
            todo.extend(e.children.iter().rev());
        }
        out
    }

    /// Follows a path of direct child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    /// Trimmed text of the child at `names`.
    pub fn text_at(&self, names: &[&str]) -> Option<&str> {
        self.path(names).map(|e| e.text.trim())
    }

    /// An attribute by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_soap() {
        let x = br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><a:X k="v&amp;w">1 &lt; 2 &#x41;<![CDATA[<z>]]></a:X><a:Y/></s:Body></s:Envelope>"#;
        let r = parse(x).unwrap();
        assert_eq!(r.name, "Envelope");
        let x = r.find("X").unwrap();
        assert_eq!(x.text, "1 < 2 A<z>");
        assert_eq!(x.attr("k"), Some("v&w"));
        assert!(r.path(&["Body", "Y"]).is_some());
    }

    #[test]
    fn refuses_doctype_entities_and_junk() {
        let cases: &[&[u8]] = &[
            br#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#,
            b"<!doctype html><html/>",
            b"<a>&custom;</a>",
            b"<a><b></a>",
            b"<a>",
            b"",
            b"<a/><b/>",
            b"\xff\xfe<a/>",
        ];
        for c in cases {
            let e = parse(c).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidArgument,
                "{}",
                String::from_utf8_lossy(c)
            );
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let many = format!("<r>{}</r>", "<e/>".repeat(MAX_ELEMENTS + 1));
        assert!(parse(many.as_bytes()).is_err());
    }
}
