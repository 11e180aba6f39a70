//! `stele-ova`: build-side tooling of the appliance, sharing the configurator's schema.
//!
//! Subcommands: `descriptor` (OVF from the real disks), `manifest` (`SHA256(name)= hex`),
//! `check` (static checks of a built OVA), `bundle` (make a replica bundle from files, as
//! `stele init --appliance` will), `env` (write an OVF environment document, for the boot
//! test's ISO), `properties` (the property reference as Markdown, for the operator guide).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use stele_appliance::bundle::Bundle;
use stele_appliance::manifest::{self, Entry};
use stele_appliance::ovf::{self, DiskInput};
use stele_appliance::ovfenv::{self, Properties};
use stele_appliance::schema::{PROPERTIES, Requirement};
use stele_appliance::{check, vmdk};

const USAGE: &str = "usage:
  stele-ova descriptor --name NAME --version V --disk ID=VMDK... --out FILE.ovf
  stele-ova manifest --out FILE.mf FILE...
  stele-ova check FILE.ova
  stele-ova bundle --replica N NAME=PATH...        (prints the base64 bundle)
  stele-ova env --out FILE KEY=VALUE|KEY=@PATH...   (writes an OVF environment document)
  stele-ova properties                              (Markdown reference of the properties)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("descriptor") => descriptor(&args[1..]),
        Some("manifest") => manifest_cmd(&args[1..]),
        Some("check") => check_cmd(&args[1..]),
        Some("bundle") => bundle_cmd(&args[1..]),
        Some("env") => env_cmd(&args[1..]),
        Some("properties") => {
            print!("{}", properties_markdown());
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stele-ova: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Option values by flag name (a flag may repeat).
type Opts = BTreeMap<String, Vec<String>>;

/// Splits `--flag value` options from positional arguments.
fn opts(args: &[String], flags: &[&str]) -> Result<(Opts, Vec<String>), String> {
    let mut o: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            if !flags.contains(&name) {
                return Err(format!("unknown option --{name}\n{USAGE}"));
            }
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            o.entry(name.to_owned()).or_default().push(v.clone());
        } else {
            pos.push(a.clone());
        }
    }
    Ok((o, pos))
}

fn one(o: &Opts, name: &str) -> Result<String, String> {
    match o.get(name).map(Vec::as_slice) {
        Some([v]) => Ok(v.clone()),
        _ => Err(format!("--{name} is required exactly once")),
    }
}

fn descriptor(args: &[String]) -> Result<(), String> {
    let (o, _) = opts(args, &["name", "version", "disk", "out"])?;
    let mut disks = Vec::new();
    for d in o.get("disk").cloned().unwrap_or_default() {
        let (id, path) = d.split_once('=').ok_or("--disk needs ID=PATH")?;
        let path = PathBuf::from(path);
        let file = fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file_size = file.metadata().map_err(|e| e.to_string())?.len();
        let info = vmdk::read_info(file).map_err(|e| format!("{}: {e}", path.display()))?;
        info.check_stream_optimized()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let href = file_name(&path)?;
        disks.push(DiskInput {
            id: id.to_owned(),
            href,
            file_size,
            capacity_bytes: info.capacity_bytes,
        });
    }
    if disks.is_empty() {
        return Err("at least one --disk is required".into());
    }
    let text = ovf::descriptor(&one(&o, "name")?, &one(&o, "version")?, &disks);
    let out = one(&o, "out")?;
    fs::write(&out, text).map_err(|e| format!("{out}: {e}"))
}

fn file_name(p: &Path) -> Result<String, String> {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} has no file name", p.display()))
}

fn manifest_cmd(args: &[String]) -> Result<(), String> {
    let (o, files) = opts(args, &["out"])?;
    let mut entries = Vec::new();
    for f in &files {
        let p = Path::new(f);
        let file = fs::File::open(p).map_err(|e| format!("{f}: {e}"))?;
        entries.push(Entry {
            name: file_name(p)?,
            sha256_hex: manifest::sha256_hex(file).map_err(|e| format!("{f}: {e}"))?,
        });
    }
    let out = one(&o, "out")?;
    fs::write(&out, manifest::render(&entries)).map_err(|e| format!("{out}: {e}"))
}

fn check_cmd(args: &[String]) -> Result<(), String> {
    let [path] = args else {
        return Err(USAGE.to_owned());
    };
    let file = fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let report =
        check::check_ova(std::io::BufReader::new(file)).map_err(|e| format!("{path}: {e}"))?;
    for (name, size) in &report.members {
        println!("member {name} {size} bytes");
    }
    println!("properties {}", report.properties);
    if report.problems.is_empty() {
        println!("check passed: {path}");
        Ok(())
    } else {
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        Err(format!("{} problems in {path}", report.problems.len()))
    }
}

fn bundle_cmd(args: &[String]) -> Result<(), String> {
    let (o, pairs) = opts(args, &["replica"])?;
    let replica: u32 = one(&o, "replica")?
        .parse()
        .map_err(|_| "--replica must be a number")?;
    let mut files = BTreeMap::new();
    for p in pairs {
        let (name, path) = p.split_once('=').ok_or("files are NAME=PATH")?;
        let text = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        files.insert(name.to_owned(), text);
    }
    let b = Bundle::new(replica, files).map_err(|e| e.to_string())?;
    println!("{}", b.encode());
    Ok(())
}

fn env_cmd(args: &[String]) -> Result<(), String> {
    let (o, pairs) = opts(args, &["out"])?;
    let mut props = Properties::new();
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or("properties are KEY=VALUE")?;
        let v = match v.strip_prefix('@') {
            Some(path) => fs::read_to_string(path)
                .map_err(|e| format!("{path}: {e}"))?
                .trim_end()
                .to_owned(),
            None => v.to_owned(),
        };
        props.insert(k.to_owned(), v);
    }
    let out = one(&o, "out")?;
    fs::write(&out, ovfenv::render(&props)).map_err(|e| format!("{out}: {e}"))
}

fn properties_markdown() -> String {
    let mut s = String::from(
        "| Key | Category | Label | Default | Required | What to enter |\n|---|---|---|---|---|---|\n",
    );
    for p in PROPERTIES.iter().filter(|p| p.user_configurable) {
        let req = match p.requirement {
            Requirement::Always => "yes",
            Requirement::Optional => "no",
            Requirement::WhenStatic => "with static",
        };
        let default = if p.default.is_empty() {
            String::new()
        } else {
            format!("`{}`", p.default)
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            p.key,
            p.category.label(),
            p.label,
            default,
            req,
            p.description.replace('|', "\\|")
        ));
    }
    s
}
