//! What the runner may ask of its own stdout when that is a pipe or FIFO (a
//! container's stdout is): how many bytes written to it no reader has taken
//! yet. Linux answers `FIONREAD` on either end of a pipe (fs/pipe.c).

use std::os::fd::{AsFd, AsRawFd};

/// Bytes waiting in the pipe `fd` writes to; `None` when `fd` is not a pipe
/// or FIFO (a file, a terminal, a socket), where the question has no answer.
pub(crate) fn unread_bytes(fd: impl AsFd) -> Option<usize> {
    let fd = fd.as_fd();
    let stat = nix::sys::stat::fstat(fd).ok()?;
    if stat.st_mode & nix::libc::S_IFMT != nix::libc::S_IFIFO {
        return None;
    }
    let mut unread: nix::libc::c_int = 0;
    // SAFETY: FIONREAD stores one c_int through the pointer, which points at
    // `unread`, alive and writable for the whole call; `fd` is open (borrowed).
    let rc = unsafe {
        nix::libc::ioctl(
            fd.as_raw_fd(),
            nix::libc::FIONREAD,
            &mut unread as *mut nix::libc::c_int,
        )
    };
    (rc == 0).then(|| usize::try_from(unread).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn counts_what_the_reader_has_not_taken() {
        let (mut reader, mut writer) = std::io::pipe().unwrap();
        assert_eq!(unread_bytes(&writer), Some(0));
        writer.write_all(b"hello\n").unwrap();
        assert_eq!(unread_bytes(&writer), Some(6));
        let mut buf = [0u8; 6];
        std::io::Read::read_exact(&mut reader, &mut buf).unwrap();
        assert_eq!(unread_bytes(&writer), Some(0));
        let file = tempfile::tempfile().unwrap();
        assert_eq!(unread_bytes(&file), None);
    }
}
