//! Fuzz target: see `task_runner_fuzz::spec_load`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = task_runner_fuzz::spec_load(data);
});
