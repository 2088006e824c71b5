//! Low-level ISO BMFF box writing and reading.
//!
//! Invariants:
//! - [`BoxWriter`] always produces balanced boxes: a box is opened and closed by one closure
//!   call, and its 32-bit size is back-patched when the closure returns. A box that would not fit
//!   a 32-bit size is remembered and turned into an error by [`BoxWriter::finish`].
//! - The readers never index past a slice: every read is length-checked and a short read is a
//!   `DataLoss` error, never a panic.

use crate::Error;
use crate::codec::fourcc_str;
use roeh_domain::ErrorKind;

/// Builds boxes into a growing buffer.
#[derive(Debug, Default)]
pub(crate) struct BoxWriter {
    buf: Vec<u8>,
    oversize: bool,
}

impl BoxWriter {
    pub(crate) fn with_capacity(n: usize) -> Self {
        BoxWriter {
            buf: Vec::with_capacity(n),
            oversize: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Overwrites 8 bytes at `at` (which an earlier write reserved).
    pub(crate) fn patch_u64(&mut self, at: usize, v: u64) {
        if let Some(dst) = self.buf.get_mut(at..at + 8) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Overwrites 4 bytes at `at` (which an earlier write reserved).
    pub(crate) fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(dst) = self.buf.get_mut(at..at + 4) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// Writes a box of type `fourcc` whose payload `body` writes.
    pub(crate) fn boxed(&mut self, fourcc: &[u8; 4], body: impl FnOnce(&mut Self)) {
        let start = self.buf.len();
        self.u32(0);
        self.bytes(fourcc);
        body(self);
        match u32::try_from(self.buf.len() - start) {
            Ok(size) => self.patch_u32(start, size),
            Err(_) => self.oversize = true,
        }
    }

    /// Writes a full box (version and flags first).
    pub(crate) fn full(
        &mut self,
        fourcc: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut Self),
    ) {
        self.boxed(fourcc, |w| {
            w.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
            body(w);
        });
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, Error> {
        if self.oversize {
            return Err(Error::new(
                ErrorKind::ResourceExhausted,
                "a box exceeds 4 GiB; the sample table is too large",
            ));
        }
        Ok(self.buf)
    }
}

pub(crate) fn data_loss(msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::DataLoss, msg)
}

/// A bounds-checked big-endian reader over a byte slice.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    ctx: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], ctx: &'static str) -> Self {
        Reader { data, ctx }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.data
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.data.len() {
            return Err(data_loss(format!("{}: truncated", self.ctx)));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn fourcc(&mut self) -> Result<[u8; 4], Error> {
        self.array()
    }

    /// Reads a full box header: `(version, flags)`.
    pub(crate) fn full_header(&mut self) -> Result<(u8, u32), Error> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// Reads an entry count and checks that `count` entries of `entry_size` bytes fit in what
    /// is left, so the caller can allocate for them without trusting the file.
    pub(crate) fn count(&mut self, entry_size: usize) -> Result<usize, Error> {
        let n = self.u32()? as usize;
        if n.checked_mul(entry_size)
            .is_none_or(|b| b > self.data.len())
        {
            return Err(data_loss(format!(
                "{}: {n} entries do not fit in the box",
                self.ctx
            )));
        }
        Ok(n)
    }
}

/// Iterates over the child boxes of a payload, yielding `(type, payload)`.
///
/// Size 0 means "to the end of the parent", size 1 means a 64-bit size follows. A box that
/// claims more bytes than its parent holds is a `DataLoss` error, after which iteration stops.
/// Up to 7 trailing zero bytes (a QuickTime terminator) end the iteration quietly.
#[derive(Debug)]
pub(crate) struct Children<'a> {
    rest: &'a [u8],
}

pub(crate) fn children(payload: &[u8]) -> Children<'_> {
    Children { rest: payload }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<([u8; 4], &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || (self.rest.len() < 8 && self.rest.iter().all(|&b| b == 0)) {
            return None;
        }
        let item = self.parse_one();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

impl<'a> Children<'a> {
    fn parse_one(&mut self) -> Result<([u8; 4], &'a [u8]), Error> {
        let mut r = Reader::new(self.rest, "box header");
        let size32 = r.u32()?;
        let typ = r.fourcc()?;
        let (size, header) = match size32 {
            0 => (self.rest.len() as u64, 8u64),
            1 => (r.u64()?, 16),
            s => (u64::from(s), 8),
        };
        if size < header {
            return Err(data_loss(format!(
                "box {}: size {size} is smaller than its header",
                fourcc_str(&typ)
            )));
        }
        if size > self.rest.len() as u64 {
            return Err(data_loss(format!(
                "box {}: size {size} exceeds the {} bytes its parent holds",
                fourcc_str(&typ),
                self.rest.len()
            )));
        }
        // Both fit in usize: `size` is at most `rest.len()`.
        let (this, tail) = self.rest.split_at(size as usize);
        self.rest = tail;
        Ok((typ, &this[header as usize..]))
    }
}

/// The payload of the first child of type `fourcc`, if any.
pub(crate) fn find<'a>(payload: &'a [u8], fourcc: &[u8; 4]) -> Result<Option<&'a [u8]>, Error> {
    for child in children(payload) {
        let (typ, body) = child?;
        if &typ == fourcc {
            return Ok(Some(body));
        }
    }
    Ok(None)
}

/// The payload of the first child of type `fourcc`, or a `DataLoss` error naming it.
pub(crate) fn require<'a>(
    payload: &'a [u8],
    fourcc: &[u8; 4],
    parent: &str,
) -> Result<&'a [u8], Error> {
    find(payload, fourcc)?
        .ok_or_else(|| data_loss(format!("{parent} has no {} box", fourcc_str(fourcc))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_backpatches_nested_sizes() {
        let mut w = BoxWriter::default();
        w.boxed(b"moov", |w| {
            w.full(b"mvhd", 1, 3, |w| w.u32(7));
            w.boxed(b"free", |_| {});
        });
        let buf = w.finish().unwrap();
        assert_eq!(
            buf,
            [
                0, 0, 0, 32, b'm', b'o', b'o', b'v', //
                0, 0, 0, 16, b'm', b'v', b'h', b'd', 1, 0, 0, 3, 0, 0, 0, 7, //
                0, 0, 0, 8, b'f', b'r', b'e', b'e',
            ]
        );
        let kids: Vec<_> = children(&buf[8..]).collect::<Result<_, _>>().unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(&kids[0].0, b"mvhd");
        assert_eq!(kids[0].1, &[1, 0, 0, 3, 0, 0, 0, 7]);
    }

    #[test]
    fn children_size_semantics() {
        // Size 0: to the end of the parent.
        let b = [0, 0, 0, 0, b'a', b'b', b'c', b'd', 9, 9];
        let kids: Vec<_> = children(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(kids, vec![(*b"abcd", &[9u8, 9][..])]);
        // Size 1 with a 64-bit size.
        let b = [
            0, 0, 0, 1, b'a', b'b', b'c', b'd', 0, 0, 0, 0, 0, 0, 0, 17, 5,
        ];
        let kids: Vec<_> = children(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(kids, vec![(*b"abcd", &[5u8][..])]);
        // Hostile sizes.
        for b in [
            &[
                0, 0, 0, 1, b'a', b'b', b'c', b'd', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ][..],
            &[0, 0, 0, 1, b'a', b'b', b'c', b'd', 0, 0, 0, 0, 0, 0, 0, 3][..],
            &[0, 0, 0, 4, b'a', b'b', b'c', b'd'][..],
            &[0, 0, 0, 9, b'a', b'b', b'c', b'd'][..],
            &[0, 0, 1][..],
        ] {
            let r: Result<Vec<_>, _> = children(b).collect();
            assert_eq!(r.unwrap_err().kind(), ErrorKind::DataLoss, "{b:?}");
        }
        // A zero terminator ends the list.
        assert_eq!(children(&[0, 0, 0, 0]).count(), 0);
    }

    #[test]
    fn reader_counts_are_bounded() {
        let b = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        assert!(Reader::new(&b, "t").count(4).is_err());
        let b = [0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(Reader::new(&b, "t").count(4).unwrap(), 1);
    }
}
