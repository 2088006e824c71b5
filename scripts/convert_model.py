"""Checks that a fresh conversion of the person detector is equivalent to the shipped model.

Usage: convert_model.py SHIPPED_ONNX CONVERTED_ONNX FRAMES_RGB WIDTH HEIGHT [--tolerance 1e-4]

tf2onnx does not write the same bytes twice (node names vary between runs), so the shipped
`models/ssdlite_mobilenet_v2_ped.onnx` cannot be compared with a new conversion by its hash. This
compares what matters instead: both graphs must declare the same input and outputs (names, element
types), and on the same inputs ONNX Runtime must give all four outputs of both with the same
shapes and values within the tolerance (absolute difference).

Inputs: each RGB24 picture of FRAMES_RGB (raw, WIDTH x HEIGHT x 3 bytes per picture, as written
by `ffmpeg -pix_fmt rgb24 -f rawvideo`), one at a time; the same pictures as one batch; and two
constant pictures (mid grey at 300x300, black at WIDTH x HEIGHT), which give the graph nothing to
detect and so exercise its empty-result path.

Exits 0 and prints "conversion reproduced: outputs match the shipped model" when everything
matches; otherwise prints each mismatch and the largest difference found and exits 1. Neither
model file is modified.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

INPUT = "image_tensor:0"
OUTPUTS = ["num_detections:0", "detection_boxes:0", "detection_scores:0", "detection_classes:0"]


def session(path):
    """A single-threaded CPU session, so that both models run the same kernels in the same order."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def signature(sess):
    """Names and element types of the graph's inputs and outputs."""
    ins = sorted((i.name, i.type) for i in sess.get_inputs())
    outs = sorted((o.name, o.type) for o in sess.get_outputs())
    return ins, outs


def load_frames(path, width, height):
    """The pictures of a raw RGB24 file as an array [N, height, width, 3] of uint8."""
    raw = np.fromfile(path, dtype=np.uint8)
    size = width * height * 3
    if raw.size == 0 or raw.size % size != 0:
        raise SystemExit(f"{path}: {raw.size} bytes is not a whole number of {width}x{height} RGB24 pictures")
    return raw.reshape(-1, height, width, 3)


def cases(frames, width, height):
    """(label, input batch) pairs to run through both models."""
    out = [(f"frame {i}", frames[i : i + 1]) for i in range(len(frames))]
    out.append((f"batch of {len(frames)} frames", frames))
    out.append(("constant grey 300x300", np.full((1, 300, 300, 3), 128, dtype=np.uint8)))
    out.append((f"constant black {width}x{height}", np.zeros((1, height, width, 3), dtype=np.uint8)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shipped", type=Path)
    ap.add_argument("converted", type=Path)
    ap.add_argument("frames", type=Path)
    ap.add_argument("width", type=int)
    ap.add_argument("height", type=int)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    shipped = session(args.shipped)
    converted = session(args.converted)
    failures = []

    sig_shipped, sig_converted = signature(shipped), signature(converted)
    if sig_shipped != sig_converted:
        failures.append(f"graph signatures differ: shipped {sig_shipped}, converted {sig_converted}")
    missing = sorted(set(OUTPUTS) - {o.name for o in shipped.get_outputs()})
    if missing:
        failures.append(f"shipped model lacks outputs {missing}")

    frames = load_frames(args.frames, args.width, args.height)
    largest = 0.0
    largest_at = "-"
    detections = 0
    if not failures:
        for label, batch in cases(frames, args.width, args.height):
            a = dict(zip(OUTPUTS, shipped.run(OUTPUTS, {INPUT: batch})))
            b = dict(zip(OUTPUTS, converted.run(OUTPUTS, {INPUT: batch})))
            if label.startswith("frame "):
                detections += int((a["detection_scores:0"] >= 0.4).sum())
            for name in OUTPUTS:
                if a[name].shape != b[name].shape or a[name].dtype != b[name].dtype:
                    failures.append(
                        f"{label}: {name} is {a[name].dtype}{list(a[name].shape)} in the shipped model, "
                        f"{b[name].dtype}{list(b[name].shape)} in the conversion"
                    )
                    continue
                diff = float(np.max(np.abs(a[name].astype(np.float64) - b[name].astype(np.float64)), initial=0.0))
                if diff > largest:
                    largest, largest_at = diff, f"{label}, {name}"
                if not diff <= args.tolerance:
                    failures.append(f"{label}: {name} differs by {diff:.3g} (tolerance {args.tolerance:g})")
        print(
            f"compared {len(frames)} frames ({args.width}x{args.height}; {detections} detections >= 0.4 "
            f"in the shipped model), one batch and 2 constant pictures; largest difference {largest:.3g}"
            + (f" ({largest_at})" if largest > 0 else "")
        )

    if failures:
        for f in failures:
            print(f"MISMATCH {f}", file=sys.stderr)
        print(f"conversion NOT reproduced: largest difference {largest:.3g} ({largest_at})", file=sys.stderr)
        return 1
    print("conversion reproduced: outputs match the shipped model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
