//! The ring's epoch (DESIGN.md §2), kept in `<data dir>/epoch`: it changes only when the
//! history is lost, so a data directory keeps it across restarts.

use anyhow::Context;

/// The epoch kept in `<data dir>/epoch`, created (a new epoch: now in ns) on first start.
///
/// # Errors
///
/// If the file cannot be read or written, or does not hold a number.
pub fn load_or_create(data_dir: &std::path::Path) -> anyhow::Result<u64> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("create data directory {}", data_dir.display()))?;
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
            let epoch = crate::clock::now().0;
            let tmp = data_dir.join("epoch.tmp");
            std::fs::write(&tmp, format!("{epoch}\n"))
                .with_context(|| format!("write {}", tmp.display()))?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(epoch)
        }
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}
