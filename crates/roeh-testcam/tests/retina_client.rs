//! The project's own RTSP client (retina) reads the test cameras, with digest credentials.

mod common;

use std::sync::Arc;

use common::footage;
use futures::StreamExt;
use retina::client::{
    Credentials, PlayOptions, SessionGroup, SessionOptions, SetupOptions, TcpTransportOptions,
    Transport,
};
use retina::codec::{CodecItem, ParametersRef};
use roeh_testcam::{TestCamConfig, TestCamServer};

/// Reads `frames` video frames; returns (pixel size, 90 kHz timestamps, key flags).
async fn read_frames(
    url: &str,
    creds: Option<Credentials>,
    frames: usize,
) -> Result<((u32, u32), Vec<i64>, Vec<bool>), retina::Error> {
    let opts = SessionOptions::default()
        .creds(creds)
        .session_group(Arc::new(SessionGroup::default()));
    let mut session =
        retina::client::Session::describe(url::Url::parse(url).expect("valid URL"), opts).await?;
    let video = session
        .streams()
        .iter()
        .position(|s| s.media() == "video")
        .expect("a video stream");
    session
        .setup(
            video,
            SetupOptions::default().transport(Transport::Tcp(TcpTransportOptions::default())),
        )
        .await?;
    let mut session = session.play(PlayOptions::default()).await?.demuxed()?;
    let mut size = (0, 0);
    let (mut ts, mut keys) = (Vec::new(), Vec::new());
    while ts.len() < frames {
        match session.next().await {
            Some(Ok(CodecItem::VideoFrame(f))) => {
                ts.push(f.timestamp().elapsed());
                keys.push(f.is_random_access_point());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => break,
        }
        if let Some(ParametersRef::Video(v)) = session.streams()[video].parameters() {
            size = v.pixel_dimensions();
        }
    }
    Ok((size, ts, keys))
}

#[tokio::test]
async fn retina_reads_with_digest_credentials() {
    let cfg = TestCamConfig {
        credentials: Some(("viewer".to_owned(), "digest-pass".to_owned())),
        ..TestCamConfig::new(footage("vtest_h264.mp4"), 2)
    };
    let server = TestCamServer::start(cfg).unwrap();
    let creds = |pass: &str| {
        Some(Credentials {
            username: "viewer".to_owned(),
            password: pass.to_owned(),
        })
    };

    let (size, ts, keys) = read_frames(&server.url(1), creds("digest-pass"), 25)
        .await
        .expect("retina reads with the right password");
    assert_eq!(size, (768, 576));
    assert_eq!(ts.len(), 25);
    assert!(keys[0], "the first frame is not a key frame");
    assert!(keys[20], "the footage has a key frame every 20 frames");
    for w in ts.windows(2) {
        assert_eq!(
            w[1] - w[0],
            9_000,
            "10 fps is 9000 ticks of 90 kHz per frame: {ts:?}"
        );
    }

    let wrong = read_frames(&server.url(1), creds("nope"), 1).await;
    let err = wrong
        .expect_err("a wrong password was accepted")
        .to_string();
    assert!(err.contains("401"), "expected 401, got: {err}");
    let anonymous = read_frames(&server.url(1), None, 1).await;
    assert!(anonymous.is_err(), "an anonymous client was accepted");
}
