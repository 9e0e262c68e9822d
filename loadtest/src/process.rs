//! Servers under test run as child processes, as users deploy them: their CPU time and memory
//! are read from `/proc`, apart from the load generator's.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A server process, killed when dropped.
pub(crate) struct ServerProcess {
    name: String,
    child: Child,
}

impl ServerProcess {
    /// Starts `program args` with its output discarded (`TICKD_LOADTEST_LOGS=1` keeps stderr).
    pub(crate) fn spawn(name: &str, program: &Path, args: &[String]) -> anyhow::Result<Self> {
        let stderr = if std::env::var_os("TICKD_LOADTEST_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {name} ({})", program.display()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// Waits until `addr` accepts TCP connections (the server is ready), or fails after 30 s
    /// or if the process exits.
    pub(crate) async fn wait_tcp(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("{} exited before listening on {addr}: {status}", self.name);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not listen on {addr} within 30 s",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits a fixed settle time for servers with no TCP port (UDP only).
    pub(crate) async fn wait_settle(&mut self) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!("{} exited at start: {status}", self.name);
        }
        Ok(())
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the process has used so far, ns.
    pub(crate) fn cpu_ns(&self) -> u64 {
        cpu_ns(self.child.id()).unwrap_or(0)
    }

    /// Resident memory, bytes.
    pub(crate) fn rss_bytes(&self) -> u64 {
        rss_bytes(self.child.id()).unwrap_or(0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLK_TCK: u64 = 100;

/// User + system CPU of `pid`, ns, from `/proc/<pid>/stat` (fields 14 and 15, after the
/// parenthesised command name).
pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    parse_cpu_ns(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_cpu_ns(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * (1_000_000_000 / CLK_TCK))
}

/// The calling thread's CPU (user + system), ns: the scheduler's exact runtime
/// (`CLOCK_THREAD_CPUTIME_ID`), not `/proc`'s clock ticks, which sample at 10 ms and so
/// misjudge a thread that runs in short bursts.
pub(crate) fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// This process's own CPU (user + system), ns.
pub(crate) fn self_cpu_ns() -> u64 {
    cpu_ns(std::process::id()).unwrap_or(0)
}

/// `VmRSS` of `pid`, bytes.
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The 1-minute load average, for the report.
pub(crate) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// A loopback port free for both TCP and UDP right now.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0")?;
        let port = tcp.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port")
}

/// A program built beside this one (`cargo build --release -p tickd-server -p tickd-loadtest`
/// puts `tickd` and `tickd-loadtest` in the same directory).
pub(crate) fn sibling(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found: build it first (cargo build --release -p tickd-server)",
        path.display()
    );
    Ok(path)
}

/// An installed program (a baseline server from apt): searched on `PATH`, then in the `sbin`
/// directories Debian installs daemons to.
pub(crate) fn installed(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(Into::into))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "{name} not found: install it with loadtest/install.sh (apt-get install {name})"
            )
        })
}
