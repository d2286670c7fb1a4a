//! `codeexec doctor`: can this host sandbox, and what does the catalogue offer here.

use std::process::ExitCode;

use super::Context;

pub fn doctor(ctx: &Context) -> anyhow::Result<ExitCode> {
    let catalog = ctx.catalog()?;
    let sandbox = ctx.sandbox(&catalog, true)?;
    println!("sandbox: ok (a box ran /bin/true)");
    println!("cgroups: {:?}", sandbox.cgroup_version());
    println!("state directory: {}", sandbox.config().state_dir.display());
    println!(
        "seccomp: {} system calls refused",
        codeexec_sandbox::DENIED_SYSCALLS.len()
    );
    println!("catalogue: {}", ctx.catalog_dir.display());
    println!(
        "compilers: {} installed in {} languages, {} not installed \
         (`codeexec toolchains list --missing`)",
        catalog.installed().len(),
        catalog.languages().count(),
        catalog.unavailable().len()
    );
    Ok(ExitCode::SUCCESS)
}
