//! Model outputs to [`Detection`]s: decoding per layout, thresholds, class-wise NMS.
//!
//! Invariants: results are sorted by descending score; boxes are normalised to the source frame
//! via its [`FrameGeometry`] and clamped to `0..=1`; NaN scores never pass a threshold.

use std::sync::Arc;

use ndarray::{ArrayViewD, Axis, Ix1, Ix2, Ix3};
use roeh_domain::{ErrorKind, bail};

use crate::preprocess::FrameGeometry;
use crate::{Detection, Error};

/// Intersection over union of two `[xmin, ymin, xmax, ymax]` boxes (0 for empty boxes).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Greedy non-maximum suppression within each class: of two boxes of the same class that overlap
/// by more than `iou_threshold`, only the higher-scoring survives. Input is
/// `(class, score, [xmin, ymin, xmax, ymax])`; output is sorted by descending score.
pub fn nms_per_class(
    mut candidates: Vec<(u32, f32, [f32; 4])>,
    iou_threshold: f32,
) -> Vec<(u32, f32, [f32; 4])> {
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut kept: Vec<(u32, f32, [f32; 4])> = Vec::new();
    for c in candidates {
        let suppressed = kept
            .iter()
            .any(|k| k.0 == c.0 && iou(&k.2, &c.2) > iou_threshold);
        if !suppressed {
            kept.push(c);
        }
    }
    kept
}

/// Shared decoding parameters.
#[derive(Debug)]
pub(crate) struct Decode<'a> {
    pub score_threshold: f32,
    pub labels: &'a [Arc<str>],
}

impl Decode<'_> {
    fn detection(&self, class_id: u32, score: f32, bbox: [f32; 4]) -> Detection {
        let label = self
            .labels
            .get(class_id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(format!("class-{class_id}")));
        Detection {
            class_id,
            label,
            score,
            bbox,
        }
    }
}

/// `score >= threshold`, false for NaN.
fn passes(score: f32, threshold: f32) -> bool {
    score.partial_cmp(&threshold).is_some_and(|o| o.is_ge())
}

fn to_frame(g: &FrameGeometry, xyxy_input_px: [f32; 4]) -> [f32; 4] {
    let (x0, y0) = g.to_normalised(xyxy_input_px[0], xyxy_input_px[1]);
    let (x1, y1) = g.to_normalised(xyxy_input_px[2], xyxy_input_px[3]);
    [x0, y0, x1, y1]
}

/// TF Object Detection API outputs for batch item `n`.
pub(crate) fn decode_tf_od_api(
    d: &Decode<'_>,
    n: usize,
    g: &FrameGeometry,
    boxes: &ArrayViewD<'_, f32>,
    scores: &ArrayViewD<'_, f32>,
    classes: &ArrayViewD<'_, f32>,
    num: &ArrayViewD<'_, f32>,
) -> Result<Vec<Detection>, Error> {
    let shape_err = |what: &str, s: &[usize]| {
        Error::new(
            ErrorKind::Internal,
            format!("tf-od-api output {what} has unexpected shape {s:?}"),
        )
    };
    let boxes = boxes
        .view()
        .into_dimensionality::<Ix3>()
        .map_err(|_| shape_err("boxes", boxes.shape()))?;
    let scores = scores
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| shape_err("scores", scores.shape()))?;
    let classes = classes
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|_| shape_err("classes", classes.shape()))?;
    let num = num
        .view()
        .into_dimensionality::<Ix1>()
        .map_err(|_| shape_err("num_detections", num.shape()))?;
    let k = scores.shape()[1];
    if boxes.shape()[0] <= n
        || boxes.shape()[1] != k
        || boxes.shape()[2] != 4
        || classes.shape()[1] != k
        || num.len() <= n
        || scores.shape()[0] <= n
        || classes.shape()[0] <= n
    {
        bail!(
            Internal,
            "tf-od-api outputs disagree: boxes {:?}, scores {:?}, classes {:?}, num {:?}, item {n}",
            boxes.shape(),
            scores.shape(),
            classes.shape(),
            num.shape()
        );
    }
    let count = (num[n].max(0.0) as usize).min(k);
    let (iw, ih) = (g.input_width as f32, g.input_height as f32);
    let mut out = Vec::new();
    for i in 0..count {
        let score = scores[[n, i]];
        if !passes(score, d.score_threshold) {
            continue;
        }
        let b = boxes.index_axis(Axis(0), n);
        let [ymin, xmin, ymax, xmax] = [b[[i, 0]], b[[i, 1]], b[[i, 2]], b[[i, 3]]];
        let bbox = to_frame(g, [xmin * iw, ymin * ih, xmax * iw, ymax * ih]);
        let class = classes[[n, i]];
        let class_id = if class.is_finite() && class >= 0.0 {
            class.round() as u32
        } else {
            bail!(Internal, "tf-od-api class {class} is not an index");
        };
        out.push(d.detection(class_id, score, bbox));
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(out)
}

/// YOLO output `[N, 4 + classes, anchors]` for batch item `n`, with class-wise NMS.
pub(crate) fn decode_yolo(
    d: &Decode<'_>,
    n: usize,
    g: &FrameGeometry,
    pred: &ArrayViewD<'_, f32>,
    iou_threshold: f32,
    max_detections: usize,
) -> Result<Vec<Detection>, Error> {
    let pred = pred.view().into_dimensionality::<Ix3>().map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            format!(
                "yolo output has shape {:?}, expected 3 dimensions",
                pred.shape()
            ),
        )
    })?;
    let (batch, rows, anchors) = (pred.shape()[0], pred.shape()[1], pred.shape()[2]);
    if n >= batch || rows < 5 {
        bail!(
            Internal,
            "yolo output shape {:?} does not fit item {n} with at least one class",
            pred.shape()
        );
    }
    let p = pred.index_axis(Axis(0), n);
    let mut cands = Vec::new();
    for a in 0..anchors {
        let mut best = (0u32, f32::NEG_INFINITY);
        for c in 4..rows {
            let s = p[[c, a]];
            if s > best.1 {
                best = ((c - 4) as u32, s);
            }
        }
        if !passes(best.1, d.score_threshold) {
            continue;
        }
        let (cx, cy, w, h) = (p[[0, a]], p[[1, a]], p[[2, a]], p[[3, a]]);
        if !(cx.is_finite() && cy.is_finite() && w.is_finite() && h.is_finite()) {
            continue;
        }
        let xyxy = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
        cands.push((best.0, best.1, xyxy));
    }
    let kept = nms_per_class(cands, iou_threshold);
    Ok(kept
        .into_iter()
        .take(max_detections)
        .map(|(c, s, b)| d.detection(c, s, to_frame(g, b)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &[10.0, 10.0, 20.0, 20.0]), 0.0);
        assert!((iou(&a, &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn nms_is_class_wise() {
        let b = [0.0, 0.0, 10.0, 10.0];
        let near = [1.0, 0.0, 11.0, 10.0];
        let kept = nms_per_class(
            vec![
                (0, 0.8, near),
                (0, 0.9, b),
                (1, 0.7, b),
                (0, 0.5, [50.0, 50.0, 60.0, 60.0]),
            ],
            0.45,
        );
        let got: Vec<(u32, f32)> = kept.iter().map(|k| (k.0, k.1)).collect();
        assert_eq!(got, vec![(0, 0.9), (1, 0.7), (0, 0.5)]);
    }
}
