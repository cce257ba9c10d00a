//! Compiles `bpf/*.bpf.c` with clang and generates their libbpf-rs skeletons into `OUT_DIR`.

use std::{env, path::PathBuf};

use anyhow::{Context, Result};
use libbpf_cargo::SkeletonBuilder;

const PROGRAMS: &[&str] = &["process", "tls"];

fn main() -> Result<()> {
    let bpf_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../bpf");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for name in PROGRAMS {
        let src = bpf_dir.join(format!("{name}.bpf.c"));
        let skel = out_dir.join(format!("{name}.skel.rs"));
        SkeletonBuilder::new()
            .source(&src)
            .clang_args(["-I", bpf_dir.to_str().context("non-UTF-8 path to bpf/")?, "-Wall"])
            .build_and_generate(&skel)
            .with_context(|| {
                format!(
                    "failed to compile `{}`: is clang installed (apt-get install clang libelf-dev zlib1g-dev pkg-config)?",
                    src.display()
                )
            })?;
        println!("cargo:rerun-if-changed={}", src.display());
        println!("cargo:rerun-if-changed={}", bpf_dir.join(format!("{name}.h")).display());
    }
    for shared in ["vmlinux.h", "common.bpf.h"] {
        println!("cargo:rerun-if-changed={}", bpf_dir.join(shared).display());
    }
    Ok(())
}
