//! The one writer of the runner's stdout (fd 1): the task's forwarded lines,
//! the runner's own log when the XCom is echoed there, and the XCom line itself.
//!
//! DockerOperator's `do_xcom_push` takes the last line of the container's log,
//! and docker provider 4.4.x the last *chunk* it read, so the XCom line must be
//! the last thing written and must reach the pipe in one `write(2)`. Every line
//! therefore goes out as one buffer, under std's stdout lock (which orders the
//! output and log threads), and once [`write_last_line`] has run the stream is
//! sealed: a process that escaped the task's group and still holds the output
//! pipe, or a late log event, can print nothing after the XCom.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;

/// Set (under the stdout lock) once the last line is out.
static SEALED: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline as one buffer; dropped once sealed. Errors (a
/// closed stdout) are ignored: the task must not fail because nobody reads its log.
pub fn write_line(line: &[u8]) {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    write_bytes(&buf);
}

/// Writes `bytes` (complete lines) as one buffer; dropped once sealed.
pub fn write_bytes(bytes: &[u8]) {
    let lock = std::io::stdout().lock();
    if SEALED.load(Ordering::Acquire) {
        return;
    }
    let _ = write_fd(&lock, bytes);
}

/// Writes `line` and a newline as the last bytes this process puts on stdout:
/// one `write(2)` of the whole buffer (looping only on a short write, which a
/// blocking pipe makes only when a signal interrupts it), then seals stdout.
pub fn write_last_line(line: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    let mut lock = std::io::stdout().lock();
    // Anything `print!` left in std's buffer goes first, not after.
    let _ = lock.flush();
    let result = if SEALED.swap(true, Ordering::AcqRel) {
        Ok(())
    } else {
        write_fd(&lock, &buf)
    };
    drop(lock);
    result
}

/// `write(2)` on fd 1 until `bytes` are all out, past std's buffering.
fn write_fd(fd: &std::io::StdoutLock<'_>, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            // A non-blocking stdout (inherited so): wait for room.
            Err(Errno::EAGAIN) => std::thread::sleep(std::time::Duration::from_millis(1)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
