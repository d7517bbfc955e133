//! natter: a real-time chat server. 1:1 conversations and a shared lobby over
//! Socket.IO, with every message stored durably and in order.
//!
//! The layers, outside in: `http` and `realtime` translate the wire (siblings
//! that never import each other); `services` hold the rules; `store` keeps the
//! data (SQLite or PostgreSQL). `contract` is the wire's types, `domain` the
//! parsed values that services take.

pub mod app;
pub mod config;
pub mod contract;
pub mod cpu;
pub mod domain;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod logging;
pub mod realtime;
pub mod server;
pub mod services;
pub mod state;
pub mod store;
pub mod telemetry;
