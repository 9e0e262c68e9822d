//! Typed option values: each parses from the text a flag, an environment variable or the TOML
//! file gives (`FromStr`, used by clap and serde alike) and prints back the same text
//! (`Display`, which layering serializes), so a bad value is refused where it is read, with a
//! message that names it.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use tickd_engine::Token;

use crate::feed::replay::Speed;
use crate::storage::journal::FlushPolicy;
use tickd_protocol::{Roles, Scales, Symbol};

/// Implements serde for a type through its `FromStr` and `Display`.
macro_rules! serde_as_text {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_text!(Listen, SymbolList, Speed, FlushPolicy, SymbolScales);

impl serde::Serialize for TokenSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TokenSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match FileToken::deserialize(d)? {
            FileToken::Text(text) => text.parse(),
            FileToken::Table {
                name,
                sha256,
                roles,
            } => Self::new(
                &name,
                &sha256,
                &roles.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// A listener address, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Not listening.
    Off,
    /// Listening at this address (port 0: any free port).
    At(SocketAddr),
}

impl Listen {
    /// The address, if on.
    pub fn addr(self) -> Option<SocketAddr> {
        match self {
            Self::Off => None,
            Self::At(a) => Some(a),
        }
    }
}

impl FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Self::Off);
        }
        s.parse()
            .map(Self::At)
            .map_err(|_| format!("{s:?} is not an address (host:port) or `off`"))
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::At(a) => a.fmt(f),
        }
    }
}

/// A comma-separated list of symbols, or `off` (the empty list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolList(pub Vec<Symbol>);

impl FromStr for SymbolList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Self(Vec::new()));
        }
        s.split(',')
            .map(|sym| Symbol::new(sym.trim()).map_err(|e| format!("symbol {sym:?}: {e}")))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl fmt::Display for SymbolList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("off");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

/// An instrument's scales, `SYMBOL=PRICE:SIZE` (`PEPEUSDT=8:0`: prices to 8 decimal places,
/// sizes in whole units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SymbolScales {
    /// The instrument.
    pub symbol: Symbol,
    /// Its scales.
    pub scales: Scales,
}

impl FromStr for SymbolScales {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (sym, scales) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected SYMBOL=PRICE:SIZE"))?;
        Ok(Self {
            symbol: Symbol::new(sym).map_err(|e| format!("symbol {sym:?}: {e}"))?,
            scales: scales.parse()?,
        })
    }
}

impl fmt::Display for SymbolScales {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.symbol, self.scales)
    }
}

/// A ring capacity in slots: a power of two, at least 2 (an integer in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct RingSlots(u64);

impl TryFrom<u64> for RingSlots {
    type Error = String;
    fn try_from(slots: u64) -> Result<Self, String> {
        Self::new(slots).ok_or_else(|| format!("{slots} is not a power of two >= 2"))
    }
}

impl From<RingSlots> for u64 {
    fn from(slots: RingSlots) -> Self {
        slots.0
    }
}

impl RingSlots {
    /// `slots` if it is a power of two ≥ 2.
    pub fn new(slots: u64) -> Option<Self> {
        (slots >= 2 && slots.is_power_of_two()).then_some(Self(slots))
    }

    /// The number of slots.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl FromStr for RingSlots {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| format!("{s:?} is not a power of two >= 2"))
    }
}

impl fmt::Display for RingSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An access token: `NAME:SHA256:ROLES` on the command line and in the environment (the
/// SHA-256 of the token in hex, as `tickd token-hash` prints it; roles `subscribe`, `publish`,
/// `admin` joined by `+`), or a `[[tokens]]` table with `name`, `sha256` and `roles` in the
/// file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSpec(pub Token);

impl TokenSpec {
    /// A token named `name` with hash `sha256` (hex) granting `roles`.
    ///
    /// # Errors
    ///
    /// A message naming the token and the bad hash or role.
    pub fn new(name: &str, sha256: &str, roles: &[&str]) -> Result<Self, String> {
        let sha256 =
            tickd_engine::auth::parse_hash(sha256).map_err(|e| format!("token {name:?}: {e}"))?;
        let mut granted = Roles(0);
        for r in roles {
            let role = tickd_engine::auth::parse_role(r).ok_or_else(|| {
                format!("token {name:?}: role {r:?} is not subscribe, publish or admin")
            })?;
            granted = granted.union(role);
        }
        Ok(Self(Token {
            name: name.to_owned(),
            sha256,
            roles: granted,
        }))
    }
}

impl FromStr for TokenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(name), Some(hash), Some(roles)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{s:?}: expected NAME:SHA256:ROLES"));
        };
        Self::new(name, hash, &roles.split('+').collect::<Vec<_>>())
    }
}

impl fmt::Display for TokenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        write!(f, "{}:{}:", t.name, hex::encode(t.sha256))?;
        let names = [
            (Roles::SUBSCRIBE, "subscribe"),
            (Roles::PUBLISH, "publish"),
            (Roles::ADMIN, "admin"),
        ];
        let mut first = true;
        for (role, name) in names {
            if t.roles.contains(role) {
                if !first {
                    f.write_str("+")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The file's `[[tokens]]` form of a [`TokenSpec`] (the text form is accepted there too).
#[derive(serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum FileToken {
    /// `"NAME:SHA256:ROLES"`.
    Text(String),
    /// `{ name, sha256, roles }`.
    Table {
        /// Name for logs.
        name: String,
        /// SHA-256 of the token, hex.
        sha256: String,
        /// Role names.
        roles: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_back_what_they_parse() {
        for text in ["off", "127.0.0.1:7400", "[::1]:0"] {
            assert_eq!(text.parse::<Listen>().unwrap().to_string(), text);
        }
        for text in ["off", "AAPL,MSFT"] {
            assert_eq!(text.parse::<SymbolList>().unwrap().to_string(), text);
        }
        assert_eq!("1024".parse::<RingSlots>().unwrap().get(), 1024);
        let hash = "ab".repeat(32);
        let spec = format!("feed:{hash}:subscribe+publish");
        assert_eq!(spec.parse::<TokenSpec>().unwrap().to_string(), spec);
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert_eq!(
            "nowhere".parse::<Listen>().unwrap_err(),
            "\"nowhere\" is not an address (host:port) or `off`"
        );
        assert_eq!(
            "1000".parse::<RingSlots>().unwrap_err(),
            "\"1000\" is not a power of two >= 2"
        );
        assert!(
            "AA PL"
                .parse::<SymbolList>()
                .unwrap_err()
                .starts_with("symbol \"AA PL\": "),
        );
        assert_eq!(
            "feed:ab".parse::<TokenSpec>().unwrap_err(),
            "\"feed:ab\": expected NAME:SHA256:ROLES"
        );
        let hash = "ab".repeat(32);
        assert_eq!(
            format!("feed:{hash}:trade")
                .parse::<TokenSpec>()
                .unwrap_err(),
            "token \"feed\": role \"trade\" is not subscribe, publish or admin"
        );
    }
}
