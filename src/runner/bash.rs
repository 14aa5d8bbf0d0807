//! BashOperator: `bash -c <command>` (or `bash <script>` for a `.sh` template
//! file), in `cwd` or a fresh temp dir, the XCom being the last output line
//! (providers/standard operators/bash.py, hooks/subprocess.py).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use crate::context::Context;
use crate::dotenv::Vars;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::runner::{ProcessTask, ResultSource, env};
use crate::spec::BashTask;
use crate::supervise::Decoder;

pub(crate) fn prepare(
    task: &BashTask,
    ctx: &Context,
    ours: &Environ,
    from_files: &Vars,
) -> Result<ProcessTask> {
    let command = task
        .bash_command
        .as_str()
        .ok_or_else(|| Error::config("`bash_command` must render to a string"))?;
    let (cwd, workdir) = match &task.cwd {
        Some(cwd) => {
            let path = PathBuf::from(cwd.as_str().unwrap_or_default());
            if !path.is_dir() {
                return Err(Error::config(format!(
                    "`cwd` `{}` does not exist or is not a directory",
                    path.display()
                )));
            }
            (path, None)
        }
        None => {
            // 0700, as Airflow's TemporaryDirectory: the task's files are its own.
            let dir = tempfile::Builder::new()
                .prefix("airflowtmp")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(|e| {
                    Error::config_caused("cannot create a temporary working directory", e)
                })?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };

    let bash = "bash";
    let mut cmd = Command::new(bash);
    let mut script = None;
    if task.script_file {
        // The standard provider writes a rendered script file into `cwd` and
        // runs it by name, so `$0` and relative paths behave as in Airflow.
        let mut file = tempfile::Builder::new()
            .suffix(".sh")
            .tempfile_in(&cwd)
            .map_err(|e| {
                Error::config_caused(
                    format!("cannot write the script into `{}`", cwd.display()),
                    e,
                )
            })?;
        file.write_all(command.as_bytes())
            .map_err(|e| Error::config_caused("cannot write the script", e))?;
        let path = file.into_temp_path();
        cmd.arg(path.file_name().unwrap_or_default());
        script = Some(path);
    } else {
        cmd.arg("-c").arg(command);
    }
    cmd.current_dir(&cwd);
    env::apply(
        &mut cmd,
        task.env.env.as_ref(),
        task.env.append_env,
        from_files,
        ctx,
        ours,
    )?;
    Ok(ProcessTask {
        command: cmd,
        program: bash.into(),
        describe: "Bash command",
        decoder: Decoder::for_name(&task.output_encoding).unwrap_or(Decoder::Utf8),
        skip_on_exit_code: task.skip_on_exit_code.clone(),
        result: ResultSource::LastLine,
        workdir,
        script,
    })
}
