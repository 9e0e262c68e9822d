//! Opening files: the init handshake, and clear errors for every kind of bad header.
#![cfg(not(shm_loom))]

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use tickd_shm::{
    DirectoryWriter, FILE_MODE, LAYOUT_VERSION, OpenError, Reader, RingConfig, TableReader, Writer,
};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickd-open-{}-{name}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn small() -> RingConfig {
    RingConfig {
        capacity_slots: 16,
        epoch: 5,
        base_seq: 0,
    }
}

fn poke(path: &PathBuf, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn files_are_created_0640() {
    let path = temp("mode.ring");
    let _w = Writer::<8>::create(&path, &small()).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, FILE_MODE);
    assert_eq!(mode, 0o640);
}

#[test]
fn opening_a_file_still_being_initialised_times_out() {
    // A creator that sized the file but has not stored the layout version yet.
    let path = temp("init.ring");
    fs::write(&path, vec![0u8; 384 + 16 * 64]).unwrap();
    let err = Reader::<8>::open(&path, Duration::from_millis(30)).unwrap_err();
    assert!(matches!(err, OpenError::Initializing { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("still being initialised by its creator"),
        "{err}"
    );

    // A creator that has not even sized it.
    let path = temp("empty.ring");
    fs::write(&path, b"").unwrap();
    let err = Reader::<8>::open(&path, Duration::from_millis(30)).unwrap_err();
    assert!(matches!(err, OpenError::Initializing { .. }), "{err:?}");
}

#[test]
fn an_opener_waits_for_the_creator_to_finish() {
    let path = temp("wait.ring");
    fs::write(&path, b"").unwrap();
    let opener = {
        let path = path.clone();
        std::thread::spawn(move || {
            Reader::<8>::open(&path, Duration::from_secs(30)).map(|r| r.epoch())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let _w = Writer::<8>::create(&path, &small()).unwrap();
    assert_eq!(opener.join().unwrap().unwrap(), 5);
}

#[test]
fn a_corrupted_magic_is_reported() {
    let path = temp("magic.ring");
    let _w = Writer::<8>::create(&path, &small()).unwrap();
    poke(&path, 0, b"garbage!");
    let err = Reader::<8>::open(&path, Duration::from_millis(10)).unwrap_err();
    match err {
        OpenError::BadMagic { found, .. } => assert_eq!(found, u64::from_le_bytes(*b"garbage!")),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn another_layout_version_is_refused() {
    let path = temp("version.ring");
    let _w = Writer::<8>::create(&path, &small()).unwrap();
    poke(&path, 8, &(LAYOUT_VERSION + 1).to_le_bytes());
    let err = Reader::<8>::open(&path, Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(err, OpenError::VersionMismatch { found, expected, .. } if found == LAYOUT_VERSION + 1 && expected == LAYOUT_VERSION),
        "{err:?}"
    );
}

#[test]
fn kind_slot_size_and_length_are_checked() {
    let dir_path = temp("symbols.dir");
    let _d = DirectoryWriter::create(&dir_path, 4, 1).unwrap();
    let err = Reader::<8>::open(&dir_path, Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(err, OpenError::WrongKind { found: 2, .. }),
        "{err:?}"
    );

    let path = temp("size.ring");
    let _w = Writer::<8>::create(&path, &small()).unwrap();
    let err = Reader::<16>::open(&path, Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::SlotSizeMismatch {
                found: 8,
                expected: 16,
                ..
            }
        ),
        "{err:?}"
    );
    let err = TableReader::<8>::open(&path, Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(err, OpenError::WrongKind { found: 1, .. }),
        "{err:?}"
    );

    // A copy cut short: the header promises more slots than the file holds.
    let short = temp("short.ring");
    let bytes = fs::read(&path).unwrap();
    fs::write(&short, &bytes[..bytes.len() - 64]).unwrap();
    let err = Reader::<8>::open(&short, Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(err, OpenError::SizeMismatch { capacity: 16, needed, len, .. } if needed == 384 + 16 * 64 && len == needed - 64),
        "{err:?}"
    );

    // A capacity that is not a power of two.
    let odd = temp("odd.ring");
    fs::write(&odd, &bytes).unwrap();
    poke(&odd, 24, &12u64.to_le_bytes());
    let err = Reader::<8>::open(&odd, Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(err, OpenError::SizeMismatch { capacity: 12, .. }),
        "{err:?}"
    );
}

#[test]
fn a_missing_file_names_its_path() {
    let path = temp("missing.ring").with_file_name("does-not-exist.ring");
    let err = Reader::<8>::open(&path, Duration::from_millis(10)).unwrap_err();
    assert!(err.to_string().starts_with("open "), "{err}");
    assert!(err.to_string().contains("does-not-exist.ring"), "{err}");
}
