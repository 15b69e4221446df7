//! Built-in profiles, embedded in the binary. Each file's `source` says where
//! its values come from: most are learned from a real SYN under
//! `tests/data/real-syns/` (named with its repository, path, commit, frame
//! and licence; `tests/real_syns.rs` checks the profile is what that SYN
//! teaches), the rest from p0f's database or memory, which they say.

/// (name, TOML) of every built-in profile; the name is also the file stem.
pub static BUILTIN: &[(&str, &str)] = &[
    ("linux", include_str!("builtin/linux.toml")),
    (
        "amazon-linux-2",
        include_str!("builtin/amazon-linux-2.toml"),
    ),
    ("ubuntu-22.04", include_str!("builtin/ubuntu-22.04.toml")),
    ("windows-10", include_str!("builtin/windows-10.toml")),
    ("windows-11", include_str!("builtin/windows-11.toml")),
    ("windows-7", include_str!("builtin/windows-7.toml")),
    ("windows-xp", include_str!("builtin/windows-xp.toml")),
    ("macos-14", include_str!("builtin/macos-14.toml")),
    ("macos", include_str!("builtin/macos.toml")),
    ("freebsd-14", include_str!("builtin/freebsd-14.toml")),
    ("ios", include_str!("builtin/ios.toml")),
    ("openbsd", include_str!("builtin/openbsd.toml")),
    ("linux-2.6", include_str!("builtin/linux-2.6.toml")),
    ("cisco-ios", include_str!("builtin/cisco-ios.toml")),
    ("android", include_str!("builtin/android.toml")),
];

/// The TOML of a built-in profile.
pub fn get(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A built-in profile by name, parsed (with any warnings), if there is one.
pub fn profile(
    name: &str,
) -> Option<Result<(super::Profile, super::Warnings), super::ProfileError>> {
    let text = get(name)?;
    Some(super::Profile::from_toml(
        text,
        &format!("built-in profile {name}"),
    ))
}
