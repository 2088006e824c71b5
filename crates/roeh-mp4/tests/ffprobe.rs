//! Remuxes the real test footage with this crate and checks the result with ffprobe and ffmpeg:
//! right codec, size, frame count and duration, clean decode, and sample bytes unchanged.

// Helpers here are test code; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use roeh_domain::{CodecParams, ErrorKind, VideoCodec, WallTime};
use roeh_mp4::{MuxOptions, SampleInfo, VideoTrack, build_header, read_video_track, write_mp4};
use roeh_testkit::output_ok;
use std::path::{Path, PathBuf};
use std::process::Command;

fn footage(name: &str) -> Vec<u8> {
    std::fs::read(roeh_testkit::footage(name)).unwrap()
}

/// The samples of `track` in `file`, as muxer input.
fn samples<'a>(track: &VideoTrack, file: &'a [u8]) -> Vec<(SampleInfo, &'a [u8])> {
    let infos = track.sample_infos_90k().unwrap();
    infos
        .into_iter()
        .enumerate()
        .map(|(i, info)| (info, track.sample_data(file, i).unwrap()))
        .collect()
}

fn remux(params: &[&CodecParams], input: &[(SampleInfo, &[u8])], opts: &MuxOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let n = write_mp4(params, input, &mut out, opts).unwrap();
    assert_eq!(n, out.len() as u64);
    out
}

/// `ffprobe -count_frames` on `path`: the first stream's JSON and the format's JSON.
fn ffprobe(path: &Path) -> (serde_json::Value, serde_json::Value) {
    let out = output_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-show_streams"])
            .args(["-show_format", "-of", "json"])
            .arg(path),
    );
    assert!(
        out.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{v}");
    (streams[0].clone(), v["format"].clone())
}

/// Decodes every frame with ffmpeg and asserts it exits 0 without a word on stderr.
fn assert_decodes_cleanly(path: &Path) {
    let out = output_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-f", "null", "-"]),
    );
    assert!(
        out.stderr.is_empty(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn as_f64(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap()
}

fn check_remux(name: &str, codec_name: &str, codec: VideoCodec, rfc6381_prefix: &str) {
    let file = footage(name);
    let track = read_video_track(&file).unwrap();
    assert_eq!(track.samples.len(), 795);
    assert_eq!(track.params.len(), 1);
    let p = &track.params[0];
    assert_eq!((p.codec, p.width, p.height), (codec, 768, 576));
    assert!(p.rfc6381.starts_with(rfc6381_prefix), "{}", p.rfc6381);
    let keys: Vec<usize> = (0..795).filter(|&i| track.samples[i].is_key).collect();
    assert_eq!(keys, (0..795).step_by(20).collect::<Vec<_>>());

    let input = samples(&track, &file);
    let opts = MuxOptions {
        creation_time: WallTime::parse("2026-11-22T20:11:58Z"),
        title: Some("Camera 7 — Marktplatz".to_owned()),
    };
    let out = remux(&[p], &input, &opts);
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "out.mp4", &out);

    let (stream, format) = ffprobe(&path);
    assert_eq!(stream["codec_name"], codec_name);
    assert_eq!(stream["width"], 768);
    assert_eq!(stream["height"], 576);
    assert_eq!(stream["nb_read_frames"], "795");
    let duration = as_f64(&stream["duration"]);
    assert!((duration - 79.5).abs() <= 0.2, "duration {duration}");
    assert_eq!(format["tags"]["title"], "Camera 7 — Marktplatz");
    assert_eq!(
        format["tags"]["creation_time"],
        "2026-11-22T20:11:58.000000Z"
    );
    assert_decodes_cleanly(&path);

    // Remux, not re-encode: every sample's bytes are unchanged, and the table round-trips.
    let back = read_video_track(&out).unwrap();
    assert_eq!(back.timescale, 90_000);
    assert_eq!(back.params, track.params);
    assert_eq!(back.samples.len(), 795);
    for (i, (info, data)) in input.iter().enumerate() {
        assert_eq!(back.sample_data(&out, i).unwrap(), *data, "sample {i}");
        let s = &back.samples[i];
        assert_eq!(
            (s.size, s.duration, s.is_key),
            (info.size, info.duration, info.is_key)
        );
    }
    assert_eq!(back.duration(), 795 * 9000);
}

#[test]
fn remux_h264_plays_and_keeps_bytes() {
    check_remux("vtest_h264.mp4", "h264", VideoCodec::H264, "avc1.4d");
}

#[test]
fn remux_h265_plays_and_keeps_bytes() {
    check_remux("vtest_h265.mp4", "hevc", VideoCodec::H265, "hvc1.1.6.L90");
}

/// Two parameter sets with different SPS and resolution in one file: two sample entries, and
/// `stsc` switching between them.
#[test]
fn parameter_change_mid_file_decodes() {
    let big = footage("vtest_h264.mp4");
    let small = footage("vtest_h264_small.mp4");
    let big_track = read_video_track(&big).unwrap();
    let small_track = read_video_track(&small).unwrap();
    assert_eq!(
        (small_track.params[0].width, small_track.params[0].height),
        (384, 288)
    );
    assert_ne!(big_track.params[0], small_track.params[0]);

    let mut input = samples(&big_track, &big)[..40].to_vec();
    for (mut info, data) in samples(&small_track, &small)[40..100].iter().copied() {
        info.entry = 1;
        input.push((info, data));
    }
    for (info, data) in samples(&big_track, &big)[100..140].iter().copied() {
        input.push((info, data));
    }
    let params = [&big_track.params[0], &small_track.params[0]];
    let out = remux(&params, &input, &MuxOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "mixed.mp4", &out);

    let (stream, _) = ffprobe(&path);
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["nb_read_frames"], "140");
    assert_decodes_cleanly(&path);

    // ffmpeg sees both resolutions, in the right places.
    let out_frames = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out_frames.status.success());
    let widths: Vec<u32> = String::from_utf8(out_frames.stdout)
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_end_matches(',').parse().unwrap())
        .collect();
    let expected: Vec<u32> = (0..140)
        .map(|i| if (40..100).contains(&i) { 384 } else { 768 })
        .collect();
    assert_eq!(widths, expected);

    let back = read_video_track(&out).unwrap();
    assert_eq!(back.params.len(), 2);
    let entries: Vec<usize> = back.samples.iter().map(|s| s.entry).collect();
    assert_eq!(
        entries,
        input.iter().map(|(s, _)| s.entry).collect::<Vec<_>>()
    );
    for (i, (_, data)) in input.iter().enumerate() {
        assert_eq!(back.sample_data(&out, i).unwrap(), *data, "sample {i}");
    }
}

/// The streaming path (header, then the sample bytes) gives exactly the `write_mp4` bytes.
#[test]
fn streamed_header_plus_samples_equals_write_mp4() {
    let file = footage("vtest_h265.mp4");
    let track = read_video_track(&file).unwrap();
    let input = samples(&track, &file);
    let opts = MuxOptions {
        creation_time: Some(WallTime::from_secs(1_700_000_000)),
        title: None,
    };
    let whole = remux(&[&track.params[0]], &input, &opts);

    let infos: Vec<SampleInfo> = input.iter().map(|(s, _)| *s).collect();
    let header = build_header(&[&track.params[0]], &infos, &opts).unwrap();
    let mut streamed = header.bytes.clone();
    for (_, data) in &input {
        streamed.extend_from_slice(data);
    }
    assert_eq!(streamed.len() as u64, header.total_len);
    assert_eq!(streamed, whole);
    // The first sample starts right after the header.
    let back = read_video_track(&whole).unwrap();
    assert_eq!(back.samples[0].offset, header.bytes.len() as u64);
}

#[test]
fn invalid_input_is_refused() {
    let file = footage("vtest_h264.mp4");
    let track = read_video_track(&file).unwrap();
    let p = &track.params[0];
    let good = track.sample_infos_90k().unwrap();
    let opts = MuxOptions::default();
    let kind = |params: &[&CodecParams], s: &[SampleInfo]| {
        build_header(params, s, &opts).unwrap_err().kind()
    };
    assert_eq!(kind(&[p], &[]), ErrorKind::InvalidArgument);
    assert_eq!(kind(&[], &good[..1]), ErrorKind::InvalidArgument);
    assert_eq!(
        kind(&[p], &good[1..]),
        ErrorKind::InvalidArgument,
        "first not key"
    );
    let mut s = good[..5].to_vec();
    s[2].size = 0;
    assert_eq!(kind(&[p], &s), ErrorKind::InvalidArgument, "zero size");
    let mut s = good[..5].to_vec();
    s[3].entry = 1;
    assert_eq!(
        kind(&[p], &s),
        ErrorKind::InvalidArgument,
        "entry out of range"
    );
    assert_eq!(
        kind(&[p, p], &s),
        ErrorKind::InvalidArgument,
        "entry change at non-key"
    );
    let mut bad = p.clone();
    bad.config_record[4] = 0xfd; // 2-byte NAL lengths
    assert_eq!(kind(&[&bad], &good), ErrorKind::InvalidArgument);
    bad.config_record.truncate(3);
    assert_eq!(kind(&[&bad], &good), ErrorKind::InvalidArgument);
    let long = MuxOptions {
        title: Some("x".repeat(2000)),
        ..MuxOptions::default()
    };
    let e = build_header(&[p], &good, &long).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);

    // write_mp4 checks the data against the table.
    let d0 = track.sample_data(&file, 0).unwrap();
    let mut info = good[0];
    info.size += 1;
    let e = write_mp4(&[p], &[(info, d0)], Vec::new(), &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let junk = [0xffu8; 8];
    let info = SampleInfo { size: 8, ..good[0] };
    let e = write_mp4(&[p], &[(info, &junk[..])], Vec::new(), &opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

/// Zero durations are written as is and the file still probes.
#[test]
fn zero_durations_are_accepted() {
    let file = footage("vtest_h264.mp4");
    let track = read_video_track(&file).unwrap();
    let mut input = samples(&track, &file)[..40].to_vec();
    input[5].0.duration = 0;
    let out = remux(&[&track.params[0]], &input, &MuxOptions::default());
    let back = read_video_track(&out).unwrap();
    assert_eq!(back.samples[5].duration, 0);
    assert_eq!(back.samples[6].decode_time, back.samples[5].decode_time);
    assert_eq!(back.duration(), 39 * 9000);
}

/// Over 4 GiB of samples: `co64` chunk offsets, a 64-bit `mdat` size, and (with a creation time
/// past 2040) version 1 time fields. The file is sparse: only the header is real; ffprobe reads the
/// header only, and the demuxer checks every offset against the file.
#[test]
fn large_file_uses_co64_and_largesize_mdat() {
    let file = footage("vtest_h264.mp4");
    let track = read_video_track(&file).unwrap();
    let samples: Vec<SampleInfo> = (0..1100)
        .map(|i| SampleInfo {
            size: 4 << 20,
            duration: 9000,
            is_key: i % 20 == 0,
            entry: 0,
        })
        .collect();
    let opts = MuxOptions {
        creation_time: WallTime::parse("2100-01-01T00:00:00Z"),
        title: None,
    };
    let header = build_header(&[&track.params[0]], &samples, &opts).unwrap();
    assert_eq!(
        header.total_len,
        header.bytes.len() as u64 + 1100 * (4 << 20)
    );
    let h = &header.bytes;
    assert!(h.windows(4).any(|w| w == b"co64"));
    assert!(!h.windows(4).any(|w| w == b"stco"));
    assert_eq!(&h[h.len() - 16..h.len() - 8], b"\0\0\0\x01mdat");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.mp4");
    let f = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &f, h).unwrap();
    f.set_len(header.total_len).unwrap();
    drop(f);

    // The sample data is zeros, so the decoder ffprobe uses for probing complains on stderr;
    // only the container must parse.
    let out = output_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_streams", "-show_format"])
            .args(["-of", "json"])
            .arg(&path),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("mov,mp4"), "demuxer complained: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["streams"][0]["nb_frames"], "1100");
    assert_eq!(v["streams"][0]["width"], 768);
    assert!((as_f64(&v["streams"][0]["duration"]) - 110.0).abs() < 0.01);
    assert_eq!(
        v["format"]["tags"]["creation_time"],
        "2100-01-01T00:00:00.000000Z"
    );

    let mut f = std::fs::File::open(&path).unwrap();
    let back = roeh_mp4::read_video_track_from(&mut f).unwrap();
    assert_eq!(back.samples.len(), 1100);
    let last = back.samples.last().unwrap();
    assert_eq!(last.offset + u64::from(last.size), header.total_len);
    assert!(last.offset > u64::from(u32::MAX));
    assert_eq!(back.samples.iter().filter(|s| s.is_key).count(), 55);
}

/// The live form: an initialisation segment and one fragment per picture, concatenated as a
/// Media Source buffer would receive them, starting mid-stream at a key frame with a decode time
/// far from zero. ffmpeg must read every picture with its time and decode them all cleanly.
#[test]
fn live_fragments_play_as_one_stream() {
    let file = footage("vtest_h264.mp4");
    let track = read_video_track(&file).unwrap();
    let input = samples(&track, &file);
    let start = 100; // a key frame (every 20th)
    let mut out = roeh_mp4::init_segment(&track.params[0]).unwrap();
    let base = 7 * 3600 * 90_000u64;
    let mut t = base;
    for (seq, (info, data)) in input[start..].iter().enumerate() {
        out.extend(
            roeh_mp4::media_fragment(&roeh_mp4::Fragment {
                sequence: seq as u32 + 1,
                decode_time: t,
                duration: info.duration,
                is_key: info.is_key,
                data,
            })
            .unwrap(),
        );
        t += u64::from(info.duration);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "live.mp4", &out);
    let (stream, _) = ffprobe(&path);
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["width"], 768);
    assert_eq!(
        stream["nb_read_frames"],
        (track.samples.len() - start).to_string()
    );
    assert_decodes_cleanly(&path);
}
