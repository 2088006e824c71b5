//! Decoder configuration records (`avcC`, `hvcC`): the few fields roeh reads from them.
//!
//! Invariant: nothing here trusts a record's length; every accessor checks it and answers `None`
//! for a record too short or of an unknown version.

/// Length in bytes of the NAL unit length prefix the record declares (1, 2 or 4).
pub(crate) fn nal_length_size(codec_is_hevc: bool, rec: &[u8]) -> Option<u8> {
    let at = if codec_is_hevc { 21 } else { 4 };
    if rec.first() != Some(&1) || rec.len() <= at {
        return None;
    }
    Some((rec[at] & 0b11) + 1)
}

/// RFC 6381 codec string of an `AVCDecoderConfigurationRecord`, e.g. `avc1.4d401e`.
pub(crate) fn avc_rfc6381(prefix: &str, rec: &[u8]) -> Option<String> {
    if rec.len() < 7 || rec[0] != 1 {
        return None;
    }
    Some(format!(
        "{prefix}.{:02x}{:02x}{:02x}",
        rec[1], rec[2], rec[3]
    ))
}

/// RFC 6381 codec string of an `HEVCDecoderConfigurationRecord` (ISO/IEC 14496-15 annex E),
/// e.g. `hvc1.1.6.L93.B0`.
pub(crate) fn hevc_rfc6381(prefix: &str, rec: &[u8]) -> Option<String> {
    if rec.len() < 23 || rec[0] != 1 {
        return None;
    }
    let space = match rec[1] >> 6 {
        0 => "",
        1 => "A",
        2 => "B",
        _ => "C",
    };
    let tier = if rec[1] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = rec[1] & 0x1f;
    let compat = u32::from_be_bytes([rec[2], rec[3], rec[4], rec[5]]).reverse_bits();
    let level = rec[12];
    let mut s = format!("{prefix}.{space}{profile}.{compat:X}.{tier}{level}");
    let constraints = &rec[6..12];
    let keep = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1);
    for b in &constraints[..keep] {
        s.push_str(&format!(".{b:02X}"));
    }
    Some(s)
}

/// A four-character code for messages: printable ASCII as is, anything else escaped.
pub(crate) fn fourcc_str(t: &[u8; 4]) -> String {
    t.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_string() {
        let rec = [1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0];
        assert_eq!(avc_rfc6381("avc1", &rec).as_deref(), Some("avc1.4d401e"));
        assert_eq!(nal_length_size(false, &rec), Some(4));
        assert_eq!(avc_rfc6381("avc1", &rec[..6]), None);
    }

    #[test]
    fn hevc_string() {
        // Main profile, compatibility flags 0x60000000, level 93, constraint byte 0xB0.
        let mut rec = [0u8; 23];
        rec[0] = 1;
        rec[1] = 0x01;
        rec[2..6].copy_from_slice(&0x6000_0000u32.to_be_bytes());
        rec[6] = 0xb0;
        rec[12] = 93;
        rec[21] = 0x0f;
        assert_eq!(
            hevc_rfc6381("hvc1", &rec).as_deref(),
            Some("hvc1.1.6.L93.B0")
        );
        assert_eq!(nal_length_size(true, &rec), Some(4));
        rec[1] = 0x62; // profile space 1, high tier, profile 2
        rec[6] = 0;
        assert_eq!(hevc_rfc6381("hev1", &rec).as_deref(), Some("hev1.A2.6.H93"));
    }
}
