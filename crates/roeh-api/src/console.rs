//! The browser console, embedded in the binary and served at `/` (design record 0011).
//!
//! Invariants:
//! - the console's files are built from `console/` by `build.rs` (esbuild, from the npm packages
//!   of its lockfile) and compiled into the binary: one file is the whole product, nothing is
//!   read from disk or fetched from elsewhere at run time;
//! - these routes are the only ones outside the access policy of [`crate::auth`]: they serve the
//!   same public bytes to everyone, carry no data, and every call the page makes goes through
//!   the API's routes and their policy;
//! - every answer carries a strict Content-Security-Policy (no inline script or style, nothing
//!   from another origin, no framing), so a string that slipped into the page as markup still
//!   could not run; the one exception a site may configure is the pictures of its own map tile
//!   server ([`MapTiles`]), whose origin alone is added to `img-src`.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page's Content-Security-Policy: only this origin, no inline code, no framing; pictures
/// and video may come from `blob:` (snapshots and Media Source playback).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
    font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub use roeh_domain::MapTiles;

/// How the console is served: the site's map tile server, if it has one.
#[derive(Clone, Debug, Default)]
pub struct ConsoleSettings {
    /// The tile server; `None`: the plain map only.
    pub map_tiles: Option<MapTiles>,
}

impl ConsoleSettings {
    /// The Content-Security-Policy of the console's answers: [`CONTENT_SECURITY_POLICY`], with
    /// the tile server's origin allowed for pictures.
    pub fn content_security_policy(&self) -> String {
        match &self.map_tiles {
            None => CONTENT_SECURITY_POLICY.to_string(),
            Some(t) => CONTENT_SECURITY_POLICY.replacen(
                "img-src 'self' blob: data:;",
                &format!("img-src 'self' blob: data: {};", t.origin()),
                1,
            ),
        }
    }
}

/// The console's files as built by `build.rs`.
const INDEX_HTML: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/console/index.html"));
const APP_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/console/app.js"));
const APP_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/console/app.css"));
const INDEX_HTML_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/console/index.html.gz"));
const APP_JS_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/console/app.js.gz"));
const APP_CSS_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/console/app.css.gz"));

/// The console's routes (merged outside the route layer: public, static, no data), answering
/// with the policy of `settings`.
pub fn router<S: Clone + Send + Sync + 'static>(settings: &ConsoleSettings) -> Router<S> {
    let csp = HeaderValue::from_str(&settings.content_security_policy())
        .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    let (c1, c2, c3) = (csp.clone(), csp.clone(), csp);
    Router::new()
        .route(
            "/",
            get(move |h: HeaderMap| async move {
                file(
                    &h,
                    INDEX_HTML,
                    INDEX_HTML_GZ,
                    "text/html; charset=utf-8",
                    c1,
                )
            }),
        )
        .route(
            "/assets/app.js",
            get(move |h: HeaderMap| async move {
                file(&h, APP_JS, APP_JS_GZ, "text/javascript; charset=utf-8", c2)
            }),
        )
        .route(
            "/assets/app.css",
            get(move |h: HeaderMap| async move {
                file(&h, APP_CSS, APP_CSS_GZ, "text/css; charset=utf-8", c3)
            }),
        )
}

/// Whether the request's `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn file(
    req: &HeaderMap,
    plain: &'static [u8],
    gzip: &'static [u8],
    content_type: &'static str,
    csp: HeaderValue,
) -> Response {
    let gz = accepts_gzip(req);
    let body = if gz { gzip } else { plain };
    let mut resp = file_with(body, content_type, csp);
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gz {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

fn file_with(body: &'static [u8], content_type: &'static str, csp: HeaderValue) -> Response {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, csp),
        // The binary's files change only with the binary: a browser revalidates each load.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn gzip_only_where_the_browser_takes_it() {
        assert!(accepts_gzip(&with("gzip, deflate, br, zstd")));
        assert!(accepts_gzip(&with("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
        let csp = || HeaderValue::from_static(CONTENT_SECURITY_POLICY);
        let r = file(&with("gzip"), APP_JS, APP_JS_GZ, "text/javascript", csp());
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[header::VARY], "accept-encoding");
        let r = file(
            &HeaderMap::new(),
            APP_JS,
            APP_JS_GZ,
            "text/javascript",
            csp(),
        );
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[test]
    fn the_page_loads_only_its_own_files_and_no_inline_code() {
        let html = std::str::from_utf8(INDEX_HTML).unwrap_or("");
        assert!(html.contains("/assets/app.js"), "{html}");
        assert!(html.contains("/assets/app.css"), "{html}");
        // No inline script or style: every <script> has a src, and there is no <style>.
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..html[i..].find('>').map_or(html.len(), |e| i + e)];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
        assert!(!html.contains("<style"), "inline style");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        assert!(APP_JS.len() > 1000 && APP_CSS.len() > 100);
        assert!(APP_JS_GZ.len() < APP_JS.len() / 2 && APP_JS_GZ.starts_with(&[0x1f, 0x8b]));
        assert!(INDEX_HTML_GZ.starts_with(&[0x1f, 0x8b]) && APP_CSS_GZ.starts_with(&[0x1f, 0x8b]));
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }

    #[test]
    fn a_tile_server_is_checked_and_only_its_origin_is_allowed_for_pictures() {
        let t = MapTiles::parse(
            "https://tiles.city.example:8443/osm/{z}/{x}/{y}.png",
            Some("© OpenStreetMap contributors".into()),
            19,
        )
        .unwrap();
        let csp = ConsoleSettings {
            map_tiles: Some(t.clone()),
        }
        .content_security_policy();
        assert!(
            csp.contains("img-src 'self' blob: data: https://tiles.city.example:8443;"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self';") && csp.contains("script-src 'self';"));
        assert_eq!(t.attribution(), Some("© OpenStreetMap contributors"));
        assert_eq!(
            ConsoleSettings::default().content_security_policy(),
            CONTENT_SECURITY_POLICY
        );
        for bad in [
            "https://tiles.example/{z}/{x}.png",
            "ftp://tiles.example/{z}/{x}/{y}.png",
            "https://user:pw@tiles.example/{z}/{x}/{y}.png",
            "https://tiles.example/{z}/{x}/{y}.png; script-src *",
            "https://tiles.example/{z}/{x}/{y}.png 'unsafe-inline'",
            "/tiles/{z}/{x}/{y}.png",
        ] {
            assert!(MapTiles::parse(bad, None, 19).is_err(), "{bad}");
        }
        assert!(MapTiles::parse("http://10.0.0.9/{z}/{x}/{y}.png", None, 23).is_err());
    }
}
