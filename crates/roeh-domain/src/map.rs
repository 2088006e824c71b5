//! The site's map: where the console's map tiles come from.

/// A site's map tile server (`[console] map_tiles`): XYZ tiles in Web Mercator, as served by
/// OpenStreetMap-style servers on the city's network. Without one the console's map is the
/// plain coordinate view, which needs no network at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapTiles {
    /// The tile URL template with `{z}`, `{x}` and `{y}`.
    template: String,
    /// `scheme://host[:port]` of the template: what the page's CSP allows pictures from.
    origin: String,
    /// Credit shown under the map (the tile licence usually asks for one).
    attribution: Option<String>,
    /// Highest zoom level the server has.
    max_zoom: u8,
}

/// Longest tile URL template accepted.
const MAX_TEMPLATE_LEN: usize = 512;

impl MapTiles {
    /// Checks a template: an `http`/`https` URL without credentials, with `{z}`, `{x}` and
    /// `{y}`, and nothing a CSP source could be confused by; `max_zoom` at most 22.
    pub fn parse(
        template: &str,
        attribution: Option<String>,
        max_zoom: u8,
    ) -> Result<MapTiles, String> {
        let t = template.trim();
        if t.len() > MAX_TEMPLATE_LEN {
            return Err(format!(
                "map_tiles is longer than {MAX_TEMPLATE_LEN} characters"
            ));
        }
        for part in ["{z}", "{x}", "{y}"] {
            if !t.contains(part) {
                return Err(format!("map_tiles must contain {part}"));
            }
        }
        if t.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ';' | ',' | '\'' | '"'))
        {
            return Err("map_tiles contains a character a URL template may not".into());
        }
        let probe = t
            .replace("{z}", "0")
            .replace("{x}", "0")
            .replace("{y}", "0");
        let url = url::Url::parse(&probe).map_err(|_| "map_tiles is not a URL".to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("map_tiles must use http or https".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("map_tiles must not carry credentials".into());
        }
        let Some(host) = url.host_str() else {
            return Err("map_tiles has no host".into());
        };
        if max_zoom > 22 {
            return Err("map_max_zoom must be at most 22".into());
        }
        let origin = match url.port() {
            Some(p) => format!("{}://{host}:{p}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        Ok(MapTiles {
            template: t.to_string(),
            origin,
            attribution: attribution
                .map(|a| crate::text::clean(&a, 200))
                .filter(|a| !a.is_empty()),
            max_zoom,
        })
    }

    /// The template.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// `scheme://host[:port]` of the template: what a page's CSP allows pictures from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The credit to show, if any.
    pub fn attribution(&self) -> Option<&str> {
        self.attribution.as_deref()
    }

    /// The highest zoom level.
    pub fn max_zoom(&self) -> u8 {
        self.max_zoom
    }
}
