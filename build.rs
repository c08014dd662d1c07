//! Build script: records the git commit the binary is built from as `PANTAU_GIT_COMMIT`
//! (`git rev-parse --short HEAD`), for `pantau --version`. Outside a git checkout (a source
//! tarball) it is `unknown`, unless `PANTAU_GIT_COMMIT` is set in the build's environment.
//!
//! Cheap on purpose: it reruns only when HEAD moves (a checkout, or a commit on the branch
//! HEAD names), never on ordinary source edits.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PANTAU_GIT_COMMIT");
    if let Ok(given) = std::env::var("PANTAU_GIT_COMMIT") {
        println!("cargo:rustc-env=PANTAU_GIT_COMMIT={given}");
        return;
    }
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    if commit.is_some() {
        // HEAD itself (a checkout), the branch it names (a commit), and packed refs. In a
        // worktree these live outside `.git`, so ask git where they are.
        let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(branch);
        }
        for name in watched {
            if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
                if std::path::Path::new(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
        }
    }
    println!(
        "cargo:rustc-env=PANTAU_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}
