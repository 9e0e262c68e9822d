//! shm and data files only tickd can write (issue 17, row 12), with the real binary: a shm or
//! data directory another user owns, or one group or others may write, is refused before
//! anything is created in it, with a message naming the fix; what tickd creates is 0750
//! (directories), 0640 (ring, table, journal, epoch and lock files) and 0600 (the TLS key).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

fn tickd(shm: &Path, data: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickd"))
        .args([
            "serve",
            "--synthetic",
            "off",
            "--tcp",
            "off",
            "--http",
            "off",
        ])
        .args(["--quic", "127.0.0.1:0"])
        .arg("--shm-dir")
        .arg(shm)
        .arg("--data-dir")
        .arg(data)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o777
}

#[test]
fn directories_others_could_write_are_refused_and_files_are_private() {
    let base = tempfile::tempdir().unwrap();
    let (shm, data) = (base.path().join("shm"), base.path().join("data"));

    // A world-writable shm directory, made before tickd: refused, nothing created in it.
    std::fs::create_dir(&shm).unwrap();
    std::fs::set_permissions(&shm, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = tickd(&shm, &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the shm directory")
            && err.contains("has mode 777: group or others may write it and replace the files in it; `chmod go-w` it or choose another path"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&shm).unwrap().count(), 0);

    // Owned by another user: refused.
    std::fs::set_permissions(&shm, std::fs::Permissions::from_mode(0o750)).unwrap();
    let me = std::fs::metadata(base.path()).unwrap().uid();
    assert_eq!(
        me, 0,
        "this test gives a directory to another user, which needs root (CI runs as root)"
    );
    std::os::unix::fs::chown(&shm, Some(65_534), None).unwrap();
    let out = tickd(&shm, &data);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is owned by uid 65534, not by tickd's uid 0"),
        "{err}"
    );
    std::fs::remove_dir(&shm).unwrap();

    // A start in fresh directories: every mode is private (looked at once QUIC listens, the
    // last listener to start, when every file exists).
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickd"))
        .args([
            "serve",
            "--synthetic",
            "AAPL",
            "--tcp",
            "127.0.0.1:0",
            "--http",
            "off",
        ])
        .args(["--quic", "127.0.0.1:0"])
        .arg("--shm-dir")
        .arg(&shm)
        .arg("--data-dir")
        .arg(&data)
        .env("TICKD_LOG", "warn,tickd_server::net::listener=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines {
            if line.unwrap().contains("QUIC listening") {
                break;
            }
        }
    }
    assert_eq!(mode(&shm), 0o750);
    assert_eq!(mode(&data), 0o750);
    assert_eq!(mode(&data.join("journal")), 0o750);
    for f in ["ticks.ring", "candles.ring", ".lock"] {
        assert_eq!(mode(&shm.join(f)), 0o640, "{f}");
    }
    assert_eq!(mode(&data.join("epoch")), 0o640);
    for seg in std::fs::read_dir(data.join("journal")).unwrap() {
        assert_eq!(mode(&seg.unwrap().path()), 0o640);
    }
    assert_eq!(mode(&data.join("tls")), 0o750);
    assert_eq!(mode(&data.join("tls/key.pem")), 0o600);
    child.kill().unwrap();
    child.wait().unwrap();
}
