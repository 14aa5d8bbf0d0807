//! The thin binary: CLI, logging, PID-1 setup, runtime, exit code.

use std::process::ExitCode;

use clap::Parser;
use task_runner::cli::{Cli, Command};
use task_runner::context::DateTime;
use task_runner::error::{Error, exit_code};
use task_runner::report::LogTarget;
use task_runner::{TaskEnd, environ::Environ, report, supervise, xcom};

fn main() -> ExitCode {
    // Before any thread exists: reaping of orphans (PID 1 or subreaper).
    supervise::init::become_reaper();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => return print_and(e, 0),
        Err(e) => return print_and(e, exit_code::USAGE),
    };
    let env = Environ::capture();
    // With the XCom echoed on stdout, the log shares its pipe (and its order).
    let echo = matches!(cli.command, None | Some(Command::Run(_))) && xcom::echo_enabled(&env);
    let target = if echo {
        LogTarget::Stdout
    } else {
        LogTarget::Stderr
    };
    report::init_logging(cli.log.log_format, &cli.log.log_level, target);
    let today = DateTime::from_utc(
        chrono::Utc::now()
            .date_naive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
        task_runner::context::Zone::Utc,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        return ExitCode::from(exit_code::INTERNAL);
    };
    let result = match cli.command.unwrap_or(Command::Run(cli.run)) {
        Command::Run(args) => runtime.block_on(task_runner::run(&args, &env, today)),
        Command::Render(args) => task_runner::render_command(&args, &env, today).and_then(print),
        Command::Validate(args) => task_runner::validate_command(&args, &env).and_then(print),
        Command::Encode(args) => task_runner::encode_command(&args, &env).and_then(print),
        Command::Schema => print(task_runner::schema_command()),
        Command::InstallShims(args) => {
            task_runner::runner::python::install(&args.dir, &args.pythons)
                .and_then(|done| print(done.join("\n")))
        }
    };
    let code = match result {
        Ok(TaskEnd::Success { .. }) => exit_code::SUCCESS,
        Ok(TaskEnd::Skipped { code }) => code,
        Ok(TaskEnd::Failed { code, message }) => {
            report::error(
                &env,
                &Error::Task {
                    message: message.clone(),
                    code,
                },
            );
            code
        }
        Err(err) => {
            report::error(&env, &err);
            err.exit_code()
        }
    };
    if echo && code != exit_code::SUCCESS {
        report::no_xcom_line(code);
    }
    ExitCode::from(code)
}

/// A subcommand's answer on stdout; a closed pipe or a full disk is an error
/// (exit 74), not a panic.
fn print(text: String) -> Result<TaskEnd, Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|source| Error::Stdout { source })?;
    Ok(TaskEnd::Success { xcom: None })
}

fn print_and(e: clap::Error, code: u8) -> ExitCode {
    let _ = e.print();
    ExitCode::from(code)
}
