//! Golden files: whole outputs pinned under `tests/golden/`, compared byte
//! for byte. A difference prints where the outputs part. To accept new
//! outputs deliberately, run the tests with `SYNLAB_BLESS=1`
//! (`scripts/bless.sh`), then review and commit the changed files.

use std::path::PathBuf;

use super::{root, text_diff};

/// The environment variable that rewrites golden files instead of comparing.
pub const BLESS: &str = "SYNLAB_BLESS";

fn blessing() -> bool {
    std::env::var(BLESS).is_ok_and(|v| v == "1")
}

/// `tests/golden/NAME`.
pub fn path(name: &str) -> PathBuf {
    root().join("tests").join("golden").join(name)
}

/// Compare `got` with golden file `name`, or write it under `SYNLAB_BLESS=1`.
pub fn check(name: &str, got: &str) {
    let file = path(name);
    if blessing() {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(&file, got).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        eprintln!("blessed {}", file.display());
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "golden file {} cannot be read ({e}); create it with {BLESS}=1 scripts/bless.sh",
            file.display()
        )
    });
    if got != want {
        panic!(
            "output differs from golden file {}\n{}\nIf the change is intended: {BLESS}=1 scripts/bless.sh, then review the diff.",
            file.display(),
            text_diff(got, &want)
        );
    }
}
