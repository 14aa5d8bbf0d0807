//! How a task process that ran to its end ended, in Airflow's words: the
//! exit code, `skip_on_exit_code`, the shim's report and the last line of
//! output turned into success (with the return value), a skip, or a failure
//! with the message Airflow's own operator would give.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::runner::ReturnValue;
use crate::runner::shim::ShimEnd;
use crate::supervise::output::{LastLine, MAX_LINE};
use crate::supervise::{ProcessEnd, signal_name};

/// The end of a task process.
#[derive(Debug, PartialEq)]
pub(crate) enum Ended {
    /// It succeeded; the value to push, if any.
    Success(Option<ReturnValue>),
    /// Its exit code is one of `skip_on_exit_code`.
    Skipped { code: u8 },
    /// It failed; `code` is its own (or 128 + signal).
    Failed { code: u8, message: String },
}

/// What the process's end means. `describe` names the task in failure
/// messages ("Bash command"); `shim` is the shim's report for Python and
/// Ruby tasks, `None` for bash, whose value is its last line of output.
pub(crate) fn interpret(
    describe: &str,
    program: &str,
    end: ProcessEnd,
    shim: Option<ShimEnd>,
    last_line: Option<LastLine>,
    skip_on_exit_code: &[i32],
) -> Result<Ended> {
    let code = end.exit_code();
    if let ProcessEnd::Exited(c) = end
        && skip_on_exit_code.contains(&c)
    {
        tracing::info!(
            "{program} exited with {c}, one of `skip_on_exit_code`: the task is skipped"
        );
        return Ok(Ended::Skipped { code });
    }
    let failed = |message: String| Ok(Ended::Failed { code, message });
    match (end, shim) {
        (_, Some(ShimEnd::Raised { summary })) => {
            failed(format!("{describe} failed (exit code {code}): {summary}"))
        }
        (ProcessEnd::Signaled(sig), _) => failed(format!(
            "{describe} failed: the process was killed by {}.",
            signal_name(sig)
        )),
        (ProcessEnd::Exited(c), _) if c != 0 => failed(format!(
            "{describe} failed. The command returned a non-zero exit code {c}."
        )),
        (_, Some(ShimEnd::Returned(payload))) => Ok(Ended::Success(payload)),
        (_, Some(ShimEnd::Exited)) => Ok(Ended::Success(None)),
        // BashOperator returns "" when there was no output.
        (_, None) => match last_line {
            Some(last) if !last.whole => Err(Error::XComValue {
                message: format!(
                    "the last line of output (the bash XCom) is longer than {MAX_LINE} bytes: print a shorter last line, or write the result to a file and print its path"
                ),
            }),
            last => Ok(Ended::Success(Some(ReturnValue::Value(Value::String(
                last.map(|l| l.text).unwrap_or_default(),
            ))))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, whole: bool) -> Option<LastLine> {
        Some(LastLine {
            text: text.into(),
            whole,
        })
    }

    fn bash(end: ProcessEnd, last: Option<LastLine>) -> Ended {
        interpret("Bash command", "bash", end, None, last, &[99]).unwrap()
    }

    #[test]
    fn bash_pushes_its_last_line_or_an_empty_string() {
        assert_eq!(
            bash(ProcessEnd::Exited(0), line("done", true)),
            Ended::Success(Some(ReturnValue::Value(Value::String("done".into()))))
        );
        assert_eq!(
            bash(ProcessEnd::Exited(0), None),
            Ended::Success(Some(ReturnValue::Value(Value::String(String::new()))))
        );
    }

    #[test]
    fn a_cut_last_line_is_refused() {
        let e = interpret(
            "Bash command",
            "bash",
            ProcessEnd::Exited(0),
            None,
            line("x", false),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("longer than 16777216 bytes"), "{e}");
    }

    #[test]
    fn a_non_zero_exit_is_bash_operators_message() {
        assert_eq!(
            bash(ProcessEnd::Exited(3), line("oops", true)),
            Ended::Failed {
                code: 3,
                message: "Bash command failed. The command returned a non-zero exit code 3.".into()
            }
        );
    }

    #[test]
    fn skip_on_exit_code_skips() {
        assert_eq!(
            bash(ProcessEnd::Exited(99), None),
            Ended::Skipped { code: 99 }
        );
    }

    #[test]
    fn a_signal_death_names_the_signal() {
        assert_eq!(
            bash(ProcessEnd::Signaled(9), None),
            Ended::Failed {
                code: 137,
                message: "Bash command failed: the process was killed by SIGKILL.".into()
            }
        );
    }

    #[test]
    fn a_raised_exception_is_summarised() {
        let ended = interpret(
            "Python callable",
            "python3",
            ProcessEnd::Exited(1),
            Some(ShimEnd::Raised {
                summary: "ValueError: bad row".into(),
            }),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(
            ended,
            Ended::Failed {
                code: 1,
                message: "Python callable failed (exit code 1): ValueError: bad row".into()
            }
        );
    }

    #[test]
    fn a_shim_return_or_own_exit_is_success() {
        let value = Some(ReturnValue::Raw(b"[1]".to_vec()));
        let returned = interpret(
            "Python callable",
            "python3",
            ProcessEnd::Exited(0),
            Some(ShimEnd::Returned(value.clone())),
            None,
            &[],
        );
        assert_eq!(returned.unwrap(), Ended::Success(value));
        let exited = interpret(
            "Ruby script",
            "ruby",
            ProcessEnd::Exited(0),
            Some(ShimEnd::Exited),
            None,
            &[],
        );
        assert_eq!(exited.unwrap(), Ended::Success(None));
    }
}
