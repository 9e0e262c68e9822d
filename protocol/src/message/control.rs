//! Connection control: [`Hello`] and [`Welcome`] with the token's [`Roles`], and
//! [`Heartbeat`].

use crate::types::{Epoch, Seq, UnixNanos};

/// Roles a token grants (DESIGN.md §8), as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Roles(pub u32);

impl Roles {
    /// May subscribe and query.
    pub const SUBSCRIBE: Self = Self(1);
    /// May publish ticks.
    pub const PUBLISH: Self = Self(2);
    /// May administer the server.
    pub const ADMIN: Self = Self(4);

    /// Whether every role in `other` is granted.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of roles.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// Client → server: opens a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Client-chosen id echoed in the answer.
    pub request_id: u64,
    /// Lowest protocol version the client speaks.
    pub min_version: u16,
    /// Highest protocol version the client speaks.
    pub max_version: u16,
    /// Free-form client name for logs.
    pub client_name: String,
    /// Access token, if the server needs one.
    pub token: Option<String>,
}

/// Server → client: accepts a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The [`Hello`]'s request id.
    pub request_id: u64,
    /// Negotiated protocol version.
    pub version: u16,
    /// Free-form server name.
    pub server_name: String,
    /// The ring's epoch.
    pub epoch: Epoch,
    /// Last published seq (0 if none).
    pub head_seq: Seq,
    /// Server time when the answer was made.
    pub server_time: UnixNanos,
    /// Heartbeat period, in milliseconds.
    pub heartbeat_interval_ms: u32,
    /// Largest frame payload the server accepts, in bytes.
    pub max_frame_len: u32,
    /// Roles granted.
    pub roles: Roles,
}

/// Server → client: liveness and the head seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The ring's epoch.
    pub epoch: Epoch,
    /// Last published seq.
    pub head_seq: Seq,
    /// Server time.
    pub server_time: UnixNanos,
}
