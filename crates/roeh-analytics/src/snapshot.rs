//! Incident snapshots: the analysed frame with the detections that count drawn as boxes, and
//! the rule's zone or line outlined, encoded as JPEG.
//!
//! Invariants:
//! - the JPEG has the frame's own size; only pixels on box edges, zone edges or the trip line
//!   change;
//! - boxes are [`BOX_COLOUR`], [`BOX_THICKNESS`] pixels wide, drawn inside the box's bounds;
//!   outlines are [`ZONE_COLOUR`], one pixel wide, drawn under the boxes;
//! - a snapshot file appears whole or not at all: it is written to a temporary name in the same
//!   directory, flushed, then renamed.

use std::io::Write;
use std::path::{Path, PathBuf};

use roeh_domain::ErrorKind;
use roeh_rules::Point;

use crate::{Error, Result};

/// Colour of detection boxes (RGB).
pub const BOX_COLOUR: [u8; 3] = [255, 0, 0];
/// Width of box edges, pixels.
pub const BOX_THICKNESS: u32 = 3;
/// Colour of zone outlines and trip lines (RGB).
pub const ZONE_COLOUR: [u8; 3] = [255, 255, 0];

/// What to draw on a frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overlay {
    /// Boxes, `[xmin, ymin, xmax, ymax]` normalised to the frame.
    pub boxes: Vec<[f32; 4]>,
    /// Closed outlines (zone polygons), normalised points.
    pub polygons: Vec<Vec<Point>>,
    /// Open segments (trip lines), normalised end points.
    pub lines: Vec<(Point, Point)>,
}

/// A packed RGB24 picture being drawn on.
struct Canvas<'a> {
    px: &'a mut [u8],
    width: u32,
    height: u32,
}

impl Canvas<'_> {
    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        // In range: both are below u32::MAX.
        let i = (y as usize * self.width as usize + x as usize) * 3;
        if let Some(p) = self.px.get_mut(i..i + 3) {
            p.copy_from_slice(&c);
        }
    }

    fn to_px(&self, p: Point) -> (i64, i64) {
        let x = (p.x.clamp(0.0, 1.0) * f64::from(self.width.saturating_sub(1))).round();
        let y = (p.y.clamp(0.0, 1.0) * f64::from(self.height.saturating_sub(1))).round();
        (x as i64, y as i64)
    }

    /// Bresenham's line between two pixels.
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3]) {
        let dx = (x1 - x0).abs();
        let dy = -(y1 - y0).abs();
        let sx = if x0 < x1 { 1 } else { -1 };
        let sy = if y0 < y1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            self.put(x0, y0, c);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    fn rect(&mut self, b: [f32; 4], thickness: u32, c: [u8; 3]) {
        let (x0, y0) = self.to_px(Point::new(f64::from(b[0]), f64::from(b[1])));
        let (x1, y1) = self.to_px(Point::new(f64::from(b[2]), f64::from(b[3])));
        if x1 < x0 || y1 < y0 {
            return;
        }
        for t in 0..i64::from(thickness) {
            let (l, r, top, bottom) = (x0 + t, x1 - t, y0 + t, y1 - t);
            if l > r || top > bottom {
                break;
            }
            self.line((l, top), (r, top), c);
            self.line((l, bottom), (r, bottom), c);
            self.line((l, top), (l, bottom), c);
            self.line((r, top), (r, bottom), c);
        }
    }
}

/// Draws `overlay` on a copy of `rgb` (`width * height * 3` bytes) and encodes it as JPEG.
pub fn render_jpeg(
    rgb: &[u8],
    width: u32,
    height: u32,
    overlay: &Overlay,
    quality: u8,
) -> Result<Vec<u8>> {
    let want = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3));
    if width == 0 || height == 0 || want != Some(rgb.len()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "snapshot: a {width}x{height} RGB24 frame needs {} bytes, got {}",
                want.map_or_else(|| "too many".to_owned(), |n| n.to_string()),
                rgb.len()
            ),
        ));
    }
    let (Ok(w16), Ok(h16)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("snapshot: {width}x{height} is too large for JPEG"),
        ));
    };
    let mut px = rgb.to_vec();
    let mut canvas = Canvas {
        px: &mut px,
        width,
        height,
    };
    for poly in &overlay.polygons {
        for (i, p) in poly.iter().enumerate() {
            let q = poly[(i + 1) % poly.len()];
            let (a, b) = (canvas.to_px(*p), canvas.to_px(q));
            canvas.line(a, b, ZONE_COLOUR);
        }
    }
    for (a, b) in &overlay.lines {
        let (a, b) = (canvas.to_px(*a), canvas.to_px(*b));
        canvas.line(a, b, ZONE_COLOUR);
    }
    for b in &overlay.boxes {
        if b.iter().all(|v| v.is_finite()) {
            canvas.rect(*b, BOX_THICKNESS, BOX_COLOUR);
        }
    }
    let mut out = Vec::with_capacity(rgb.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&px, w16, h16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("snapshot: JPEG encoding failed: {e}"),
            )
        })?;
    Ok(out)
}

/// Writes `bytes` to `dir/name` atomically (temporary file, sync, rename). Returns the path.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let io =
        |what: String| move |e: std::io::Error| Error::with_source(ErrorKind::Unavailable, what, e);
    std::fs::create_dir_all(dir)
        .map_err(io(format!("creating snapshot directory {}", dir.display())))?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(format!("writing {}", tmp.display())))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io(format!("renaming to {}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn boxes_and_outlines_land_on_the_right_pixels() {
        let (w, h) = (100u32, 80u32);
        let rgb = vec![40u8; (w * h * 3) as usize];
        let overlay = Overlay {
            boxes: vec![[0.2, 0.25, 0.5, 0.75]],
            polygons: vec![vec![
                Point::new(0.0, 0.0),
                Point::new(1.0, 0.0),
                Point::new(1.0, 1.0),
            ]],
            lines: vec![],
        };
        // Draw without encoding to check exact pixels.
        let mut px = rgb.clone();
        let mut c = Canvas {
            px: &mut px,
            width: w,
            height: h,
        };
        c.rect(overlay.boxes[0], BOX_THICKNESS, BOX_COLOUR);
        let at = |px: &[u8], x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            [px[i], px[i + 1], px[i + 2]]
        };
        // Box from (20, 20) to (50, 59) in pixels (rounded from 99 and 79 wide scales).
        let (x0, y0) = (
            (0.2f64 * 99.0).round() as u32,
            (0.25f64 * 79.0).round() as u32,
        );
        assert_eq!(at(&px, x0, y0), BOX_COLOUR);
        assert_eq!(
            at(&px, x0 + 2, y0 + 10),
            BOX_COLOUR,
            "third pixel of the edge"
        );
        assert_eq!(at(&px, x0 + 3, y0 + 10), [40, 40, 40], "inside stays");
        assert_eq!(at(&px, x0 - 1, y0), [40, 40, 40], "outside stays");

        let jpeg = render_jpeg(&rgb, w, h, &overlay, 90).unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8], "JPEG start of image");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xff, 0xd9], "JPEG end of image");
        assert!(render_jpeg(&rgb[1..], w, h, &overlay, 90).is_err());
        assert!(render_jpeg(&[], 0, 0, &overlay, 90).is_err());
    }

    #[test]
    fn writes_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_atomically(&dir.path().join("snaps"), "a.jpg", b"abc").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abc");
        write_atomically(&dir.path().join("snaps"), "a.jpg", b"defg").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"defg");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("snaps"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }
}
