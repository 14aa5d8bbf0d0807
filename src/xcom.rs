//! The one writer of `return.json`: one strict UTF-8 JSON value, written to a
//! temp file in the same folder, then renamed into place, so KPO's sidecar
//! (`cat` after the container ends) never sees a partial or invalid file.
//!
//! Whether a file is also fsynced is decided per file ([`Durability`]): the
//! XCom is read on the same machine moments later, so the rename's atomicity
//! is all it needs; a SQL task's `output_path` is meant to outlive the pod.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::environ::Environ;
use crate::error::{Error, Result};

/// KPO's sidecar reads this path (cncf.kubernetes utils/xcom_sidecar.py).
pub(crate) const DEFAULT_PATH: &str = "/airflow/xcom/return.json";
pub(crate) const PATH_ENV: &str = "TASK_RUNNER_XCOM_PATH";

/// The env var that asks for the XCom on stdout too (DockerOperator).
pub(crate) const STDOUT_ENV: &str = "TASK_RUNNER_XCOM_STDOUT";

/// Whether `TASK_RUNNER_XCOM_STDOUT` is on (anything but empty, `0`, `false`).
pub fn echo_enabled(env: &Environ) -> bool {
    flag_on(env, STDOUT_ENV)
}

/// Whether the env var `name` is on: set to anything but empty, `0`, `false`.
fn flag_on(env: &Environ, name: &str) -> bool {
    env.get(name)
        .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false" | "False"))
}

/// The env var that makes the XCom (and its pickle) durable: fsynced.
pub(crate) const FSYNC_ENV: &str = "TASK_RUNNER_XCOM_FSYNC";

/// How far a written file is made to last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Temp file and rename: a reader sees the whole file or none. Enough
    /// for a file read on the same kernel after the task (KPO's sidecar on
    /// the pod's emptyDir, DockerOperator's copy out of the container): a
    /// machine crash takes the pod, its volume and the task attempt with it,
    /// and the retry writes the file again. Saves two fsyncs, 0.35 ms on a
    /// quiet disk and up to 8 ms on a busy one.
    Atomic,
    /// Also the file fsynced before the rename and its folder after: it
    /// survives a machine crash once the task reports success. For files
    /// on persistent volumes (`output_path`), or an XCom path on one
    /// (`TASK_RUNNER_XCOM_FSYNC=1`).
    Durable,
}

impl Durability {
    /// The XCom's: [`Durability::Atomic`] unless `TASK_RUNNER_XCOM_FSYNC`
    /// is on (anything but empty, `0`, `false`).
    pub(crate) fn of_xcom(env: &Environ) -> Durability {
        if flag_on(env, FSYNC_ENV) {
            Durability::Durable
        } else {
            Durability::Atomic
        }
    }
}

/// `--xcom-path`, else `TASK_RUNNER_XCOM_PATH`, else KPO's path.
pub(crate) fn resolve_path(flag: Option<&Path>, env: &Environ) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| {
            env.get(PATH_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// The env var naming where the XCom is also written as a pickle.
pub(crate) const PICKLE_PATH_ENV: &str = "TASK_RUNNER_PICKLE_PATH";

/// `--pickle-path`, else `TASK_RUNNER_PICKLE_PATH`, else none.
pub(crate) fn resolve_pickle_path(flag: Option<&Path>, env: &Environ) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        env.get(PICKLE_PATH_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Removes a file an earlier attempt left at `path`, so it cannot pass for
/// this run's result.
///
/// The temp files a killed run left beside it (`.return.json.XXXXXX.tmp`,
/// up to the size of a whole result) are removed too: nothing else would.
pub(crate) fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::XComStale {
                path: path.to_path_buf(),
                source: e,
            });
        }
        _ => {}
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = temp_prefix(&name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix)
            && file.ends_with(".tmp")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            // Best effort: a temp file that cannot be removed harms no result.
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// The name prefix of the temp file a result is written to before its rename.
fn temp_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// Writes the XCom file at `xcom` again as a protocol 2 pickle at `path`
/// (DockerOperator's `retrieve_output`), atomically as the XCom itself.
pub(crate) fn write_pickle(xcom: &Path, path: &Path, durability: Durability) -> Result<u64> {
    let file = std::fs::File::open(xcom).map_err(|source| Error::XComRead {
        path: xcom.to_path_buf(),
        source,
    })?;
    let mut writer = Writer::create(path, None, durability)?;
    match crate::pickle::json_to_pickle(file, &mut writer) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::XComValue {
                message: format!("it cannot be written as a pickle: {e}"),
            });
        }
        Err(e) => return Err(writer.error(e)),
    }
    let bytes = writer.written();
    writer.commit()?;
    Ok(bytes)
}

/// Serializes `value` as strict JSON and checks it against the size cap.
pub(crate) fn encode(value: &Value, max_bytes: u64) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::XComValue {
        message: e.to_string(),
    })?;
    check_size(bytes.len() as u64, max_bytes)?;
    Ok(bytes)
}

/// Checks JSON text a task wrote: one valid JSON value, within the cap. The
/// bytes are kept as they are, so big integers and exact decimals survive.
pub(crate) fn check_raw(bytes: Vec<u8>, max_bytes: u64) -> Result<Vec<u8>> {
    check_size(bytes.len() as u64, max_bytes)?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    de.disable_recursion_limit();
    serde::de::IgnoredAny::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| Error::XComValue {
            message: format!("the task's result is not one valid JSON value: {e}"),
        })?;
    Ok(bytes)
}

/// The size cap, checked before a result is read into memory (a 600 MB
/// return value is refused by its size, not after loading it).
pub(crate) fn check_size(size: u64, max_bytes: u64) -> Result<()> {
    if size > max_bytes {
        return Err(over_cap(&size.to_string(), max_bytes));
    }
    Ok(())
}

/// The size-cap message, naming both ways out.
fn over_cap(size: &str, max_bytes: u64) -> Error {
    Error::XComValue {
        message: format!(
            "it is {size} bytes, over the limit of {max_bytes} bytes: raise `max_xcom_bytes` in the spec, or write the full result to a file (`output_path` for SQL tasks, e.g. on a mounted volume) and return its path"
        ),
    }
}

/// A streaming writer of one JSON value: bytes go to a temp file in the
/// target's folder as they come; [`Writer::commit`] renames it into place
/// (fsyncing it first when [`Durability::Durable`]); dropping it uncommitted deletes the temp file, so a failure,
/// a signal or the size cap never leaves a partial file behind.
pub(crate) struct Writer {
    path: PathBuf,
    dir: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    temp: Option<tempfile::TempPath>,
    written: u64,
    max_bytes: Option<u64>,
    over: bool,
    durability: Durability,
    /// Written into a reserved file, which is longer than the result until
    /// [`Writer::finish`] cuts it to what was written.
    reserved: bool,
}

/// The write buffer of a streamed result (SQL rows, a pickle).
const STREAM_BUFFER: usize = 256 * 1024;

impl Writer {
    /// Starts writing towards `path` (its folder is created, as `mkdir -p`);
    /// `max_bytes: None` means no cap (an `output_path` file).
    pub(crate) fn create(
        path: &Path,
        max_bytes: Option<u64>,
        durability: Durability,
    ) -> Result<Writer> {
        Writer::open(path, max_bytes, durability, None, STREAM_BUFFER)
    }

    /// As [`Writer::create`], into `reserved` when it was taken for `path`,
    /// buffering `buffer` bytes (0 for a value written in one piece).
    fn open(
        path: &Path,
        max_bytes: Option<u64>,
        durability: Durability,
        reserved: Option<Reserved>,
        buffer: usize,
    ) -> Result<Writer> {
        let fail = |source: std::io::Error| Error::XComWrite {
            path: path.to_path_buf(),
            source,
        };
        let (dir, file, temp, reserved) = match reserved {
            Some(mut r) if r.path == path => {
                // The reservation may have been written to make room.
                r.file.rewind().map_err(fail)?;
                (r.dir, r.file, r.temp, true)
            }
            _ => {
                let (dir, tmp) = temp_file(path).map_err(fail)?;
                let (file, temp) = tmp.into_parts();
                (dir, file, temp, false)
            }
        };
        Ok(Writer {
            path: path.to_path_buf(),
            dir,
            file: Some(std::io::BufWriter::with_capacity(buffer, file)),
            temp: Some(temp),
            written: 0,
            max_bytes,
            over: false,
            durability,
            reserved,
        })
    }

    /// Bytes accepted so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Turns an I/O error from this writer into the runner's error: the size
    /// cap (with its remedy) or a write failure naming the file.
    pub(crate) fn error(&self, source: std::io::Error) -> Error {
        match self.max_bytes {
            Some(max) if self.over => over_cap(&format!("more than {max}"), max),
            _ => Error::XComWrite {
                path: self.path.clone(),
                source,
            },
        }
    }

    /// Finishes the temp file, then renames it into place.
    pub(crate) fn commit(self) -> Result<()> {
        self.finish()?.persist()
    }

    /// Flushes the temp file and closes it (fsynced first when durable),
    /// leaving only the rename to do: a full disk or an I/O error shows
    /// here, so a caller with a transaction to commit can learn it before
    /// committing.
    pub(crate) fn finish(mut self) -> Result<Written> {
        let fail = |source: std::io::Error| Error::XComWrite {
            path: self.path.clone(),
            source,
        };
        let Some(file) = self.file.take() else {
            return Err(fail(std::io::Error::other("the writer was already closed")));
        };
        let file = file.into_inner().map_err(|e| fail(e.into_error()))?;
        if self.reserved {
            file.set_len(self.written).map_err(fail)?;
        }
        {
            // Readable by the KPO sidecar and by other users of a mounted
            // volume, as `@task.kubernetes` leaves it (tempfile creates 0600).
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(fail)?;
        }
        if self.durability == Durability::Durable {
            file.sync_all().map_err(fail)?;
        }
        // Closed here, not on drop, so that an error only close(2) reports
        // (NFS writes back at close) fails the write instead of vanishing.
        close(file).map_err(fail)?;
        let Some(temp) = self.temp.take() else {
            return Err(fail(std::io::Error::other("the temp file is gone")));
        };
        Ok(Written {
            path: std::mem::take(&mut self.path),
            dir: std::mem::take(&mut self.dir),
            temp,
            bytes: self.written,
            durability: self.durability,
        })
    }
}

/// Closes `file`, reporting what close(2) says.
fn close(file: std::fs::File) -> std::io::Result<()> {
    nix::unistd::close(std::os::fd::OwnedFd::from(file)).map_err(std::io::Error::from)
}

/// A result written in full in its temp file (fsynced when durable);
/// dropping it unpersisted deletes the temp file.
pub(crate) struct Written {
    path: PathBuf,
    dir: PathBuf,
    temp: tempfile::TempPath,
    bytes: u64,
    durability: Durability,
}

impl Written {
    /// Where it goes.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Its size.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Renames the file into place (the one step left after [`Writer::finish`]).
    pub(crate) fn persist(self) -> Result<()> {
        let path = self.path;
        self.temp.persist(&path).map_err(|e| Error::XComWrite {
            path: path.clone(),
            source: e.error,
        })?;
        // The rename is durable once the folder's entry is.
        if self.durability == Durability::Durable
            && let Ok(d) = std::fs::File::open(&self.dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(max) = self.max_bytes
            && self.written + buf.len() as u64 > max
        {
            self.over = true;
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "over the XCom size limit",
            ));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the writer is closed"))?;
        file.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// The folder a file goes in, created if missing (`mkdir -p`, as
/// `@task.kubernetes` does for `/airflow/xcom`).
fn ensure_dir(path: &Path) -> std::io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Room a result needs at least: the probe reserves this much.
pub(crate) const PROBE_BYTES: u64 = 64 * 1024;

/// Checks, before the task runs, that the XCom can be written: a task whose
/// result cannot be saved should fail before its side effects, not after.
/// The check is real room, not an empty file (which a full volume still
/// takes): the temp file the result will be written to, created now with
/// [`PROBE_BYTES`] reserved by `fallocate` (or written and fsynced where the
/// filesystem cannot reserve). The result goes into that same file, so the
/// check costs no file of its own; dropped unused, it is deleted.
pub(crate) fn check_writable(path: &Path) -> Result<Reserved> {
    let fail = |source: std::io::Error| Error::XComWrite {
        path: path.to_path_buf(),
        source,
    };
    let (dir, tmp) = temp_file(path).map_err(fail)?;
    reserve(tmp.as_file(), PROBE_BYTES).map_err(|e| {
        fail(std::io::Error::new(
            e.kind(),
            format!(
                "the folder has no room for {PROBE_BYTES} bytes ({e}); the task was not started"
            ),
        ))
    })?;
    let (file, temp) = tmp.into_parts();
    Ok(Reserved {
        path: path.to_path_buf(),
        dir,
        file,
        temp,
    })
}

/// The temp file a result for `path` is written to, in `path`'s folder
/// (created, as `mkdir -p`); a leftover one is removed by [`remove_stale`].
fn temp_file(path: &Path) -> std::io::Result<(PathBuf, tempfile::NamedTempFile)> {
    let dir = ensure_dir(path)?;
    let name = path.file_name().map_or_else(
        || "return.json".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(&name))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    Ok((dir, tmp))
}

/// Room for a result, taken before the task ran ([`check_writable`]).
#[derive(Debug)]
pub(crate) struct Reserved {
    path: PathBuf,
    dir: PathBuf,
    file: std::fs::File,
    temp: tempfile::TempPath,
}

/// Makes `len` bytes of `file` really allocated on disk.
fn reserve(file: &std::fs::File, len: u64) -> std::io::Result<()> {
    let size = i64::try_from(len).unwrap_or(i64::MAX);
    match nix::fcntl::posix_fallocate(file, 0, size) {
        Ok(()) => Ok(()),
        // NFS, some FUSE and overlay setups cannot reserve: write and sync.
        Err(nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::EINVAL) => {
            std::io::copy(&mut std::io::repeat(0).take(len), &mut &*file)?;
            file.sync_all()
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes `bytes` to `path` atomically, creating the folder as
/// `@task.kubernetes` does (`mkdir -p /airflow/xcom`); into `reserved` when
/// there is one.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    reserved: Option<Reserved>,
) -> Result<()> {
    write_finished(path, bytes, durability, reserved)?.persist()
}

/// Writes `bytes` towards `path`, leaving only the rename.
pub(crate) fn write_finished(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
    reserved: Option<Reserved>,
) -> Result<Written> {
    // Unbuffered: the value is written in one piece.
    let mut w = Writer::open(path, None, durability, reserved, 0)?;
    w.write_all(bytes).map_err(|e| w.error(e))?;
    w.finish()
}

/// Where a run's return value goes: the XCom file under the size cap, or
/// nowhere when the spec's `do_xcom_push` is off. The pipeline makes it and
/// hands it to whichever runner produces the value: the process runners'
/// values are pushed whole, the SQL runner streams rows into its writer.
#[derive(Debug)]
pub(crate) struct Sink {
    path: PathBuf,
    max_bytes: u64,
    push: bool,
    durability: Durability,
    /// The room [`check_writable`] took, used by the first write.
    reserved: std::sync::Mutex<Option<Reserved>>,
}

impl Sink {
    pub(crate) fn new(
        path: PathBuf,
        max_bytes: u64,
        push: bool,
        durability: Durability,
        reserved: Option<Reserved>,
    ) -> Sink {
        Sink {
            path,
            max_bytes,
            push,
            durability,
            reserved: std::sync::Mutex::new(reserved),
        }
    }

    /// The reservation, for the one write that uses it.
    fn reserved(&self) -> Option<Reserved> {
        self.reserved.lock().ok().and_then(|mut r| r.take())
    }

    /// Whether a value is pushed at all (Airflow's `do_xcom_push`).
    pub(crate) fn pushes(&self) -> bool {
        self.push
    }

    /// A streaming writer towards the XCom file, under the cap.
    pub(crate) fn writer(&self) -> Result<Writer> {
        Writer::open(
            &self.path,
            Some(self.max_bytes),
            self.durability,
            self.reserved(),
            STREAM_BUFFER,
        )
    }

    /// `value` checked against the cap and written, waiting for its rename.
    pub(crate) fn finished(&self, value: &Value) -> Result<Written> {
        write_finished(
            &self.path,
            &encode(value, self.max_bytes)?,
            self.durability,
            self.reserved(),
        )
    }

    /// Pushes `value` (written atomically under the cap) and says where; a
    /// `None` (JSON `null`) return value pushes nothing, as in Airflow.
    pub(crate) fn push_value(&self, value: &Value) -> Result<Option<PathBuf>> {
        if !self.push || value.is_null() {
            return Ok(None);
        }
        self.publish(&encode(value, self.max_bytes)?).map(Some)
    }

    /// Pushes JSON text a task wrote, kept byte for byte (big integers and
    /// exact decimals survive), once it is checked to be one JSON value
    /// under the cap.
    pub(crate) fn push_raw(&self, bytes: Vec<u8>) -> Result<Option<PathBuf>> {
        if !self.push {
            return Ok(None);
        }
        self.publish(&check_raw(bytes, self.max_bytes)?).map(Some)
    }

    fn publish(&self, bytes: &[u8]) -> Result<PathBuf> {
        write_atomic(&self.path, bytes, self.durability, self.reserved())?;
        tracing::info!(path = %self.path.display(), bytes = bytes.len(), "wrote XCom");
        Ok(self.path.clone())
    }
}

/// The last stdout line of a successful run: the XCom as one line of JSON, or
/// `null` when there is none, so the line DockerOperator pushes is never some
/// earlier output of the task. The runner's log went to the same pipe before
/// it, and nothing follows it on either stream.
pub(crate) fn echo_last_line(path: Option<&Path>) -> Result<()> {
    let line = match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::XComWrite {
                path: path.to_path_buf(),
                source,
            })?;
            // JSON has no raw newline inside a string: folding keeps one line.
            String::from_utf8_lossy(&bytes).replace(['\n', '\r'], " ")
        }
        None => "null".to_string(),
    };
    // The line is the container's log: masked like every other line (the
    // XCom file itself is not, as Airflow does not mask XComs).
    let line = crate::mask::redact(&line);
    // A closed stdout has no reader to mislead; the XCom file stands.
    let _ = crate::supervise::stdout::write_last_line(line.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_creates_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xcom/return.json");
        write_atomic(&path, b"[1,2]", Durability::Durable, None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1,2]");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("xcom"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn streaming_writer_commits_or_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/return.json");
        let mut w = Writer::create(&path, Some(10), Durability::Atomic).unwrap();
        w.write_all(b"[1,2,").unwrap();
        w.write_all(b"3]").unwrap();
        w.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1,2,3]");

        let mut w = Writer::create(&path, Some(4), Durability::Atomic).unwrap();
        let err = w.write_all(b"[1,2,3]").unwrap_err();
        let msg = w.error(err).to_string();
        assert!(
            msg.contains("max_xcom_bytes") && msg.contains("output_path"),
            "{msg}"
        );
        drop(w);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("x")).unwrap().collect();
        assert_eq!(left.len(), 1, "only the committed file remains");
    }

    #[test]
    fn size_cap_names_the_remedy() {
        let err = encode(&Value::String("x".repeat(100)), 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_xcom_bytes"), "{err}");
    }
}
