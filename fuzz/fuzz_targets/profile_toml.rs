//! The profile loader (`--profiles DIR`, `probe --profile FILE.toml`): any
//! text loads to a profile or an error; a loaded profile crafts, prints as
//! TOML that loads again, and has a p0f signature or says why not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synlab::p0f;
use synlab::profile::Profile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((profile, _warnings)) = Profile::from_toml(text, "fuzz.toml") else {
        return;
    };
    let _ = p0f::profile::signature(&profile);
    let _ = profile.syn_attributes(true);
    if let Ok(again) = profile.to_toml() {
        let _ = Profile::from_toml(&again, "fuzz.toml (printed)");
    }
});
