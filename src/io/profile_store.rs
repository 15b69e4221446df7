//! Finding profiles: user directories (`--profiles DIR`, `SYNLAB_PROFILES`),
//! then the built-ins. Reading files and the environment is I/O, so it lives
//! here, at the edge; parsing a profile is pure (`crate::profile`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::io::read_file::{read_text, MAX_TEXT_FILE};
use crate::profile::{builtin, Profile, Warnings};

/// Environment variable with more profile directories, colon-separated.
pub const ENV: &str = "SYNLAB_PROFILES";

/// The directories to search, in priority order: `--profiles` options first,
/// then the entries of `SYNLAB_PROFILES`.
pub fn profile_dirs(cli_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let env = std::env::var_os(ENV).unwrap_or_default();
    dirs_from(cli_dirs, &env.to_string_lossy())
}

fn dirs_from(cli_dirs: &[PathBuf], env: &str) -> Vec<PathBuf> {
    let mut dirs = cli_dirs.to_vec();
    dirs.extend(env.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    dirs
}

fn report(warnings: Warnings) {
    for w in warnings {
        tracing::warn!("{w}");
    }
}

/// Load one profile file.
pub fn load_file(path: &Path) -> Result<Profile> {
    let text = read_text(path, MAX_TEXT_FILE).context("cannot read profile")?;
    let (profile, warnings) = Profile::from_toml(&text, &path.display().to_string())?;
    report(warnings);
    Ok(profile)
}

/// A built-in profile by name.
pub fn builtin(name: &str) -> Option<Result<Profile>> {
    Some(
        builtin::profile(name)?
            .map(|(p, w)| {
                report(w);
                p
            })
            .map_err(Into::into),
    )
}

/// A profile by name (`DIR/NAME.toml` in the first directory that has it,
/// else the built-in) or by path (anything ending in `.toml` or holding a `/`).
pub fn resolve(spec: &str, dirs: &[PathBuf]) -> Result<Profile> {
    if spec.ends_with(".toml") || spec.contains('/') {
        return load_file(Path::new(spec));
    }
    for dir in dirs {
        let path = dir.join(format!("{spec}.toml"));
        if path.is_file() {
            let p = load_file(&path)?;
            if p.name != spec {
                tracing::warn!(
                    "{}: file name says {spec}, name says {}",
                    path.display(),
                    p.name
                );
            }
            return Ok(p);
        }
    }
    if let Some(p) = builtin(spec) {
        return p;
    }
    let names: Vec<String> = list(dirs)
        .map(|ps| ps.into_iter().map(|p| p.name).collect())
        .unwrap_or_default();
    match closest_profile(spec, &names) {
        Some(near) => bail!(
            "no profile named {spec:?}: did you mean {near}? (known: {}); a path to a .toml file works too",
            names.join(", ")
        ),
        None => bail!(
            "no profile named {spec:?} (known: {}); a path to a .toml file works too",
            names.join(", ")
        ),
    }
}

/// The known profile name `spec` most likely meant: the same letters and
/// digits (`ubuntu-2204` for `ubuntu-22.04`), a name it begins
/// (`amazon-linux` for `amazon-linux-2`), or a close spelling.
fn closest_profile<'a>(spec: &str, names: &'a [String]) -> Option<&'a str> {
    let bare = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let want = bare(spec);
    if want.is_empty() {
        return None;
    }
    let same = names.iter().find(|n| bare(n) == want);
    let longer = || {
        let mut starting: Vec<&String> = names
            .iter()
            .filter(|n| bare(n).starts_with(&want))
            .collect();
        starting.sort_by_key(|n| n.len());
        starting.first().copied()
    };
    let close = || {
        names
            .iter()
            .map(|n| (n, crate::model::edit_distance(&want, &bare(n))))
            .filter(|&(_, d)| d <= (want.len() / 3).max(1))
            .min_by_key(|&(_, d)| d)
            .map(|(n, _)| n)
    };
    same.or_else(longer).or_else(close).map(String::as_str)
}

/// Every profile: the built-ins, overridden by name by the user directories'
/// `*.toml` files (an earlier directory wins over a later one).
pub fn list(dirs: &[PathBuf]) -> Result<Vec<Profile>> {
    let mut by_name = BTreeMap::new();
    for (name, _) in builtin::BUILTIN {
        if let Some(p) = builtin(name) {
            let p = p?;
            by_name.insert(p.name.clone(), p);
        }
    }
    for dir in dirs.iter().rev() {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot read profile directory", dir.display()))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("{}: cannot read profile directory", dir.display()))?
                .path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let p = load_file(&path)?;
            by_name.insert(p.name.clone(), p);
        }
    }
    Ok(by_name.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    #[test]
    fn cli_dirs_come_before_env_dirs() {
        let dirs = dirs_from(&[PathBuf::from("/a")], "/b::/c");
        assert_eq!(
            dirs,
            [
                PathBuf::from("/a"),
                PathBuf::from("/b"),
                PathBuf::from("/c")
            ]
        );
    }

    #[test]
    fn user_directory_overrides_a_builtin_by_name() {
        let dir = std::env::temp_dir().join(format!("synlab-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = builtin::get("linux")
            .unwrap()
            .replace("ip.ttl\" = 64", "ip.ttl\" = 60");
        std::fs::write(dir.join("linux.toml"), text).unwrap();
        let dirs = [dir.clone()];
        let p = resolve("linux", &dirs).unwrap();
        assert_eq!(
            p.attributes.get(Field::IpTtl),
            Some(&crate::model::Value::Int(60))
        );
        let all = list(&dirs).unwrap();
        let linux: Vec<_> = all.iter().filter(|p| p.name == "linux").collect();
        assert_eq!(linux.len(), 1);
        assert_eq!(
            linux[0].attributes.get(Field::IpTtl),
            Some(&crate::model::Value::Int(60))
        );
        assert!(all.len() >= builtin::BUILTIN.len());
        assert!(resolve("no-such-profile", &dirs).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod closest_tests {
    use super::*;

    /// Issue 21: `amazon-linux` and `ubuntu-2204` were refused with the
    /// whole list and no pointer to the profile meant.
    #[test]
    fn a_near_miss_profile_name_is_pointed_to() {
        let names: Vec<String> = [
            "amazon-linux-2",
            "linux",
            "linux-2.6",
            "ubuntu-22.04",
            "windows-10",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            closest_profile("amazon-linux", &names),
            Some("amazon-linux-2")
        );
        assert_eq!(closest_profile("ubuntu-2204", &names), Some("ubuntu-22.04"));
        assert_eq!(closest_profile("windows10", &names), Some("windows-10"));
        assert_eq!(closest_profile("widnows-10", &names), Some("windows-10"));
        assert_eq!(closest_profile("plan9", &names), None);
        let e = resolve("ubuntu-2204", &[]).err().map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("did you mean ubuntu-22.04?")),
            "{e:?}"
        );
    }
}
