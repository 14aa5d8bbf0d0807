//! The XCom as a Python pickle, for stock DockerOperator's
//! `retrieve_output=True` (it `pickle.load`s a file the container left).
//!
//! JSON text is transcoded straight into pickle protocol 2 opcodes, which
//! Python 2.7 and 3 both load, as `json.loads` would build the value: `None`,
//! `bool`, `int` of any size (exact: digits are converted, never through a
//! float), `float`, `str` (`BINUNICODE`), `list` and `dict` (filled in batches
//! of 1000 with `MARK`/`APPENDS`/`SETITEMS`, as Python's own pickler does).
//! It streams and it is iterative: memory is one small frame per open
//! container, so a 10,000-deep value is no harder than a flat one.
//! Opcodes and encodings: CPython `Lib/pickle.py` (`save_long`, `encode_long`,
//! `save_float`, `save_str`, `_batch_appends`).

use std::io::{self, Read, Write};

const PROTO: u8 = 0x80;
const STOP: u8 = b'.';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const BININT: u8 = b'J';
const LONG1: u8 = 0x8a;
const LONG4: u8 = 0x8b;
const BINFLOAT: u8 = b'G';
const BINUNICODE: u8 = b'X';
const EMPTY_LIST: u8 = b']';
const EMPTY_DICT: u8 = b'}';
const MARK: u8 = b'(';
const APPENDS: u8 = b'e';
const SETITEMS: u8 = b'u';

/// Python's pickler batches list and dict items by this many (`_BATCHSIZE`).
const BATCH: usize = 1000;

/// Decimal digits converted to a pickled integer at most: the conversion is
/// quadratic, and Python itself refuses to parse more than 4300 digits by
/// default (`sys.set_int_max_str_digits`).
pub const MAX_INT_DIGITS: usize = 100_000;

/// Transcodes one JSON value read from `input` into a protocol 2 pickle.
/// Malformed JSON is an `InvalidData` error naming the byte offset.
pub fn json_to_pickle(input: impl Read, out: impl Write) -> io::Result<()> {
    let mut t = Transcoder {
        input: Input::new(input),
        out: io::BufWriter::with_capacity(256 * 1024, out),
        stack: Vec::new(),
    };
    t.run()?;
    t.out.flush()
}

/// An open list or dict, and how many items its current batch holds.
struct Frame {
    dict: bool,
    batch: usize,
}

struct Transcoder<R, W: Write> {
    input: Input<R>,
    out: io::BufWriter<W>,
    stack: Vec<Frame>,
}

impl<R: Read, W: Write> Transcoder<R, W> {
    fn run(&mut self) -> io::Result<()> {
        self.out.write_all(&[PROTO, 2])?;
        'value: loop {
            // A value starts here.
            match self.input.peek_non_ws()? {
                Some(b'[') | Some(b'{') => {
                    let dict = self.input.next()? == Some(b'{');
                    self.out
                        .write_all(&[if dict { EMPTY_DICT } else { EMPTY_LIST }])?;
                    let close = if dict { b'}' } else { b']' };
                    if self.input.peek_non_ws()? == Some(close) {
                        self.input.next()?;
                    } else {
                        self.stack.push(Frame { dict, batch: 0 });
                        self.begin_item()?;
                        continue 'value;
                    }
                }
                Some(b'"') => self.string()?,
                Some(b't') => self.literal(b"true", NEWTRUE)?,
                Some(b'f') => self.literal(b"false", NEWFALSE)?,
                Some(b'n') => self.literal(b"null", NONE)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                other => return Err(self.input.unexpected(other, "a JSON value")),
            }
            // A value is complete: it is an item of the open container, if any,
            // and may complete that container in turn.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    break 'value;
                };
                top.batch += 1;
                let (dict, close) = (top.dict, if top.dict { b'}' } else { b']' });
                let flush = if dict { SETITEMS } else { APPENDS };
                if top.batch == BATCH {
                    top.batch = 0;
                    self.out.write_all(&[flush])?;
                }
                match self.input.peek_non_ws()? {
                    Some(b',') => {
                        self.input.next()?;
                        self.begin_item()?;
                        continue 'value;
                    }
                    Some(c) if c == close => {
                        self.input.next()?;
                        if self.stack.pop().is_some_and(|f| f.batch > 0) {
                            self.out.write_all(&[flush])?;
                        }
                    }
                    other => {
                        let what = if dict { "`,` or `}`" } else { "`,` or `]`" };
                        return Err(self.input.unexpected(other, what));
                    }
                }
            }
        }
        match self.input.peek_non_ws()? {
            None => self.out.write_all(&[STOP]),
            other => Err(self.input.unexpected(other, "the end of the JSON text")),
        }
    }

    /// Before an item of the innermost container: opens a batch if none is
    /// open, and for a dict reads the key and its `:`.
    fn begin_item(&mut self) -> io::Result<()> {
        let Some(top) = self.stack.last() else {
            return Ok(());
        };
        let dict = top.dict;
        if top.batch == 0 {
            self.out.write_all(&[MARK])?;
        }
        if dict {
            match self.input.peek_non_ws()? {
                Some(b'"') => self.string()?,
                other => return Err(self.input.unexpected(other, "a string key")),
            }
            match self.input.peek_non_ws()? {
                Some(b':') => {
                    self.input.next()?;
                }
                other => return Err(self.input.unexpected(other, "`:`")),
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8], op: u8) -> io::Result<()> {
        for &expected in word {
            let got = self.input.next()?;
            if got != Some(expected) {
                return Err(self.input.unexpected(got, "a JSON literal"));
            }
        }
        self.out.write_all(&[op])
    }

    /// A JSON string as `BINUNICODE`: UTF-8, a lone surrogate escape written
    /// as Python's `surrogatepass` writes it (and reads it back).
    fn string(&mut self) -> io::Result<()> {
        self.input.next()?; // the opening quote
        let mut text: Vec<u8> = Vec::new();
        loop {
            let run = self.input.take_until(|b| b == b'"' || b == b'\\')?;
            text.extend_from_slice(run);
            match self.input.next()? {
                Some(b'"') => break,
                Some(b'\\') => {}
                other => return Err(self.input.unexpected(other, "the end of the string")),
            }
            let escaped = self.input.next()?;
            let byte = match escaped {
                Some(b'"') => b'"',
                Some(b'\\') => b'\\',
                Some(b'/') => b'/',
                Some(b'b') => 0x08,
                Some(b'f') => 0x0c,
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                Some(b't') => b'\t',
                Some(b'u') => {
                    let mut unit = self.hex4()?;
                    if (0xd800..0xdc00).contains(&unit) && self.input.peek()? == Some(b'\\') {
                        // A pair `\uD83D\uDE00` is one character; a high
                        // surrogate followed by anything else stays lone.
                        self.input.next()?;
                        if self.input.next()? != Some(b'u') {
                            return Err(self.input.unexpected(None, "`\\u` after a surrogate"));
                        }
                        let low = self.hex4()?;
                        if (0xdc00..0xe000).contains(&low) {
                            unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                        } else {
                            push_code_point(&mut text, unit);
                            unit = low;
                        }
                    }
                    push_code_point(&mut text, unit);
                    continue;
                }
                other => return Err(self.input.unexpected(other, "an escape character")),
            };
            text.push(byte);
        }
        let len = u32::try_from(text.len())
            .map_err(|_| invalid("a string is over 4 GiB, which pickle protocol 2 cannot hold"))?;
        self.out.write_all(&[BINUNICODE])?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&text)
    }

    fn hex4(&mut self) -> io::Result<u32> {
        let mut unit = 0u32;
        for _ in 0..4 {
            let got = self.input.next()?;
            let digit = got
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.input.unexpected(got, "a hex digit"))?;
            unit = unit * 16 + digit;
        }
        Ok(unit)
    }

    /// A JSON number: `int` when it has no fraction and no exponent (as
    /// `json.loads`), else `float`.
    fn number(&mut self) -> io::Result<()> {
        let token = self
            .input
            .take_until(|b| !(b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')))?
            .to_vec();
        let bad = || {
            invalid(format!(
                "`{}` is not a JSON number",
                String::from_utf8_lossy(&token)
            ))
        };
        if token.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
            let text = std::str::from_utf8(&token).map_err(|_| bad())?;
            let value: f64 = text.parse().map_err(|_| bad())?;
            self.out.write_all(&[BINFLOAT])?;
            return self.out.write_all(&value.to_be_bytes());
        }
        let (negative, digits) = match token.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, &token[..]),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        if digits.len() <= 18 {
            let mut v: i64 = digits.iter().fold(0, |v, d| v * 10 + i64::from(d - b'0'));
            if negative {
                v = -v;
            }
            return self.small_int(v);
        }
        if digits.len() > MAX_INT_DIGITS {
            return Err(invalid(format!(
                "an integer of {} digits is over the {MAX_INT_DIGITS} digits the pickle writer converts",
                digits.len()
            )));
        }
        let bytes = long_bytes(negative, &magnitude(digits));
        self.long(&bytes)
    }

    /// `save_long`'s choice of opcode for an integer that fits an `i64`.
    fn small_int(&mut self, v: i64) -> io::Result<()> {
        if let Ok(b) = u8::try_from(v) {
            self.out.write_all(&[BININT1, b])
        } else if let Ok(w) = u16::try_from(v) {
            self.out.write_all(&[BININT2])?;
            self.out.write_all(&w.to_le_bytes())
        } else if let Ok(i) = i32::try_from(v) {
            self.out.write_all(&[BININT])?;
            self.out.write_all(&i.to_le_bytes())
        } else {
            let negative = v < 0;
            let mag = v.unsigned_abs();
            let limbs = [mag as u32, (mag >> 32) as u32];
            self.long(&long_bytes(negative, &limbs))
        }
    }

    fn long(&mut self, bytes: &[u8]) -> io::Result<()> {
        match u8::try_from(bytes.len()) {
            Ok(n) => self.out.write_all(&[LONG1, n])?,
            Err(_) => {
                let n = u32::try_from(bytes.len()).map_err(|_| invalid("integer too large"))?;
                self.out.write_all(&[LONG4])?;
                self.out.write_all(&n.to_le_bytes())?;
            }
        }
        self.out.write_all(bytes)
    }
}

/// UTF-8 for a code point; a surrogate as its three-byte form (`surrogatepass`).
fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    match char::from_u32(cp) {
        Some(c) => {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        None => out.extend_from_slice(&[
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
    }
}

/// The magnitude of a decimal digit string, as little-endian 32-bit limbs.
fn magnitude(digits: &[u8]) -> Vec<u32> {
    let mut limbs: Vec<u32> = Vec::with_capacity(digits.len() / 9 + 1);
    for chunk in digits.chunks(9) {
        let scale = 10u64.pow(chunk.len() as u32);
        let mut carry = chunk.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
        for limb in &mut limbs {
            let v = u64::from(*limb) * scale + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    limbs
}

/// `encode_long`: little-endian two's complement in the fewest bytes.
fn long_bytes(negative: bool, limbs: &[u32]) -> Vec<u8> {
    let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return bytes;
    }
    if !negative {
        if bytes.last().is_some_and(|b| b & 0x80 != 0) {
            bytes.push(0);
        }
        return bytes;
    }
    // -m = !m + 1 over the same width, then a sign byte if the top bit is clear.
    let mut carry = true;
    for b in &mut bytes {
        let (v, c) = (!*b).overflowing_add(u8::from(carry));
        *b = v;
        carry = c;
    }
    if bytes.last().is_some_and(|b| b & 0x80 == 0) {
        bytes.push(0xff);
    }
    bytes
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// A buffered byte reader that knows its offset, for error messages.
struct Input<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Offset of `buf[0]` in the input.
    base: u64,
    /// A token that straddled buffers, gathered.
    spill: Vec<u8>,
}

impl<R: Read> Input<R> {
    fn new(reader: R) -> Self {
        Input {
            reader,
            buf: vec![0; 64 * 1024],
            pos: 0,
            len: 0,
            base: 0,
            spill: Vec::new(),
        }
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        self.base += self.len as u64;
        self.pos = 0;
        self.len = loop {
            match self.reader.read(&mut self.buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        Ok(self.len > 0)
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.fill()?.then(|| self.buf[self.pos]))
    }

    fn next(&mut self) -> io::Result<Option<u8>> {
        let b = self.peek()?;
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    fn peek_non_ws(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
            self.pos += 1;
        }
        Ok(None)
    }

    /// The bytes up to (not including) the first one matching `stop`, or to
    /// the end of the input.
    fn take_until(&mut self, stop: impl Fn(u8) -> bool) -> io::Result<&[u8]> {
        // A token may straddle buffers: gather it in `carry` across refills.
        let mut carry: Option<Vec<u8>> = None;
        loop {
            if !self.fill()? {
                break;
            }
            let start = self.pos;
            let end = self.buf[start..self.len]
                .iter()
                .position(|&b| stop(b))
                .map_or(self.len, |i| start + i);
            self.pos = end;
            if end < self.len {
                if let Some(mut c) = carry {
                    c.extend_from_slice(&self.buf[start..end]);
                    self.spill = c;
                    return Ok(&self.spill);
                }
                return Ok(&self.buf[start..end]);
            }
            carry
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&self.buf[start..end]);
        }
        self.spill = carry.unwrap_or_default();
        Ok(&self.spill)
    }

    fn unexpected(&self, got: Option<u8>, wanted: &str) -> io::Error {
        let at = self.base + self.pos as u64;
        match got {
            Some(b) => invalid(format!(
                "invalid JSON at byte {at}: expected {wanted}, got `{}`",
                char::from(b).escape_default()
            )),
            None => invalid(format!(
                "invalid JSON at byte {at}: expected {wanted}, got the end of the text"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pickle(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        json_to_pickle(json.as_bytes(), &mut out).unwrap();
        out
    }

    #[test]
    fn integers_take_python_s_opcodes_and_minimal_bytes() {
        assert_eq!(pickle("7"), [PROTO, 2, BININT1, 7, STOP]);
        assert_eq!(pickle("-0"), [PROTO, 2, BININT1, 0, STOP]);
        assert_eq!(pickle("256"), [PROTO, 2, BININT2, 0, 1, STOP]);
        assert_eq!(
            pickle("-1"),
            [PROTO, 2, BININT, 0xff, 0xff, 0xff, 0xff, STOP]
        );
        let long = |n: &str| pickle(n)[4..pickle(n).len() - 1].to_vec();
        assert_eq!(long("2147483648"), [0, 0, 0, 0x80, 0]);
        assert_eq!(long("-2147483649"), [0xff, 0xff, 0xff, 0x7f, 0xff]);
        assert_eq!(long("18446744073709551616"), [0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(long("-9223372036854775808"), [0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(long_bytes(true, &[128]), [0x80]);
        assert_eq!(long_bytes(true, &[129]), [0x7f, 0xff]);
        assert_eq!(long_bytes(false, &[255]), [0xff, 0]);
    }

    #[test]
    fn containers_batch_and_strings_escape() {
        assert_eq!(pickle("[]"), [PROTO, 2, EMPTY_LIST, STOP]);
        assert_eq!(
            pickle(r#" {"a" : [true, null]} "#),
            [
                PROTO, 2, EMPTY_DICT, MARK, BINUNICODE, 1, 0, 0, 0, b'a', EMPTY_LIST, MARK,
                NEWTRUE, NONE, APPENDS, SETITEMS, STOP
            ]
        );
        let s = pickle(r#""\u00e9\ud83d\ude00\ud800x\n""#);
        assert_eq!(&s[3..7], &[11, 0, 0, 0]);
        assert_eq!(
            &s[7..18],
            "é😀"
                .as_bytes()
                .iter()
                .chain(&[0xed, 0xa0, 0x80, b'x', b'\n'])
                .copied()
                .collect::<Vec<_>>()
                .as_slice()
        );
        let items = vec!["1"; 2001].join(",");
        let p = pickle(&format!("[{items}]"));
        assert_eq!(p.iter().filter(|&&b| b == MARK).count(), 3);
        assert_eq!(p.iter().filter(|&&b| b == APPENDS).count(), 3);
    }

    #[test]
    fn malformed_json_is_an_error_with_its_offset() {
        let err = json_to_pickle(&b"[1, 2"[..], Vec::new()).unwrap_err();
        assert!(err.to_string().contains("byte 5"), "{err}");
        assert!(json_to_pickle(&b"[1] 2"[..], Vec::new()).is_err());
        assert!(json_to_pickle(&b"{1: 2}"[..], Vec::new()).is_err());
    }
}
