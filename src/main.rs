use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: reading a capture allocates and
/// frees a few small blocks per SYN and answer (attribute sets, their
/// strings), and glibc's free lists cost a flood of SYNs ~8% (issue 13).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    synlab::cli::run()
}
