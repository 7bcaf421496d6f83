//! `pinfold-ctl`: the command-line client of a Pinfold (or IPFS Cluster) peer's REST API, a
//! drop-in replacement for `ipfs-cluster-ctl`. Everything lives in [`pinfold::cli::ctl`]; this
//! file only hands over the process arguments and turns the result into the exit code.

fn main() {
    std::process::exit(pinfold::cli::ctl::main());
}
