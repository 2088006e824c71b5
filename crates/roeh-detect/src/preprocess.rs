//! Frames to input tensors: downscaling, letterboxing, batching, layout and dtype.
//!
//! Invariants:
//! - every frame of one batch becomes exactly the same input size (ONNX batches are dense);
//! - each frame's [`FrameGeometry`] maps input-pixel coordinates back to the frame it came from,
//!   so boxes leave the crate normalised to the caller's frame whatever was done here;
//! - downscaling averages the source pixels each output pixel covers (area filter), so small
//!   people are not lost to aliasing; upscaling is bilinear.
//!
//! Placement depends on the output layout: TF-OD-API graphs stretch their input to a square
//! internally, so stretching here costs nothing (normalised coordinates survive any per-axis
//! scale); YOLO models are trained on letterboxed input (aspect kept, grey 114 padding).

use crate::manifest::{Channels, InputDtype, InputSpec, TensorLayout};

/// Padding value of letterboxed inputs (what YOLO training uses).
pub const LETTERBOX_FILL: u8 = 114;

/// How a frame was placed into the model input: `input = source * scale + pad` per axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameGeometry {
    pub src_width: u32,
    pub src_height: u32,
    pub input_width: u32,
    pub input_height: u32,
    pub scale_x: f32,
    pub scale_y: f32,
    pub pad_x: f32,
    pub pad_y: f32,
}

impl FrameGeometry {
    /// Input-pixel coordinates to `0..=1` of the source frame (clamped).
    pub fn to_normalised(&self, x: f32, y: f32) -> (f32, f32) {
        let sx = (x - self.pad_x) / self.scale_x / self.src_width as f32;
        let sy = (y - self.pad_y) / self.scale_y / self.src_height as f32;
        (sx.clamp(0.0, 1.0), sy.clamp(0.0, 1.0))
    }
}

/// A dense batch tensor, ready for the model's input.
#[derive(Clone, Debug, PartialEq)]
pub enum InputTensor {
    U8 { shape: [usize; 4], data: Vec<u8> },
    F32 { shape: [usize; 4], data: Vec<f32> },
}

impl InputTensor {
    /// The tensor's shape (`[N, H, W, C]` or `[N, C, H, W]`).
    pub fn shape(&self) -> [usize; 4] {
        match self {
            InputTensor::U8 { shape, .. } | InputTensor::F32 { shape, .. } => *shape,
        }
    }
}

/// How frames are placed into the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Scale each axis independently to fill the input.
    Stretch,
    /// Keep the aspect ratio, centre, pad with [`LETTERBOX_FILL`].
    Letterbox,
}

/// The input size used for a batch whose first frame is `width`×`height`: the fixed size if the
/// model has one, else the frame downscaled to at most `max_width` wide (aspect kept).
pub fn batch_input_size(spec: &InputSpec, max_width: u32, width: u32, height: u32) -> (u32, u32) {
    if let Some([w, h]) = spec.size {
        return (w, h);
    }
    if width <= max_width {
        return (width, height);
    }
    let h = (f64::from(height) * f64::from(max_width) / f64::from(width)).round();
    (max_width, (h as u32).max(1))
}

/// Places one packed RGB24 frame into a `input_w`×`input_h` RGB24 canvas.
pub fn place(
    src: &[u8],
    src_w: u32,
    src_h: u32,
    input_w: u32,
    input_h: u32,
    placement: Placement,
) -> (Vec<u8>, FrameGeometry) {
    match placement {
        Placement::Stretch => {
            let img = resize_rgb(src, src_w, src_h, input_w, input_h);
            let g = FrameGeometry {
                src_width: src_w,
                src_height: src_h,
                input_width: input_w,
                input_height: input_h,
                scale_x: input_w as f32 / src_w as f32,
                scale_y: input_h as f32 / src_h as f32,
                pad_x: 0.0,
                pad_y: 0.0,
            };
            (img, g)
        }
        Placement::Letterbox => {
            let scale = f64::min(
                f64::from(input_w) / f64::from(src_w),
                f64::from(input_h) / f64::from(src_h),
            );
            let nw = ((f64::from(src_w) * scale).round() as u32).clamp(1, input_w);
            let nh = ((f64::from(src_h) * scale).round() as u32).clamp(1, input_h);
            let pad_x = (input_w - nw) / 2;
            let pad_y = (input_h - nh) / 2;
            let inner = resize_rgb(src, src_w, src_h, nw, nh);
            let mut canvas = vec![LETTERBOX_FILL; input_w as usize * input_h as usize * 3];
            let row = nw as usize * 3;
            for y in 0..nh as usize {
                let dst = ((y + pad_y as usize) * input_w as usize + pad_x as usize) * 3;
                canvas[dst..dst + row].copy_from_slice(&inner[y * row..(y + 1) * row]);
            }
            let g = FrameGeometry {
                src_width: src_w,
                src_height: src_h,
                input_width: input_w,
                input_height: input_h,
                scale_x: nw as f32 / src_w as f32,
                scale_y: nh as f32 / src_h as f32,
                pad_x: pad_x as f32,
                pad_y: pad_y as f32,
            };
            (canvas, g)
        }
    }
}

/// Packs same-size RGB24 canvases into one tensor of the model's dtype, layout and channel order.
pub fn pack(canvases: &[Vec<u8>], width: u32, height: u32, spec: &InputSpec) -> InputTensor {
    let (w, h, n) = (width as usize, height as usize, canvases.len());
    let shape = match spec.layout {
        TensorLayout::NHWC => [n, h, w, 3],
        TensorLayout::NCHW => [n, 3, h, w],
    };
    let order: [usize; 3] = match spec.channels {
        Channels::RGB => [0, 1, 2],
        Channels::BGR => [2, 1, 0],
    };
    let mut bytes = Vec::with_capacity(n * h * w * 3);
    for c in canvases {
        match (spec.layout, spec.channels) {
            (TensorLayout::NHWC, Channels::RGB) => bytes.extend_from_slice(c),
            (TensorLayout::NHWC, Channels::BGR) => {
                for px in c.chunks_exact(3) {
                    bytes.extend_from_slice(&[px[2], px[1], px[0]]);
                }
            }
            (TensorLayout::NCHW, _) => {
                for ch in order {
                    bytes.extend(c.iter().skip(ch).step_by(3));
                }
            }
        }
    }
    match spec.dtype {
        InputDtype::Uint8 => InputTensor::U8 { shape, data: bytes },
        InputDtype::Float32 => InputTensor::F32 {
            shape,
            data: bytes.iter().map(|&b| f32::from(b) / 255.0).collect(),
        },
    }
}

/// Taps of one output sample along one axis: first source index and weights summing to 1.
fn axis_taps(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
    let s = src as f64 / dst as f64;
    (0..dst)
        .map(|i| {
            if s >= 1.0 {
                // Area: average the source interval [i*s, (i+1)*s).
                let a = i as f64 * s;
                let b = ((i + 1) as f64 * s).min(src as f64);
                let first = a.floor() as usize;
                let last = (b.ceil() as usize).clamp(first + 1, src);
                let w = (first..last)
                    .map(|j| {
                        let lo = a.max(j as f64);
                        let hi = b.min((j + 1) as f64);
                        ((hi - lo).max(0.0) / s) as f32
                    })
                    .collect();
                (first, w)
            } else {
                // Bilinear, pixel centres aligned.
                let c = ((i as f64 + 0.5) * s - 0.5).clamp(0.0, (src - 1) as f64);
                let j = c.floor() as usize;
                let f = (c - j as f64) as f32;
                if j + 1 < src {
                    (j, vec![1.0 - f, f])
                } else {
                    (j, vec![1.0])
                }
            }
        })
        .collect()
}

/// Resizes packed RGB24 `src` (`sw`×`sh`) to `dw`×`dh`: area average when shrinking, bilinear
/// when growing, a plain copy when the size is unchanged.
pub fn resize_rgb(src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
    let (sw, sh, dw, dh) = (sw as usize, sh as usize, dw as usize, dh as usize);
    if sw == dw && sh == dh {
        return src.to_vec();
    }
    let xt = axis_taps(sw, dw);
    let yt = axis_taps(sh, dh);
    // Horizontal pass: sh rows of dw pixels.
    let mut tmp = vec![0f32; sh * dw * 3];
    for y in 0..sh {
        let row = &src[y * sw * 3..(y + 1) * sw * 3];
        let out = &mut tmp[y * dw * 3..(y + 1) * dw * 3];
        for (x, (first, w)) in xt.iter().enumerate() {
            let mut acc = [0f32; 3];
            for (k, wk) in w.iter().enumerate() {
                let p = (first + k) * 3;
                acc[0] += wk * f32::from(row[p]);
                acc[1] += wk * f32::from(row[p + 1]);
                acc[2] += wk * f32::from(row[p + 2]);
            }
            out[x * 3..x * 3 + 3].copy_from_slice(&acc);
        }
    }
    // Vertical pass.
    let mut dst = vec![0u8; dh * dw * 3];
    for (y, (first, w)) in yt.iter().enumerate() {
        let out = &mut dst[y * dw * 3..(y + 1) * dw * 3];
        for (i, o) in out.iter_mut().enumerate() {
            let mut acc = 0f32;
            for (k, wk) in w.iter().enumerate() {
                acc += wk * tmp[(first + k) * dw * 3 + i];
            }
            *o = acc.round().clamp(0.0, 255.0) as u8;
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dtype: InputDtype, layout: TensorLayout, channels: Channels) -> InputSpec {
        InputSpec {
            name: "x".into(),
            dtype,
            layout,
            channels,
            size: None,
            max_width: None,
        }
    }

    #[test]
    fn area_downscale_averages() {
        // 4x1 -> 2x1: pairs average.
        let src = [0, 0, 0, 100, 100, 100, 10, 20, 30, 30, 40, 50];
        assert_eq!(resize_rgb(&src, 4, 1, 2, 1), vec![50, 50, 50, 20, 30, 40]);
        // 3x1 -> 2x1: weights 2/3,1/3 and 1/3,2/3.
        let src = [0, 0, 0, 90, 90, 90, 180, 180, 180];
        assert_eq!(
            resize_rgb(&src, 3, 1, 2, 1),
            vec![30, 30, 30, 150, 150, 150]
        );
        // Constant image stays constant at any size.
        let flat = vec![77u8; 768 * 576 * 3];
        assert!(
            resize_rgb(&flat, 768, 576, 640, 480)
                .iter()
                .all(|&v| v == 77)
        );
        assert!(
            resize_rgb(&flat, 768, 576, 300, 300)
                .iter()
                .all(|&v| v == 77)
        );
        assert!(
            resize_rgb(&flat[..12 * 3], 4, 3, 9, 7)
                .iter()
                .all(|&v| v == 77)
        );
    }

    #[test]
    fn input_size_keeps_aspect_and_honours_fixed_sizes() {
        let mut s = spec(InputDtype::Uint8, TensorLayout::NHWC, Channels::RGB);
        assert_eq!(batch_input_size(&s, 640, 768, 576), (640, 480));
        assert_eq!(batch_input_size(&s, 640, 384, 288), (384, 288));
        assert_eq!(batch_input_size(&s, 640, 1920, 1080), (640, 360));
        s.size = Some([64, 48]);
        assert_eq!(batch_input_size(&s, 640, 1920, 1080), (64, 48));
    }

    #[test]
    fn letterbox_maps_back_to_the_source() {
        let src = vec![200u8; 128 * 64 * 3];
        let (canvas, g) = place(&src, 128, 64, 64, 64, Placement::Letterbox);
        assert_eq!(
            (g.scale_x, g.scale_y, g.pad_x, g.pad_y),
            (0.5, 0.5, 0.0, 16.0)
        );
        // Padding rows are grey, content rows carry the image.
        assert_eq!(canvas[0], LETTERBOX_FILL);
        assert_eq!(canvas[(16 * 64) * 3], 200);
        assert_eq!(canvas[(48 * 64) * 3], LETTERBOX_FILL);
        assert_eq!(g.to_normalised(32.0, 32.0), (0.5, 0.5));
        assert_eq!(g.to_normalised(64.0, 48.0), (1.0, 1.0));
        assert_eq!(g.to_normalised(0.0, 0.0), (0.0, 0.0));
    }

    #[test]
    fn packing_follows_layout_dtype_and_channels() {
        // One 2x1 frame: red then blue.
        let c = vec![vec![255, 0, 0, 0, 0, 255]];
        let t = pack(
            &c,
            2,
            1,
            &spec(InputDtype::Uint8, TensorLayout::NHWC, Channels::RGB),
        );
        assert_eq!(
            t,
            InputTensor::U8 {
                shape: [1, 1, 2, 3],
                data: vec![255, 0, 0, 0, 0, 255]
            }
        );
        let t = pack(
            &c,
            2,
            1,
            &spec(InputDtype::Uint8, TensorLayout::NCHW, Channels::BGR),
        );
        assert_eq!(
            t,
            InputTensor::U8 {
                shape: [1, 3, 1, 2],
                data: vec![0, 255, 0, 0, 255, 0]
            }
        );
        let t = pack(
            &c,
            2,
            1,
            &spec(InputDtype::Float32, TensorLayout::NCHW, Channels::RGB),
        );
        assert_eq!(
            t,
            InputTensor::F32 {
                shape: [1, 3, 1, 2],
                data: vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
            }
        );
    }
}
