//! Access tokens with roles (DESIGN.md §8). Tokens are configured as SHA-256 hashes, never in
//! clear, and a presented token is compared against every configured hash in constant time.
//!
//! With no tokens configured the server is open: every client gets every role, and the server
//! refuses to listen beyond loopback (the shell enforces that).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tickd_protocol::Roles;

/// One configured token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Name for logs (never the token itself).
    pub name: String,
    /// SHA-256 of the token's UTF-8 bytes.
    pub sha256: [u8; 32],
    /// Roles it grants.
    pub roles: Roles,
}

/// The configured tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    tokens: Vec<Token>,
}

/// Why a client was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Tokens are configured and the client sent none.
    #[error("a token is required: send one in Hello")]
    Missing,
    /// The token matches no configured hash.
    #[error("unknown token")]
    Unknown,
}

/// Parses a role name: `subscribe`, `publish` or `admin`.
pub fn parse_role(name: &str) -> Option<Roles> {
    match name {
        "subscribe" => Some(Roles::SUBSCRIBE),
        "publish" => Some(Roles::PUBLISH),
        "admin" => Some(Roles::ADMIN),
        _ => None,
    }
}

/// SHA-256 of `token`, the form tokens are configured in.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// SHA-256 of `token` as 64 lowercase hex digits (`tickd token-hash` prints this).
pub fn hash_token_hex(token: &str) -> String {
    hex::encode(hash_token(token))
}

/// Parses 64 hex digits into a hash.
///
/// # Errors
///
/// A message if `hex` is not 64 hex digits.
pub fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|e| format!("token hash {text:?}: {e} (expected 64 hex digits)"))?;
    Ok(out)
}

impl Auth {
    /// No tokens: every client gets every role.
    pub fn open() -> Self {
        Self::default()
    }

    /// These tokens.
    pub fn with_tokens(tokens: Vec<Token>) -> Self {
        Self { tokens }
    }

    /// Whether no tokens are configured.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The roles and name granted to `token`. Compares against every configured hash in
    /// constant time (no early exit), so timing does not reveal which hash matched.
    ///
    /// # Errors
    ///
    /// [`AuthError`] when tokens are configured and `token` is absent or unknown.
    pub fn check(&self, token: Option<&str>) -> Result<(Roles, &str), AuthError> {
        if self.tokens.is_empty() {
            return Ok((
                Roles::SUBSCRIBE.union(Roles::PUBLISH).union(Roles::ADMIN),
                "open",
            ));
        }
        let token = token.ok_or(AuthError::Missing)?;
        let presented = hash_token(token);
        let mut found: Option<&Token> = None;
        for t in &self.tokens {
            if bool::from(t.sha256.ct_eq(&presented)) && found.is_none() {
                found = Some(t);
            }
        }
        found
            .map(|t| (t.roles, t.name.as_str()))
            .ok_or(AuthError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_by_hash() {
        let auth = Auth::with_tokens(vec![
            Token {
                name: "feed".into(),
                sha256: hash_token("s3cret"),
                roles: Roles::PUBLISH,
            },
            Token {
                name: "ui".into(),
                sha256: parse_hash(&hash_token_hex("view")).unwrap(),
                roles: Roles::SUBSCRIBE,
            },
        ]);
        assert_eq!(auth.check(Some("s3cret")), Ok((Roles::PUBLISH, "feed")));
        assert_eq!(auth.check(Some("view")), Ok((Roles::SUBSCRIBE, "ui")));
        assert_eq!(auth.check(Some("nope")), Err(AuthError::Unknown));
        assert_eq!(auth.check(None), Err(AuthError::Missing));
        assert!(Auth::open().check(None).unwrap().0.contains(Roles::PUBLISH));
        assert_eq!(
            hash_token_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(parse_hash("xyz").is_err());
    }
}
