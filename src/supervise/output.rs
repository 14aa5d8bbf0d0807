//! Forwards the task's merged stdout+stderr line by line: decoded as
//! SubprocessHook decodes it (`output_encoding`, `errors="backslashreplace"`,
//! `rstrip()`), masked, printed to our stdout; the last line is kept because it
//! is BashOperator's XCom.

use std::borrow::Cow;
use std::io::Read;

/// A line longer than this is forwarded in pieces, so a child that never
/// prints a newline cannot make the runner buffer without bound. It matches
/// the default XCom cap: a last line this long could not be the XCom anyway.
pub(crate) const MAX_LINE: usize = 16 * 1024 * 1024;

/// Decodes output bytes as Python's `bytes.decode(enc, "backslashreplace")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    Utf8,
    Latin1,
    Ascii,
}

impl Decoder {
    /// The Python codec names (and aliases) this runner supports.
    pub(crate) fn for_name(name: &str) -> Option<Decoder> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" | "u8" => Some(Decoder::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "cp819" => {
                Some(Decoder::Latin1)
            }
            "ascii" | "us-ascii" => Some(Decoder::Ascii),
            _ => None,
        }
    }

    /// Borrowed when the bytes decode to themselves (valid UTF-8; ASCII
    /// for the other codecs), which is nearly every line.
    pub(crate) fn decode<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        let plain = match self {
            Decoder::Utf8 => std::str::from_utf8(bytes).ok(),
            Decoder::Latin1 | Decoder::Ascii if bytes.is_ascii() => std::str::from_utf8(bytes).ok(),
            Decoder::Latin1 | Decoder::Ascii => None,
        };
        match plain {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(self.decode_slow(bytes)),
        }
    }

    fn decode_slow(&self, bytes: &[u8]) -> String {
        match self {
            Decoder::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Decoder::Ascii => {
                let mut out = String::with_capacity(bytes.len());
                for &b in bytes {
                    if b.is_ascii() {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                out
            }
            Decoder::Utf8 => {
                let mut out = String::with_capacity(bytes.len());
                let mut rest = bytes;
                loop {
                    match std::str::from_utf8(rest) {
                        Ok(s) => {
                            out.push_str(s);
                            break;
                        }
                        Err(e) => {
                            let (good, bad) = rest.split_at(e.valid_up_to());
                            out.push_str(std::str::from_utf8(good).unwrap_or_default());
                            let n = e.error_len().unwrap_or(bad.len()).max(1);
                            for b in &bad[..n] {
                                out.push_str(&format!("\\x{b:02x}"));
                            }
                            rest = &bad[n..];
                        }
                    }
                }
                out
            }
        }
    }
}

/// Reads `reader` to EOF, printing each line through `print`; returns the last
/// line (`None` when there was no output at all). The tests' short form of
/// [`forward_lines_noting`].
#[cfg(test)]
fn forward_lines(reader: impl Read, decoder: Decoder, print: impl FnMut(&str)) -> Option<LastLine> {
    let mut buf = Vec::new();
    forward_lines_noting(
        reader,
        decoder,
        &mut buf,
        print,
        || {},
        &std::sync::Mutex::new(None),
    )
}

/// [`forward_lines`], also keeping the last complete line in `seen` as it
/// goes: when a process that left the task's group still holds the pipe, the
/// reader never sees EOF, and `seen` is the real last line of the task.
///
/// `flush` is called whenever the lines read so far are all printed and the
/// next read may wait: a printer that batches writes them out then.
pub(crate) fn forward_lines_noting(
    reader: impl Read,
    decoder: Decoder,
    buf: &mut Vec<u8>,
    print: impl FnMut(&str),
    flush: impl FnMut(),
    seen: &std::sync::Mutex<Option<LastLine>>,
) -> Option<LastLine> {
    forward_lines_with(
        reader,
        decoder,
        &crate::mask::current(),
        buf,
        print,
        flush,
        seen,
    )
}

/// How much one read asks for.
const READ_BYTES: usize = 64 * 1024;

/// The forwarding loop, with the masker that masks each line (`print` gets
/// masked text) and decides where a line longer than [`MAX_LINE`] may be
/// cut (never inside a secret, so each piece is masked as the whole line
/// would be).
///
/// Lines are decoded, stripped and masked where they lie in the read
/// buffer, without a copy unless decoding or masking changes them; the last
/// line is kept once per read, not per line. The buffer holds at most one
/// line's worth ([`MAX_LINE`] and the longest secret) and one read, so an
/// endless line costs about 16 MiB, not a multiple of it.
fn forward_lines_with(
    mut reader: impl Read,
    decoder: Decoder,
    masker: &crate::mask::Masker,
    buf: &mut Vec<u8>,
    mut print: impl FnMut(&str),
    mut flush: impl FnMut(),
    seen: &std::sync::Mutex<Option<LastLine>>,
) -> Option<LastLine> {
    let limit = MAX_LINE + masker.longest();
    // The caller's buffer (it decides when the memory goes). A fresh one is
    // allocated zeroed, which the allocator gets untouched from the kernel:
    // a short task's output faults in one page of it, not all sixteen.
    if buf.len() < READ_BYTES {
        *buf = vec![0u8; READ_BYTES];
    }
    // Read but not yet printed: the start of an unfinished line.
    let (mut start, mut end) = (0, 0);
    let mut last: Option<LastLine> = None;
    // Whether the line being read had an earlier piece printed already.
    let mut continued = false;
    let mut emit = |bytes: &[u8]| {
        let text = decoder.decode(bytes);
        print(&masker.mask(crate::py::text::rstrip(&text)));
    };
    let keep = |bytes: &[u8], whole: bool| LastLine {
        // A cut line cannot be the XCom: its text is never used.
        text: if whole {
            crate::py::text::rstrip(&decoder.decode(bytes)).to_string()
        } else {
            String::new()
        },
        whole,
    };
    let note = |last: &Option<LastLine>| {
        if let Ok(mut slot) = seen.lock() {
            slot.clone_from(last);
        }
    };
    loop {
        // Everything complete is printed: out with it before a read that may wait.
        flush();
        if start == end {
            (start, end) = (0, 0);
        }
        if end == buf.len() {
            buf.copy_within(start..end, 0);
            (start, end) = (0, end - start);
            if end == buf.len() {
                buf.resize((buf.len() * 2).min(limit + READ_BYTES), 0);
            }
        }
        let read = match reader.read(&mut buf[end..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let fresh = end;
        end += read;
        let mut newest = None;
        for i in memchr::memchr_iter(b'\n', &buf[fresh..end]) {
            let nl = fresh + i;
            emit(&buf[start..nl]);
            newest = Some((start, nl, !continued));
            continued = false;
            start = nl + 1;
        }
        if let Some((from, to, whole)) = newest {
            last = Some(keep(&buf[from..to], whole));
            note(&last);
        }
        while end - start >= limit {
            // Keep the longest secret's length after the cut, so a secret
            // that straddles it is seen whole and the cut moved before it.
            let line = &buf[start..end];
            let nominal = line.len() - masker.longest();
            let cut = masker.safe_cut(line, char_boundary(line, nominal));
            let cut = if cut == 0 { nominal.max(1) } else { cut };
            emit(&line[..cut]);
            start += cut;
            continued = true;
            last = Some(keep(&[], false));
            note(&last);
        }
    }
    if start < end {
        emit(&buf[start..end]);
        last = Some(keep(&buf[start..end], !continued));
    }
    flush();
    last
}

/// The nearest cut at or before `at` that splits no UTF-8 character.
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    let mut cut = at;
    while cut > at.saturating_sub(4) && cut > 0 && (bytes[cut - 1] & 0xc0) == 0x80 {
        cut -= 1;
    }
    if cut > 0 && bytes[cut - 1] >= 0xc0 {
        cut -= 1;
    }
    if cut == 0 { at } else { cut }
}

/// The last line of output, and whether it came whole (not cut at [`MAX_LINE`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LastLine {
    pub text: String,
    pub whole: bool,
}

/// Forwarded lines on their way to stdout, each masked on its own (by the
/// forwarder): the lines
/// that came in one read go out in one write(2), at most [`BATCH_BYTES`] at a
/// time, and never wait for more input (the forwarder flushes before every
/// read that may block). Errors (a closed stdout) are ignored: the task must
/// not fail because nobody reads its log.
#[derive(Default)]
pub(crate) struct Batch {
    buf: Vec<u8>,
}

/// The most a batch holds before it is written out.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;

impl Batch {
    /// Adds a line (masked already).
    pub(crate) fn line(&mut self, line: &str) {
        if line.len() >= BATCH_BYTES {
            // A long line goes out from where it lies, not through a copy.
            self.flush();
            crate::supervise::stdout::write_bytes(line.as_bytes());
            crate::supervise::stdout::write_bytes(b"\n");
            return;
        }
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        if self.buf.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if !self.buf.is_empty() {
            crate::supervise::stdout::write_bytes(&self.buf);
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_python_backslashreplace() {
        assert_eq!(
            Decoder::Utf8.decode(b"caf\xc3\xa9 \xff\xfe ok"),
            "café \\xff\\xfe ok"
        );
        assert_eq!(Decoder::Latin1.decode(b"caf\xe9"), "café");
        assert_eq!(Decoder::Ascii.decode(b"a\xe9"), "a\\xe9");
        assert!(Decoder::for_name("UTF_8").is_some());
        assert!(Decoder::for_name("cp1252").is_none());
    }

    #[test]
    fn keeps_last_line_rstripped() {
        let mut seen = Vec::new();
        let last = forward_lines(&b"one\ntwo  \r\n\nlast\t"[..], Decoder::Utf8, |l| {
            seen.push(l.to_string())
        });
        assert_eq!(seen, vec!["one", "two", "", "last"]);
        assert_eq!(
            last,
            Some(LastLine {
                text: "last".into(),
                whole: true
            })
        );
        let last = forward_lines(&b"x\n\n"[..], Decoder::Utf8, |_| {});
        assert_eq!(last.map(|l| l.text).as_deref(), Some(""));
        assert_eq!(forward_lines(&b""[..], Decoder::Utf8, |_| {}), None);
    }

    #[test]
    fn a_secret_across_the_cut_is_masked_whole() {
        let secret = "Straddling-Secret-777";
        let masker = crate::mask::Masker::new([secret]).unwrap();
        // The secret repeated densely around the cut, wherever the reads fall.
        let mut data = vec![b'a'; MAX_LINE - 300];
        while data.len() < MAX_LINE + 200_000 {
            data.extend_from_slice(secret.as_bytes());
        }
        data.push(b'\n');
        let mut pieces = Vec::new();
        forward_lines_with(
            &data[..],
            Decoder::Utf8,
            &masker,
            &mut Vec::new(),
            |p| pieces.push(masker.mask(p).into_owned()),
            || {},
            &std::sync::Mutex::new(None),
        );
        assert_eq!(pieces.len(), 2);
        for piece in &pieces {
            let clear = piece.replace("***", "");
            assert!(
                clear.bytes().all(|b| b == b'a'),
                "a piece of the secret shows: {}",
                &clear[clear.len().saturating_sub(40)..]
            );
        }
    }

    #[test]
    fn splits_endless_lines() {
        let mut data = vec![b'a'; MAX_LINE - 1];
        data.extend_from_slice("é".as_bytes());
        data.extend_from_slice(b"tail");
        let mut pieces = Vec::new();
        let last = forward_lines(&data[..], Decoder::Utf8, |p| pieces.push(p.to_string())).unwrap();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[1], "étail", "no character split at the cut");
        assert!(!last.whole);
    }
}
