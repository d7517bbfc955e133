//! The log filter: `RUST_LOG` as given, except for the crates that would log
//! what users send.
//!
//! socketioxide and engineioxide log every packet at debug level, the
//! handshake's `auth` (a bearer token) included; the WebSocket crates below
//! them log frames. They stay at `info` whatever `RUST_LOG` says, so turning on
//! debug logs to chase a bug never writes credentials or messages to disk.

use tracing_subscriber::EnvFilter;

/// Crates pinned to `info`.
const PINNED: [&str; 6] = [
    "socketioxide",
    "socketioxide_core",
    "socketioxide_redis",
    "engineioxide",
    "tungstenite",
    "tokio_tungstenite",
];

/// The filter for `rust_log` (the value of `RUST_LOG`; `info` when unset or invalid).
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    let mut directives = without_pinned(rust_log.unwrap_or("info"));
    if directives.is_empty() {
        directives = "info".to_owned();
    }
    let pins = PINNED.map(|target| format!("{target}=info")).join(",");
    EnvFilter::try_new(format!("{directives},{pins}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{pins}")))
}

/// `rust_log` without directives about a pinned crate or one of its modules.
fn without_pinned(rust_log: &str) -> String {
    rust_log
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .filter(|directive| {
            let target = directive.split(['=', '[']).next().unwrap_or("");
            let krate = target.split("::").next().unwrap_or("");
            !PINNED.contains(&krate)
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_directives_about_pinned_crates() {
        assert_eq!(
            without_pinned("debug, socketioxide=trace,engineioxide::socket[x]=debug,natter=trace"),
            "debug,natter=trace"
        );
        assert_eq!(without_pinned("socketioxide_redis=debug"), "");
        let filter = filter(Some("trace,socketioxide::handler=trace")).to_string();
        assert!(filter.contains("socketioxide=info"), "{filter}");
        assert!(!filter.contains("socketioxide::handler"), "{filter}");
    }
}
