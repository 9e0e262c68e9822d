//! The error every parser reports for one bad line.

/// One bad line: `file:line: reason`. Reading can go on after it (`--skip-invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct LineError {
    /// The file, as given (for a zip, `archive:entry`).
    pub file: String,
    /// 1-based line number (0 if the reader could not tell).
    pub line: u64,
    /// What is wrong, naming the field and the value.
    pub reason: String,
}
