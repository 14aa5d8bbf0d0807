//! Starting the task's process the way `posix_spawn` does (a `vfork`-style
//! clone that shares the runner's memory until the `exec`), with the one step
//! `posix_spawn` cannot take: `PR_SET_PDEATHSIG`, so that a task never runs on
//! unsupervised when the runner itself is SIGKILLed outside a container.
//!
//! `std::process::Command` forks when a `pre_exec` step is set: the fork copies
//! the runner's page tables and every page either side writes afterwards, about
//! a fifth of a millisecond for a short bash task. Here the child borrows the
//! parent's memory and allocates nothing: everything it needs (the paths
//! to try, `argv`, `envp`, the folder) is built before the clone, and between
//! the clone and the `exec` it makes only async-signal-safe system calls.
//!
//! The child, in order: every signal with a handler (and SIGPIPE, which the
//! runner ignores) back to its default, while all signals are blocked, so no
//! handler of the runner ever runs in it; stdin, stdout and stderr; the working
//! folder; its own process group; the parent-death signal, then a check that
//! the parent is still there; the runner's signal mask; `execve` on each
//! candidate path in turn, as `execvp` searches `PATH`. If no `exec` succeeds
//! it stores the error where the parent reads it and exits with 127; the
//! parent reaps it and returns the error, as `Command::spawn` does.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::libc;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// What `std::process::Command` stores for a program or argument that holds
/// a NUL byte (its `spawn` then fails; `get_args` returns this).
const STD_NUL_PLACEHOLDER: &str = "<string-with-nul>";

/// `execvp`'s search path when the child's environment has no `PATH` (musl's).
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/bin:/usr/bin";

/// The child's stack, on the parent's (a heap one would be unmapped after
/// the clone, a TLB shootdown while the output thread runs): the child runs
/// a few dozen lines and system call wrappers, a few KiB even unoptimised.
const CHILD_STACK: usize = 32 * 1024;

/// Signals 1 through 64 (Linux's `_NSIG` - 1).
const LAST_SIGNAL: libc::c_int = 64;

/// The three standard streams of the child.
pub(crate) struct Stdio<'a> {
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// Everything the child needs, built before the clone: the child allocates
/// nothing (it shares the allocator, whose lock another thread may hold).
struct Exec {
    /// The paths to `execve`, in order: the program itself when it names a
    /// path, else each `PATH` entry joined with it.
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: Option<CString>,
}

impl Exec {
    /// Reads `cmd`, whose environment is complete: the runners clear the
    /// inherited one and set every variable (`runner::env::apply`).
    fn of(cmd: &Command) -> std::io::Result<Exec> {
        let program = cmd.get_program();
        let mut envp = Vec::new();
        let mut path = None;
        for (k, v) in cmd.get_envs() {
            let Some(v) = v else { continue };
            if k == "PATH" {
                path = Some(v);
            }
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            envp.push(c_string(&entry, || {
                format!("environment variable `{}`", k.to_string_lossy())
            })?);
        }
        let argv = std::iter::once(program)
            .chain(cmd.get_args())
            .enumerate()
            .map(|(i, a)| {
                let what = || format!("argument {i} of the command");
                // `Command` keeps an argument with a NUL byte as this
                // placeholder, which its own spawn refuses: so does this one.
                if a == STD_NUL_PLACEHOLDER {
                    return c_string(b"\0", what);
                }
                c_string(a.as_bytes(), what)
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let candidates = candidates(program, path.map(OsStr::as_bytes))?;
        let cwd = cmd
            .get_current_dir()
            .map(|d| c_string(d.as_os_str().as_bytes(), || "the working folder".into()))
            .transpose()?;
        Ok(Exec {
            candidates,
            argv,
            envp,
            cwd,
        })
    }
}

/// `bytes` as a C string; `what` names them in the error for a NUL byte,
/// which no argument, variable or path handed to the kernel can hold.
fn c_string(bytes: &[u8], what: impl FnOnce() -> String) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} holds a NUL byte, which a process cannot be given: remove it from the spec",
                what()
            ),
        )
    })
}

/// The paths `execvp` tries for `program` under `path` (musl's rule: a name
/// with a `/` is used as it is; an empty `PATH` entry is the working folder).
fn candidates(program: &OsStr, path: Option<&[u8]>) -> std::io::Result<Vec<CString>> {
    let name = program.as_bytes();
    if name.is_empty() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    if name.contains(&b'/') {
        return Ok(vec![c_string(name, || "the program's name".into())?]);
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(|&b| b == b':')
        .map(|dir| {
            let mut full = dir.to_vec();
            if !dir.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(name);
            c_string(&full, || "a `PATH` entry joined with the program".into())
        })
        .collect()
}

/// A NULL-terminated array of pointers into `strings`, which must outlive it.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Starts `cmd` in its own process group with `stdio`; returns its pid once
/// it has `exec`'d (or the error that kept it from doing so).
pub(crate) fn spawn(cmd: &Command, stdio: Stdio<'_>) -> std::io::Result<Pid> {
    let exec = Exec::of(cmd)?;
    let argv = pointers(&exec.argv);
    let envp = pointers(&exec.envp);
    let fds = [
        (stdio.stdin.as_raw_fd(), libc::STDIN_FILENO),
        (stdio.stdout.as_raw_fd(), libc::STDOUT_FILENO),
        (stdio.stderr.as_raw_fd(), libc::STDERR_FILENO),
    ];
    let parent = nix::unistd::getpid().as_raw();
    let failed = AtomicI32::new(0);
    let mut stack = [0u8; CHILD_STACK];

    // All signals blocked across the clone: the child starts with none
    // deliverable and unblocks them only after its handlers are reset.
    // SAFETY: `sigfillset` and `pthread_sigmask` write only the two local
    // sets, which are valid `sigset_t`s for the whole block.
    let old_mask = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let rc = libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        old
    };
    let child = Box::new(|| -> isize {
        // SAFETY: this runs in the clone before `exec`, sharing the parent's
        // memory while the parent's thread is suspended (CLONE_VFORK). It
        // reads only what was built above (alive until `spawn` returns, which
        // is after this child has exec'd or exited), writes only `failed`
        // and makes only async-signal-safe calls; it never returns to Rust
        // code outside this closure and never unwinds.
        unsafe { child(&exec, &argv, &envp, &fds, parent, &old_mask, &failed) }
    });
    let flags = CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK;
    // SAFETY: the stack is ours and outlives the child's use of it (the
    // parent resumes only after the child's `exec` or exit); the closure's
    // safety is argued above.
    let cloned = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) };
    // SAFETY: restores the mask read above; `old_mask` is a valid set.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
    }
    let pid = cloned.map_err(std::io::Error::from)?;
    match failed.load(Ordering::SeqCst) {
        0 => Ok(pid),
        errno => {
            // The child exited without an `exec`: reap it here, before any
            // reaper could take it for the task.
            let _ = nix::sys::wait::waitpid(pid, None);
            Err(std::io::Error::from_raw_os_error(errno))
        }
    }
}

/// The child's side; see the module's comment for the order and the why.
///
/// # Safety
/// Only in a CLONE_VM|CLONE_VFORK child, with every pointer array
/// NULL-terminated and pointing into strings alive until the `exec`.
unsafe fn child(
    exec: &Exec,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    fds: &[(RawFd, RawFd); 3],
    parent: libc::pid_t,
    mask: &libc::sigset_t,
    failed: &AtomicI32,
) -> isize {
    let fail = |errno: i32| -> isize {
        failed.store(errno.max(1), Ordering::SeqCst);
        // SAFETY: `_exit` ends the child at once, running nothing of the
        // parent's (no atexit handlers, no buffers flushed).
        unsafe { libc::_exit(127) }
    };
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    };
    // SAFETY: for the whole body, plain system call wrappers on valid,
    // NUL-terminated strings, valid fds and local, initialised structs.
    unsafe {
        for sig in 1..=LAST_SIGNAL {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            // Signals the C library keeps for itself answer EINVAL: skipped.
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                continue;
            }
            let handled = old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN;
            if handled || (sig == libc::SIGPIPE && old.sa_sigaction == libc::SIG_IGN) {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        for &(fd, target) in fds {
            let rc = if fd == target {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, target)
            };
            if rc < 0 {
                return fail(errno());
            }
        }
        if let Some(cwd) = &exec.cwd
            && libc::chdir(cwd.as_ptr()) != 0
        {
            return fail(errno());
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(errno());
        }
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return fail(errno());
        }
        if libc::getppid() != parent {
            // The runner died before the death signal was armed.
            return fail(libc::ESRCH);
        }
        if libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) != 0 {
            return fail(errno());
        }
        // `execvp`'s search: a path that is not there (or not a folder) goes
        // on to the next; EACCES is remembered and reported if nothing runs;
        // any other error ends the search.
        let mut denied = false;
        let mut last = libc::ENOENT;
        for path in &exec.candidates {
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            last = errno();
            match last {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR => {}
                _ => break,
            }
        }
        fail(
            if denied && (last == libc::ENOENT || last == libc::ENOTDIR) {
                libc::EACCES
            } else {
                last
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn names(c: &[CString]) -> Vec<&str> {
        c.iter().map(|s| s.to_str().unwrap()).collect()
    }

    #[test]
    fn candidates_follow_execvp() {
        let c = candidates(OsStr::new("bash"), Some(b"/a::/b/")).unwrap();
        assert_eq!(names(&c), ["/a/bash", "bash", "/b//bash"]);
        let c = candidates(OsStr::new("./x"), Some(b"/a")).unwrap();
        assert_eq!(names(&c), ["./x"]);
        let c = candidates(OsStr::new("sh"), None).unwrap();
        assert_eq!(names(&c), ["/usr/local/bin/sh", "/bin/sh", "/usr/bin/sh"]);
        let e = candidates(OsStr::new(""), None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }

    fn run(cmd: &Command) -> std::io::Result<(Pid, String)> {
        let (mut reader, writer) = std::io::pipe()?;
        let null = std::fs::File::open("/dev/null")?;
        let pid = spawn(
            cmd,
            Stdio {
                stdin: null.as_fd(),
                stdout: writer.as_fd(),
                stderr: writer.as_fd(),
            },
        )?;
        drop(writer);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut reader, &mut out)?;
        let _ = nix::sys::wait::waitpid(pid, None);
        Ok((pid, out))
    }

    #[test]
    fn runs_in_its_own_group_with_only_the_given_environment() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.env_clear()
            .env("PATH", "/nonexistent:/usr/bin:/bin")
            .env("ONLY", "this")
            .current_dir(dir.path())
            .args([
                "-c",
                "echo $ONLY; pwd; cut -d' ' -f5 /proc/$$/stat; env | wc -l; echo err >&2",
            ]);
        let (pid, out) = run(&cmd).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "this");
        assert_eq!(
            std::fs::canonicalize(lines[1]).unwrap(),
            std::fs::canonicalize(dir.path()).unwrap()
        );
        assert_eq!(lines[2].trim(), pid.as_raw().to_string(), "its own group");
        // sh adds PWD (and maybe SHLVL, _); nothing of the runner's.
        assert!(lines[3].trim().parse::<u32>().unwrap() <= 5, "{out}");
        assert_eq!(lines[4], "err");
    }

    #[test]
    fn a_missing_program_is_not_found_and_leaves_no_child() {
        let mut cmd = Command::new("no-such-program-tr");
        cmd.env_clear().env("PATH", "/usr/bin:/bin");
        let e = run(&cmd).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "echo no\n").unwrap();
        let mut cmd = Command::new(&plain);
        cmd.env_clear();
        let e = run(&cmd).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
        let mut cmd = Command::new("true");
        cmd.env_clear().current_dir("/no/such/folder");
        let e = run(&cmd).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn a_nul_byte_is_refused_naming_where_it_is() {
        let mut cmd = Command::new("true");
        cmd.env_clear().env("SALES_REGION", "eu\0west");
        let e = run(&cmd).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            e.to_string()
                .contains("environment variable `SALES_REGION` holds a NUL byte"),
            "{e}"
        );
        let mut cmd = Command::new("true");
        cmd.env_clear().args(["ok", "b\0ad"]);
        let e = run(&cmd).unwrap_err();
        assert!(e.to_string().contains("argument 2 of the command"), "{e}");
    }

    #[test]
    fn the_child_does_not_ignore_sigpipe() {
        // The runner ignores SIGPIPE (Rust's default); the task must not.
        let mut cmd = Command::new("grep");
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .args(["^SigIgn", "/proc/self/status"]);
        let (_, out) = run(&cmd).unwrap();
        let ign = out.lines().find(|l| l.starts_with("SigIgn")).unwrap();
        let mask = u64::from_str_radix(ign.split_whitespace().nth(1).unwrap(), 16).unwrap();
        assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
    }
}
