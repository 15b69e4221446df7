//! What a command asks the process to exit with. Its own file, so the
//! commands that return it import a leaf, not the module that runs them.
//!
//! The codes follow diff(1): 0 no (behavioural) difference or success, 1
//! differences found, 2 trouble.

/// What a command asks the process to exit with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success; for `diff`, no behavioural difference.
    Ok = 0,
    /// For `diff`, differences found; for `bisect`, nothing explained; for
    /// `probe`, some probe unanswered; for a `--where` filter, no match.
    Differ = 1,
    /// An error.
    Trouble = 2,
}
