//! `agentsight eval DIR`: detection quality on a labelled set (`analyzer::eval`), with the
//! judge of the configuration when asked; exits 1 when a floor is missed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::Config;

use crate::render::{print_json, print_text};

/// What `agentsight eval` was asked.
#[derive(Debug)]
pub(crate) struct EvalArgs {
    pub floors: Option<PathBuf>,
    pub json: bool,
    pub verbose: bool,
    pub judge: bool,
    pub sample: Option<usize>,
}

/// `agentsight eval DIR`: detection quality on a labelled set.
pub(crate) fn eval(dir: &Path, args: EvalArgs, config: Config) -> Result<i32> {
    let floors = args
        .floors
        .as_deref()
        .map(|f| {
            let text = std::fs::read_to_string(f).with_context(|| format!("failed to read `{}`", f.display()))?;
            analyzer::eval::Floors::parse(&text).with_context(|| format!("in `{}`", f.display()))
        })
        .transpose()?;
    let detectors = config.analyzer.detect.clone().build()?;
    let judge = match (args.judge, &config.analyzer.judge) {
        (false, _) => None,
        (true, None) => bail!("--judge needs a judge: an `[analyzer.judge]` section in the config (or AGENTSIGHT_JUDGE_URL and AGENTSIGHT_JUDGE_MODEL)"),
        (true, Some(j)) => Some(j.clone().build().context("failed to start the judge")?),
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("failed to start a runtime")?;
    let mut ask = |w: &model::Window, found: &[model::Finding]| -> analyzer::eval::Judged {
        let Some(judge) = &judge else { return analyzer::eval::Judged::default() };
        let started = std::time::Instant::now();
        let v = runtime.block_on(judge.judge(w, found));
        let cost = |f: &model::Finding| f.judge.as_ref().map_or((0, 0), |j| (j.input_tokens, j.output_tokens));
        analyzer::eval::Judged {
            prompts: v.findings.len() + v.errors.len(),
            errors: v.errors.len(),
            input_tokens: v.findings.iter().map(|f| cost(f).0).sum(),
            output_tokens: v.findings.iter().map(|f| cost(f).1).sum(),
            seconds: started.elapsed().as_secs_f64(),
            findings: v.findings,
        }
    };
    let options = analyzer::eval::Options {
        sample: args.sample,
        judge: judge.as_ref().map(|j| (j.model().to_string(), &mut ask as analyzer::eval::JudgeFn<'_>)),
    };
    let started = std::time::Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = analyzer::eval::run(dir, &config.window, &detectors, options, |n, total, file| {
        if tty && !args.json {
            eprint!("\ragentsight: eval {}/{total} {file:<50.50}", n + 1);
        } else if judge.is_some() {
            eprintln!("agentsight: eval {}/{total} {file}", n + 1);
        }
    })
    .with_context(|| format!("failed to evaluate `{}`", dir.display()))?;
    if tty && !args.json {
        eprint!("\r{:80}\r", "");
    }
    if args.json {
        print_json(&report)?;
    } else {
        let text = format!("{}: {}", dir.display(), analyzer::eval::render(&report, args.verbose));
        print_text(&format!("{text}\n{:.1} s\n", started.elapsed().as_secs_f64()))?;
    }
    let short = floors.map(|f| f.check(&report)).unwrap_or_default();
    for line in &short {
        eprintln!("agentsight: eval below its floor: {line}");
    }
    Ok(if short.is_empty() { 0 } else { 1 })
}
