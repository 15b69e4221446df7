//! Fixtures read from the built-in profiles (`crates/synlab-core/src/profile/builtin/*.toml`),
//! so a test's "Windows SYN" is the one synlab ships, not a hand-made copy.

use synlab::io::profile_store;
use synlab::model::Attributes;
use synlab::profile::{self, Profile};

/// The `[syn]` table of built-in profile `name`, exactly as written (not
/// normalised: only the attributes the profile states).
pub fn builtin_syn(name: &str) -> Attributes {
    let text =
        profile::builtin::get(name).unwrap_or_else(|| panic!("no built-in profile {name:?}"));
    let doc: toml::Table =
        toml::from_str(text).unwrap_or_else(|e| panic!("built-in profile {name}: {e}"));
    let syn = doc
        .get("syn")
        .cloned()
        .unwrap_or_else(|| panic!("built-in profile {name} has no [syn] table"));
    syn.try_into()
        .unwrap_or_else(|e| panic!("built-in profile {name}: [syn] is not attributes: {e}"))
}

/// Built-in profile `name`, loaded as synlab loads it.
pub fn builtin_profile(name: &str) -> Profile {
    profile_store::builtin(name)
        .unwrap_or_else(|| panic!("no built-in profile {name:?}"))
        .unwrap_or_else(|e| panic!("built-in profile {name}: {e}"))
}

/// Every built-in profile, loaded.
pub fn builtin_profiles() -> Vec<Profile> {
    let all = profile_store::list(&[]).unwrap_or_else(|e| panic!("profile_store::list: {e}"));
    assert!(!all.is_empty(), "no built-in profiles");
    all
}
