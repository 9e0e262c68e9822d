//! Regenerates `protocol/src/generated/tickd_generated.rs` from `protocol/schema/tickd.fbs`
//! with the vendored flatc 23.5.26 (the version the `flatbuffers` runtime is pinned to).
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

fn run(dir: &Path, check: bool) -> Result<bool, String> {
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
