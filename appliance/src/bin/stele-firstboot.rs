//! `stele-firstboot`: configures the appliance from its deployment properties at every boot.
//!
//! Finds the OVF environment, validates every property, and only then writes the replica's
//! config and keys (0600) to the data disk and the network, time, firewall, SSH and syslog
//! settings to /run, loads the firewall, and prints the banner. Any problem ends the run with
//! exit status 1 and a message on the console and in the journal; `stele.service` requires
//! this unit, so the node never starts on a refused configuration.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use stele_appliance::apply::{self, Ids};
use stele_appliance::config::ApplianceConfig;
use stele_appliance::render::{self, BannerStyle, ISSUE_FILE, NFTABLES_FILE};
use stele_appliance::{VERSION, source};

const USAGE: &str = "usage: stele-firstboot [--ovf-env FILE] [--root DIR] [--check] [--no-actions]
  --ovf-env FILE  read this OVF environment document instead of searching guestinfo and CD-ROMs
  --root DIR      write below DIR instead of / (tests)
  --check         validate and print the banner, write nothing
  --no-actions    write files but do not run nft or systemctl (tests)";

struct Args {
    ovf_env: Option<PathBuf>,
    root: PathBuf,
    check: bool,
    actions: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ovf_env: None,
        root: PathBuf::from("/"),
        check: false,
        actions: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--ovf-env" => a.ovf_env = Some(it.next().ok_or("--ovf-env needs a file")?.into()),
            "--root" => a.root = it.next().ok_or("--root needs a directory")?.into(),
            "--check" => a.check = true,
            "--no-actions" => a.actions = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("stele-firstboot: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One block, prefixed, so it stands out on the console and greps in the journal.
            eprintln!("stele-firstboot: CONFIGURATION ERROR - stele is not started");
            for line in message.lines() {
                eprintln!("stele-firstboot: {line}");
            }
            if !args.check {
                let issue = args.root.join(ISSUE_FILE);
                if let Some(dir) = issue.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(&issue, render::error_banner(VERSION, &message));
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let found = match &args.ovf_env {
        Some(path) => source::from_file(path),
        None => source::discover(),
    }
    .map_err(|e| e.to_string())?;
    eprintln!(
        "stele-firstboot: {} properties from {}",
        found.properties.len(),
        found.source_name
    );
    let cfg = ApplianceConfig::from_properties(&found.properties).map_err(|e| e.to_string())?;
    if args.check {
        print!("{}", render::banner(&cfg, VERSION, BannerStyle::Console));
        eprintln!("stele-firstboot: properties valid (check only, nothing written)");
        return Ok(());
    }
    let plan = render::plan(&cfg, VERSION);
    let ids = if args.actions {
        Ids::lookup(&args.root).map_err(|e| e.to_string())?
    } else {
        // Tests run unprivileged and cannot chown.
        Ids {
            node: (0, 0),
            chown: false,
        }
    };
    let changes = apply::apply(&args.root, &plan, ids).map_err(|e| e.to_string())?;
    for p in &changes.written {
        eprintln!("stele-firstboot: wrote /{p}");
    }
    for p in &changes.removed {
        eprintln!("stele-firstboot: removed /{p}");
    }
    if args.actions {
        actions(&cfg)?;
    }
    eprintln!(
        "stele-firstboot: applied: replica {} rpc port {} replica port {} from {} ({})",
        cfg.bundle.replica_id(),
        cfg.rpc_port,
        cfg.replica_port,
        found.source_name,
        if changes.is_empty() {
            "unchanged since last boot".to_owned()
        } else {
            format!(
                "{} files changed",
                changes.written.len() + changes.removed.len()
            )
        }
    );
    print!("{}", render::banner(&cfg, VERSION, BannerStyle::Console));
    Ok(())
}

/// Brings running services in line with the files just written.
fn actions(cfg: &ApplianceConfig) -> Result<(), String> {
    let nft = format!("/{NFTABLES_FILE}");
    run_cmd("nft", &["-f", &nft])?;
    // At boot these units are ordered after us and not yet running, so try-reload is a no-op;
    // when an operator re-runs the unit, it applies the new files.
    run_cmd(
        "systemctl",
        &[
            "--no-block",
            "try-reload-or-restart",
            "systemd-networkd.service",
            "systemd-timesyncd.service",
        ],
    )?;
    let ssh = if cfg.ssh_key.is_some() {
        "start"
    } else {
        "stop"
    };
    run_cmd("systemctl", &["--no-block", ssh, "ssh.service"])?;
    let syslog = if cfg.syslog.is_some() {
        "restart"
    } else {
        "stop"
    };
    run_cmd("systemctl", &["--no-block", syslog, "rsyslog.service"])?;
    Ok(())
}

fn run_cmd(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
