//! natter: a real-time chat server. 1:1 conversations and a shared lobby over
//! Socket.IO, with every message stored durably and in order.
//!
//! The layers, outside in: `http` and `realtime` translate the wire; `services`
//! hold the rules; `store` keeps the data (SQLite or PostgreSQL).

pub mod app;
pub mod config;
pub mod cpu;
pub mod error;
pub mod http;
pub mod ids;
pub mod model;
pub mod realtime;
pub mod services;
pub mod state;
pub mod store;
