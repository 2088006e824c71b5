"""Int8 quantization of the default person model with ONNX Runtime's quantization tools.

Usage: quantize_model.py FLOAT_ONNX FOOTAGE_MP4 OUT_ONNX [--method static|dynamic|both]

Static quantization calibrates activation ranges on full 768x576 vtest frames (what roeh feeds the
model) decoded with PyAV: every 40th picture (0, 40, ..., 760). The recall check
(crates/roeh-detect/tests/int8_recall.rs) uses pictures 10, 30, ..., 790, so calibration and test
frames are disjoint. Only the feature extractor and the box predictor are quantized (QDQ: weights
int8 per channel, activations uint8 with min-max ranges); the graph's resize, box decoding and
NMS stay float, so inputs and outputs keep their names and types.

Before quantizing, the graph's pre-processing is rewritten without changing its arithmetic: the
converter turned TensorFlow's per-image `map_fn` into a Loop that casts the whole full-size batch
to float, then gathers, transposes and resizes one image at a time. The rewrite transposes the
uint8 batch to NCHW, casts it and resizes the whole batch with the same Resize node (same mode
and sizes), and produces the same per-image shape tensor for the post-processor; its outputs are
bit-identical to the original graph's (checked here on the test frames, single and batched).

The int8 weights keep their full 8 bits. 7-bit weights (`reduce_range`, ONNX Runtime's remedy for
16-bit saturation on CPUs without VNNI) were measured with this script and cost too much recall:
95.2 % against the float model's 99.3 % on the test frames, beyond the 2-point rule; u8 weights
gave 95.2 % too, at twice the time. roeh instead runs its sessions with ONNX Runtime's exact
accumulation on such CPUs (design record 0007).

Recall is measured against one reference for both models: the people either model reports with
a score >= 0.5 (boxes of both merged at IoU >= 0.5); each model is then run at the shipped
threshold 0.4 and matched one-to-one at IoU >= 0.5. Agreement with the float model's own
detections at 0.4 is printed too.

With --method both, both variants are written next to OUT_ONNX (suffixes _static, _dynamic), each
is timed on the test frames and compared with the float model, and the chosen one is copied to
OUT_ONNX: the faster one whose person recall stays within 2 points of the float model's.
"""

import argparse
import platform
import shutil
import sys
import time
from pathlib import Path

import av
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime import quantization as q

INPUT = "image_tensor:0"
CALIBRATION_PICTURES = [40 * i for i in range(20)]
TEST_PICTURES = [10 + 20 * i for i in range(40)]
THRESHOLD = 0.4
IOU_MATCH = 0.5


def pictures(path, indices):
    """RGB24 pictures of `path` at the given decode indices, in order."""
    want = set(indices)
    got = {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                got[i] = f.to_ndarray(format="rgb24")
            if i >= max(want):
                break
    return [got[i] for i in sorted(want)]


def batch_preprocessing(model):
    """Replaces the pre-processing Loop by the same Resize applied to the whole batch."""
    g = model.graph
    stacked = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"
    loop = next(n for n in g.node if n.op_type == "Loop" and stacked in n.output)
    body = next(a for a in loop.attribute if a.name == "body").g
    resize = next(n for n in body.node if n.op_type == "Resize")
    body_consts = {i.name: numpy_helper.to_array(i) for i in body.initializer}
    hw = body_consts[resize_sizes_tail(body, resize)]
    true_shape = next(
        numpy_helper.to_array(i)
        for i in g.initializer
        if i.name == "Preprocessor/map/while/ResizeImage/stack_1:0"
    )
    images, shapes = loop.output[3], loop.output[2]
    x = g.input[0].name
    p = "Preprocessor/batched/"
    consts = {
        "hw": hw.astype(np.int64),
        "three": np.array([3], np.int64),
        "zero": np.array([0], np.int64),
        "one": np.array([1], np.int64),
        "true_shape": true_shape.reshape(1, -1),
    }
    g.initializer.extend(numpy_helper.from_array(v, p + k) for k, v in consts.items())
    attrs = {a.name: helper.get_attribute_value(a) for a in resize.attribute}
    new = [
        helper.make_node("Transpose", [x], [p + "nchw_u8"], perm=[0, 3, 1, 2], name=p + "transpose"),
        helper.make_node("Cast", [p + "nchw_u8"], [p + "nchw"], to=TensorProto.FLOAT, name=p + "cast"),
        helper.make_node("Shape", [x], [p + "shape"], name=p + "shape"),
        helper.make_node("Slice", [p + "shape", p + "zero", p + "one"], [p + "n"], name=p + "n"),
        helper.make_node("Concat", [p + "n", p + "three", p + "hw"], [p + "sizes"], axis=0, name=p + "sizes"),
        helper.make_node("Resize", [p + "nchw", "", "", p + "sizes"], [images], name=p + "resize", **attrs),
        helper.make_node("Concat", [p + "n", p + "one"], [p + "repeats"], axis=0, name=p + "repeats"),
        helper.make_node("Tile", [p + "true_shape", p + "repeats"], [shapes], name=p + "true_shapes"),
    ]
    rest = [n for n in g.node if n is not loop]
    g.ClearField("node")
    g.node.extend(new + rest)
    prune(g)
    onnx.checker.check_model(model)
    return model


def resize_sizes_tail(body, resize):
    """Name of the constant [height, width] that the loop's Resize sizes end with."""
    concat = next(n for n in body.node if n.output[0] == resize.input[3])
    return concat.input[1]


def prune(g):
    """Drops nodes and initializers nothing reaches the outputs through."""
    needed = {o.name for o in g.output}
    alive = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            alive.append(n)
            needed.update(n.input)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    for bn in a.g.node:
                        needed.update(bn.input)
    g.ClearField("node")
    g.node.extend(reversed(alive))
    unused = [i for i in g.initializer if i.name not in needed]
    for i in unused:
        g.initializer.remove(i)


def check_identical(original, rewritten, frames):
    a, b = session(original), session(rewritten)
    for batch in [frames[i : i + 1] for i in range(len(frames))] + [frames[:4]]:
        x = {INPUT: np.stack(batch)}
        for u, v in zip(a.run(None, x), b.run(None, x)):
            if not np.array_equal(u, v):
                raise SystemExit("the rewritten pre-processing changes the outputs")


def subgraph_refs(node):
    """Names a node reads, its subgraphs' references to the outer scope included."""
    refs = set(node.input)
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            inner = {o for n in a.g.node for o in n.output}
            inner |= {i.name for i in a.g.input} | {i.name for i in a.g.initializer}
            for n in a.g.node:
                refs |= {r for r in subgraph_refs(n) if r not in inner}
    refs.discard("")
    return refs


def sort_topologically(model):
    """Orders the nodes so that every value, outer-scope uses by Loop bodies included, is
    produced before it is read (the quantizer's output does not always keep this order, which
    ONNX's checker requires)."""
    g = model.graph
    ready = {i.name for i in g.input} | {i.name for i in g.initializer}
    pending = list(g.node)
    ordered = []
    while pending:
        left = []
        for n in pending:
            if subgraph_refs(n) <= ready:
                ordered.append(n)
                ready.update(n.output)
            else:
                left.append(n)
        if len(left) == len(pending):
            raise SystemExit(f"graph has a cycle or a missing value at {left[0].name}")
        pending = left
    g.ClearField("node")
    g.node.extend(ordered)
    onnx.checker.check_model(model)
    return model


class Frames(q.CalibrationDataReader):
    def __init__(self, frames):
        self.it = iter([{INPUT: f[None]} for f in frames])

    def get_next(self):
        return next(self.it, None)


def conv_nodes(model):
    return [n.name for n in model.graph.node if n.op_type == "Conv"]


def outside_backbone(model):
    """Nodes outside the feature extractor and box predictor (pre- and post-processing)."""
    keep = ("FeatureExtractor/", "BoxPredictor")
    return [n.name for n in model.graph.node if not n.name.startswith(keep)]


def quantize(src, dst, method, calib):
    model = onnx.load(src)
    if method == "static":
        q.quantize_static(
            src,
            dst,
            Frames(calib),
            quant_format=q.QuantFormat.QDQ,
            nodes_to_exclude=outside_backbone(model),
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
        )
    else:
        q.quantize_dynamic(
            src,
            dst,
            op_types_to_quantize=["Conv"],
            nodes_to_quantize=conv_nodes(model),
            per_channel=True,
            weight_type=q.QuantType.QUInt8,
        )


def needs_exact_int8():
    """As roeh decides (needs_exact_int8 in crates/roeh-detect/src/ort_detector.rs): an x86-64
    CPU with neither AVX-512 VNNI nor AVX-VNNI."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next(l for l in f if l.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return False
    return not flags & {"avx512_vnni", "avx_vnni"}


def session(path, threads=1):
    o = ort.SessionOptions()
    # As roeh runs every model: exact integer sums on x86-64 CPUs without VNNI too (see
    # EXACT_INT8_KEY in crates/roeh-detect/src/ort_detector.rs), so recall and timing are those
    # of roeh on this CPU.
    if needs_exact_int8():
        o.add_session_config_entry("session.x64quantprecision", "1")
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def detect(sess, frame, threshold=THRESHOLD):
    boxes, scores = sess.run(["detection_boxes:0", "detection_scores:0"], {INPUT: frame[None]})
    keep = scores[0] >= threshold
    return boxes[0][keep]


def iou(a, b):
    y0, x0 = max(a[0], b[0]), max(a[1], b[1])
    y1, x1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, y1 - y0) * max(0.0, x1 - x0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matched(reference, found):
    """Reference boxes matched one-to-one (greedy, IoU >= 0.5) by `found`."""
    used = set()
    hits = 0
    for r in reference:
        best, best_j = IOU_MATCH, None
        for j, f in enumerate(found):
            if j not in used and iou(r, f) >= best:
                best, best_j = iou(r, f), j
        if best_j is not None:
            used.add(best_j)
            hits += 1
    return hits


def merged(a, b):
    """Boxes of `a`, plus those of `b` that overlap none of them at IoU >= 0.5."""
    out = list(a)
    for x in b:
        if all(iou(x, y) < IOU_MATCH for y in a):
            out.append(x)
    return out


def evaluate(float_path, cand_path, frames):
    """(reference size, float hits, candidate hits, agreement hits, float count, ms per frame)."""
    fs, cs = session(float_path), session(cand_path)
    f4 = [detect(fs, f) for f in frames]
    c4 = [detect(cs, f) for f in frames]
    ref = [merged(detect(fs, f, 0.5), detect(cs, f, 0.5)) for f in frames]
    n_ref = sum(len(r) for r in ref)
    float_hits = sum(matched(r, g) for r, g in zip(ref, f4))
    cand_hits = sum(matched(r, g) for r, g in zip(ref, c4))
    agree = sum(matched(r, g) for r, g in zip(f4, c4))
    n_float = sum(len(r) for r in f4)
    return n_ref, float_hits, cand_hits, agree, n_float, timing(cs, frames)


def timing(sess, frames, rounds=3):
    for f in frames[:3]:
        sess.run(None, {INPUT: f[None]})
    t = time.process_time()
    for _ in range(rounds):
        for f in frames:
            sess.run(None, {INPUT: f[None]})
    return (time.process_time() - t) / (rounds * len(frames)) * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("float_model")
    p.add_argument("footage")
    p.add_argument("out")
    p.add_argument("--method", choices=["static", "dynamic", "both"], default="static")
    a = p.parse_args()
    out = Path(a.out)
    calib = pictures(a.footage, CALIBRATION_PICTURES)
    test = pictures(a.footage, TEST_PICTURES)
    methods = ["static", "dynamic"] if a.method == "both" else [a.method]
    rewritten = out.with_name(f"{out.stem}_float_batched.onnx")
    onnx.save(batch_preprocessing(onnx.load(a.float_model)), rewritten)
    check_identical(a.float_model, rewritten, test)
    print(f"float: batched pre-processing is bit-identical ({timing(session(rewritten), test):.2f} ms)")
    float_ms = timing(session(a.float_model), test)
    print(f"float: {float_ms:.2f} ms CPU per frame (1 thread)")
    results = []
    for m in methods:
        dst = out.with_name(f"{out.stem}_{m}.onnx") if a.method == "both" else out
        quantize(str(rewritten), str(dst), m, calib)
        onnx.save(sort_topologically(onnx.load(dst)), dst)
        n_ref, float_hits, hits, agree, n_float, ms = evaluate(a.float_model, dst, test)
        recall = 100.0 * hits / max(n_ref, 1)
        float_recall = 100.0 * float_hits / max(n_ref, 1)
        print(
            f"{m}: {ms:.2f} ms CPU per frame (1 thread); person recall on {len(test)} frames, "
            f"{n_ref} reference people: float {float_recall:.1f} %, {m} {recall:.1f} %; "
            f"agreement with float at {THRESHOLD}: {agree}/{n_float}"
        )
        results.append((m, dst, ms, recall, float_recall))
    if a.method == "both":
        ok = [r for r in results if r[3] >= r[4] - 2.0 and r[2] < float_ms]
        if not ok:
            print("no variant keeps recall within 2 points and is faster; nothing chosen")
            return 1
        m, dst = min(ok, key=lambda r: r[2])[:2]
        shutil.copyfile(dst, out)
        print(f"chosen: {m} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
