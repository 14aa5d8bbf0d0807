//! The thin binary: parse, logging, run, exit code.

use std::process::ExitCode;

use clap::Parser;
use task_runner::cli::{Cli, Command};
use task_runner::environ::Environ;
use task_runner::error::{Error, exit_code};
use task_runner::{Answer, LogTarget};

fn main() -> ExitCode {
    // Before any thread exists: reaping of orphans (PID 1 or subreaper).
    task_runner::become_reaper();
    // The ENTRYPOINT's usual command lines without clap; the rest with it.
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let parsed = task_runner::cli::parse_entrypoint(&args, |name| std::env::var_os(name));
    let cli = match parsed.map_or_else(Cli::try_parse, Ok) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => return print_and(e, 0),
        Err(e) => return print_and(e, exit_code::USAGE),
    };
    let env = Environ::capture();
    let command = cli.command.unwrap_or(Command::Run(cli.run));
    // With the XCom echoed on stdout, the log shares its pipe (and its order).
    let echo = matches!(command, Command::Run(_)) && task_runner::xcom_echo_enabled(&env);
    let target = if echo {
        LogTarget::Stdout
    } else {
        LogTarget::Stderr
    };
    task_runner::init_logging(cli.log.log_format, &cli.log.log_level, target);
    let code = match task_runner::execute(command, &env).and_then(finish) {
        Ok(code) => code,
        Err(err) => {
            task_runner::report_error(&env, &err);
            err.exit_code()
        }
    };
    if echo && code != exit_code::SUCCESS {
        task_runner::no_xcom_line(code);
    }
    ExitCode::from(code)
}

/// A subcommand's answer goes to stdout (a closed pipe or a full disk is an
/// error, exit 74, not a panic); a run's end is its exit code.
fn finish(answer: Answer) -> Result<u8, Error> {
    use std::io::Write;
    match answer {
        Answer::Ran(end) => Ok(end.exit_code()),
        Answer::Print(text) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")
                .and_then(|()| out.flush())
                .map_err(|source| Error::Stdout { source })?;
            Ok(exit_code::SUCCESS)
        }
    }
}

fn print_and(e: clap::Error, code: u8) -> ExitCode {
    let _ = e.print();
    ExitCode::from(code)
}
