//! natter's integration tests: ONE test binary, one module per area (as
//! zero2prod's `tests/api/`), so they link once and share `helpers` without
//! dead-code allowances.
//!
//! A new area is a new module here (`tests/api/<area>.rs` plus a `mod` line
//! below), not a new file directly under `tests/`, which would be a binary of
//! its own. Run one area with `cargo test -p natter --test api <area>::`.
//!
//! All the tests run in this one process, on parallel threads: pass settings to
//! an app through its `Config` (see `helpers`), never with `std::env::set_var`,
//! and clear the inherited server settings of a process you spawn
//! (`helpers::without_server_config`).

mod helpers;

mod accounts;
mod attachments;
mod avatars;
mod blocking;
mod body_limits;
mod cluster;
mod connections;
mod conversations;
mod delivery;
mod durability;
mod groups;
mod history_json;
mod lifecycle;
mod limits;
mod logs;
mod mute;
mod node_suites;
mod presence_cluster;
mod presence_scope;
mod proxy;
mod realtime;
mod redis_restart;
mod schemathesis;
mod search;
mod security;
mod slow_socket;
