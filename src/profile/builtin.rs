//! Built-in profiles, embedded in the binary. Each file's `source` says where
//! its values come from.

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
    ("macos-14", include_str!("builtin/macos-14.toml")),
    ("freebsd-14", include_str!("builtin/freebsd-14.toml")),
    ("ios", include_str!("builtin/ios.toml")),
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
