//! Builds the web UI (`web/`, Vite) into `$OUT_DIR/web`, which `http::web` embeds.
//!
//! The UI is part of the Rust build so that `cargo run` on a fresh clone serves it:
//! `npm ci` runs when `node_modules` is missing or older than the lock file, then
//! `npm run build`. Set `NATTER_SKIP_WEB=1` to embed a placeholder page instead
//! (for server-only work on a machine without Node).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("web");
    println!("cargo:rerun-if-env-changed=NATTER_SKIP_WEB");
    for input in [
        "src",
        "public",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "tailwind.config.js",
        "postcss.config.js",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }

    let skip = std::env::var("NATTER_SKIP_WEB").is_ok_and(|v| v == "1");
    if skip || !web.join("package.json").exists() {
        placeholder(&out);
        return;
    }
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    if !installed.exists() || modified(&lock) > modified(&installed) {
        npm(&web, &["ci", "--no-audit", "--no-fund"]);
    }
    let out_dir = out.to_str().expect("OUT_DIR is UTF-8");
    npm(
        &web,
        &["run", "build", "--", "--outDir", out_dir, "--emptyOutDir"],
    );
}

fn npm(dir: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("natter's web UI needs Node.js and npm to build ({e}); set NATTER_SKIP_WEB=1 to build without it"));
    assert!(status.success(), "`npm {}` failed in web/", args.join(" "));
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

fn placeholder(out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(
        out.join("index.html"),
        "<!doctype html><title>natter</title><p>natter is running; this build has no web UI (NATTER_SKIP_WEB=1).</p>",
    )
    .unwrap();
}
