//! The web client's wire types, generated from the Rust types by ts-rs into
//! `web/src/generated/` (one file per type, checked in).
//!
//! The unit test below regenerates them into a temporary directory and fails when
//! the checked-in files differ, so a change to the contract that is not carried
//! to the web client fails `cargo test`; and since the UI compiles against these
//! files (`npm run build` runs `tsc`), a change the UI does not follow fails its
//! build. To regenerate after changing a type:
//!
//! ```sh
//! UPDATE_TS_TYPES=1 cargo test -p natter --lib typescript
//! ```

use std::path::Path;

use ts_rs::{Config, ExportError, TS};

use super::bodies::*;
use super::events::{ClientAck, ClientEvent, ErrorBody, ServerEvent};

/// Writes every root type of the contract (and what they use) into `dir`.
pub fn export_to(dir: &Path) -> Result<(), ExportError> {
    // Times, seqs and counts are JavaScript numbers (all below 2^53).
    let cfg = Config::new().with_large_int("number").with_out_dir(dir);
    ServerEvent::export_all(&cfg)?;
    ClientEvent::export_all(&cfg)?;
    ClientAck::export_all(&cfg)?;
    ErrorBody::export_all(&cfg)?;
    RegisterRequest::export_all(&cfg)?;
    LoginRequest::export_all(&cfg)?;
    SessionAnswer::export_all(&cfg)?;
    UserAnswer::export_all(&cfg)?;
    ProfilePatch::export_all(&cfg)?;
    PasswordChange::export_all(&cfg)?;
    UsersPage::export_all(&cfg)?;
    BlockedUsers::export_all(&cfg)?;
    SearchPage::export_all(&cfg)?;
    MuteRequest::export_all(&cfg)?;
    OpenConversation::export_all(&cfg)?;
    ConversationAnswer::export_all(&cfg)?;
    ConversationsAnswer::export_all(&cfg)?;
    HistoryPage::export_all(&cfg)?;
    SendRequest::export_all(&cfg)?;
    ChatRequest::export_all(&cfg)?;
    MessageAnswer::export_all(&cfg)?;
    AttachmentAnswer::export_all(&cfg)?;
    ReadRequest::export_all(&cfg)?;
    RenameRequest::export_all(&cfg)?;
    AddMembersRequest::export_all(&cfg)?;
    MembersAnswer::export_all(&cfg)?;
    EditRequest::export_all(&cfg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn read_dir(dir: &std::path::Path) -> BTreeMap<String, String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "ts"))
                    .map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        (name, std::fs::read_to_string(e.path()).unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn typescript_bindings_are_current() {
        let checked_in = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web/src/generated");
        if std::env::var("UPDATE_TS_TYPES").is_ok_and(|v| v == "1") {
            for name in read_dir(&checked_in).keys() {
                std::fs::remove_file(checked_in.join(name)).unwrap();
            }
            super::export_to(&checked_in).unwrap();
            return;
        }
        let fresh = tempfile::tempdir().unwrap();
        super::export_to(fresh.path()).unwrap();
        let (fresh, checked_in) = (read_dir(fresh.path()), read_dir(&checked_in));
        let stale: Vec<&String> = fresh
            .keys()
            .chain(checked_in.keys())
            .filter(|name| fresh.get(*name) != checked_in.get(*name))
            .collect();
        assert!(
            stale.is_empty(),
            "web/src/generated is out of date ({stale:?}): run \
             `UPDATE_TS_TYPES=1 cargo test -p natter --lib typescript` and commit the result"
        );
    }
}
