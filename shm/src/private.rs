//! Directories only tickd's user can write (DESIGN.md §8): the shm directory and the data
//! directory. A directory another local user owns, or one group or others may write, lets them
//! swap the ring files under co-located readers (a forged AAPL at $1), so tickd refuses it.

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of directories tickd creates: owner rwx, group r-x (co-located readers in tickd's
/// group map the files read-only), others nothing.
pub const DIR_MODE: u32 = 0o750;

/// Why a directory is not private to tickd.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateDirError {
    /// Creating or inspecting it failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// It exists and is not a directory (a symbolic link included: tickd does not follow one).
    #[error(
        "{} exists and is not a directory (links are not followed): remove it or choose another path",
        path.display()
    )]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Another user owns it.
    #[error(
        "{} is owned by uid {owner}, not by tickd's uid {me}: another user could replace the files in it; \
         remove it or choose another path",
        path.display()
    )]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// tickd's effective uid.
        me: u32,
    },
    /// Group or others may write it.
    #[error(
        "{} has mode {mode:o}: group or others may write it and replace the files in it; \
         `chmod go-w` it or choose another path",
        path.display()
    )]
    Writable {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// tickd's effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Makes sure `path` is a directory only this user can write: creates it (and missing
/// parents) with [`DIR_MODE`] if absent; otherwise checks it is a real directory (not a link),
/// owned by this user, and not writable by group or others.
///
/// # Errors
///
/// [`PrivateDirError`] naming the directory and the fix.
pub fn private_dir(path: &Path) -> Result<(), PrivateDirError> {
    let io = |op| {
        move |source| PrivateDirError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(path)
                .map_err(io("create"))?;
            // The umask may have cleared bits; set the mode exactly.
            fs::set_permissions(path, Permissions::from_mode(DIR_MODE)).map_err(io("chmod"))
        }
        Err(e) => Err(io("inspect")(e)),
        Ok(meta) if !meta.file_type().is_dir() => Err(PrivateDirError::NotADirectory {
            path: path.to_owned(),
        }),
        Ok(meta) if meta.uid() != effective_uid() => Err(PrivateDirError::NotOwned {
            path: path.to_owned(),
            owner: meta.uid(),
            me: effective_uid(),
        }),
        Ok(meta) if meta.mode() & 0o022 != 0 => Err(PrivateDirError::Writable {
            path: path.to_owned(),
            mode: meta.mode() & 0o7777,
        }),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_and_refuses_what_others_could_write() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        private_dir(&dir).unwrap();
        let mode = fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, DIR_MODE);
        private_dir(&dir).unwrap();

        fs::set_permissions(&dir, Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&dir).unwrap_err().to_string();
        assert!(e.ends_with("has mode 777: group or others may write it and replace the files in it; `chmod go-w` it or choose another path"), "{e}");

        let link = base.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(matches!(
            private_dir(&link),
            Err(PrivateDirError::NotADirectory { .. })
        ));
    }
}
