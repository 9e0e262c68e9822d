//! Regenerates `protocol/src/generated/tickd_generated.rs` and the Python client's
//! `clients/python/src/tickd/wire/` from `protocol/schema/tickd.fbs` with the vendored flatc
//! 23.5.26 (the version the Rust `flatbuffers` runtime is pinned to; the Python client pins the
//! PyPI runtime of the same version).
//!
//! Usage: `tickd-protocol-codegen [--check] PROTOCOL_DIR`. With `--check` nothing is written;
//! the exit status is 1 if the checked-in code differs from what flatc produces.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

const SCHEMA: &str = "schema/tickd.fbs";
const GENERATED: &str = "src/generated/tickd_generated.rs";

fn main() -> ExitCode {
    let mut check = false;
    let mut dir = None;
    for arg in env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: tickd-protocol-codegen [--check] PROTOCOL_DIR");
        return ExitCode::from(2);
    };
    match run(&dir, check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("codegen: {e}");
            ExitCode::from(2)
        }
    }
}

/// The Python client's generated package, relative to PROTOCOL_DIR.
const PYTHON_WIRE: &str = "../clients/python/src/tickd/wire";

fn run(dir: &Path, check: bool) -> Result<bool, String> {
    Ok(run_rust(dir, check)? & run_python(dir, check)?)
}

/// The files of a directory, by name, with their contents.
fn files(dir: &Path) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries {
        let e = e.map_err(|e| format!("list {}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(e.path())
            .map_err(|err| format!("read {}: {err}", e.path().display()))?;
        out.insert(name, text);
    }
    Ok(out)
}

fn run_python(dir: &Path, check: bool) -> Result<bool, String> {
    let out = env::temp_dir().join(format!("tickd-codegen-py-{}", std::process::id()));
    fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let status = Command::new(flatc::flatc())
        .args(["--python", "--python-typing", "-o"])
        .arg(&out)
        .arg(dir.join(SCHEMA))
        .status()
        .map_err(|e| format!("run flatc: {e}"))?;
    if !status.success() {
        return Err(format!("flatc failed: {status}"));
    }
    // flatc writes the namespace `tickd.wire` as tickd/wire/; the client's package is `tickd`.
    let fresh = files(&out.join("tickd/wire"))?;
    let _ = fs::remove_dir_all(&out);
    let target = dir.join(PYTHON_WIRE);
    if check {
        if files(&target)? == fresh {
            println!("{} is up to date with {SCHEMA}", target.display());
            return Ok(true);
        }
        eprintln!(
            "{} is stale: run protocol/codegen.sh and commit the result",
            target.display()
        );
        return Ok(false);
    }
    let _ = fs::remove_dir_all(&target);
    fs::create_dir_all(&target).map_err(|e| format!("create {}: {e}", target.display()))?;
    for (name, text) in &fresh {
        let path = target.join(name);
        fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    println!("wrote {} ({} files)", target.display(), fresh.len());
    Ok(true)
}

fn run_rust(dir: &Path, check: bool) -> Result<bool, String> {
    let out = env::temp_dir().join(format!("tickd-codegen-{}", std::process::id()));
    fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let status = Command::new(flatc::flatc())
        .args(["--rust", "--gen-all", "-o"])
        .arg(&out)
        .arg(dir.join(SCHEMA))
        .status()
        .map_err(|e| format!("run flatc: {e}"))?;
    if !status.success() {
        return Err(format!("flatc failed: {status}"));
    }
    let fresh_path = out.join("tickd_generated.rs");
    let fresh = fs::read_to_string(&fresh_path)
        .map_err(|e| format!("read {}: {e}", fresh_path.display()))?;
    let _ = fs::remove_dir_all(&out);
    let target = dir.join(GENERATED);
    if check {
        let current = fs::read_to_string(&target).unwrap_or_default();
        if current == fresh {
            println!("{} is up to date with {SCHEMA}", target.display());
            return Ok(true);
        }
        eprintln!(
            "{} is stale: run protocol/codegen.sh and commit the result",
            target.display()
        );
        return Ok(false);
    }
    fs::write(&target, fresh).map_err(|e| format!("write {}: {e}", target.display()))?;
    println!("wrote {}", target.display());
    Ok(true)
}
