//! Fuzz target: see `task_runner_fuzz::context_payload`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = task_runner_fuzz::context_payload(data);
});
