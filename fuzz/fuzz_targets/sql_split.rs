//! Fuzz target: see `task_runner_fuzz::sql_split`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = task_runner_fuzz::sql_split(data);
});
