//! The decoder and its stage against real footage (vtest, 10 fps, a key frame every 20 pictures,
//! no B-frames), demuxed with roeh-mp4 into the access units ingest would produce.
#![allow(clippy::unwrap_used)]

use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Barrier, Mutex};

use bytes::Bytes;
use roeh_decode::{
    AnalysisRate, DecodeConfig, DecodeInput, DecodedFrame, Decoder, FrameSink, Offer, SinkResult,
    spawn_decode_stage,
};
use roeh_domain::{AccessUnit, CameraId, CodecParams, ErrorKind, Pts90k, WallTime};

/// The footage as access units, pts rescaled to 90 kHz.
fn load(name: &str) -> Vec<AccessUnit> {
    let bytes = std::fs::read(roeh_testkit::footage(name)).unwrap();
    let track = roeh_mp4::read_video_track(&bytes).unwrap();
    let params: Vec<Arc<CodecParams>> = track.params.iter().cloned().map(Arc::new).collect();
    let camera = CameraId::new_random();
    let start = WallTime::from_secs(1_700_000_000);
    track
        .samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let pts =
                i64::try_from(u128::from(s.decode_time) * 90_000 / u128::from(track.timescale))
                    .unwrap();
            AccessUnit {
                camera,
                pts: Pts90k(pts),
                received_at: WallTime(start.0 + pts * 100 / 9),
                is_key: s.is_key,
                params: Arc::clone(&params[s.entry]),
                data: Bytes::copy_from_slice(track.sample_data(&bytes, i).unwrap()),
            }
        })
        .collect()
}

fn cfg(rate: AnalysisRate) -> DecodeConfig {
    DecodeConfig {
        rate,
        ..DecodeConfig::default()
    }
}

/// Decodes every unit, collecting frames (leftovers included); errors are returned in order.
fn decode_all(
    d: &mut Decoder,
    aus: &[AccessUnit],
) -> (Vec<DecodedFrame>, Vec<(usize, roeh_decode::Error)>) {
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for (i, au) in aus.iter().enumerate() {
        match d.decode(au) {
            Ok(f) => frames.extend(f),
            Err(e) => errors.push((i, e)),
        }
        while let Some(f) = d.pop_ready() {
            frames.push(f);
        }
    }
    frames.extend(d.finish().unwrap());
    (frames, errors)
}

/// Variance of the green channel.
fn variance(f: &DecodedFrame) -> f64 {
    let g: Vec<f64> = f.data.chunks(3).map(|p| f64::from(p[1])).collect();
    let mean = g.iter().sum::<f64>() / g.len() as f64;
    g.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / g.len() as f64
}

/// Mean absolute difference per byte between two frames of equal size.
fn mean_abs_diff(a: &DecodedFrame, b: &DecodedFrame) -> f64 {
    assert_eq!(a.data.len(), b.data.len());
    let sum: u64 = a
        .data
        .iter()
        .zip(b.data.iter())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.data.len() as f64
}

fn check_frame(f: &DecodedFrame, w: u32, h: u32, sw: u32, sh: u32) {
    assert_eq!((f.width, f.height), (w, h));
    assert_eq!((f.source_width, f.source_height), (sw, sh));
    assert_eq!(f.data.len(), (w * h * 3) as usize);
}

#[test]
fn all_mode_decodes_every_picture_at_source_size() {
    let aus = load("vtest_h264_small.mp4");
    assert_eq!(aus.len(), 795);
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::All)).unwrap();
    let (frames, errors) = decode_all(&mut d, &aus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(frames.len(), aus.len());
    for (f, au) in frames.iter().zip(&aus) {
        check_frame(f, 384, 288, 384, 288);
        assert_eq!(f.pts, au.pts);
        assert_eq!(f.received_at, au.received_at);
        assert_eq!(f.is_key, au.is_key);
        assert_eq!(f.camera, au.camera);
    }
    let s = d.stats().snapshot();
    assert_eq!((s.received, s.decoded, s.analysed), (795, 795, 795));
    assert_eq!((s.errors, s.dropped_until_key, s.reopened), (0, 0, 1));
    assert!(!s.hw_fallback);
}

#[test]
fn all_mode_downscales_and_frames_carry_the_picture() {
    let aus = load("vtest_h264.mp4");
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::All)).unwrap();
    let (frames, errors) = decode_all(&mut d, &aus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(frames.len(), aus.len());
    for f in &frames {
        check_frame(f, 640, 480, 768, 576);
    }
    for f in frames.iter().step_by(50) {
        let v = variance(f);
        assert!(
            v > 200.0,
            "pts {}: variance {v} looks like a flat picture",
            f.pts.0
        );
    }
    // Pedestrians move: consecutive pictures differ, yet stay close (same scene).
    for w in frames.windows(2).step_by(37) {
        let diff = mean_abs_diff(&w[0], &w[1]);
        assert!(
            diff > 0.05 && diff < 30.0,
            "pts {}: diff {diff}",
            w[1].pts.0
        );
    }
}

#[test]
fn five_fps_from_ten_fps_takes_every_second_picture() {
    let aus = load("vtest_h264_small.mp4");
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::Fps(5.0))).unwrap();
    let (frames, errors) = decode_all(&mut d, &aus);
    assert!(errors.is_empty(), "{errors:?}");
    let expected: Vec<Pts90k> = aus
        .iter()
        .map(|a| a.pts)
        .filter(|p| p.0 % 18_000 == 0)
        .collect();
    assert_eq!(expected.len(), 398);
    assert_eq!(frames.iter().map(|f| f.pts).collect::<Vec<_>>(), expected);
    let s = d.stats().snapshot();
    assert_eq!((s.decoded, s.analysed), (795, 398));
    // Consecutive analysed frames differ.
    for w in frames.windows(2).step_by(20) {
        assert!(mean_abs_diff(&w[0], &w[1]) > 0.05);
    }
}

#[test]
fn other_rates_hold_on_average() {
    let aus = load("vtest_h264_small.mp4");
    let duration_s = 79.5;
    for fps in [1.0f32, 3.0, 7.5] {
        let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::Fps(fps))).unwrap();
        let (frames, _) = decode_all(&mut d, &aus);
        let expected = f64::from(fps) * duration_s;
        assert!(
            (frames.len() as f64 - expected).abs() <= 2.0,
            "{fps} fps: {} frames, expected about {expected}",
            frames.len()
        );
    }
}

#[test]
fn key_frames_only_decodes_only_key_frames() {
    let aus = load("vtest_h264_small.mp4");
    let keys: Vec<Pts90k> = aus.iter().filter(|a| a.is_key).map(|a| a.pts).collect();
    assert_eq!(keys.len(), 40);
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::KeyFramesOnly)).unwrap();
    let (frames, errors) = decode_all(&mut d, &aus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(frames.iter().map(|f| f.pts).collect::<Vec<_>>(), keys);
    assert!(frames.iter().all(|f| f.is_key));
    assert!(variance(&frames[10]) > 200.0);
    let s = d.stats().snapshot();
    assert_eq!((s.decoded, s.skipped_non_key), (40, 755));
}

#[test]
fn h265_decodes() {
    let aus = load("vtest_h265.mp4");
    let aus = &aus[..200];
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::All)).unwrap();
    let (frames, errors) = decode_all(&mut d, aus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(frames.len(), 200);
    for f in &frames {
        check_frame(f, 640, 480, 768, 576);
    }
    assert!(variance(&frames[100]) > 200.0);
    assert!(mean_abs_diff(&frames[100], &frames[101]) > 0.05);

    // Key frames only, on the whole file.
    let aus = load("vtest_h265.mp4");
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::KeyFramesOnly)).unwrap();
    let (frames, errors) = decode_all(&mut d, &aus);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(frames.len(), aus.iter().filter(|a| a.is_key).count());
}

#[test]
fn h264_and_h265_pictures_agree() {
    // The same source through both codecs: the analysed pictures should look alike.
    let h264 = load("vtest_h264.mp4");
    let h265 = load("vtest_h265.mp4");
    let mut a = Decoder::new(&h264[0].params, &cfg(AnalysisRate::All)).unwrap();
    let mut b = Decoder::new(&h265[0].params, &cfg(AnalysisRate::All)).unwrap();
    let (fa, _) = decode_all(&mut a, &h264[..41]);
    let (fb, _) = decode_all(&mut b, &h265[..41]);
    let same = mean_abs_diff(&fa[40], &fb[40]);
    let other = mean_abs_diff(&fa[40], &fb[0]);
    assert!(same < 8.0, "same picture differs by {same}");
    assert!(same < other, "same {same} vs other {other}");
}

/// A deterministic byte generator (xorshift).
fn noise(seed: &mut u64) -> u8 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 24) as u8
}

/// `au` with the payload of every NAL unit after its first few bytes replaced by noise; the
/// length prefixes stay valid.
fn scramble(au: &AccessUnit, seed: &mut u64) -> AccessUnit {
    let mut data = au.data.to_vec();
    let mut pos = 0;
    while pos + 4 <= data.len() {
        let len = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let nal = &mut data[pos + 4..pos + 4 + len];
        for b in nal.iter_mut().skip(6) {
            *b = noise(seed);
        }
        pos += 4 + len;
    }
    AccessUnit {
        data: Bytes::from(data),
        ..au.clone()
    }
}

#[test]
fn damaged_units_are_errors_or_skipped_and_decoding_resumes_at_a_key_frame() {
    for (name, w, h, sw, sh) in [
        ("vtest_h264_small.mp4", 384, 288, 384, 288),
        ("vtest_h265.mp4", 640, 480, 768, 576),
    ] {
        let aus = load(name);
        let mut aus: Vec<AccessUnit> = aus[..100].to_vec();
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        // A P picture full of noise, a truncated P picture, a key picture full of noise.
        aus[5] = scramble(&aus[5], &mut seed);
        let cut = aus[25].data.len() / 2;
        aus[25].data = aus[25].data.slice(..cut);
        aus[40] = scramble(&aus[40], &mut seed);
        let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::All)).unwrap();
        let mut got = Vec::new();
        for (i, au) in aus.iter().enumerate() {
            let r = d.decode(au);
            if i == 25 {
                let e = r.as_ref().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::DataLoss, "{e}");
                assert!(e.to_string().contains("NAL length"), "{e}");
            }
            match r {
                Ok(Some(f)) => got.push((i, f)),
                Ok(None) => {}
                Err(e) => eprintln!("{name} unit {i}: {e}"),
            }
        }
        let decoded: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        // Everything before the first damage decodes.
        assert_eq!(&decoded[..5], &[0, 1, 2, 3, 4], "{name}");
        // The key frames after each damage decode again, and so does the rest of their GOP.
        for i in (20..25).chain(60..100) {
            assert!(decoded.contains(&i), "{name}: picture {i} missing");
        }
        // Nothing between the truncated unit and the next key frame.
        assert!(!decoded.iter().any(|i| (25..40).contains(i)), "{name}");
        let s = d.stats().snapshot();
        assert!(s.errors >= 1, "{name}");
        assert!(s.dropped_until_key >= 14, "{name}: {s:?}");
        for (_, f) in &got {
            check_frame(f, w, h, sw, sh);
        }
    }
}

#[test]
fn garbage_key_frames_never_panic() {
    let aus = load("vtest_h264_small.mp4");
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::All)).unwrap();
    let mut seed = 42;
    for len in [1usize, 5, 50, 500, 5000] {
        let mut data = (len as u32).to_be_bytes().to_vec();
        data.extend((0..len).map(|_| noise(&mut seed)));
        let au = AccessUnit {
            data: Bytes::from(data),
            ..aus[0].clone()
        };
        let _ = d.decode(&au);
    }
    for bad in [&[][..], &[0, 0, 0, 0], &[0, 0, 0, 9, 1, 2]] {
        let au = AccessUnit {
            data: Bytes::copy_from_slice(bad),
            ..aus[0].clone()
        };
        assert_eq!(d.decode(&au).unwrap_err().kind(), ErrorKind::DataLoss);
    }
    // A good key frame decodes again.
    let f = d.decode(&aus[20]).unwrap().unwrap();
    assert_eq!(f.pts, aus[20].pts);
}

#[test]
fn starting_on_a_non_key_frame_waits_for_one() {
    let aus = load("vtest_h264_small.mp4");
    let mut d = Decoder::new(&aus[0].params, &cfg(AnalysisRate::All)).unwrap();
    for au in &aus[3..20] {
        assert!(d.decode(au).unwrap().is_none());
    }
    assert_eq!(d.stats().snapshot().dropped_until_key, 17);
    let f = d.decode(&aus[20]).unwrap().unwrap();
    assert!(f.is_key);
}

#[test]
fn new_parameters_reopen_the_decoder() {
    let small = load("vtest_h264_small.mp4");
    let h265 = load("vtest_h265.mp4");
    let mut d = Decoder::new(&small[0].params, &cfg(AnalysisRate::All)).unwrap();
    for au in &small[..5] {
        check_frame(&d.decode(au).unwrap().unwrap(), 384, 288, 384, 288);
    }
    // Equal parameters in a new Arc: no reopen.
    let mut copy = small[5].clone();
    copy.params = Arc::new((*copy.params).clone());
    assert!(d.decode(&copy).unwrap().is_some());
    assert_eq!(d.stats().snapshot().reopened, 1);
    // Another codec and size mid-stream, starting on a non-key unit, then at a key frame.
    assert!(d.decode(&h265[1]).unwrap().is_none());
    assert_eq!(d.stats().snapshot().reopened, 2);
    assert_eq!(d.stats().snapshot().dropped_until_key, 1);
    for au in &h265[20..30] {
        check_frame(&d.decode(au).unwrap().unwrap(), 640, 480, 768, 576);
    }
    // And back.
    for au in &small[40..45] {
        check_frame(&d.decode(au).unwrap().unwrap(), 384, 288, 384, 288);
    }
    assert_eq!(d.stats().snapshot().reopened, 3);
}

#[test]
fn frame_threads_deliver_every_picture() {
    let aus = load("vtest_h264_small.mp4");
    let c = DecodeConfig {
        threads: 4,
        ..cfg(AnalysisRate::All)
    };
    let mut d = Decoder::new(&aus[0].params, &c).unwrap();
    let (frames, errors) = decode_all(&mut d, &aus[..100]);
    assert!(errors.is_empty(), "{errors:?}");
    let pts: Vec<Pts90k> = frames.iter().map(|f| f.pts).collect();
    assert_eq!(pts, aus[..100].iter().map(|a| a.pts).collect::<Vec<_>>());
}

#[test]
fn cuda_request_without_gpu_falls_back_to_software() {
    let aus = load("vtest_h264_small.mp4");
    let c = DecodeConfig {
        hwaccel: roeh_decode::HwAccel::Cuda,
        ..cfg(AnalysisRate::All)
    };
    let mut d = Decoder::new(&aus[0].params, &c).unwrap();
    let f = d.decode(&aus[0]).unwrap().unwrap();
    check_frame(&f, 384, 288, 384, 288);
    // On a machine with a working NVDEC the hardware decoder opens; otherwise the fallback is
    // flagged. Either way exactly one of the two holds.
    assert_ne!(d.is_hardware(), d.stats().snapshot().hw_fallback);
}

#[test]
fn config_parses_from_toml() {
    let c: DecodeConfig = toml::from_str("rate = { fps = 2.5 }\nmax_width = 320").unwrap();
    assert_eq!(c.rate, AnalysisRate::Fps(2.5));
    assert_eq!((c.max_width, c.threads), (320, 1));
    let c: DecodeConfig = toml::from_str("rate = \"key_frames_only\"").unwrap();
    assert_eq!(c.rate, AnalysisRate::KeyFramesOnly);
    let c: DecodeConfig = toml::from_str("hwaccel = \"cuda\"\nrate = \"all\"").unwrap();
    assert_eq!(c.hwaccel, roeh_decode::HwAccel::Cuda);
    assert!(toml::from_str::<DecodeConfig>("max_widht = 3").is_err());
    let bad: DecodeConfig = toml::from_str("rate = { fps = 0.0 }").unwrap();
    assert!(bad.validate().is_err());
    assert!(Decoder::new(&load("vtest_h264_small.mp4")[0].params, &bad).is_err());
}

// ---- the stage ----

/// A sink that holds the stage thread on its first frame until the test lets it go, and records
/// every frame and the name of the thread that delivered it.
struct GateSink {
    gate: Option<Arc<Barrier>>,
    frames: Arc<Mutex<Vec<DecodedFrame>>>,
    thread: Arc<Mutex<Option<String>>>,
}

impl FrameSink for GateSink {
    fn offer(&mut self, frame: DecodedFrame) -> SinkResult {
        *self.thread.lock().unwrap() = std::thread::current().name().map(str::to_owned);
        self.frames.lock().unwrap().push(frame);
        if let Some(gate) = self.gate.take() {
            gate.wait();
        }
        SinkResult::Sent
    }
}

/// Offers `au`, waiting for room when it is a key frame (a producer that keeps going).
fn offer_keeping_keys(input: &DecodeInput, au: &AccessUnit) -> Offer {
    loop {
        let r = input.offer(au.clone());
        if r == Offer::DroppedFull && au.is_key {
            std::thread::sleep(std::time::Duration::from_millis(2));
            continue;
        }
        return r;
    }
}

#[test]
fn stage_flooded_drops_until_the_next_key_frame() {
    let aus = load("vtest_h264_small.mp4");
    let gate = Arc::new(Barrier::new(2));
    let frames = Arc::new(Mutex::new(Vec::new()));
    let thread = Arc::new(Mutex::new(None));
    let sink = GateSink {
        gate: Some(Arc::clone(&gate)),
        frames: Arc::clone(&frames),
        thread: Arc::clone(&thread),
    };
    let c = DecodeConfig {
        queue_capacity: 2,
        ..cfg(AnalysisRate::All)
    };
    let (input, stage) = spawn_decode_stage(aus[0].camera, &c, sink).unwrap();
    // The stage holds on its first frame while ingest floods it.
    let offers: Vec<Offer> = aus[..50].iter().map(|a| input.offer(a.clone())).collect();
    assert!(offers.contains(&Offer::DroppedFull));
    assert!(offers.iter().filter(|o| **o == Offer::Queued).count() <= 3);
    let first_drop = offers
        .iter()
        .position(|o| *o == Offer::DroppedFull)
        .unwrap();
    // After the first drop only key frames may be queued.
    for (i, o) in offers.iter().enumerate().skip(first_drop + 1) {
        if *o == Offer::Queued {
            assert!(aus[i].is_key);
        } else if !aus[i].is_key {
            assert_eq!(*o, Offer::DroppedUntilKey, "unit {i}");
        }
    }
    gate.wait();
    let mut queued = offers.iter().filter(|o| **o == Offer::Queued).count() as u64;
    for au in &aus[50..200] {
        if offer_keeping_keys(&input, au) == Offer::Queued {
            queued += 1;
        }
    }
    drop(input);
    let stats = stage.stats();
    stage.join().unwrap();

    let name = thread.lock().unwrap().clone().unwrap();
    assert!(name.starts_with("decode-") && name.len() == 15, "{name}");
    let frames = frames.lock().unwrap();
    assert_eq!(frames[0].pts, aus[0].pts);
    assert!(frames.len() < 200);
    // Every jump in the sequence lands on a key frame.
    let index = |p: Pts90k| aus.iter().position(|a| a.pts == p).unwrap();
    let mut jumps = 0;
    for w in frames.windows(2) {
        let (a, b) = (index(w[0].pts), index(w[1].pts));
        assert!(b > a);
        if b != a + 1 {
            jumps += 1;
            assert!(
                w[1].is_key && aus[b].is_key,
                "jump {a} -> {b} is not to a key frame"
            );
        }
    }
    assert!(jumps >= 1);
    // The producer waited for room at key frames, so the last one was decoded.
    assert!(aus[180].is_key);
    assert!(frames.iter().any(|f| f.pts == aus[180].pts));
    let s = stats.snapshot();
    // Every offer is accounted for (key frames that waited for room were offered repeatedly).
    assert!(s.received >= 200);
    assert_eq!(s.received, queued + s.dropped_full + s.dropped_until_key);
    assert_eq!(s.decoded, queued);
    assert!(s.dropped_full >= 1 && s.dropped_until_key >= 10, "{s:?}");
    assert_eq!(s.analysed as usize, frames.len());
    assert_eq!(s.errors, 0);
}

#[test]
fn stage_output_full_drops_newest_and_never_blocks() {
    let aus = load("vtest_h264_small.mp4");
    let (tx, rx): (_, Receiver<DecodedFrame>) = sync_channel(1);
    let c = DecodeConfig {
        queue_capacity: 1024,
        ..cfg(AnalysisRate::All)
    };
    let (input, stage) = spawn_decode_stage(aus[0].camera, &c, tx).unwrap();
    for au in &aus {
        assert_eq!(input.offer(au.clone()), Offer::Queued);
    }
    drop(input);
    let stats = stage.stats();
    // Nobody reads the output, yet the stage gets through everything and ends.
    stage.join().unwrap();
    let s = stats.snapshot();
    assert_eq!((s.received, s.decoded, s.analysed), (795, 795, 795));
    assert_eq!(s.dropped_output, 794);
    assert_eq!(s.dropped_full, 0);
    let kept: Vec<DecodedFrame> = rx.try_iter().collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].pts, aus[0].pts);
}

#[test]
fn stage_feeds_a_tokio_consumer_and_skips_non_key_units_at_the_door() {
    let aus = load("vtest_h265.mp4");
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let c = DecodeConfig {
        queue_capacity: 4,
        ..cfg(AnalysisRate::KeyFramesOnly)
    };
    let (input, stage) = spawn_decode_stage(aus[0].camera, &c, tx).unwrap();
    for au in &aus {
        let r = offer_keeping_keys(&input, au);
        assert_eq!(
            r,
            if au.is_key {
                Offer::Queued
            } else {
                Offer::SkippedNonKey
            }
        );
    }
    drop(input);
    let mut got = Vec::new();
    while let Some(f) = rx.blocking_recv() {
        got.push(f);
    }
    stage.join().unwrap();
    assert_eq!(got.len(), 40);
    assert!(got.iter().all(|f| f.is_key && f.width == 640));
}

#[test]
fn stage_ends_when_the_consumer_goes_away() {
    let aus = load("vtest_h264_small.mp4");
    let (tx, rx) = sync_channel::<DecodedFrame>(4);
    let (input, stage) = spawn_decode_stage(aus[0].camera, &cfg(AnalysisRate::All), tx).unwrap();
    drop(rx);
    let stats = stage.stats();
    for au in &aus[..20] {
        offer_keeping_keys(&input, au);
    }
    roeh_testkit::wait_for(
        "the stage to end",
        std::time::Duration::from_secs(30),
        || stage.is_finished().then_some(()),
    )
    .unwrap();
    stage.join().unwrap();
    assert_eq!(input.offer(aus[20].clone()), Offer::Closed);
    assert!(stats.snapshot().decoded >= 1);
}
