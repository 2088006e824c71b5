"""Python baseline of the detection path: PyAV decode -> onnxruntime -> numpy post-processing.

The same work as roeh's path in benches/src/bin/detect_path.rs, written the way a Python service
would: every picture of the clip is decoded (one decoder thread, as roeh), pictures are selected
by pts at the analysis rate with roeh's rule, a selected picture is converted to RGB24 at its full
size (768x576: roeh keeps frames up to 1280 wide and the graph resizes to 300x300 itself), run
through an onnxruntime session with the given intra-op threads, and boxes with score >= 0.4 are
kept and converted to [xmin, ymin, xmax, ymax].

Prints one JSON object: frames analysed, detections, CPU seconds of the process (all threads,
getrusage) and wall seconds of the decode-to-detections loop (model loading and one warm-up run
excluded, as on the roeh side), and per-frame latency p50/p99 in ms: the time from a converted
picture to its detections (pre-processing, inference, post-processing).
"""

import argparse
import json
import resource
import time

import av
import numpy as np
import onnxruntime as ort

JITTER_90K = 900.0
MAX_LAG_INTERVALS = 4.0


class Selector:
    """roeh-decode's selection by pts: the same pictures at the same rate."""

    def __init__(self, fps):
        self.interval = 90000.0 / fps
        self.next_due = None
        self.last = None

    def select(self, pts):
        backwards = self.last is not None and pts < self.last
        self.last = pts
        p = float(pts)
        due = self.next_due
        if due is None or backwards or p >= due + MAX_LAG_INTERVALS * self.interval:
            due = p
        if p + min(JITTER_90K, self.interval / 2) >= due:
            nxt = due + self.interval
            if nxt <= p:
                nxt = p + self.interval
            self.next_due = nxt
            return True
        self.next_due = due
        return False


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--footage", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--threshold", type=float, default=0.4)
    ap.add_argument("--decode-only", action="store_true", help="decode and convert, no detection")
    a = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outputs = ["detection_boxes:0", "detection_scores:0", "detection_classes:0"]
    sess.run(outputs, {name: np.zeros((1, 576, 768, 3), np.uint8)})

    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    frames = detections = 0
    latencies = []
    with av.open(a.footage) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        tb = stream.time_base
        sel = Selector(a.fps)
        for picture in container.decode(stream):
            pts = int(picture.pts * tb * 90000)
            if not sel.select(pts):
                continue
            rgb = picture.to_ndarray(format="rgb24")
            frames += 1
            if a.decode_only:
                continue
            t = time.perf_counter()
            boxes, scores, classes = sess.run(outputs, {name: rgb[None]})
            keep = scores[0] >= a.threshold
            b = boxes[0][keep]
            found = np.stack([b[:, 1], b[:, 0], b[:, 3], b[:, 2]], axis=1).clip(0.0, 1.0)
            labels = classes[0][keep].astype(np.int64)
            latencies.append(time.perf_counter() - t)
            detections += int(np.count_nonzero(labels == 1))
    wall = time.perf_counter() - wall0
    cpu = cpu_seconds() - cpu0
    lat = np.array(latencies or [0.0]) * 1e3
    print(
        json.dumps(
            {
                "frames": frames,
                "detections": detections,
                "cpu_s": cpu,
                "wall_s": wall,
                "p50_ms": float(np.percentile(lat, 50)),
                "p99_ms": float(np.percentile(lat, 99)),
            }
        )
    )


if __name__ == "__main__":
    main()
