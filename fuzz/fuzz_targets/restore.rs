//! Fuzz target `restore`: see checks/store.rs for what it drives and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mqe_fuzz_checks::run("restore", data);
});
