//! placeholder
/// Layout version.
pub const LAYOUT_VERSION: u64 = 1;
