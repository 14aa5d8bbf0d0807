//! The one writer of the runner's stdout (fd 1): the task's forwarded lines,
//! the runner's own log when the XCom is echoed there, and the XCom line itself.
//!
//! DockerOperator's `do_xcom_push` takes the last line of the container's log,
//! and docker provider 4.4.x the last *chunk* it read, so the XCom line must be
//! the last thing written and must reach the pipe in one `write(2)`. Lines
//! therefore go out as whole buffers (the task's forwarded lines in batches of
//! whole lines, the XCom line alone), under std's stdout lock (which orders the
//! output and log threads), and once [`write_last_line`] has run the stream is
//! sealed: a process that escaped the task's group and still holds the output
//! pipe, or a late log event, can print nothing after the XCom.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;

/// Set (under the stdout lock) once the last line is out.
static SEALED: AtomicBool = AtomicBool::new(false);

/// Writes `bytes` (complete lines) as one buffer; dropped once sealed.
pub(crate) fn write_bytes(bytes: &[u8]) {
    let lock = std::io::stdout().lock();
    if SEALED.load(Ordering::Acquire) {
        return;
    }
    let _ = write_fd(&lock, bytes);
}

/// How long the last line waits for a reader to take what came before it.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// How long it then leaves the next hop to pass that on.
const SETTLE: Duration = Duration::from_millis(100);

/// Writes `line` and a newline as the last bytes this process puts on stdout:
/// one `write(2)` of the whole buffer (looping only on a short write, which a
/// blocking pipe makes only when a signal interrupts it), then seals stdout.
///
/// The line must also be *read* on its own: Docker relays a container's
/// output one read at a time (runc's pipe → containerd-shim → FIFO → dockerd)
/// and its attach stream makes each read one chunk, which docker provider
/// 4.4.x pushes whole if it is the last. Lines written a moment before (the
/// `wrote XCom` log) would share a late reader's read. So when stdout is a
/// pipe, the line waits until the reader has taken everything before it (at
/// most [`DRAIN_LIMIT`]), then [`SETTLE`] for the next hop, which the runner
/// cannot see into.
pub(crate) fn write_last_line(line: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    let mut lock = std::io::stdout().lock();
    // Anything `print!` left in std's buffer goes first, not after.
    let _ = lock.flush();
    wait_drained(&lock);
    let result = if SEALED.swap(true, Ordering::AcqRel) {
        Ok(())
    } else {
        write_fd(&lock, &buf)
    };
    drop(lock);
    result
}

/// Waits until no reader is behind on the pipe `fd` writes to (at most
/// [`DRAIN_LIMIT`]), then [`SETTLE`]; at once when stdout is no pipe.
fn wait_drained(fd: &std::io::StdoutLock<'_>) {
    let started = Instant::now();
    loop {
        match crate::supervise::pipe::unread_bytes(fd) {
            None => return,
            Some(0) => break,
            Some(_) if started.elapsed() > DRAIN_LIMIT => break,
            Some(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    std::thread::sleep(SETTLE);
}

/// `write(2)` on fd 1 until `bytes` are all out, past std's buffering.
fn write_fd(fd: &std::io::StdoutLock<'_>, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            // A non-blocking stdout (inherited so): wait for room.
            Err(Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
