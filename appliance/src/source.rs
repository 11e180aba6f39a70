//! Finding the OVF environment inside the guest.
//!
//! Order: (1) on VMware, `guestinfo.ovfEnv` through open-vm-tools' `vmware-rpctool`
//! (vCenter's `com.vmware.guestInfo` transport); (2) a CD-ROM carrying `ovf-env.xml` (the `iso`
//! transport), polled for up to [`ISO_WAIT_SECS`] because the drive can appear after this
//! runs; (3) on VMware, plain `guestinfo.<key>` variables, the fallback for standalone ESXi
//! where no vApp environment is delivered. The CD is mounted read-only, nosuid, nodev, noexec
//! and unmounted again at once.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::ovfenv::{self, OVF_ENV_BYTES_MAX, OvfEnvError, Properties};
use crate::schema::PROPERTIES;

/// How long to wait for a CD-ROM with the environment to appear.
pub const ISO_WAIT_SECS: u64 = 30;
/// Where the CD is mounted while it is read.
pub const ISO_MOUNT_DIR: &str = "/run/stele/ovfenv-cd";

/// Why no usable environment was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Nothing delivered any properties.
    #[error(
        "no OVF environment found: not in guestinfo.ovfEnv ({guestinfo}) and no CD-ROM with ovf-env.xml \
         appeared within {ISO_WAIT_SECS} s. Deploy the OVA through vCenter (it delivers the vApp properties), \
         or on standalone ESXi set guestinfo.<key> variables (docs/operator/appliance.md)"
    )]
    NotFound {
        /// What the guestinfo attempt said.
        guestinfo: String,
    },
    /// A document was found but is not acceptable.
    #[error("OVF environment from {source_name} refused: {error}")]
    Bad {
        /// Where it came from.
        source_name: String,
        /// Why.
        error: OvfEnvError,
    },
    /// Reading an explicitly given file failed.
    #[error("cannot read {path}: {error}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
}

/// Properties and where they came from.
#[derive(Debug)]
pub struct Found {
    /// Human-readable origin for the log (`guestinfo.ovfEnv`, `cd /dev/sr0`, …).
    pub source_name: String,
    /// The properties.
    pub properties: Properties,
}

/// Reads an environment document from a file (the `--ovf-env` option and tests).
pub fn from_file(path: &Path) -> Result<Found, SourceError> {
    let xml = read_capped(path).map_err(|error| SourceError::File {
        path: path.to_owned(),
        error,
    })?;
    let properties = ovfenv::parse(&xml).map_err(|error| SourceError::Bad {
        source_name: path.display().to_string(),
        error,
    })?;
    Ok(Found {
        source_name: path.display().to_string(),
        properties,
    })
}

/// Searches every transport in order.
pub fn discover() -> Result<Found, SourceError> {
    let vmware = on_vmware();
    let guestinfo_note = if vmware {
        match rpctool_get("guestinfo.ovfEnv") {
            Some(xml) => {
                let properties = ovfenv::parse(&xml).map_err(|error| SourceError::Bad {
                    source_name: "guestinfo.ovfEnv".to_owned(),
                    error,
                })?;
                return Ok(Found {
                    source_name: "guestinfo.ovfEnv".to_owned(),
                    properties,
                });
            }
            None => "empty".to_owned(),
        }
    } else {
        "not a VMware VM".to_owned()
    };
    // Let udev finish creating device nodes before the first look.
    let _ = Command::new("udevadm")
        .args(["settle", "--timeout=10"])
        .status();
    let deadline = Instant::now() + Duration::from_secs(ISO_WAIT_SECS);
    loop {
        for dev in cdrom_devices() {
            if let Some(xml) = read_env_from_cd(&dev) {
                let source_name = format!("cd {}", dev.display());
                let properties = ovfenv::parse(&xml).map_err(|error| SourceError::Bad {
                    source_name: source_name.clone(),
                    error,
                })?;
                return Ok(Found {
                    source_name,
                    properties,
                });
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    if vmware {
        let mut properties = Properties::new();
        for spec in PROPERTIES {
            if let Some(v) = rpctool_get(&format!("guestinfo.{}", spec.key)) {
                properties.insert(spec.key.to_owned(), v);
            }
        }
        if !properties.is_empty() {
            return Ok(Found {
                source_name: "guestinfo.<key> variables".to_owned(),
                properties,
            });
        }
    }
    Err(SourceError::NotFound {
        guestinfo: guestinfo_note,
    })
}

fn on_vmware() -> bool {
    Command::new("systemd-detect-virt")
        .arg("--vm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "vmware")
        .unwrap_or(false)
}

/// One guestinfo variable, or None when unset, empty or unreadable.
fn rpctool_get(name: &str) -> Option<String> {
    let out = Command::new("vmware-rpctool")
        .arg(format!("info-get {name}"))
        .output()
        .ok()?;
    if !out.status.success() || out.stdout.len() > OVF_ENV_BYTES_MAX {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim_end_matches(['\n', '\r']).to_owned();
    if text.is_empty() { None } else { Some(text) }
}

fn cdrom_devices() -> Vec<PathBuf> {
    let mut devs: Vec<PathBuf> = fs::read_dir("/dev")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_prefix("sr")
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    devs.sort();
    devs
}

/// Mounts the CD read-only, reads `ovf-env.xml` (any ISO 9660 spelling), unmounts.
fn read_env_from_cd(dev: &Path) -> Option<String> {
    let mnt = Path::new(ISO_MOUNT_DIR);
    fs::create_dir_all(mnt).ok()?;
    let mounted = Command::new("mount")
        .args(["-t", "iso9660", "-o", "ro,nosuid,nodev,noexec"])
        .arg(dev)
        .arg(mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        return None;
    }
    let xml = find_env_file(mnt).and_then(|p| read_capped(&p).ok());
    let _ = Command::new("umount").arg(mnt).status();
    xml
}

/// Finds `ovf-env.xml` in a directory, accepting ISO 9660 level-1 spellings
/// (`OVF_ENV.XML;1`) as well as Joliet/Rock Ridge names.
pub fn find_env_file(dir: &Path) -> Option<PathBuf> {
    let rd = fs::read_dir(dir).ok()?;
    rd.filter_map(Result::ok).map(|e| e.path()).find(|p| {
        p.file_name().is_some_and(|n| {
            let n = n.to_string_lossy().to_ascii_lowercase();
            let n = n.trim_end_matches(";1").trim_end_matches('.');
            n == "ovf-env.xml" || n == "ovf_env.xml"
        })
    })
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    let f = fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(OVF_ENV_BYTES_MAX as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > OVF_ENV_BYTES_MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 1 MiB",
        ));
    }
    String::from_utf8(buf)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_iso_spelling() -> std::io::Result<()> {
        for name in [
            "ovf-env.xml",
            "OVF_ENV.XML;1",
            "OVF-ENV.XML",
            "ovf_env.xml.",
        ] {
            let dir = tempfile::tempdir()?;
            fs::write(dir.path().join("README.TXT;1"), "x")?;
            fs::write(dir.path().join(name), "<x/>")?;
            assert_eq!(
                find_env_file(dir.path()),
                Some(dir.path().join(name)),
                "{name}"
            );
        }
        let dir = tempfile::tempdir()?;
        assert_eq!(find_env_file(dir.path()), None);
        Ok(())
    }

    #[test]
    fn from_file_reports_bad_documents() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("env.xml");
        fs::write(&p, "<oops")?;
        assert!(matches!(from_file(&p), Err(SourceError::Bad { .. })));
        assert!(matches!(
            from_file(&dir.path().join("missing")),
            Err(SourceError::File { .. })
        ));
        fs::write(&p, vec![b' '; OVF_ENV_BYTES_MAX + 1])?;
        assert!(matches!(from_file(&p), Err(SourceError::File { .. })));
        Ok(())
    }
}
