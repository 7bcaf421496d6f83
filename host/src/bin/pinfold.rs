//! `pinfold`: the Pinfold service (≈ ipfs-cluster-service).

fn main() -> anyhow::Result<()> {
    pinfold::cli::run_service()
}
