//! Fuzz target `c_api`: see checks/c_api.rs for what it drives and checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mqe_fuzz_checks::run("c_api", data);
});
