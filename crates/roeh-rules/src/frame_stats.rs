//! Per-frame statistics for camera tamper checks: mean brightness and a content digest.
//!
//! Invariants:
//! - `mean_luma` is the mean BT.601 luma (`0.299 R + 0.587 G + 0.114 B`) over every pixel, in
//!   `0..=255`;
//! - `signature` is a 64-bit FNV-1a digest of every byte of the picture. Two frames with the same
//!   signature are taken to be the same picture. An exact digest is used on purpose: a live sensor's
//!   noise changes some bytes in every frame, even of a still night scene, while a frozen camera,
//!   encoder or decoder repeats its last picture bit for bit. A coarse thumbnail would call a quiet
//!   scene frozen.

use roeh_domain::ErrorKind;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Statistics of one decoded frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameStats {
    /// Mean luma, `0..=255`.
    pub mean_luma: f32,
    /// Digest of the picture's bytes (equal digests: the same picture).
    pub signature: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl FrameStats {
    /// Computes the statistics of a packed RGB24 picture (`width * height * 3` bytes, rows back
    /// to back without padding). Refuses an empty size or a wrong length.
    pub fn from_rgb(width: u32, height: u32, rgb: &[u8]) -> Result<FrameStats, Error> {
        let pixels = (width as usize).checked_mul(height as usize);
        let want = pixels.and_then(|n| n.checked_mul(3));
        match (pixels, want) {
            (Some(n), Some(w)) if n > 0 && w == rgb.len() => {}
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "frame stats: a {width}x{height} RGB24 picture needs {} bytes, got {}",
                        want.map_or_else(|| "too many".to_owned(), |w| w.to_string()),
                        rgb.len()
                    ),
                ));
            }
        }
        let mut sum: u64 = 0;
        let mut hash = FNV_OFFSET;
        for px in rgb.chunks_exact(3) {
            sum += 299 * u64::from(px[0]) + 587 * u64::from(px[1]) + 114 * u64::from(px[2]);
            for &b in px {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(FNV_PRIME);
            }
        }
        let n = (rgb.len() / 3) as f64;
        Ok(FrameStats {
            mean_luma: (sum as f64 / 1000.0 / n) as f32,
            signature: hash,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn luma_and_signature() {
        let black = FrameStats::from_rgb(4, 2, &[0; 24]).unwrap();
        assert_eq!(black.mean_luma, 0.0);
        let white = FrameStats::from_rgb(4, 2, &[255; 24]).unwrap();
        assert!((white.mean_luma - 255.0).abs() < 1e-3);
        let mut half = vec![0u8; 24];
        half[12..].fill(200);
        let h = FrameStats::from_rgb(4, 2, &half).unwrap();
        assert!((h.mean_luma - 100.0).abs() < 1e-3, "{}", h.mean_luma);
        assert_ne!(black.signature, white.signature);
        let mut one_off = half.clone();
        one_off[0] = 1;
        assert_ne!(
            FrameStats::from_rgb(4, 2, &one_off).unwrap().signature,
            h.signature
        );
        assert_eq!(FrameStats::from_rgb(4, 2, &half).unwrap(), h);
        assert!(FrameStats::from_rgb(4, 2, &[0; 23]).is_err());
        assert!(FrameStats::from_rgb(0, 0, &[]).is_err());
    }
}
