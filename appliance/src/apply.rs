//! Writing a [`Plan`] to disk idempotently.
//!
//! A file is rewritten only when its content, mode or owner differ; writes go to a temporary
//! file in the same directory, are synced, then renamed over the old one, so a power cut
//! leaves either the old or the new file. Files in the config directory that the plan does not
//! name (a key dropped from a new bundle) are removed. The caller validates before calling, so
//! this never runs on a half-valid configuration.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::render::{CHAIN_DIR, CONFIG_DIR, DesiredFile, Owner, Plan};

/// The node's system user, created in the image with this name.
pub const NODE_USER: &str = "stele";

/// Failure to write the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we tried.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The node user is missing from the image's /etc/passwd.
    #[error("user {NODE_USER:?} not found in {0}")]
    NoNodeUser(PathBuf),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ApplyError + 'a {
    move |source| ApplyError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// What an apply run changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Paths (relative to the root) written.
    pub written: Vec<String>,
    /// Paths removed.
    pub removed: Vec<String>,
}

impl Changes {
    /// True when the system already matched the plan.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

/// Numeric ids of the owners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    /// uid/gid of the node user.
    pub node: (u32, u32),
    /// Whether to change ownership at all (false in unit tests run as a normal user).
    pub chown: bool,
}

impl Ids {
    /// Looks the node user up in `<root>/etc/passwd`.
    pub fn lookup(root: &Path) -> Result<Ids, ApplyError> {
        let passwd = root.join("etc/passwd");
        let text = fs::read_to_string(&passwd).map_err(io_err("read", &passwd))?;
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.first() == Some(&NODE_USER)
                && let (Some(Ok(uid)), Some(Ok(gid))) = (
                    f.get(2).map(|s| s.parse::<u32>()),
                    f.get(3).map(|s| s.parse::<u32>()),
                )
            {
                return Ok(Ids {
                    node: (uid, gid),
                    chown: true,
                });
            }
        }
        Err(ApplyError::NoNodeUser(passwd))
    }

    fn of(&self, owner: Owner) -> (u32, u32) {
        match owner {
            Owner::Root => (0, 0),
            Owner::Node => self.node,
        }
    }
}

/// Applies `plan` below `root`.
pub fn apply(root: &Path, plan: &Plan, ids: Ids) -> Result<Changes, ApplyError> {
    let mut changes = Changes::default();
    // Directories owned by the node user; created on first boot, repaired if changed.
    for dir in [CONFIG_DIR, CHAIN_DIR] {
        ensure_dir(
            &root.join(dir),
            0o700,
            ids.chown.then(|| ids.of(Owner::Node)),
        )?;
    }
    for f in plan.config_files.iter().chain(&plan.runtime_files) {
        if write_if_changed(root, f, ids)? {
            changes.written.push(f.path.clone());
        }
    }
    // Stale config files: whatever is in the config dir but not in the plan.
    let config_dir = root.join(CONFIG_DIR);
    let entries = fs::read_dir(&config_dir).map_err(io_err("list", &config_dir))?;
    let mut stale = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", &config_dir))?;
        let rel = format!("{CONFIG_DIR}/{}", entry.file_name().to_string_lossy());
        if !plan.config_files.iter().any(|f| f.path == rel) {
            stale.push(rel);
        }
    }
    stale.sort();
    for rel in stale.into_iter().chain(plan.absent.iter().cloned()) {
        let p = root.join(&rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&p).map_err(io_err("remove", &p))?,
            Ok(_) => fs::remove_file(&p).map_err(io_err("remove", &p))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ApplyError::Io {
                    op: "inspect",
                    path: p,
                    source: e,
                });
            }
        }
        changes.removed.push(rel);
    }
    Ok(changes)
}

fn ensure_dir(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), ApplyError> {
    fs::create_dir_all(path).map_err(io_err("create directory", path))?;
    let meta = fs::metadata(path).map_err(io_err("inspect", path))?;
    if meta.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io_err("chmod", path))?;
    }
    if let Some((uid, gid)) = owner
        && (meta.uid(), meta.gid()) != (uid, gid)
    {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err("chown", path))?;
    }
    Ok(())
}

fn write_if_changed(root: &Path, f: &DesiredFile, ids: Ids) -> Result<bool, ApplyError> {
    let path = root.join(&f.path);
    let (uid, gid) = ids.of(f.owner);
    if let Ok(meta) = fs::symlink_metadata(&path) {
        let same_meta = meta.is_file()
            && meta.permissions().mode() & 0o7777 == f.mode
            && (!ids.chown || (meta.uid(), meta.gid()) == (uid, gid));
        if same_meta && fs::read(&path).map(|c| c == f.content).unwrap_or(false) {
            return Ok(false);
        }
    }
    let parent = path.parent().unwrap_or(root);
    fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.stele-tmp"));
    {
        // Create with the final mode so secrets are never readable by others, even briefly.
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = fs::remove_file(&tmp);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(f.mode)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        out.write_all(&f.content).map_err(io_err("write", &tmp))?;
        // The umask may have cleared bits of the requested mode.
        out.set_permissions(fs::Permissions::from_mode(f.mode))
            .map_err(io_err("chmod", &tmp))?;
        if ids.chown {
            std::os::unix::fs::fchown(&out, Some(uid), Some(gid)).map_err(io_err("chown", &tmp))?;
        }
        out.sync_all().map_err(io_err("sync", &tmp))?;
    }
    fs::rename(&tmp, &path).map_err(io_err("rename", &path))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{NFTABLES_FILE, SSH_KEYS_FILE};

    fn plan() -> Plan {
        Plan {
            config_files: vec![DesiredFile {
                path: format!("{CONFIG_DIR}/rpc.key"),
                content: b"secret".to_vec(),
                mode: 0o600,
                owner: Owner::Node,
            }],
            runtime_files: vec![DesiredFile {
                path: NFTABLES_FILE.to_owned(),
                content: b"rules".to_vec(),
                mode: 0o600,
                owner: Owner::Root,
            }],
            absent: vec![SSH_KEYS_FILE.to_owned()],
        }
    }

    const IDS: Ids = Ids {
        node: (0, 0),
        chown: false,
    };

    #[test]
    fn second_apply_changes_nothing() -> Result<(), ApplyError> {
        let dir = tempfile::tempdir().map_err(io_err("tempdir", Path::new("/tmp")))?;
        let first = apply(dir.path(), &plan(), IDS)?;
        assert_eq!(first.written.len(), 2);
        let key = dir.path().join(CONFIG_DIR).join("rpc.key");
        let mode = fs::metadata(&key)
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o600));
        assert_eq!(apply(dir.path(), &plan(), IDS)?, Changes::default());
        Ok(())
    }

    #[test]
    fn changed_content_or_mode_is_rewritten_and_stale_files_removed() -> Result<(), ApplyError> {
        let dir = tempfile::tempdir().map_err(io_err("tempdir", Path::new("/tmp")))?;
        apply(dir.path(), &plan(), IDS)?;
        let key = dir.path().join(CONFIG_DIR).join("rpc.key");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644))
            .map_err(io_err("chmod", &key))?;
        let old = dir.path().join(CONFIG_DIR).join("old-bls.key");
        fs::write(&old, "x").map_err(io_err("write", &old))?;
        let ssh = dir.path().join(SSH_KEYS_FILE);
        fs::create_dir_all(ssh.parent().unwrap_or(dir.path())).map_err(io_err("mkdir", &ssh))?;
        fs::write(&ssh, "ssh-ed25519 x").map_err(io_err("write", &ssh))?;
        let mut p = plan();
        p.runtime_files[0].content = b"new rules".to_vec();
        let c = apply(dir.path(), &p, IDS)?;
        assert_eq!(
            c.written,
            vec![format!("{CONFIG_DIR}/rpc.key"), NFTABLES_FILE.to_owned()]
        );
        assert_eq!(
            c.removed,
            vec![
                format!("{CONFIG_DIR}/old-bls.key"),
                SSH_KEYS_FILE.to_owned()
            ]
        );
        assert!(!old.exists() && !ssh.exists());
        Ok(())
    }
}
