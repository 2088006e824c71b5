//! Frames in, detections out: the plain data this crate exchanges with its callers.
//!
//! An [`RgbFrame`] is packed RGB24, row-major, no padding: `data.len() == width * height * 3`.
//! Boxes are `[xmin, ymin, xmax, ymax]`, normalised to the frame, each within `0..=1`.

use std::sync::Arc;

use roeh_domain::{CameraId, ErrorKind, Pts90k, bail};

use crate::Error;

/// A decoded picture, packed RGB24 (3 bytes per pixel, rows back to back, no stride padding).
#[derive(Clone)]
pub struct RgbFrame {
    pub camera: CameraId,
    pub pts: Pts90k,
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Arc<[u8]>,
}

impl RgbFrame {
    /// A frame, checked: non-zero size and exactly `width * height * 3` bytes.
    pub fn new(
        camera: CameraId,
        pts: Pts90k,
        width: u32,
        height: u32,
        data: Arc<[u8]>,
    ) -> Result<RgbFrame, Error> {
        let f = RgbFrame {
            camera,
            pts,
            width,
            height,
            data,
        };
        f.validate()?;
        Ok(f)
    }

    /// Bytes a packed RGB24 frame of this size must have; `None` if it overflows `usize`.
    pub fn expected_len(width: u32, height: u32) -> Option<usize> {
        (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(3))
    }

    /// Checks the size and the data length (the fields are public, so detectors check again).
    pub fn validate(&self) -> Result<(), Error> {
        if self.width == 0 || self.height == 0 {
            bail!(
                InvalidArgument,
                "frame of camera {} at pts {}: empty size {}x{}",
                self.camera,
                self.pts.0,
                self.width,
                self.height
            );
        }
        match RgbFrame::expected_len(self.width, self.height) {
            Some(n) if n == self.data.len() => Ok(()),
            Some(n) => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "frame of camera {} at pts {}: {}x{} RGB24 needs {n} bytes, got {}",
                    self.camera,
                    self.pts.0,
                    self.width,
                    self.height,
                    self.data.len()
                ),
            )),
            None => bail!(
                InvalidArgument,
                "frame size {}x{} is too large",
                self.width,
                self.height
            ),
        }
    }
}

impl std::fmt::Debug for RgbFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbFrame")
            .field("camera", &self.camera)
            .field("pts", &self.pts)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// One detected object.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// The model's class index (an index into the manifest's `labels`).
    pub class_id: u32,
    /// The manifest's label for `class_id`.
    pub label: Arc<str>,
    /// Confidence, `0..=1`.
    pub score: f32,
    /// `[xmin, ymin, xmax, ymax]`, normalised to the frame, clamped to `0..=1`.
    pub bbox: [f32; 4],
}

/// Everything one model found in one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Detections {
    pub camera: CameraId,
    pub pts: Pts90k,
    pub model_id: Arc<str>,
    /// Sorted by descending score.
    pub items: Vec<Detection>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_length_is_refused() {
        let cam = CameraId::new_random();
        let e = RgbFrame::new(cam, Pts90k(0), 4, 2, Arc::from(vec![0u8; 23]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                format!(
                    "invalid_argument: frame of camera {cam} at pts 0: 4x2 RGB24 needs 24 bytes, got 23"
                )
                .as_str()
            )
        );
        assert!(RgbFrame::new(cam, Pts90k(0), 4, 2, Arc::from(vec![0u8; 24])).is_ok());
        assert!(RgbFrame::new(cam, Pts90k(0), 0, 2, Arc::from(Vec::new())).is_err());
    }
}
