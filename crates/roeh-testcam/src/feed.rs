//! The endless picture sequence one camera session pushes into its `appsrc`.
//!
//! Invariants:
//! - a feed starts at the clip's first picture, which is a key frame;
//! - pass `k` of the clip (counting from 0) is shifted by `k ×` [`Clip::duration`], so PTS and DTS
//!   keep increasing across the loop boundary and the stream never jumps back;
//! - buffers share the clip's memory; only timestamps and flags are written.

use std::sync::Arc;

use gstreamer as gst;

use crate::clip::Clip;

/// Position of one camera session in its endless loop over the clip.
#[derive(Debug)]
pub(crate) struct Feed {
    clip: Arc<Clip>,
    index: usize,
    pass: u64,
    started: bool,
}

impl Feed {
    pub(crate) fn new(clip: Arc<Clip>) -> Feed {
        Feed {
            clip,
            index: 0,
            pass: 0,
            started: false,
        }
    }

    /// The next picture, timestamped for its place in the endless stream. `None` only for an
    /// empty clip, which [`Clip::load`] never returns.
    pub(crate) fn next_buffer(&mut self) -> Option<gst::Buffer> {
        let pictures = self.clip.pictures();
        let picture = pictures.get(self.index)?;
        let offset = gst::ClockTime::from_nseconds(
            self.clip
                .clock_duration()
                .nseconds()
                .saturating_mul(self.pass),
        );
        let mut buffer = picture.buffer.clone();
        {
            let b = buffer.make_mut();
            b.set_pts(picture.rel_pts.saturating_add(offset));
            b.set_dts(picture.rel_dts.saturating_add(offset));
            b.set_duration(picture.duration);
            if self.started {
                b.unset_flags(gst::BufferFlags::DISCONT);
            } else {
                b.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        self.started = true;
        self.index += 1;
        if self.index >= pictures.len() {
            self.index = 0;
            self.pass += 1;
        }
        Some(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_clip() -> Arc<Clip> {
        let path = crate::default_footage_dir().join("vtest_h264_small.mp4");
        Arc::new(Clip::load(&path).expect("footage from scripts/setup.sh"))
    }

    #[test]
    fn timestamps_keep_increasing_across_loops() {
        let clip = small_clip();
        let n = clip.frames();
        assert!(n > 1);
        let mut feed = Feed::new(Arc::clone(&clip));
        let buffers: Vec<gst::Buffer> = (0..2 * n + 3)
            .map(|_| feed.next_buffer().unwrap())
            .collect();

        let first = &buffers[0];
        assert_eq!(first.pts(), Some(gst::ClockTime::ZERO));
        assert!(
            !first.flags().contains(gst::BufferFlags::DELTA_UNIT),
            "starts at a key frame"
        );
        assert!(first.flags().contains(gst::BufferFlags::DISCONT));

        for w in buffers.windows(2) {
            assert!(
                w[1].pts() > w[0].pts(),
                "PTS {:?} then {:?}",
                w[0].pts(),
                w[1].pts()
            );
            assert!(
                w[1].dts() > w[0].dts(),
                "DTS {:?} then {:?}",
                w[0].dts(),
                w[1].dts()
            );
            assert!(!w[1].flags().contains(gst::BufferFlags::DISCONT));
        }
        // Pass k starts exactly k clip durations after the first.
        assert_eq!(buffers[n].pts(), Some(clip.clock_duration()));
        assert_eq!(
            buffers[2 * n].pts(),
            Some(gst::ClockTime::from_nseconds(
                2 * clip.clock_duration().nseconds()
            ))
        );
        assert!(!buffers[n].flags().contains(gst::BufferFlags::DELTA_UNIT));
        // The payload is the file's, untouched.
        let a = buffers[1].map_readable().unwrap();
        let b = buffers[n + 1].map_readable().unwrap();
        assert_eq!(a.as_slice(), b.as_slice());
    }

    #[test]
    fn clip_matches_the_footage() {
        let clip = small_clip();
        assert_eq!(clip.codec(), roeh_domain::VideoCodec::H264);
        assert_eq!((clip.width(), clip.height()), (384, 288));
        assert_eq!(clip.frames(), 795);
        assert_eq!(clip.duration(), std::time::Duration::from_millis(79_500));
        assert!(clip.bytes() > 0);
    }
}
