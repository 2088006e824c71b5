//! RTSP ingest through retina.
//!
//! `DESCRIBE` with credentials passed as client options (never in the URL), `SETUP` of the first
//! H.264 or H.265 video stream over TCP-interleaved or UDP per [`Camera::transport`], `PLAY`, then
//! demuxed frames. Other codecs (MJPEG, audio-only presentations) are refused with an
//! "unsupported codec" error.
//!
//! Frames use 4-byte length-prefixed NAL framing. Key frames carry their parameter sets in-band
//! (retina strips the camera's own copies and prepends the current SPS/PPS, and VPS for H.265, to
//! every random access point), so every key frame decodes on its own; the same parameter sets are
//! in [`CodecParams::config_record`] (avcC / hvcC). `pts` is the RTP timestamp elapsed since the
//! start of the stream, converted to 90 kHz.
//!
//! H.265 random access: retina flags only IDR pictures as random access points. An access unit
//! holding any IRAP picture (BLA, IDR or CRA; NAL types 16..=23) is a key frame here, as in MP4
//! sync samples and GStreamer's parsers, and one that lacks in-band parameter sets gets the VPS,
//! SPS and PPS of the current hvcC prepended, so all key frames look alike.
//!
//! Every error text passes through [`redact`] before it leaves this module.

use crate::source::{BoxFuture, MediaStream, Opener};
use crate::{Error, redact};
use bytes::Bytes;
use futures::StreamExt;
use retina::client::{
    Demuxed, PlayOptions, SessionGroup, SessionOptions, SetupOptions, TcpTransportOptions,
    UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParameterSetInsertion, ParametersRef};
use roeh_domain::{
    AccessUnit, Camera, CameraId, Clock, CodecParams, Credentials, ErrorKind, Pts90k, Transport,
    VideoCodec,
};
use std::sync::Arc;

/// Opens cameras over RTSP with retina. Cheap to share: one per process is enough.
pub struct RetinaOpener {
    group: Arc<SessionGroup>,
    user_agent: String,
}

impl std::fmt::Debug for RetinaOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetinaOpener")
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Default for RetinaOpener {
    fn default() -> Self {
        RetinaOpener::new()
    }
}

impl RetinaOpener {
    /// An opener whose sessions share one retina session group (for stale-session tracking).
    pub fn new() -> Self {
        RetinaOpener {
            group: Arc::new(SessionGroup::default()),
            user_agent: format!("roeh/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl Opener for RetinaOpener {
    fn open<'a>(
        &'a self,
        camera: &'a Camera,
        clock: Arc<dyn Clock>,
    ) -> BoxFuture<'a, Result<Box<dyn MediaStream>, Error>> {
        Box::pin(async move {
            let s = open_session(self, camera, clock).await?;
            Ok(Box::new(s) as Box<dyn MediaStream>)
        })
    }
}

fn wrap(kind: ErrorKind, what: &str, e: &retina::Error, creds: Option<&Credentials>) -> Error {
    Error::new(kind, redact(&format!("{what}: {e}"), creds))
}

async fn open_session(
    opener: &RetinaOpener,
    camera: &Camera,
    clock: Arc<dyn Clock>,
) -> Result<RetinaStream, Error> {
    let creds = camera.credentials.as_ref();
    let options = SessionOptions::default()
        .creds(creds.map(|c| retina::client::Credentials {
            username: c.username.clone(),
            password: c.password.expose().to_owned(),
        }))
        .user_agent(opener.user_agent.clone())
        .session_group(opener.group.clone());
    let url = camera.url.as_url().clone();
    let mut session = retina::client::Session::describe(url, options)
        .await
        .map_err(|e| wrap(ErrorKind::Unavailable, "RTSP DESCRIBE failed", &e, creds))?;

    let streams = session.streams();
    let chosen = streams.iter().enumerate().find_map(|(i, s)| {
        if s.media() != "video" {
            return None;
        }
        match s.encoding_name() {
            "h264" => Some((i, VideoCodec::H264)),
            "h265" => Some((i, VideoCodec::H265)),
            _ => None,
        }
    });
    let Some((idx, codec)) = chosen else {
        let offered: Vec<String> = streams
            .iter()
            .map(|s| format!("{}/{}", s.media(), s.encoding_name()))
            .collect();
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "unsupported codec: the camera offers [{}]; only H.264 and H.265 video can be recorded",
                offered.join(", ")
            ),
        ));
    };

    let transport = match camera.transport {
        Transport::Tcp => retina::client::Transport::Tcp(TcpTransportOptions::default()),
        Transport::Udp => retina::client::Transport::Udp(UdpTransportOptions::default()),
    };
    let format = FrameFormat {
        parameter_set_insertion: ParameterSetInsertion::EachKeyFrame,
        ..FrameFormat::MP4
    };
    session
        .setup(
            idx,
            SetupOptions::default()
                .transport(transport)
                .frame_format(format),
        )
        .await
        .map_err(|e| wrap(ErrorKind::Unavailable, "RTSP SETUP failed", &e, creds))?;
    let playing = session
        .play(PlayOptions::default())
        .await
        .map_err(|e| wrap(ErrorKind::Unavailable, "RTSP PLAY failed", &e, creds))?;
    let demuxed = playing
        .demuxed()
        .map_err(|e| wrap(ErrorKind::Unavailable, "RTSP demuxing failed", &e, creds))?;
    let clock_rate = demuxed
        .streams()
        .get(idx)
        .map(|s| s.clock_rate_hz())
        .unwrap_or(90_000);
    if clock_rate == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the camera declared an RTP clock rate of 0",
        ));
    }
    let mut s = RetinaStream {
        demuxed: Box::pin(demuxed),
        idx,
        codec,
        clock_rate,
        params: None,
        camera: camera.id,
        clock,
        creds: camera.credentials.clone(),
    };
    s.params = s.read_params().ok();
    Ok(s)
}

/// A playing retina session, yielding the chosen video stream's frames.
struct RetinaStream {
    demuxed: std::pin::Pin<Box<Demuxed>>,
    idx: usize,
    codec: VideoCodec,
    clock_rate: u32,
    params: Option<Arc<CodecParams>>,
    camera: CameraId,
    clock: Arc<dyn Clock>,
    creds: Option<Credentials>,
}

impl RetinaStream {
    fn read_params(&self) -> Result<Arc<CodecParams>, Error> {
        let stream = self.demuxed.streams().get(self.idx);
        match stream.and_then(|s| s.parameters()) {
            Some(ParametersRef::Video(v)) => {
                let (width, height) = v.pixel_dimensions();
                Ok(Arc::new(CodecParams {
                    codec: self.codec,
                    width,
                    height,
                    rfc6381: v.rfc6381_codec().to_owned(),
                    config_record: v.extra_data().to_vec(),
                }))
            }
            _ => Err(Error::new(
                ErrorKind::DataLoss,
                "a video frame arrived before its codec parameters",
            )),
        }
    }

    async fn next_frame(&mut self) -> Result<Option<AccessUnit>, Error> {
        loop {
            let item = match self.demuxed.next().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(wrap(
                        ErrorKind::Unavailable,
                        "RTSP stream failed",
                        &e,
                        self.creds.as_ref(),
                    ));
                }
                Some(Ok(item)) => item,
            };
            let CodecItem::VideoFrame(frame) = item else {
                continue;
            };
            if frame.stream_id() != self.idx {
                continue;
            }
            if frame.has_new_parameters() || self.params.is_none() {
                self.params = Some(self.read_params()?);
            }
            let Some(params) = self.params.clone() else {
                continue;
            };
            let elapsed = i128::from(frame.timestamp().elapsed());
            let pts90 = elapsed * 90_000 / i128::from(self.clock_rate);
            let pts = Pts90k(i64::try_from(pts90).unwrap_or(i64::MAX));
            let mut is_key = frame.is_random_access_point();
            let mut data = frame.into_data();
            if self.codec == VideoCodec::H265 && !is_key && h265::has_irap(&data) {
                is_key = true;
                if !h265::has_parameter_sets(&data) {
                    data = h265::prepend_parameter_sets(&params.config_record, data);
                }
            }
            return Ok(Some(AccessUnit {
                camera: self.camera,
                pts,
                received_at: self.clock.wall(),
                is_key,
                params,
                data: Bytes::from(data),
            }));
        }
    }
}

impl MediaStream for RetinaStream {
    fn next(&mut self) -> BoxFuture<'_, Result<Option<AccessUnit>, Error>> {
        Box::pin(self.next_frame())
    }
}

/// H.265 NAL inspection on 4-byte length-prefixed access units. Malformed input yields "no".
mod h265 {
    /// NAL unit types of the units in `data`, stopping at the first malformed length.
    fn nal_types(data: &[u8]) -> impl Iterator<Item = u8> + '_ {
        let mut rest = data;
        std::iter::from_fn(move || {
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let nal = rest.get(4..4usize.checked_add(len)?)?;
            rest = &rest[4 + len..];
            Some(nal.first().map_or(0xff, |h| (h >> 1) & 0x3f))
        })
    }

    /// Whether `data` holds an IRAP picture (BLA, IDR, CRA or reserved IRAP: types 16..=23).
    pub(super) fn has_irap(data: &[u8]) -> bool {
        nal_types(data).any(|t| (16..=23).contains(&t))
    }

    /// Whether `data` carries a VPS (32) or SPS (33) in-band.
    pub(super) fn has_parameter_sets(data: &[u8]) -> bool {
        nal_types(data).any(|t| t == 32 || t == 33)
    }

    /// The VPS, SPS and PPS NAL units listed in an hvcC, in that order.
    fn parameter_sets(hvcc: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let Some(&arrays) = hvcc.get(22) else {
            return out;
        };
        let mut pos = 23usize;
        for _ in 0..arrays {
            let (Some(&kind), Some(n)) = (hvcc.get(pos), hvcc.get(pos + 1..pos + 3)) else {
                return Vec::new();
            };
            let kind = kind & 0x3f;
            let n = u16::from_be_bytes([n[0], n[1]]);
            pos += 3;
            for _ in 0..n {
                let Some(l) = hvcc.get(pos..pos + 2) else {
                    return Vec::new();
                };
                let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
                let Some(nal) = hvcc.get(pos + 2..pos + 2 + len) else {
                    return Vec::new();
                };
                if matches!(kind, 32..=34) && !nal.is_empty() {
                    out.push(nal);
                }
                pos += 2 + len;
            }
        }
        out.sort_by_key(|n| (n[0] >> 1) & 0x3f);
        out
    }

    /// `data` with the hvcC's parameter sets prepended, length-prefixed.
    pub(super) fn prepend_parameter_sets(hvcc: &[u8], data: Vec<u8>) -> Vec<u8> {
        let sets = parameter_sets(hvcc);
        if sets.is_empty() {
            return data;
        }
        let extra: usize = sets.iter().map(|s| 4 + s.len()).sum();
        let mut out = Vec::with_capacity(extra + data.len());
        for s in sets {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s);
        }
        out.extend_from_slice(&data);
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn finds_irap_and_prepends_parameter_sets() {
            let cra = [0, 0, 0, 3, 21 << 1, 1, 0xaa];
            let trail = [0, 0, 0, 3, 1 << 1, 1, 0xbb];
            assert!(has_irap(&cra));
            assert!(!has_irap(&trail));
            assert!(!has_irap(&[0xff, 0, 0, 0, 21 << 1]));
            assert!(!has_parameter_sets(&cra));
            // hvcC header (22 bytes), 3 arrays: SPS, VPS, PPS (out of order on purpose).
            let mut hvcc = vec![1u8; 22];
            hvcc.push(3);
            for (t, body) in [
                (33u8, [33 << 1, 1, 7]),
                (32, [32 << 1, 1, 8]),
                (34, [34 << 1, 1, 9]),
            ] {
                hvcc.extend_from_slice(&[0x80 | t, 0, 1, 0, 3]);
                hvcc.extend_from_slice(&body);
            }
            let out = prepend_parameter_sets(&hvcc, cra.to_vec());
            let types: Vec<u8> = nal_types(&out).collect();
            assert_eq!(types, [32, 33, 34, 21]);
            assert!(has_parameter_sets(&out));
            // A truncated hvcC leaves the data alone.
            assert_eq!(
                prepend_parameter_sets(&hvcc[..30], cra.to_vec()),
                cra.to_vec()
            );
        }
    }
}
