//! Connection caps per client IP (DESIGN.md §8), shared by the TCP and QUIC listeners. A
//! connection holds a [`Permit`]; dropping it gives the slot back.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

/// Open connections, in total and per IP.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: u64,
    per_ip: u32,
    per_token: u32,
    by_ip: DashMap<IpAddr, u32>,
    by_token: DashMap<String, u32>,
    total: AtomicU64,
    released: tokio::sync::Notify,
}

/// One open connection's slot under its token's cap.
#[derive(Debug)]
pub struct TokenPermit {
    limits: Arc<ConnectionLimits>,
    token: String,
}

impl Drop for TokenPermit {
    fn drop(&mut self) {
        let empty = match self.limits.by_token.get_mut(&self.token) {
            Some(mut n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if empty {
            self.limits.by_token.remove_if(&self.token, |_, n| *n == 0);
        }
        self.limits.released.notify_waiters();
    }
}

/// Why a connection was refused: which cap, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The client IP's cap.
    #[error("too many connections from this address (--max-connections-per-ip {0})")]
    PerIp(u32),
    /// The server's total.
    #[error("too many connections to this server (--max-connections {0})")]
    Total(u64),
}

/// One open connection's slot.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// At most `per_ip` open connections from one IP and `per_token` with one token, and at
    /// most `max_total` in all.
    pub fn new(max_total: u64, per_ip: u32, per_token: u32) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            per_ip,
            per_token,
            by_ip: DashMap::new(),
            by_token: DashMap::new(),
            total: AtomicU64::new(0),
            released: tokio::sync::Notify::new(),
        })
    }

    /// A slot for a connection authenticated with token `name`, or `None` at the cap.
    pub fn try_acquire_token(self: &Arc<Self>, name: &str) -> Option<TokenPermit> {
        let mut n = self.by_token.entry(name.to_owned()).or_insert(0);
        if *n >= self.per_token {
            return None;
        }
        *n += 1;
        Some(TokenPermit {
            limits: Arc::clone(self),
            token: name.to_owned(),
        })
    }

    /// The cap per token.
    pub fn per_token(&self) -> u32 {
        self.per_token
    }

    /// A slot for a connection from `ip`, or why not: that IP is at its cap, or the server is
    /// at its total.
    ///
    /// # Errors
    ///
    /// [`Refused`] naming the cap and its value.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refused> {
        // Relaxed: the total is approximate by the accepts in flight on other threads.
        if self.total.load(Ordering::Relaxed) >= self.max_total {
            return Err(Refused::Total(self.max_total));
        }
        let mut n = self.by_ip.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return Err(Refused::PerIp(self.per_ip));
        }
        *n += 1;
        // Relaxed: a gauge for reports, no ordering with other data.
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(Permit {
            limits: Arc::clone(self),
            ip,
        })
    }

    /// The cap per IP.
    pub fn per_ip(&self) -> u32 {
        self.per_ip
    }

    /// Open connections, all IPs.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Resolves when a permit (per IP or per token) is next released. Wake-ups count from the
    /// call, not the first poll, so `let r = released(); try_connect(); r.await` loses none.
    pub fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.released.notified()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limits.total.fetch_sub(1, Ordering::Relaxed);
        let empty = match self.limits.by_ip.get_mut(&self.ip) {
            Some(mut n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if empty {
            self.limits.by_ip.remove_if(&self.ip, |_, n| *n == 0);
        }
        self.limits.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_ip_and_releases_on_drop() {
        let limits = ConnectionLimits::new(u64::MAX, 2, 1);
        let t = limits.try_acquire_token("feed").unwrap();
        assert!(limits.try_acquire_token("feed").is_none());
        drop(t);
        assert!(limits.try_acquire_token("feed").is_some());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = limits.try_acquire(a).unwrap();
        let _p2 = limits.try_acquire(a).unwrap();
        assert_eq!(limits.try_acquire(a).unwrap_err(), Refused::PerIp(2));
        let _p3 = limits.try_acquire(b).unwrap();
        assert_eq!(limits.total(), 3);
        drop(p1);
        assert!(limits.try_acquire(a).is_ok());
        let small = ConnectionLimits::new(1, 5, 5);
        let _only = small.try_acquire(a).unwrap();
        assert_eq!(small.try_acquire(b).unwrap_err(), Refused::Total(1));
        assert_eq!(
            Refused::Total(1).to_string(),
            "too many connections to this server (--max-connections 1)"
        );
    }
}
