//! PostgreSQL's binary COPY format (`PGCOPY`), read from the chunks of a
//! `COPY ... TO STDOUT (FORMAT binary)`: the header, then per tuple a field
//! count and per field a length (-1 = NULL) and the value in its binary wire
//! form (the same bytes as in a DataRow), then a trailer of -1.
//!
//! PostgreSQL sends one tuple per CopyData message (the header rides in the
//! first), but the protocol does not promise it: a tuple split across chunks
//! is carried over, and the common case copies nothing.
//!
//! Format: <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>

use std::fmt;

/// "PGCOPY\n\377\r\n\0", then the flags and the header extension's length.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
const HEADER: usize = 11 + 4 + 4;
/// Bits 0-15 of the flags are critical format changes; bit 16 says each
/// tuple carries an OID, which this reader was not asked for.
const CRITICAL_FLAGS: u32 = 0x0001_ffff;

/// Data that is not the binary COPY format this reader was asked for.
#[derive(Debug)]
pub(crate) struct Malformed(String);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed binary COPY data from the server: {}", self.0)
    }
}

fn malformed<T>(why: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(why.into()))
}

/// Reads the tuples of one COPY, chunk by chunk.
pub(crate) struct Reader {
    /// The byte width of each column whose binary form has a fixed size: a
    /// value of another size means the result is not what the prepare
    /// described (its decoders would misread it).
    widths: Vec<Option<usize>>,
    header: bool,
    trailer: bool,
    /// The start of a header or tuple that the last chunk cut off.
    carry: Vec<u8>,
}

/// The fields of one complete tuple, in column order: `None` for NULL.
pub(crate) struct Fields<'a> {
    b: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The tuple was measured before it was handed out: every length and
        // value is there.
        let (len, rest) = self.b.split_at(4);
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        if len < 0 {
            self.b = rest;
            return Some(None);
        }
        let (value, rest) = rest.split_at(len as usize);
        self.b = rest;
        Some(Some(value))
    }
}

impl Reader {
    /// A reader for tuples of `widths.len()` columns.
    pub(crate) fn new(widths: Vec<Option<usize>>) -> Reader {
        Reader {
            widths,
            header: false,
            trailer: false,
            carry: Vec::new(),
        }
    }

    /// Calls `tuple` for every tuple that `chunk` completes, in order.
    pub(crate) fn feed<E: From<Malformed>>(
        &mut self,
        chunk: &[u8],
        mut tuple: impl FnMut(Fields<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.carry.is_empty() {
            let used = self.read(chunk, &mut tuple)?;
            self.carry.extend_from_slice(&chunk[used..]);
        } else {
            let mut carry = std::mem::take(&mut self.carry);
            carry.extend_from_slice(chunk);
            let used = self.read(&carry, &mut tuple)?;
            carry.drain(..used);
            self.carry = carry;
        }
        Ok(())
    }

    /// The end of the data: it must have ended with the trailer.
    pub(crate) fn finish(&self) -> Result<(), Malformed> {
        if !self.trailer || !self.carry.is_empty() {
            return malformed("the data ended without its trailer");
        }
        Ok(())
    }

    /// Reads what is complete in `b`; returns how many bytes it used.
    fn read<E: From<Malformed>>(
        &mut self,
        b: &[u8],
        tuple: &mut impl FnMut(Fields<'_>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut pos = 0;
        if !self.header {
            let Some(len) = self.header_len(b)? else {
                return Ok(0);
            };
            self.header = true;
            pos = len;
        }
        while pos < b.len() {
            if self.trailer {
                return Err(Malformed("data after the trailer".into()).into());
            }
            let Some(len) = self.tuple_len(&b[pos..])? else {
                break;
            };
            let count = i16::from_be_bytes([b[pos], b[pos + 1]]);
            if count == -1 {
                self.trailer = true;
            } else {
                tuple(Fields {
                    b: &b[pos + 2..pos + len],
                    left: self.widths.len(),
                })?;
            }
            pos += len;
        }
        Ok(pos)
    }

    /// The header's length, once `b` holds all of it.
    fn header_len(&self, b: &[u8]) -> Result<Option<usize>, Malformed> {
        if b.len() < HEADER {
            return Ok(None);
        }
        if &b[..11] != SIGNATURE {
            return malformed("no PGCOPY signature");
        }
        let flags = u32::from_be_bytes([b[11], b[12], b[13], b[14]]);
        if flags & CRITICAL_FLAGS != 0 {
            return malformed(format!("unexpected header flags {flags:#x}"));
        }
        let ext = u32::from_be_bytes([b[15], b[16], b[17], b[18]]) as usize;
        Ok((b.len() >= HEADER + ext).then_some(HEADER + ext))
    }

    /// The length of the tuple (or trailer) at the start of `b`, once `b`
    /// holds all of it.
    fn tuple_len(&self, b: &[u8]) -> Result<Option<usize>, Malformed> {
        let Some(count) = b.get(..2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            return Ok(Some(2));
        }
        if usize::try_from(count).ok() != Some(self.widths.len()) {
            return malformed(format!(
                "a tuple of {count} fields where the statement has {} columns",
                self.widths.len()
            ));
        }
        let mut pos = 2;
        for (i, width) in self.widths.iter().enumerate() {
            let Some(len) = b.get(pos..pos + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            pos += 4;
            if len == -1 {
                continue;
            }
            let Ok(len) = usize::try_from(len) else {
                return malformed(format!("field length {len}"));
            };
            if width.is_some_and(|w| w != len) {
                return malformed(format!(
                    "a {len}-byte value in column {}, whose type is {} bytes wide (did the result's types change after the prepare?)",
                    i + 1,
                    width.unwrap_or_default()
                ));
            }
            pos += len;
            if b.len() < pos {
                return Ok(None);
            }
        }
        Ok(Some(pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header, then `tuples` (each field `None` for NULL), then the trailer.
    fn copy(tuples: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        for t in tuples {
            b.extend_from_slice(&(t.len() as i16).to_be_bytes());
            for f in *t {
                match f {
                    None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        b.extend_from_slice(v);
                    }
                }
            }
        }
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b
    }

    type Rows = Vec<Vec<Option<Vec<u8>>>>;

    /// Feeds `data` cut into chunks of `size` bytes; returns the tuples read.
    fn read(widths: Vec<Option<usize>>, data: &[u8], size: usize) -> Result<Rows, Malformed> {
        let mut r = Reader::new(widths);
        let mut rows = Vec::new();
        for chunk in data.chunks(size.max(1)) {
            r.feed(chunk, |fields| {
                rows.push(fields.map(|f| f.map(<[u8]>::to_vec)).collect());
                Ok::<_, Malformed>(())
            })?;
        }
        r.finish()?;
        Ok(rows)
    }

    #[test]
    fn tuples_come_out_whole_however_the_data_is_cut() {
        let data = copy(&[
            &[Some(&[0, 0, 0, 7]), Some(b"seven"), None],
            &[None, Some(b""), Some(b"x")],
        ]);
        let want: Rows = vec![
            vec![Some(vec![0, 0, 0, 7]), Some(b"seven".to_vec()), None],
            vec![None, Some(Vec::new()), Some(b"x".to_vec())],
        ];
        for size in 1..=data.len() {
            let got = read(vec![Some(4), None, None], &data, size).unwrap();
            assert_eq!(got, want, "chunks of {size}");
        }
    }

    #[test]
    fn an_empty_result_is_a_header_and_a_trailer() {
        assert!(read(vec![None], &copy(&[]), 64).unwrap().is_empty());
    }

    #[test]
    fn a_header_extension_is_skipped() {
        let mut data = copy(&[&[Some(b"a")]]);
        data[15..19].copy_from_slice(&3u32.to_be_bytes());
        data.splice(19..19, [9, 9, 9]);
        assert_eq!(
            read(vec![None], &data, 5).unwrap(),
            vec![vec![Some(b"a".to_vec())]]
        );
    }

    #[test]
    fn what_is_not_the_expected_format_is_refused() {
        let fails = |widths: Vec<Option<usize>>, data: &[u8], why: &str| {
            let e = read(widths, data, 7).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        };
        let good = copy(&[&[Some(&[0, 1])]]);
        fails(vec![Some(2), None], &good, "a tuple of 1 fields");
        fails(vec![Some(4)], &good, "a 2-byte value in column 1");
        fails(
            vec![Some(2)],
            &good[..good.len() - 2],
            "without its trailer",
        );
        fails(
            vec![Some(2)],
            &good[..good.len() - 1],
            "without its trailer",
        );
        let mut more = good.clone();
        more.extend_from_slice(&[0, 1]);
        fails(vec![Some(2)], &more, "after the trailer");
        let mut oids = good.clone();
        oids[11..15].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        fails(vec![Some(2)], &oids, "header flags 0x10000");
        let mut sig = good.clone();
        sig[0] = b'X';
        fails(vec![Some(2)], &sig, "no PGCOPY signature");
        let mut neg = copy(&[&[None]]);
        neg[21..25].copy_from_slice(&(-2i32).to_be_bytes());
        fails(vec![None], &neg, "field length -2");
    }
}
