//! HTTP load from wrk (Debian's `wrk`): a fixed number of keep-alive connections, each sending
//! its next request when the last answer arrives, for a duration. We read its summary:
//! requests/s and the latency distribution it prints with `--latency`.
//!
//! wrk is closed-loop, so its percentiles are of answered requests at the rate the server
//! sustains (no coordinated-omission correction: there is no fixed send rate to correct to).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

/// What one wrk run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WrkResult {
    pub(crate) requests_per_s: f64,
    pub(crate) requests: u64,
    pub(crate) p50_ns: u64,
    pub(crate) p75_ns: u64,
    pub(crate) p90_ns: u64,
    pub(crate) p99_ns: u64,
    /// Non-2xx/3xx answers, socket errors and timeouts.
    pub(crate) errors: u64,
}

/// Runs `wrk` against `http://addr{path}`.
pub(crate) fn run(
    addr: SocketAddr,
    path: &str,
    connections: u32,
    threads: u32,
    duration: Duration,
) -> anyhow::Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", duration.as_secs().max(1)),
            &format!("http://{addr}{path}"),
        ])
        .output()
        .context("run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "wrk failed: {text}");
    parse(&text).with_context(|| format!("read wrk's report:\n{text}"))
}

/// Parses wrk's report.
fn parse(text: &str) -> anyhow::Result<WrkResult> {
    let mut r = WrkResult {
        requests_per_s: 0.0,
        requests: 0,
        p50_ns: 0,
        p75_ns: 0,
        p90_ns: 0,
        p99_ns: 0,
        errors: 0,
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => r.requests_per_s = v.parse()?,
            [n, "requests", "in", ..] => r.requests = n.parse()?,
            ["50%", v] => r.p50_ns = duration_ns(v)?,
            ["75%", v] => r.p75_ns = duration_ns(v)?,
            ["90%", v] => r.p90_ns = duration_ns(v)?,
            ["99%", v] => r.p99_ns = duration_ns(v)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => r.errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                r.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    anyhow::ensure!(r.requests_per_s > 0.0, "no Requests/sec line");
    Ok(r)
}

/// wrk's `123.45us`, `1.20ms`, `2.00s` as ns.
fn duration_ns(text: &str) -> anyhow::Result<u64> {
    let (num, scale) = if let Some(v) = text.strip_suffix("us") {
        (v, 1e3)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1e6)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1e9)
    } else {
        anyhow::bail!("{text:?}: not a wrk duration");
    };
    Ok((num.parse::<f64>()? * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_report() {
        let text = "Running 10s test @ http://127.0.0.1:8080/price/latest?symbol=AAPL
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.33us  120.10us   5.01ms   90.00%
    Req/Sec   120.50k     3.10k  125.00k    70.00%
  Latency Distribution
     50%  400.00us
     75%  450.50us
     90%  520.00us
     99%    1.02ms
  1205000 requests in 10.00s, 500.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec: 120500.12
Transfer/sec:     50.00MB
";
        let r = parse(text).unwrap();
        assert_eq!(r.requests, 1_205_000);
        assert_eq!(r.requests_per_s, 120_500.12);
        assert_eq!(r.p50_ns, 400_000);
        assert_eq!(r.p75_ns, 450_500);
        assert_eq!(r.p90_ns, 520_000);
        assert_eq!(r.p99_ns, 1_020_000);
        assert_eq!(r.errors, 7);
        assert_eq!(duration_ns("2.00s").unwrap(), 2_000_000_000);
        assert!(duration_ns("12").is_err());
    }
}
