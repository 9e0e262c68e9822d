//! The ring's epoch (DESIGN.md §2), kept in `<data dir>/epoch`: it changes only when the
//! history is lost, so a data directory keeps it across restarts.

use anyhow::Context;

/// The epoch kept in `<data dir>/epoch`, created (a new epoch: now in ns) on first start.
///
/// # Errors
///
/// If the file cannot be read or written, or does not hold a number.
pub fn load_or_create(data_dir: &std::path::Path) -> anyhow::Result<u64> {
    load_or_create_with(data_dir, || crate::clock::now().0)
}

/// Whether `<data dir>/epoch` exists (this node has a history of its own).
pub fn exists(data_dir: &std::path::Path) -> bool {
    data_dir.join("epoch").exists()
}

/// [`load_or_create`], a new epoch being `new()` (an edge takes its origin's).
///
/// # Errors
///
/// As [`load_or_create`].
pub fn load_or_create_with(
    data_dir: &std::path::Path,
    new: impl FnOnce() -> u64,
) -> anyhow::Result<u64> {
    tickd_shm::private_dir(data_dir).context("the data directory")?;
    let path = data_dir.join("epoch");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{}: not an epoch number", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let journal = data_dir.join("journal");
            if super::journal::first_segment_seq(&journal)?.is_some() {
                anyhow::bail!(
                    "{} is missing but {} has records: refusing to guess the epoch",
                    path.display(),
                    journal.display()
                );
            }
            let epoch = new();
            let tmp = data_dir.join("epoch.tmp");
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let _ = std::fs::remove_file(&tmp);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(tickd_shm::FILE_MODE)
                    .open(&tmp)
                    .with_context(|| format!("create {}", tmp.display()))?;
                f.write_all(format!("{epoch}\n").as_bytes())
                    .with_context(|| format!("write {}", tmp.display()))?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok(epoch)
        }
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}
