//! `pantau demo`: the example masterplan with simulated department feeds (work in progress).

pub async fn run(
    _config: Option<std::path::PathBuf>,
    _args: crate::cli::RunArgs,
) -> anyhow::Result<()> {
    anyhow::bail!("demo not built yet")
}
