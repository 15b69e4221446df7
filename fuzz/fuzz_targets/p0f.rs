//! `profiles import-p0f SIGNATURE`: any text imports to a profile or an
//! error; an imported profile prints as TOML and has a signature again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synlab::p0f;

fuzz_target!(|data: &[u8]| {
    let Ok(sig) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = p0f::profile::import(sig, "fuzz") else {
        return;
    };
    let _ = p0f::profile::signature(&profile);
    let _ = profile.to_toml();
});
