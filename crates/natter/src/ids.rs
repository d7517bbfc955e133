//! Identifiers, session tokens and the clock.
//!
//! Ids are random 128-bit values in hex: opaque to clients, unguessable, and free
//! of any coordination between nodes. Session tokens are 256-bit random strings of
//! which only a SHA-256 digest is stored, so a leaked database grants no sessions.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A fresh session token, URL-safe base64 of 32 random bytes.
pub fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Milliseconds since the Unix epoch, the contract's time unit.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_are_unique_and_well_formed() {
        assert_ne!(new_id(), new_id());
        assert_eq!(new_id().len(), 32);
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_eq!(hash_token(&token), hash_token(&token));
        assert_ne!(hash_token(&token), hash_token(&new_token()));
    }
}
