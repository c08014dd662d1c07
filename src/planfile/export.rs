//! `pantau plan export`: the plan to write into the workbook, read from `--plan` (a
//! masterplan.toml alone) or from the configuration `--config` names, validated as `pantau
//! check` validates it, with the number of its feeds (which the workbook does not carry).

use crate::config::{Config, ConfigError, parse_masterplan};
use crate::domain::Masterplan;
use anyhow::Context;
use std::path::Path;

/// The plan in `plan` when given, else the configuration's (`--config`, or the default one), and
/// how many `[[feed]]` sections it has.
pub fn load_plan(
    plan: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<(Masterplan, usize)> {
    match plan {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}; check --plan", file.display()))?;
            let env: Vec<(String, String)> = std::env::vars().collect();
            let mut problems = Vec::new();
            match parse_masterplan(&text, &file.display().to_string(), &env, &mut problems) {
                Some((plan, feeds)) => Ok((plan, feeds.len())),
                None => Err(ConfigError { problems }.into()),
            }
        }
        None => {
            let config = Config::load(config)?;
            Ok((config.masterplan, config.feeds.len()))
        }
    }
}
