//! The configuration every command reads (`analyzer::config::Config`): from `--config`, the
//! environment or the user's config file, with the judge also settable from the environment.

use std::path::PathBuf;

use analyzer::config::Config;
use anyhow::Result;

/// `--config FILE`, else `$AGENTSIGHT_CONFIG`, else `~/.config/agentsight/config.toml` when it
/// exists, else the defaults. `AGENTSIGHT_JUDGE_URL` and `AGENTSIGHT_JUDGE_MODEL` configure a
/// judge without a file.
pub fn load_config(arg: Option<PathBuf>) -> Result<Config> {
    let path = arg.or_else(|| std::env::var_os("AGENTSIGHT_CONFIG").map(PathBuf::from)).or_else(|| {
        let p = PathBuf::from(std::env::var_os("HOME")?).join(".config/agentsight/config.toml");
        p.exists().then_some(p)
    });
    let mut config = match path {
        Some(p) => Config::load(&p)?,
        None => Config::default(),
    };
    if let Some(url) = std::env::var("AGENTSIGHT_JUDGE_URL").ok().filter(|u| !u.is_empty()) {
        let mut judge = config.judge.take().unwrap_or_default();
        judge.base_url = url;
        if let Ok(model) = std::env::var("AGENTSIGHT_JUDGE_MODEL") {
            judge.model = model;
        }
        config.judge = Some(judge);
        config.validate()?;
    }
    Ok(config)
}
